/* core/internal.h: the seams between the core's modules.
 *
 * The core has four parts that are written and tested separately: the
 * executor (tasks, scheduler, runtime, builder), the blocking pool, the
 * driver (timer wheel, I/O registry, backend calls) and the backends. This
 * header is the only place where they meet; each function below is defined
 * in the file named beside it. Names are weft__ (internal, never exported).
 */
#ifndef WEFT_CORE_INTERNAL_H
#define WEFT_CORE_INTERNAL_H

#include <weft.h>

/* ---- Settings, filled by the builder (core/exec/builder.c) ------------------ */
typedef struct weft__config {
  unsigned workers; /* >= 1 */
  weft_flavor flavor;
  char thread_name[16];
  size_t stack_size; /* 0 = default */
  void (*on_thread_start)(void *);
  void *on_thread_start_arg;
  void (*on_thread_stop)(void *);
  void *on_thread_stop_arg;
  unsigned max_blocking_threads; /* default 512 */
  uint64_t blocking_keep_alive_ms; /* default 10000 */
  size_t blocking_queue_limit;     /* 0 = unbounded */
  /* Backend choice: an explicit builder call wins over WEFT_BACKEND, which
   * wins over the build default (WEFT_DEFAULT_BACKEND). NULL = not set. */
  const char *backend_name;   /* owned copy or NULL */
  const char *backend_module; /* owned copy or NULL */
  uint64_t slow_poll_us;      /* 0 = off */
  weft_slow_poll_hook slow_poll_hook;
  void *slow_poll_arg;
  /* Attach mode: the foreign loop, or NULL for an owned loop. */
  void *attach_loop;
} weft__config;

/* The runtime's settings (core/exec/runtime.c). */
const weft__config *weft__runtime_config(const weft_runtime *rt);

/* ---- The poll context (core/exec/task.c fills it) --------------------------- */
struct weft_context {
  weft_waker waker;
  weft_runtime *rt;
  void *task; /* the weft__task being polled, NULL inside weft_block_on */
};

/* The runtime a context belongs to. Library futures (timers, I/O) use it to
 * reach the driver on their first poll. */
static inline weft_runtime *weft__context_runtime(const weft_context *cx) {
  return cx->rt;
}

/* ---- Driver (core/reactor/driver.c): timers + I/O registry + backend ----------- */
typedef struct weft__driver weft__driver;

/* Make the driver for a runtime: picks and opens the backend from `cfg`
 * (creating an owned loop, or attaching to cfg->attach_loop). Returns 0,
 * WEFT_ENOMEM, WEFT_EBACKEND, WEFT_EABI or -errno. */
int weft__driver_new(weft_runtime *rt, const weft__config *cfg,
                     weft__driver **out);
/* Free the driver; every timer and registration left is released (their
 * wakers dropped, not woken). */
void weft__driver_free(weft__driver *d);
/* One turn on the calling thread: wait up to `timeout_ms` (-1 = until
 * unparked or a timer is due; 0 = just look), fire due timers, deliver I/O
 * readiness. Wakers are woken from inside, which schedules tasks. At most one
 * thread is inside a turn at a time (the scheduler guarantees it). */
int weft__driver_turn(weft__driver *d, int64_t timeout_ms);
/* Thread-safe: make a turn in progress return soon. */
void weft__driver_unpark(weft__driver *d);
/* The backend's name. */
const char *weft__driver_backend_name(const weft__driver *d);
/* The backend's scheduling seed (ctl WEFT_BACKEND_CTL_SCHED_SEED): 0 and
 * `*seed` set when it has one, a negative WEFT_E* code otherwise. */
int weft__driver_sched_seed(const weft__driver *d, uint64_t *seed);
/* 1 when the backend keeps its own clock (now_ns), i.e. virtual time. */
int weft__driver_virtual_clock(const weft__driver *d);

/* The runtime's driver (core/exec/runtime.c). */
weft__driver *weft__runtime_driver(weft_runtime *rt);

/* Attach mode (core/exec/runtime.c): the backend's host->run_tasks lands here:
 * run ready tasks of a current-thread runtime on this thread, at most
 * `budget` polls, fire due timers. Returns 1 if tasks are still ready. */
int weft__runtime_run_ready(weft_runtime *rt, unsigned budget);

/* ---- Tasks scheduled outside the workers (core/exec/task.c) ------------
 * The blocking pool makes tasks whose schedule goes to its own queue, as
 * tokio's BlockingTask does, so that its jobs get the same join handles.
 *
 * weft__task_spawn_custom makes a task (one allocation, like weft_spawn) and
 * calls `schedule(sched, t)` once, right away, handing over one run
 * reference. Later, every wake or abort of the idle task calls
 * `schedule(sched, t)` again with a new run reference. The scheduler must
 * eventually pass each run reference to exactly one of:
 *   weft__task_run(t)      poll once on the calling thread (or, if aborted,
 *                          drop the future without polling and resolve the
 *                          handle CANCELLED);
 *   weft__task_shutdown(t) drop the future without polling, resolve the
 *                          handle CANCELLED (queue draining at shutdown).
 * Inside the poll, cx->task is `t`, so weft__task_is_cancelled(cx->task)
 * tells a running job that it was aborted.
 * Abort of a custom task that is still queued (NOTIFIED, not RUNNING) also
 * calls `schedule(sched, t)` with a new run reference (weft_join_abort takes
 * one with ref_inc), so the scheduler can take the job out of its queue at
 * once (the blocking pool then passes both references to
 * weft__task_shutdown on the aborting thread). Without it, an aborted job
 * would leave the queue only when a pool thread reaches it. */
typedef struct weft__task weft__task;
typedef void (*weft__schedule_fn)(void *sched, weft__task *t);
int weft__task_spawn_custom(weft_runtime *rt, const weft_future_vtable *vt,
                            const void *state, size_t state_size,
                            size_t output_size, weft__schedule_fn schedule,
                            void *sched, weft_join_handle **handle,
                            const char *file, int line);
void weft__task_run(weft__task *t);
void weft__task_shutdown(weft__task *t);
int weft__task_is_cancelled(const weft__task *t);
uint64_t weft__task_id(const weft__task *t);

/* ---- Blocking pool (core/blocking/) ------------------------------------ */
typedef struct weft__blocking_pool weft__blocking_pool;
int weft__blocking_pool_new(weft_runtime *rt, const weft__config *cfg,
                            weft__blocking_pool **out);
/* Cancel queued jobs, give running ones `timeout_ms`; returns how many are
 * still running. */
int weft__blocking_pool_shutdown(weft__blocking_pool *p, int64_t timeout_ms);
void weft__blocking_pool_free(weft__blocking_pool *p);
void weft__blocking_pool_metrics(const weft__blocking_pool *p,
                                 weft_runtime_metrics *m);
weft__blocking_pool *weft__runtime_blocking_pool(weft_runtime *rt);
/* 1 while a job is queued or running. A driver on a virtual clock (sim)
 * must not jump time forward meanwhile: the job takes real time, and a
 * timer racing it (a timeout around a DNS lookup, a ticker beside a hash)
 * would otherwise fire long before the job could finish. The driver asks
 * the backend to follow real time instead (WEFT_BACKEND_CTL_FOLLOW_REAL_TIME). */
int weft__blocking_pool_busy(weft__blocking_pool *p);

/* ---- Clocks --------------------------------------------------------------
 * weft__now_ns is CLOCK_MONOTONIC (core/clock.c). Timers read the driver's
 * clock instead, which is the backend's now_ns when it has one (the sim
 * backend's virtual time), so that a whole runtime can run on virtual time. */
uint64_t weft__now_ns(void);
uint64_t weft__driver_now_ns(const weft__driver *d);

/* ---- Executor additions (core/exec/) ----------------------------------- */

/* Cooperative budget: leaf futures (timers, I/O, channels) call this at the
 * top of their poll. Returns 1 to proceed, or 0 once the running task has
 * used up its budget of 128 leaf polls: the task has then been woken, and
 * the leaf returns WEFT_PENDING so that other tasks get a turn. Outside a
 * task it always proceeds (the budget resets on every task poll). */
int weft__coop_proceed(weft_context *cx);

/* Attach mode (core/exec/runtime.c): make a current-thread runtime whose
 * driver attaches to `foreign_loop` with backend `backend_name` (NULL: the
 * builder's or default choice). `b` may be NULL for the defaults. No thread
 * is started; the loop calls weft__runtime_run_ready from its hook, and
 * weft_block_on returns WEFT_EBUSY. Returns as weft_builder_build. */
int weft__runtime_new_attached(const weft_builder *b,
                               const char *backend_name, void *foreign_loop,
                               weft_runtime **out);

/* CPUs available to the process: sched_getaffinity, capped by the cgroup
 * v2 cpu.max quota (core/exec/builder.c). */
unsigned weft__default_workers(void);

/* ---- Driver, appended by the reactor ----------------------------------------
 * Fire the timers that are due now and wake their tasks, without polling
 * the backend (core/reactor/driver.c). Attach mode and the current-thread
 * scheduler call it between task runs; a turn does it by itself. Returns
 * how many fired. Any thread. */
int weft__driver_fire_timers(weft__driver *d);

#endif /* WEFT_CORE_INTERNAL_H */
