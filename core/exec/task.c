/* core/exec/task.c: tasks, their wakers, and join handles.
 *
 * A task is one allocation: the header (exec.h), the future's state and the
 * output room. Its life is governed by the state word of task_state.h,
 * where every transition is written down; this file only strings them
 * together:
 *
 *   spawn ---> [queued] --run--> poll --PENDING--> idle --wake--> [queued]
 *                                  |                 \--abort--> [queued]
 *                                  +--READY / cancelled--> complete
 *
 * Who may touch which field:
 *   - the future's state, `output`, the join part's `status` and `error`:
 *     the thread holding RUNNING; after COMPLETE, readers of the result
 *     (they saw COMPLETE with acquire);
 *   - the join part's `waker`: see JOIN_WAKER in task_state.h;
 * A detached task has no join part: nobody could read its result, so its
 * status and error are not kept.
 *   - `qnext`: the holder of the run reference while the task is queued;
 *   - owned-list links: under the owned shard's lock (owned.c).
 */
#include <stdlib.h>
#include <string.h>

#include "exec.h"

#define WEFT__ALIGN ((size_t)alignof(max_align_t))
#define WEFT__ROUND(x) (((x) + WEFT__ALIGN - 1) & ~(WEFT__ALIGN - 1))

WEFT__TLS weft__task *weft__tls_task;
WEFT__TLS weft_runtime *weft__tls_rt;
WEFT__TLS int weft__tls_budget = 128;

int weft__task_new(weft_runtime *rt, const weft_future_vtable *vt,
                   const void *state, size_t state_size, size_t output_size,
                   int with_handle, int owned, weft__schedule_fn schedule,
                   void *sched, weft_future *boxed, const char *file,
                   int line, weft__task **out) {
  size_t hdr = WEFT__TASK_HDR + (with_handle ? WEFT__TASK_JOIN_ROOM : 0);
  size_t ss = WEFT__ROUND(state_size);
  if (state_size > WEFT__TASK_SIZE_MAX || output_size > WEFT__TASK_SIZE_MAX)
    return WEFT_EINVAL;
  size_t size = hdr + ss + output_size;
  size_t cold_off = 0;
  int need_cold = schedule != weft__sched_schedule || boxed ||
                  rt->slow_poll_ns != 0;
  if (need_cold) {
    cold_off = (size + alignof(weft__task_cold) - 1) &
               ~(alignof(weft__task_cold) - 1);
    size = cold_off + sizeof(weft__task_cold);
  }
  unsigned char cls;
  uint16_t origin;
  weft__task *t = weft__task_alloc(rt, size, &cls, &origin);
  if (!t)
    return WEFT_ENOMEM;
  t->origin = origin;
  t->alloc_class = cls;
  t->has_join = (unsigned char)(with_handle != 0);
  t->cold_off = (uint32_t)cold_off;
  if (need_cold) {
    weft__task_cold *c = weft__task_cold_of(t);
    c->schedule = schedule == weft__sched_schedule ? NULL : schedule;
    c->sched = sched;
    c->boxed = boxed;
    c->file = file;
    c->line = line;
  }
  /* refs: one run reference, plus the owned list, plus the handle. */
  uint64_t refs = 1 + (owned ? 1 : 0) + (with_handle ? 1 : 0);
  weft__ts_init(&t->state, with_handle, refs);
  t->vt = vt;
  if (state_size)
    memcpy(WEFT__TASK_STATE(t), state, state_size);
  t->rt = rt;
  t->qnext = NULL;
  t->owned_prev = t->owned_next = NULL;
  t->id = weft__sched_next_id(rt);
  t->state_room = (uint32_t)ss;
  t->output_size = (uint32_t)output_size;
  if (with_handle) {
    weft__task_join *j = weft__task_join_of(t);
    j->waker.data = NULL;
    j->waker.vtable = NULL;
    j->error = 0;
    j->status = WEFT_JOIN_COMPLETED;
  }
  /* A task the list never tracks starts as if removed, so that the check
   * at each PENDING (task_run) is one compare. */
  t->in_owned = owned ? WEFT__OWNED_NEVER : WEFT__OWNED_REMOVED;
  t->owned = (unsigned char)(owned != 0);
  weft__sched_task_ref(rt);
  *out = t;
  return 0;
}

/* Hand a run reference to the task's scheduler. */
static inline void task_schedule(weft__task *t) {
  weft__task_cold *c = weft__task_cold_of(t);
  if (c && c->schedule)
    c->schedule(c->sched, t);
  else
    weft__sched_schedule(t->rt, t);
}

/* The output room: the task's own, or the boxed future's. */
static void *task_output(weft__task *t) {
  weft__task_cold *c = weft__task_cold_of(t);
  if (c && c->boxed)
    return weft_future_output(c->boxed);
  return t->output_size
             ? (char *)t + WEFT__TASK_STATE_OFF(t) + t->state_room
             : NULL;
}

void weft__task_dealloc(weft__task *t) {
  weft_runtime *rt = t->rt;
  uint64_t s = weft__ts_load(&t->state);
  if (!(s & WEFT__TS_COMPLETE) && t->vt->drop) {
    /* A task nobody can reach any more (no waker, no handle, no queue):
     * its future is dropped here so that nothing leaks. */
    t->vt->drop(WEFT__TASK_STATE(t));
  }
  if (t->has_join && weft__task_join_of(t)->waker.vtable) {
    weft_waker *jw = &weft__task_join_of(t)->waker;
    jw->vtable->drop(jw->data);
  }
  weft__task_cold *c = weft__task_cold_of(t);
  if (c && c->boxed)
    weft_future_free(c->boxed);
  weft__task_free_mem(rt, t, t->alloc_class, t->origin);
  weft__sched_task_unref(rt);
}

void weft__task_drop_ref(weft__task *t) {
  if (weft__ts_ref_dec(&t->state, 1))
    weft__task_dealloc(t);
}

/* The RUNNING holder finishes the task: wake the join side, leave the
 * owned list, drop the run reference (and the list's). */
static void task_complete(weft__task *t) {
  uint64_t snap = weft__ts_to_complete(&t->state);
  /* JOIN_INTEREST is only ever set on a task with a join part. */
  if ((snap & WEFT__TS_JOIN_INTEREST) && (snap & WEFT__TS_JOIN_WAKER)) {
    weft_waker *jw = &weft__task_join_of(t)->waker;
    jw->vtable->wake_by_ref(jw->data);
    uint64_t after = weft__ts_unset_waker_after_complete(&t->state);
    if (!(after & WEFT__TS_JOIN_INTEREST)) {
      /* The handle went away meanwhile and left the waker to us. */
      weft_waker w = *jw;
      jw->vtable = NULL;
      w.vtable->drop(w.data);
    }
  }
  uint64_t n = 1;
  if (t->owned && weft__owned_remove(t->rt, t))
    n++;
  /* Counted as the spawn was: every owned task, and every task spawned
   * from outside the workers (its id has the top bit, sched.c). */
  if (t->owned || (t->id >> 63))
    weft__sched_note_complete(t->rt);
  if (weft__ts_ref_dec(&t->state, n))
    weft__task_dealloc(t);
}

/* The RUNNING holder drops the future without polling it. */
static void task_cancel(weft__task *t) {
  if (t->vt->drop)
    t->vt->drop(WEFT__TASK_STATE(t));
  if (t->has_join) {
    weft__task_join_of(t)->status = WEFT_JOIN_CANCELLED;
    weft__task_join_of(t)->error = WEFT_ECANCELED;
  }
  task_complete(t);
}

static void slow_poll_report(weft__task *t, uint64_t dt) {
  weft_runtime *rt = t->rt;
  weft_slow_poll_info info;
  info.struct_size = sizeof info;
  info.task_id = t->id;
  /* Every task of a runtime that reports slow polls has a cold part. */
  weft__task_cold *c = weft__task_cold_of(t);
  info.spawn_file = c ? c->file : NULL;
  info.spawn_line = c ? c->line : 0;
  info.duration_ns = dt;
  rt->cfg.slow_poll_hook(&info, rt->cfg.slow_poll_arg);
}

void weft__task_run(weft__task *t) {
  switch (weft__ts_to_running(&t->state)) {
  case WEFT__TR_FAILED:
    return;
  case WEFT__TR_DEALLOC:
    weft__task_dealloc(t);
    return;
  case WEFT__TR_CANCELLED:
    task_cancel(t);
    return;
  default:
    break;
  }
  weft__task *prev_task = weft__tls_task;
  weft_runtime *prev_rt = weft__tls_rt;
  weft__tls_task = t;
  weft__tls_rt = t->rt;
  weft__tls_budget = 128;
  weft_context cx;
  cx.waker.data = t;
  cx.waker.vtable = &weft__task_waker_vtable;
  cx.rt = t->rt;
  cx.task = t;
  weft_poll r;
  uint64_t slow = t->rt->slow_poll_ns;
  void *out = t->cold_off ? task_output(t)
              : t->output_size
                  ? (char *)t + WEFT__TASK_STATE_OFF(t) + t->state_room
                  : NULL;
  if (slow) {
    uint64_t t0 = weft__now_ns();
    r = t->vt->poll(WEFT__TASK_STATE(t), &cx, out);
    uint64_t dt = weft__now_ns() - t0;
    if (dt > slow)
      slow_poll_report(t, dt);
  } else {
    r = t->vt->poll(WEFT__TASK_STATE(t), &cx, out);
  }
  weft__tls_task = prev_task;
  weft__tls_rt = prev_rt;
  if (r == WEFT_READY) {
    if (t->vt->drop)
      t->vt->drop(WEFT__TASK_STATE(t));
    if (t->has_join && weft__task_join_of(t)->error) /* weft_task_fail */
      weft__task_join_of(t)->status = WEFT_JOIN_FAILED;
    task_complete(t);
    return;
  }
  if (t->in_owned == WEFT__OWNED_NEVER && weft__owned_insert(t->rt, t) != 0) {
    /* Idle from now on, so it must be on the owned list for shutdown to
     * find it; but shutdown closed the list already. Do what shutdown
     * would have done. */
    task_cancel(t);
    return;
  }
  switch (weft__ts_to_idle(&t->state)) {
  case WEFT__TR_OK:
    return;
  case WEFT__TR_DEALLOC:
    weft__task_dealloc(t);
    return;
  case WEFT__TR_NOTIFIED:
    /* Woken during its own poll (a yield): to the back of the queue. */
    if (t->cold_off && weft__task_cold_of(t)->schedule)
      task_schedule(t);
    else
      weft__sched_schedule_yield(t->rt, t);
    return;
  default: /* CANCELLED */
    task_cancel(t);
    return;
  }
}

void weft__task_shutdown(weft__task *t) {
  if (weft__ts_to_shutdown(&t->state))
    task_cancel(t);
  else
    weft__task_drop_ref(t);
}

int weft__task_is_cancelled(const weft__task *t) {
  /* Relaxed is enough for a flag that only asks a job to stop early. */
  return (atomic_load_explicit((weft__task_state *)&t->state,
                               memory_order_relaxed) &
          WEFT__TS_CANCELLED) != 0;
}

uint64_t weft__task_id(const weft__task *t) { return t->id; }

/* ---- Wakers ---------------------------------------------------------- */

static weft_waker task_waker_clone(const void *data) {
  weft__task *t = (weft__task *)data;
  weft__ts_ref_inc(&t->state);
  weft_waker w;
  w.data = t;
  w.vtable = &weft__task_waker_vtable;
  return w;
}

static void task_waker_wake(const void *data) {
  weft__task *t = (weft__task *)data;
  switch (weft__ts_notified_by_val(&t->state)) {
  case WEFT__NV_SUBMIT:
    task_schedule(t);
    break;
  case WEFT__NV_DEALLOC:
    weft__task_dealloc(t);
    break;
  default:
    break;
  }
}

static void task_waker_wake_by_ref(const void *data) {
  weft__task *t = (weft__task *)data;
  if (weft__ts_notified_by_ref(&t->state))
    task_schedule(t);
}

static void task_waker_drop(const void *data) {
  weft__task_drop_ref((weft__task *)data);
}

const weft_waker_vtable weft__task_waker_vtable = {
    task_waker_clone, task_waker_wake, task_waker_wake_by_ref,
    task_waker_drop};

/* ---- Spawning -------------------------------------------------------- */

static int vtable_ok(const weft_future_vtable *vt) {
  return vt && vt->struct_size >= sizeof(weft_future_vtable) && vt->poll;
}

static int spawn_common(weft_runtime *rt, const weft_future_vtable *vt,
                        const void *state, size_t state_size,
                        size_t output_size, weft_future *boxed,
                        weft_join_handle **handle, const char *file,
                        int line, weft__task **out) {
  if (!rt || !vtable_ok(vt) || (!state && state_size))
    return WEFT_EINVAL;
  if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
    return WEFT_ESHUTDOWN;
  weft__task *t;
  int rc = weft__task_new(rt, vt, state, state_size, output_size,
                          handle != NULL, 1, weft__sched_schedule, rt, boxed,
                          file, line, &t);
  if (rc)
    return rc;
  /* Not on the owned list yet: it joins at its first PENDING (owned.c). A
   * spawn that races with shutdown is cancelled with the queue it lands
   * in (sched.c drains them, and a closed inject queue refuses it). */
  weft__sched_note_spawn(rt);
  if (handle)
    *handle = (weft_join_handle *)t;
  *out = t;
  return 0;
}

int weft_spawn_at(weft_runtime *rt, const weft_future_vtable *vtable,
                  const void *state, size_t state_size, size_t output_size,
                  weft_join_handle **handle, const char *file, int line) {
  weft__task *t;
  int rc = spawn_common(rt, vtable, state, state_size, output_size, NULL,
                        handle, file, line, &t);
  if (rc)
    return rc;
  weft__sched_schedule(rt, t);
  return 0;
}

/* weft_spawn_future: the task's state is a pointer to the boxed future. */
weft_poll weft__future_poll_into(weft_future *f, weft_context *cx);
void weft__future_drop_state(weft_future *f);

static weft_poll boxed_poll(void *state, weft_context *cx, void *out) {
  (void)out;
  return weft_future_poll(*(weft_future **)state, cx);
}
static void boxed_drop(void *state) {
  /* Keep the box (its output room is the task's) until the task goes. */
  weft__future_drop_state(*(weft_future **)state);
}
static const weft_future_vtable boxed_vtable = {sizeof(weft_future_vtable),
                                                boxed_poll, boxed_drop};

int weft_spawn_future(weft_runtime *rt, weft_future *f,
                      weft_join_handle **handle) {
  if (!f)
    return WEFT_EINVAL;
  weft__task *t;
  size_t out_size = weft_future_output_size(f);
  if (out_size > WEFT__TASK_SIZE_MAX)
    return WEFT_EINVAL;
  int rc = spawn_common(rt, &boxed_vtable, &f, sizeof f, 0, f, handle, NULL,
                        0, &t);
  if (rc)
    return rc;
  t->output_size = (uint32_t)out_size;
  weft__sched_schedule(rt, t);
  return 0;
}

int weft__task_spawn_custom(weft_runtime *rt, const weft_future_vtable *vt,
                            const void *state, size_t state_size,
                            size_t output_size, weft__schedule_fn schedule,
                            void *sched, weft_join_handle **handle,
                            const char *file, int line) {
  if (!rt || !vtable_ok(vt) || !schedule || (!state && state_size))
    return WEFT_EINVAL;
  weft__task *t;
  int rc = weft__task_new(rt, vt, state, state_size, output_size,
                          handle != NULL, 0, schedule, sched, NULL, file,
                          line, &t);
  if (rc)
    return rc;
  if (handle)
    *handle = (weft_join_handle *)t;
  schedule(sched, t);
  return 0;
}

int weft_task_fail(weft_context *cx, int error) {
  if (!cx || !cx->task || error >= 0)
    return WEFT_EINVAL;
  weft__task *t = cx->task;
  /* A detached task keeps no result: nobody could read it. */
  if (t->has_join)
    weft__task_join_of(t)->error = error;
  return 0;
}

/* ---- Join handles ----------------------------------------------------- */

static void fill_result(weft__task *t, weft_join_result *r) {
  if (!r)
    return;
  weft__task_join *j = weft__task_join_of(t); /* a handle's task */
  r->status = (weft_join_status)j->status;
  r->error = j->error;
  if (j->status == WEFT_JOIN_COMPLETED && t->output_size) {
    r->output = task_output(t);
    r->output_size = t->output_size;
  } else {
    r->output = NULL;
    r->output_size = 0;
  }
}

/* Store a clone of `w` as the join waker while the join side owns the
 * field, then hand the field over. Returns 0 or -1 if COMPLETE. */
static int set_join_waker(weft__task *t, const weft_waker *w) {
  weft_waker *jw = &weft__task_join_of(t)->waker;
  if (jw->vtable)
    jw->vtable->drop(jw->data);
  *jw = w->vtable->clone(w->data);
  if (weft__ts_set_join_waker(&t->state) < 0) {
    weft_waker old = *jw;
    jw->vtable = NULL;
    old.vtable->drop(old.data);
    return -1;
  }
  return 0;
}

/* 1 when the result can be read; otherwise `w` will be woken. */
static int can_read_output(weft__task *t, const weft_waker *w) {
  uint64_t s = weft__ts_load(&t->state);
  if (s & WEFT__TS_COMPLETE)
    return 1;
  int res;
  if (!(s & WEFT__TS_JOIN_WAKER)) {
    res = set_join_waker(t, w);
  } else {
    const weft_waker *jw = &weft__task_join_of(t)->waker;
    if (jw->data == w->data && jw->vtable == w->vtable)
      return 0;
    res = weft__ts_unset_waker(&t->state);
    if (res == 0)
      res = set_join_waker(t, w);
  }
  return res < 0;
}

weft_poll weft_join_poll(weft_join_handle *h, weft_context *cx,
                         weft_join_result *result) {
  weft__task *t = (weft__task *)h;
  if (!t || !cx) {
    if (result) {
      memset(result, 0, sizeof *result);
      result->status = WEFT_JOIN_FAILED;
      result->error = WEFT_EINVAL;
    }
    return WEFT_READY;
  }
  if (!weft__coop_proceed(cx))
    return WEFT_PENDING;
  const weft_waker *w = weft_context_waker(cx);
  if (!w->vtable) {
    if (!(weft__ts_load(&t->state) & WEFT__TS_COMPLETE))
      return WEFT_PENDING;
  } else if (!can_read_output(t, w)) {
    return WEFT_PENDING;
  }
  fill_result(t, result);
  return WEFT_READY;
}

int weft_join_wait(weft_join_handle *h, int64_t timeout_ms,
                   weft_join_result *result) {
  weft__task *t = (weft__task *)h;
  if (!t || timeout_ms < -1)
    return WEFT_EINVAL;
  if (weft__tls_worker && weft__tls_worker->rt == t->rt)
    return WEFT_EINVAL; /* would block the worker that must run it */
  if (weft__ts_load(&t->state) & WEFT__TS_COMPLETE) {
    fill_result(t, result);
    return 0;
  }
  /* A parker per call rather than one kept in the task: the header stays
   * small, and a waker left behind by a timed-out wait keeps its own
   * reference to its parker. */
  weft__parker *p = weft__parker_new(NULL);
  if (!p)
    return WEFT_ENOMEM;
  uint64_t deadline =
      timeout_ms < 0 ? 0 : weft__now_ns() + (uint64_t)timeout_ms * 1000000u;
  weft_waker w = weft__parker_waker(p);
  int rc = 0;
  for (;;) {
    if (can_read_output(t, &w))
      break;
    if (!weft__parker_wait(p, deadline)) {
      if (weft__ts_load(&t->state) & WEFT__TS_COMPLETE)
        break;
      rc = WEFT_ETIMEDOUT;
      break;
    }
  }
  w.vtable->drop(w.data);
  weft__parker_unref(p);
  if (rc == 0)
    fill_result(t, result);
  return rc;
}

int weft_join_abort(weft_join_handle *h) {
  weft__task *t = (weft__task *)h;
  if (!t)
    return WEFT_EINVAL;
  int r = weft__ts_notify_cancel(&t->state);
  if (r == 1) {
    task_schedule(t);
  } else if (r == 2 && t->cold_off && weft__task_cold_of(t)->schedule) {
    /* A custom scheduler (the blocking pool) gets a second run reference
     * for a task still in its queue, so it can drop it at once instead of
     * when a thread reaches it (see core/internal.h). The handle's own
     * reference keeps the task alive across the increment. */
    weft__ts_ref_inc(&t->state);
    task_schedule(t);
  }
  return 0;
}

int weft_join_is_finished(const weft_join_handle *h) {
  weft__task *t = (weft__task *)h;
  if (!t)
    return 0;
  return (weft__ts_load(&t->state) & WEFT__TS_COMPLETE) != 0;
}

uint64_t weft_join_task_id(const weft_join_handle *h) {
  return h ? ((const weft__task *)h)->id : 0;
}

void weft_join_free(weft_join_handle *h) {
  weft__task *t = (weft__task *)h;
  if (!t)
    return;
  weft_waker *jw = &weft__task_join_of(t)->waker;
  if (weft__ts_join_dropped(&t->state) && jw->vtable) {
    weft_waker w = *jw;
    jw->vtable = NULL;
    w.vtable->drop(w.data);
  }
  weft__task_drop_ref(t);
}

void weft_join_detach(weft_join_handle *h) { weft_join_free(h); }

/* ---- Thread context queries ------------------------------------------- */

weft_runtime *weft_runtime_current(void) { return weft__tls_rt; }

uint64_t weft_task_id_current(void) {
  return weft__tls_task ? weft__tls_task->id : 0;
}

int weft__coop_proceed(weft_context *cx) {
  if (weft__tls_budget > 0) {
    weft__tls_budget--;
    return 1;
  }
  if (cx)
    weft_waker_wake_by_ref(weft_context_waker(cx));
  return 0;
}
