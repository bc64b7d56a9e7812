/* core/blocking/pool.h: the blocking pool's mechanics, apart from tasks.
 *
 * The pool moves opaque run references (weft__task pointers) from the
 * threads that schedule them to pool threads, which hand each one to
 * ops->run; references that will never run (cancelled while queued, or
 * drained at shutdown) go to ops->cancel instead. It never looks inside a
 * task, so its unit tests drive it with fake tasks, and core/blocking/job.c
 * plugs in weft__task_run / weft__task_shutdown.
 *
 * Life of a job reference:
 *   weft__bpool_admit()      reserve room (queue bound, shutdown, first thread)
 *   weft__bpool_schedule()   the task's schedule function: queue it, and wake
 *                            exactly one idle thread or start one if needed
 *   pool thread              ops->run(t), outside every lock
 * A second schedule call for the same task (weft_join_abort of a queued job)
 * takes the queued reference back out and cancels both references at once on
 * the calling thread, so an aborted job leaves the queue right away.
 */
#ifndef WEFT_BLOCKING_POOL_H
#define WEFT_BLOCKING_POOL_H

#include "../internal.h"

typedef struct weft__bpool_ops {
  void (*run)(weft__task *t);    /* consume one reference by running it */
  void (*cancel)(weft__task *t); /* consume one reference without running */
} weft__bpool_ops;

/* A spawner waiting for room in a bounded queue (weft_spawn_blocking_async).
 * It lives inside the waiting future's state; fields are the pool's, read and
 * written under its lock only. Zero-initialise before first use. */
typedef struct weft__bpool_waiter {
  struct weft__bpool_waiter *next, *prev;
  weft_waker waker;
  int linked; /* on the pool's waiter list */
  int woken;  /* taken off the list by a wake it has not yet acted on */
} weft__bpool_waiter;

/* Make a pool. `cfg` supplies max_blocking_threads, blocking_keep_alive_ms,
 * blocking_queue_limit, thread name, stack size and the start/stop hooks.
 * No thread starts until the first job. Returns 0 or WEFT_ENOMEM. */
int weft__bpool_create(const weft__bpool_ops *ops, const weft__config *cfg,
                       weft__blocking_pool **out);

/* Reserve room for one job, before the task exists. Returns 0 (the calling
 * thread now holds a reservation that its next weft__bpool_schedule call on
 * this pool consumes), WEFT_EAGAIN (queue bound reached, or no pool thread
 * exists and one cannot be started), WEFT_ESHUTDOWN. */
int weft__bpool_admit(weft__blocking_pool *p);
/* Give back a reservation that was not used (making the task failed). */
void weft__bpool_unadmit(weft__blocking_pool *p);
/* The schedule function handed to weft__task_spawn_custom (sched = pool). */
void weft__bpool_schedule(void *sched, weft__task *t);

/* Wait for room: returns 1 if a job could be admitted now (try again), 0
 * after registering a clone of `w` to be woken once room appears. */
int weft__bpool_wait_room(weft__blocking_pool *p, weft__bpool_waiter *wt,
                          const weft_waker *w);
/* Forget a waiter. `used_room` is 1 when it got its room (spawned), 0 when
 * it gives up: then a wake it received and did not use passes to the next
 * waiter, so no room is lost. */
void weft__bpool_cancel_wait(weft__blocking_pool *p, weft__bpool_waiter *wt,
                             int used_room);

/* Call `fn(ctx)` each time the last queued or running job finishes (on the
 * pool thread, under the pool's lock, so `fn` must be short and must not
 * call back into the pool). Shutdown clears it first, so `fn` is never
 * called after weft__blocking_pool_shutdown returns. The runtime sets it
 * only on a backend with a virtual clock (see weft__blocking_pool_busy). */
void weft__bpool_on_idle(weft__blocking_pool *p, void (*fn)(void *ctx),
                         void *ctx);

/* 1 once the pool is shutting down; tokens of running jobs read it. */
int weft__bpool_is_shutdown(const weft__blocking_pool *p);

/* The most threads that were alive at once since the pool was made. */
unsigned weft__bpool_peak_threads(const weft__blocking_pool *p);

#endif /* WEFT_BLOCKING_POOL_H */
