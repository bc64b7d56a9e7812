/* weft/backend.h: the reactor backend interface.
 *
 * A backend adapts one event loop (epoll, libuv, libevent, libev, sim...) to
 * weft's core. The core owns timers (its wheel) and readiness bookkeeping;
 * a backend only waits, reports readiness, and wakes. The full contract, with
 * numbered clauses and the conformance test for each, is
 * docs/backend-contract.md.
 *
 * The vtable is append-only. It starts with `abi_version` (a magic in the
 * upper 16 bits, so garbage is rejected, and the band number in the lower
 * 16) and `struct_size`. Methods are grouped in bands; a band is never
 * changed once released, new methods go into a new band at the end. Methods
 * marked optional may be NULL; the core has a fallback for each. The core
 * calls a backend only through the wrappers in core/backend_call.c.
 *
 * A backend packaged as a module is a shared object exporting
 *   const weft_backend *weft_backend_module_entry(void);
 * (see WEFT_BACKEND_MODULE_ENTRY). */
#ifndef WEFT_BACKEND_H
#define WEFT_BACKEND_H

#include "common.h"

WEFT_BEGIN_DECLS

#define WEFT_BACKEND_MAGIC 0x5746u /* "WF" */
#define WEFT_BACKEND_ABI_V1 ((WEFT_BACKEND_MAGIC << 16) | 1u)
#define WEFT_BACKEND_ABI_CURRENT WEFT_BACKEND_ABI_V1

/* Readiness / interest bits. */
#define WEFT_IO_READABLE 0x1u
#define WEFT_IO_WRITABLE 0x2u
#define WEFT_IO_ERROR 0x4u  /* reported only; wakes reader and writer */
#define WEFT_IO_HANGUP 0x8u /* reported only; wakes reader and writer */

/* What the core gives a backend: callbacks into the core. Provided by the
 * core when the loop is created or attached, valid until destroy returns.
 * Every callback must be called on the thread running the loop (inside
 * poll, or inside the foreign loop's callbacks in attach mode). */
typedef struct weft_backend_host {
  uint32_t struct_size;
  void *ctx; /* the first argument of every callback */
  /* An fd registered with `token` is ready for `events` (WEFT_IO_* bits). */
  void (*io_ready)(void *ctx, void *token, uint32_t events);
  /* Signal `signo` was delivered (only for backends with signal_watch). */
  void (*signal_ready)(void *ctx, int signo);
  /* Attach mode only: run ready tasks and expired timers on this thread, up
   * to an internal budget. Returns 1 if more tasks are ready (the backend
   * should not block before calling again), else 0. */
  int (*run_tasks)(void *ctx);
  /* Attach mode only: ms until the next timer deadline, -1 if none. The
   * backend arms one loop timer with it after every run_tasks and wake. */
  int64_t (*next_timeout_ms)(void *ctx);
} weft_backend_host;

/* ctl operations: all optional; unknown ops return WEFT_ENOTSUP. */
#define WEFT_BACKEND_CTL_NATIVE_LOOP 1 /* arg: void ** <- the library's loop */
#define WEFT_BACKEND_CTL_DETACH 2      /* attach mode: remove every handle */
/* arg: uint64_t * <- the scheduling seed. A backend that answers it (sim)
 * asks for a reproducible schedule: the runtime then picks its next ready
 * task with a PRNG seeded by this value instead of in FIFO order. */
#define WEFT_BACKEND_CTL_SCHED_SEED 3
/* arg: const int * (1 = on, 0 = off); for a backend with its own clock
 * (now_ns). Sent by the runtime, on the loop thread, when work outside the
 * tasks starts or stops taking real time (a blocking job is queued or
 * running). While on, a virtual clock must follow real time: poll waits
 * for real, up to its timeout, instead of jumping to the deadline.
 * Since 0.1. */
#define WEFT_BACKEND_CTL_FOLLOW_REAL_TIME 4

typedef struct weft_backend {
  /* ---- header, never changes ---- */
  uint32_t abi_version; /* WEFT_BACKEND_ABI_V1 */
  uint32_t struct_size; /* sizeof(weft_backend) as the backend was built */
  const char *name;     /* "epoll", "libuv"...; static */

  /* ---- band 1 (0.1) ---- */

  /* Owned mode: create a loop. `*loop_out` is the backend's own object.
   * Returns 0, WEFT_ENOMEM, or -errno. Required. */
  int (*create)(void **loop_out, const weft_backend_host *host);

  /* Attach mode: wrap the application's loop `foreign` (a uv_loop_t *,
   * struct event_base *, struct ev_loop *...). The backend installs its
   * watchers so that host->run_tasks runs on the loop thread between the
   * application's callbacks, and never blocks or busy-loops while idle.
   * Optional: NULL means the backend cannot attach (WEFT_ENOTSUP). */
  int (*attach)(void **loop_out, void *foreign, const weft_backend_host *host);

  /* Destroy an owned loop, or detach from a foreign one, leaving no handle
   * in it. Called once, on the loop thread or when no thread runs it.
   * Required. */
  void (*destroy)(void *loop);

  /* Start watching `fd` for `interest` (WEFT_IO_READABLE|WRITABLE); report
   * through host->io_ready(ctx, token, events). Readiness may be reported
   * level- or edge-triggered; the core treats every report as an edge. A
   * backend must not report the same readiness over and over while nobody
   * reads (no busy loop): after reporting, it may stay quiet until rearm.
   * Callable from ANY thread, concurrently with poll: a backend whose loop
   * is not thread-safe queues the request and applies it on the loop
   * thread, waking it. One registration per fd. Required. */
  int (*register_fd)(void *loop, int fd, uint32_t interest, void *token);

  /* Change the interest of a registered fd. Any thread. Required. */
  int (*modify_fd)(void *loop, int fd, uint32_t interest, void *token);

  /* The core consumed a readiness report for `fd` and found it drained
   * (EAGAIN) for `events`: a backend that went quiet after reporting must
   * report the next readiness. Any thread. Optional: NULL for backends
   * that are edge-triggered or keep reporting. */
  int (*rearm_fd)(void *loop, int fd, uint32_t events, void *token);

  /* Stop watching `fd`. After it returns, io_ready may still be called with
   * `token` until the end of the poll call in progress on the loop thread,
   * never later. Any thread. Required. */
  int (*deregister_fd)(void *loop, int fd, void *token);

  /* Deregister and close `fd`; the backend may defer the close to the loop
   * thread (libuv must, or a reused fd number loses its registration).
   * Optional: NULL means the core calls deregister_fd then close(). */
  int (*close_fd)(void *loop, int fd, void *token);

  /* Owned mode: wait up to `timeout_ms` (-1 = until woken, 0 = don't
   * block) for readiness, signals or a wake, report them through the host,
   * and return the number of events reported (>= 0) or -errno. EINTR is
   * handled inside (it returns 0). Called by one thread at a time. Required
   * for owned mode. */
  int (*poll)(void *loop, int64_t timeout_ms);

  /* Make a poll in progress return soon, or the next one return at once.
   * Async-signal-unsafe but thread-safe; callable from any thread, any
   * number of times (wakes may merge). In attach mode it makes the loop
   * thread call host->run_tasks soon. Required. */
  int (*wake)(void *loop);

  /* Start/stop reporting signal `signo` through host->signal_ready.
   * Optional: NULL means the core handles signals itself (a process-wide
   * handler writing to a pipe it registers like any fd). */
  int (*signal_watch)(void *loop, int signo);
  int (*signal_unwatch)(void *loop, int signo);

  /* Escape hatch, WEFT_BACKEND_CTL_*. Optional. */
  int (*ctl)(void *loop, int op, void *arg);

  /* The loop's clock in ns, monotonic. Optional: NULL means
   * CLOCK_MONOTONIC. The sim backend returns virtual time here, and its
   * poll advances it to the timeout when nothing else is ready. */
  uint64_t (*now_ns)(void *loop);
} weft_backend;

/* The symbol a backend module exports. */
#define WEFT_BACKEND_MODULE_ENTRY weft_backend_module_entry
typedef const weft_backend *(*weft_backend_module_entry_fn)(void);

/* Names of the backends this build of weft can select, built-in and
 * modules found next to the library, NULL-terminated, static. Since 0.1. */
WEFT_API const char *const *weft_backend_list(void);

WEFT_END_DECLS

#endif /* WEFT_BACKEND_H */
