/* core/blocking/job.c: blocking jobs as tasks.
 *
 * A blocking job is a task (core/exec/task.c) whose future's poll calls the
 * user's function synchronously, on the pool thread that runs it, and whose
 * schedule function is the pool's queue (as tokio's BlockingTask). So a job
 * has the same join handle as any task: awaitable, waitable, abortable.
 *
 * The future's drop runs the cleanup callback when the function never
 * started: that covers every way a job is cancelled before it runs (abort
 * while queued, shutdown draining the queue), because the task drops its
 * future exactly once in each of them.
 */
#include <string.h>

#include "pool.h"

/* The token lives on the pool thread's stack for the duration of the call.
 * The pool outlives every job it runs (its threads hold references). */
struct weft_cancel_token {
  const weft__task *task;
  const weft__blocking_pool *pool;
};

typedef struct job_state {
  weft_blocking_fn fn;
  void *arg;
  void (*cleanup)(void *arg);
  const weft__blocking_pool *pool;
  int started;
} job_state;

static weft_poll job_poll(void *state, weft_context *cx, void *output) {
  job_state *s = state;
  s->started = 1;
  struct weft_cancel_token tok = {cx->task, s->pool};
  void *r = s->fn(s->arg, &tok);
  memcpy(output, &r, sizeof r);
  return WEFT_READY;
}

static void job_drop(void *state) {
  job_state *s = state;
  if (!s->started && s->cleanup)
    s->cleanup(s->arg);
}

static const weft_future_vtable job_vtable = {
    sizeof(weft_future_vtable), job_poll, job_drop};

/* On a virtual clock the driver lets time follow real time while a job
 * runs (see weft__blocking_pool_busy); the last job to finish wakes it
 * here, whether or not anyone joins the job, so the clock may jump again
 * at once rather than after the poll's whole timeout. */
static void wake_driver_when_idle(void *rt) {
  weft__driver_unpark(weft__runtime_driver(rt));
}

int weft__blocking_pool_new(weft_runtime *rt, const weft__config *cfg,
                            weft__blocking_pool **out) {
  static const weft__bpool_ops ops = {weft__task_run, weft__task_shutdown};
  int rc = weft__bpool_create(&ops, cfg, out);
  weft__driver *d = rt ? weft__runtime_driver(rt) : NULL;
  if (rc == 0 && d && weft__driver_virtual_clock(d))
    weft__bpool_on_idle(*out, wake_driver_when_idle, rt);
  return rc;
}

int weft_spawn_blocking_with_cleanup(weft_runtime *rt, weft_blocking_fn fn,
                                     void *arg, void (*cleanup)(void *arg),
                                     weft_join_handle **handle) {
  if (!rt || !fn)
    return WEFT_EINVAL;
  weft__blocking_pool *p = weft__runtime_blocking_pool(rt);
  if (!p)
    return WEFT_ESHUTDOWN;
  int rc = weft__bpool_admit(p);
  if (rc != 0)
    return rc;
  job_state s = {fn, arg, cleanup, p, 0};
  rc = weft__task_spawn_custom(rt, &job_vtable, &s, sizeof s, sizeof(void *),
                               weft__bpool_schedule, p, handle, __FILE__,
                               __LINE__);
  if (rc != 0)
    weft__bpool_unadmit(p);
  return rc;
}

int weft_spawn_blocking(weft_runtime *rt, weft_blocking_fn fn, void *arg,
                        weft_join_handle **handle) {
  return weft_spawn_blocking_with_cleanup(rt, fn, arg, NULL, handle);
}

int weft_cancel_token_is_cancelled(const weft_cancel_token *token) {
  if (!token)
    return WEFT_EINVAL;
  if (token->task && weft__task_is_cancelled(token->task))
    return 1;
  return weft__bpool_is_shutdown(token->pool);
}

/* ---- weft_spawn_blocking_async ------------------------------------------ */

typedef struct async_state {
  weft_runtime *rt;
  weft_blocking_fn fn;
  void *arg;
  void (*cleanup)(void *arg);
  weft__blocking_pool *pool;
  weft__bpool_waiter waiter; /* stable: the boxed state does not move */
  int done;                  /* spawned, or gave up (cleanup ran) */
} async_state;

static weft_poll async_poll(void *state, weft_context *cx, void *output) {
  async_state *s = state;
  weft_join_handle *h = NULL;
  /* Two tries: a failure with room in the queue means no thread could
   * start, which waiting for room would not cure. */
  for (int tries = 0; tries < 2; tries++) {
    int rc = weft_spawn_blocking_with_cleanup(s->rt, s->fn, s->arg,
                                              s->cleanup, &h);
    if (rc == 0) {
      weft__bpool_cancel_wait(s->pool, &s->waiter, 1);
      memcpy(output, &h, sizeof h);
      s->done = 1;
      return WEFT_READY;
    }
    if (rc != WEFT_EAGAIN)
      break;
    if (!weft__bpool_wait_room(s->pool, &s->waiter, weft_context_waker(cx)))
      return WEFT_PENDING;
  }
  /* Give up: the job will never run, so its cleanup runs now. */
  weft__bpool_cancel_wait(s->pool, &s->waiter, 0);
  h = NULL;
  memcpy(output, &h, sizeof h);
  s->done = 1;
  if (s->cleanup)
    s->cleanup(s->arg);
  return WEFT_READY;
}

static void async_drop(void *state) {
  async_state *s = state;
  if (s->done)
    return;
  weft__bpool_cancel_wait(s->pool, &s->waiter, 0);
  if (s->cleanup)
    s->cleanup(s->arg);
}

static const weft_future_vtable async_vtable = {
    sizeof(weft_future_vtable), async_poll, async_drop};

int weft_spawn_blocking_async(weft_runtime *rt, weft_blocking_fn fn,
                              void *arg, void (*cleanup)(void *arg),
                              weft_future **out) {
  if (!rt || !fn || !out)
    return WEFT_EINVAL;
  weft__blocking_pool *p = weft__runtime_blocking_pool(rt);
  if (!p)
    return WEFT_ESHUTDOWN;
  async_state s;
  memset(&s, 0, sizeof s);
  s.rt = rt;
  s.fn = fn;
  s.arg = arg;
  s.cleanup = cleanup;
  s.pool = p;
  return weft_future_new(&async_vtable, &s, sizeof s,
                         sizeof(weft_join_handle *), out);
}
