/* core/exec/task_state.h: the task state word and its transitions.
 *
 * Every task has one atomic word. Its low bits are flags, the rest is a
 * reference count (in units of WEFT__TS_REF_ONE):
 *
 *   RUNNING        a thread owns the future and is polling (or cancelling)
 *                  it. Only the holder of RUNNING may touch the future state,
 *                  the output room and the result fields.
 *   COMPLETE       the future has been dropped and the result is written;
 *                  never cleared again.
 *   NOTIFIED       a run reference exists (the task sits in a queue), or the
 *                  task was woken while RUNNING and must be polled again.
 *   JOIN_INTEREST  a join handle exists and wants the result.
 *   JOIN_WAKER     the join waker field is set and belongs to the runner
 *                  side; while it is clear it belongs to the join handle.
 *   CANCELLED      abort or shutdown asked for the future to be dropped.
 *
 * References: one per owner of a pointer to the task: the runtime's list
 * of owned tasks (counted from the spawn; the task holds it itself until
 * it is listed at its first PENDING, see owned.c), every run reference (a
 * queued notification), every waker clone, the join handle. The task is freed when the count reaches zero.
 *
 * Transitions (each is one CAS loop or one read-modify-write):
 *
 *   to_running       run ref, NOTIFIED, idle  -> RUNNING, !NOTIFIED
 *                    (CANCELLED is reported: the runner cancels instead of
 *                    polling). Not idle (COMPLETE, or taken by shutdown):
 *                    drop the run ref.
 *   to_idle          after a PENDING poll: !RUNNING; if NOTIFIED was set
 *                    during the poll the poller's run ref is handed to a
 *                    resubmission, else the run ref is dropped. With
 *                    CANCELLED set, nothing changes: the runner cancels.
 *   to_complete      RUNNING -> COMPLETE (one fetch_xor).
 *   notified_by_val  (a waker's ref is consumed) idle: set NOTIFIED, the
 *                    waker's ref becomes the run ref, submit. RUNNING: set
 *                    NOTIFIED, drop the waker's ref. Already notified or
 *                    complete: drop the waker's ref.
 *   notified_by_ref  idle: set NOTIFIED, add a run ref, submit. RUNNING: set
 *                    NOTIFIED. Otherwise nothing.
 *   notify_cancel    (abort) not complete and not cancelled: set CANCELLED;
 *                    if idle and not notified also set NOTIFIED and add a
 *                    run ref (submit) so that a runner drops the future.
 *   to_shutdown      set CANCELLED; if idle also take RUNNING, and the
 *                    caller cancels the task itself.
 *   join_dropped     clear JOIN_INTEREST (and JOIN_WAKER unless COMPLETE,
 *                    in which case the runner still owns the waker).
 *   set_join_waker   join side stored its waker: set JOIN_WAKER unless
 *                    COMPLETE.
 *   unset_waker      join side takes the waker field back unless COMPLETE.
 *
 * Memory orders: the read-modify-writes that hand the future from one
 * thread to another (to_running, to_idle, to_complete, the notify
 * transitions, ref_dec) are acq_rel so that everything the previous owner
 * wrote is visible to the next. ref_inc is relaxed: the caller already
 * holds a reference, so the object cannot go away under it.
 */
#ifndef WEFT_CORE_EXEC_TASK_STATE_H
#define WEFT_CORE_EXEC_TASK_STATE_H

#include <stdint.h>

#include "../atomics.h"

#define WEFT__TS_RUNNING ((uint64_t)1)
#define WEFT__TS_COMPLETE ((uint64_t)2)
#define WEFT__TS_NOTIFIED ((uint64_t)4)
#define WEFT__TS_JOIN_INTEREST ((uint64_t)8)
#define WEFT__TS_JOIN_WAKER ((uint64_t)16)
#define WEFT__TS_CANCELLED ((uint64_t)32)
#define WEFT__TS_REF_ONE ((uint64_t)64)
#define WEFT__TS_REF_SHIFT 6

/* The model build weakens one order on purpose to prove the checker would
 * catch it (see tests/relacy/). Never defined in the library. */
#ifdef WEFT_MODEL_BROKEN_STATE
#define WEFT__TS_COMPLETE_ORDER WEFT_RELAXED
#else
#define WEFT__TS_COMPLETE_ORDER WEFT_ACQ_REL
#endif

typedef WEFT_ATOMIC(uint64_t) weft__task_state;

static inline uint64_t weft__ts_refs(uint64_t s) {
  return s >> WEFT__TS_REF_SHIFT;
}

static inline int weft__ts_is_idle(uint64_t s) {
  return (s & (WEFT__TS_RUNNING | WEFT__TS_COMPLETE)) == 0;
}

/* Initial state: scheduled once (NOTIFIED), `refs` references. */
static inline void weft__ts_init(weft__task_state *s, int join_interest,
                                 uint64_t refs) {
  uint64_t v = WEFT__TS_NOTIFIED | (refs << WEFT__TS_REF_SHIFT);
  if (join_interest)
    v |= WEFT__TS_JOIN_INTEREST;
  weft_atomic_init(s, v);
}

static inline uint64_t weft__ts_load(weft__task_state *s) {
  /* Acquire: a caller that sees COMPLETE reads the result next. */
  return weft_load(s, WEFT_ACQUIRE);
}

enum {
  WEFT__TR_OK = 0,
  WEFT__TR_CANCELLED = 1,
  WEFT__TR_FAILED = 2,  /* run ref dropped, task still referenced */
  WEFT__TR_DEALLOC = 3, /* run ref dropped, it was the last one */
  WEFT__TR_NOTIFIED = 4 /* to_idle: woken during the poll, resubmit */
};

static inline int weft__ts_to_running(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_RELAXED), next;
  int action;
  for (;;) {
    WEFT_MODEL_ASSERT(cur & WEFT__TS_NOTIFIED);
    if (!weft__ts_is_idle(cur)) {
      WEFT_MODEL_ASSERT(weft__ts_refs(cur) > 0);
      next = cur - WEFT__TS_REF_ONE;
      action = weft__ts_refs(next) == 0 ? WEFT__TR_DEALLOC : WEFT__TR_FAILED;
    } else {
      next = (cur & ~WEFT__TS_NOTIFIED) | WEFT__TS_RUNNING;
      action = (cur & WEFT__TS_CANCELLED) ? WEFT__TR_CANCELLED : WEFT__TR_OK;
    }
    /* acq_rel: take over the future from the previous poller. */
    if (weft_cas_weak(s, &cur, next, WEFT_ACQ_REL, WEFT_RELAXED))
      return action;
  }
}

static inline int weft__ts_to_idle(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_RELAXED), next;
  int action;
  for (;;) {
    WEFT_MODEL_ASSERT(cur & WEFT__TS_RUNNING);
    if (cur & WEFT__TS_CANCELLED)
      return WEFT__TR_CANCELLED;
    next = cur & ~WEFT__TS_RUNNING;
    if (!(next & WEFT__TS_NOTIFIED)) {
      /* The poll consumed the run reference. */
      next -= WEFT__TS_REF_ONE;
      action = weft__ts_refs(next) == 0 ? WEFT__TR_DEALLOC : WEFT__TR_OK;
    } else {
      /* Woken during the poll: the poller's run reference becomes the run
       * reference of the resubmission, so the count does not change. */
      action = WEFT__TR_NOTIFIED;
    }
    /* acq_rel: release the future's state to the next poller. */
    if (weft_cas_weak(s, &cur, next, WEFT_ACQ_REL, WEFT_RELAXED))
      return action;
  }
}

/* Returns the state after the transition. */
static inline uint64_t weft__ts_to_complete(weft__task_state *s) {
  /* acq_rel: publishes the result to the join side (release) and makes the
   * join waker it stored visible to us (acquire). */
  uint64_t prev = weft_fetch_xor(s, WEFT__TS_RUNNING | WEFT__TS_COMPLETE,
                                 WEFT__TS_COMPLETE_ORDER);
  WEFT_MODEL_ASSERT(prev & WEFT__TS_RUNNING);
  WEFT_MODEL_ASSERT(!(prev & WEFT__TS_COMPLETE));
  return prev ^ (WEFT__TS_RUNNING | WEFT__TS_COMPLETE);
}

enum { WEFT__NV_NOTHING = 0, WEFT__NV_SUBMIT = 1, WEFT__NV_DEALLOC = 2 };

static inline int weft__ts_notified_by_val(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_RELAXED), next;
  int action;
  for (;;) {
    WEFT_MODEL_ASSERT(weft__ts_refs(cur) > 0);
    if (cur & WEFT__TS_RUNNING) {
      next = (cur | WEFT__TS_NOTIFIED) - WEFT__TS_REF_ONE;
      action = WEFT__NV_NOTHING;
    } else if (cur & (WEFT__TS_COMPLETE | WEFT__TS_NOTIFIED)) {
      next = cur - WEFT__TS_REF_ONE;
      action = weft__ts_refs(next) == 0 ? WEFT__NV_DEALLOC : WEFT__NV_NOTHING;
    } else {
      next = cur | WEFT__TS_NOTIFIED;
      action = WEFT__NV_SUBMIT;
    }
    if (weft_cas_weak(s, &cur, next, WEFT_ACQ_REL, WEFT_RELAXED))
      return action;
  }
}

/* Returns 1 when the caller must submit the new run reference. */
static inline int weft__ts_notified_by_ref(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_RELAXED), next;
  int submit;
  for (;;) {
    if (cur & (WEFT__TS_COMPLETE | WEFT__TS_NOTIFIED))
      return 0;
    if (cur & WEFT__TS_RUNNING) {
      next = cur | WEFT__TS_NOTIFIED;
      submit = 0;
    } else {
      next = (cur | WEFT__TS_NOTIFIED) + WEFT__TS_REF_ONE;
      submit = 1;
    }
    if (weft_cas_weak(s, &cur, next, WEFT_ACQ_REL, WEFT_RELAXED))
      return submit;
  }
}

/* Abort. Returns 1 when the caller must submit the new run reference, 2
 * when the task was queued (idle and NOTIFIED) and is now marked
 * cancelled, without a new reference, else 0. */
static inline int weft__ts_notify_cancel(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_RELAXED), next;
  int submit;
  for (;;) {
    if (cur & (WEFT__TS_COMPLETE | WEFT__TS_CANCELLED))
      return 0;
    if (cur & WEFT__TS_RUNNING) {
      next = cur | WEFT__TS_NOTIFIED | WEFT__TS_CANCELLED;
      submit = 0;
    } else if (cur & WEFT__TS_NOTIFIED) {
      /* Queued already: the runner that takes it will cancel it. */
      next = cur | WEFT__TS_CANCELLED;
      submit = 2;
    } else {
      next = (cur | WEFT__TS_NOTIFIED | WEFT__TS_CANCELLED) + WEFT__TS_REF_ONE;
      submit = 1;
    }
    if (weft_cas_weak(s, &cur, next, WEFT_ACQ_REL, WEFT_RELAXED))
      return submit;
  }
}

/* Returns 1 when the caller took RUNNING and must cancel the task. */
static inline int weft__ts_to_shutdown(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_RELAXED), next;
  int took;
  for (;;) {
    next = cur | WEFT__TS_CANCELLED;
    took = weft__ts_is_idle(cur);
    if (took)
      next |= WEFT__TS_RUNNING;
    if (weft_cas_weak(s, &cur, next, WEFT_ACQ_REL, WEFT_RELAXED))
      return took;
  }
}

static inline void weft__ts_ref_inc(weft__task_state *s) {
  /* Relaxed: the caller holds a reference already. */
  weft_fetch_add(s, WEFT__TS_REF_ONE, WEFT_RELAXED);
}

/* Drop `n` references; returns 1 when they were the last ones. */
static inline int weft__ts_ref_dec(weft__task_state *s, uint64_t n) {
  /* acq_rel: the last dropper must see every other owner's writes before
   * it frees the task. */
  uint64_t prev = weft_fetch_sub(s, n * WEFT__TS_REF_ONE, WEFT_ACQ_REL);
  WEFT_MODEL_ASSERT(weft__ts_refs(prev) >= n);
  return weft__ts_refs(prev) == n;
}

/* The join handle goes away. Returns a mask: bit 0 = the handle may drop
 * the stored join waker (JOIN_WAKER is clear afterwards). */
static inline int weft__ts_join_dropped(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_RELAXED), next;
  for (;;) {
    WEFT_MODEL_ASSERT(cur & WEFT__TS_JOIN_INTEREST);
    if (cur & WEFT__TS_COMPLETE)
      next = cur & ~WEFT__TS_JOIN_INTEREST;
    else
      next = cur & ~(WEFT__TS_JOIN_INTEREST | WEFT__TS_JOIN_WAKER);
    if (weft_cas_weak(s, &cur, next, WEFT_ACQ_REL, WEFT_ACQUIRE))
      return (next & WEFT__TS_JOIN_WAKER) ? 0 : 1;
  }
}

/* Returns 0, or -1 when the task is already COMPLETE. */
static inline int weft__ts_set_join_waker(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_ACQUIRE);
  for (;;) {
    if (cur & WEFT__TS_COMPLETE)
      return -1;
    /* Release: the waker written just before must be visible to the runner
     * that sees JOIN_WAKER. Acquire on failure: we read the result next. */
    if (weft_cas_weak(s, &cur, cur | WEFT__TS_JOIN_WAKER, WEFT_ACQ_REL,
                      WEFT_ACQUIRE))
      return 0;
  }
}

static inline int weft__ts_unset_waker(weft__task_state *s) {
  uint64_t cur = weft_load(s, WEFT_ACQUIRE);
  for (;;) {
    if (cur & WEFT__TS_COMPLETE)
      return -1;
    if (weft_cas_weak(s, &cur, cur & ~WEFT__TS_JOIN_WAKER, WEFT_ACQ_REL,
                      WEFT_ACQUIRE))
      return 0;
  }
}

/* After completion the runner woke the join waker and hands the field
 * back. Returns the state after. */
static inline uint64_t weft__ts_unset_waker_after_complete(
    weft__task_state *s) {
  uint64_t prev = weft_fetch_and(s, ~WEFT__TS_JOIN_WAKER, WEFT_ACQ_REL);
  return prev & ~WEFT__TS_JOIN_WAKER;
}

#endif /* WEFT_CORE_EXEC_TASK_STATE_H */
