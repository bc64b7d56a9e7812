/* core/reactor/reactor.h: what the reactor's files share among themselves.
 *
 * core/internal.h is the seam towards the executor; this header is the one
 * inside the reactor: the backend wrappers (backend_call.c), the registry
 * (backend_registry.c), timers and I/O registrations as the public futures
 * (time.c, io.c, net_*.c, signal.c) use them from the driver (driver.c). */
#ifndef WEFT_REACTOR_H
#define WEFT_REACTOR_H

#include <pthread.h>
#include <stdatomic.h>

#include "../internal.h"
#include "wheel.h"

/* ---- Backend wrappers (backend_call.c) ----------------------------------
 * The only code in the core that calls a weft_backend method. Each wrapper
 * applies the fallback for a NULL or absent (beyond struct_size) method,
 * and first asks the fault hook, so tests can make any method fail. */
typedef enum weft__backend_method {
  WEFT__BM_CREATE,
  WEFT__BM_ATTACH,
  WEFT__BM_REGISTER,
  WEFT__BM_MODIFY,
  WEFT__BM_REARM,
  WEFT__BM_DEREGISTER,
  WEFT__BM_CLOSE,
  WEFT__BM_POLL,
  WEFT__BM_WAKE,
  WEFT__BM_SIGNAL_WATCH,
  WEFT__BM_SIGNAL_UNWATCH,
  WEFT__BM_CTL,
  WEFT__BM_COUNT
} weft__backend_method;

/* Test hook: when set, every wrapper calls it first; a negative return is
 * returned by the wrapper instead of calling the backend. NULL normally.
 * Set it only while no runtime runs (it is a plain pointer). */
extern int (*weft__backend_fault_hook)(weft__backend_method m);

int weft__backend_create(const weft_backend *be, void **loop,
                         const weft_backend_host *host);
int weft__backend_attach(const weft_backend *be, void **loop, void *foreign,
                         const weft_backend_host *host);
void weft__backend_destroy(const weft_backend *be, void *loop);
int weft__backend_register(const weft_backend *be, void *loop, int fd,
                           uint32_t interest, void *token);
int weft__backend_modify(const weft_backend *be, void *loop, int fd,
                         uint32_t interest, void *token);
int weft__backend_rearm(const weft_backend *be, void *loop, int fd,
                        uint32_t events, void *token);
int weft__backend_deregister(const weft_backend *be, void *loop, int fd,
                             void *token);
/* Closes `fd` in every case, even when deregistering failed. */
int weft__backend_close(const weft_backend *be, void *loop, int fd,
                        void *token);
int weft__backend_poll(const weft_backend *be, void *loop, int64_t timeout_ms);
int weft__backend_wake(const weft_backend *be, void *loop);
/* Return WEFT_ENOTSUP when the backend leaves signals to the core. */
int weft__backend_signal_watch(const weft_backend *be, void *loop, int signo);
int weft__backend_signal_unwatch(const weft_backend *be, void *loop,
                                 int signo);
int weft__backend_ctl(const weft_backend *be, void *loop, int op, void *arg);
uint64_t weft__backend_now_ns(const weft_backend *be, void *loop);
/* 1 if the backend keeps its own clock (virtual time). */
int weft__backend_has_clock(const weft_backend *be);
/* 1 if the backend has its own signal_watch. */
int weft__backend_has_signals(const weft_backend *be);

/* ---- Registry (backend_registry.c) --------------------------------------- */

/* The built-in epoll backend (backends/epoll/epoll.c). */
extern const weft_backend weft__backend_epoll;

/* Pick the backend for `cfg`: builder module path > builder name >
 * WEFT_BACKEND > WEFT_DEFAULT_BACKEND. On success `*be` is the vtable and
 * `*handle` the dlopen handle (NULL for a built-in), to be passed to
 * weft__backend_release. Returns 0, WEFT_EBACKEND or WEFT_EABI, having
 * printed the reason to stderr. */
int weft__backend_open(const weft__config *cfg, const weft_backend **be,
                       void **handle);
void weft__backend_release(void *handle);
/* Validate a vtable's header: WEFT_EABI for a wrong magic or band,
 * WEFT_EINVAL for a struct_size too small or a missing required method. */
int weft__backend_validate(const weft_backend *be);

/* ---- Timers (driver.c) ---------------------------------------------------
 * A timer lives inside the future that waits on it. Everything but `fired`
 * is under the driver's mutex. */
typedef struct weft__timer {
  weft__timer_entry entry;
  weft_waker waker; /* the waiting task's waker; moved out when fired */
  /* 1 once fired. Written under the mutex with release, read without it
   * (acquire) by poll's fast path, which then needs no lock. */
  _Atomic int fired;
  int armed; /* in the wheel or its due list */
} weft__timer;

/* Deadline in ns of the driver's clock -> tick, rounded up. */
static inline uint64_t weft__ns_to_tick_up(uint64_t ns) {
  return ns / 1000000u + (ns % 1000000u != 0);
}

/* Arm (first call) or poll the timer for `deadline_ns` on the driver's
 * clock. Returns 1 when it has fired, else 0 with cx's waker stored. A
 * NULL cx arms without a waker. */
int weft__timer_poll(weft__driver *d, weft__timer *t, uint64_t deadline_ns,
                     weft_context *cx);
/* Disarm: remove from the wheel, drop the stored waker. The timer can be
 * armed again with a new deadline. Any thread. */
void weft__timer_cancel(weft__driver *d, weft__timer *t);

/* ---- I/O registrations (driver.c) ----------------------------------------
 * One per registered fd. `state` packs the readiness bits (WEFT_IO_*), the
 * SHUTDOWN bit and a tick that every delivery bumps:
 *   bits 0..7   readiness and SHUTDOWN
 *   bits 16..63 tick
 * The backend's loop thread ORs bits in and bumps the tick (one CAS); a task
 * clears a bit only if the tick it saw at its EAGAIN is still there, so a
 * delivery between the two is never lost. */
#define WEFT__IO_SHUTDOWN 0x10u
#define WEFT__IO_TICK_SHIFT 16

typedef struct weft__io_reg weft__io_reg;
struct weft__io_reg {
  weft__driver *d;
  int fd;
  _Atomic uint64_t state;
  pthread_mutex_t mu; /* guards the two wakers */
  weft_waker reader, writer;
  _Atomic int close_done;  /* set (release) by the closer as its last touch */
  weft__io_reg *free_next; /* under the driver's mutex */
};

/* Register `fd` (already non-blocking) for reading and writing. */
int weft__io_register(weft__driver *d, int fd, weft__io_reg **out);
/* Wait for `dir` (WEFT_IO_READABLE or WEFT_IO_WRITABLE). Returns 1 ready,
 * with the bits seen in *ready (ERROR/HANGUP included) and the tick to pass
 * to weft__io_clear; 0 pending (the waker is stored); WEFT_ECLOSED after
 * weft__io_close. */
int weft__io_poll(weft__io_reg *r, weft_context *cx, uint32_t dir,
                  uint32_t *ready, uint64_t *tick);
/* The task found `bits` drained (EAGAIN, or a short read): clear them if no
 * delivery happened since `tick`, and ask the backend to rearm. */
void weft__io_clear(weft__io_reg *r, uint32_t bits, uint64_t tick);
/* Deregister and close the fd (close_fd = 1) or only deregister; wakes both
 * wakers, whose next poll gets WEFT_ECLOSED. The registration stays valid
 * until weft__io_free. Idempotent. */
int weft__io_close(weft__io_reg *r, int close_fd);
/* Free (after closing if not done). The memory is reclaimed after the poll
 * batch in progress, if any. The caller guarantees that no other thread
 * uses `r` any more. */
void weft__io_free(weft__io_reg *r);

/* ---- Driver helpers ------------------------------------------------------ */

/* The driver of the runtime polling `cx`, or of the current runtime when cx
 * is NULL; NULL outside any runtime. */
weft__driver *weft__driver_of(weft_context *cx);
/* Unit tests that poll futures with a hand-made context (no runtime) set
 * this to the driver those futures should use. NULL normally. */
extern weft__driver *weft__driver_test_default;
/* The token the signal pipe is registered with (driver.c). */
extern void *const weft__signal_pipe_token;

/* The driver's backend vtable and loop, for the files of the reactor. */
const weft_backend *weft__driver_backend(const weft__driver *d);
void *weft__driver_loop(const weft__driver *d);

/* Make a driver without a runtime (tests, and weft__driver_new). */
int weft__driver_new_with(weft_runtime *rt, const weft_backend *be,
                          void *module_handle, void *attach_loop,
                          weft__driver **out);

/* Signals (signal.c): the driver's side. */
typedef struct weft__signal_hub weft__signal_hub;
void weft__signal_hub_free(weft__driver *d, weft__signal_hub *hub);
/* The driver calls it from io_ready when the signal pipe is readable, and
 * from host->signal_ready. */
void weft__signal_hub_drain(weft__signal_hub *hub);
void weft__signal_hub_deliver(weft__signal_hub *hub, int signo);
pthread_mutex_t *weft__driver_mutex(weft__driver *d);

#endif /* WEFT_REACTOR_H */
