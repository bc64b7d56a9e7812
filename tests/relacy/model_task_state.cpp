// tests/relacy/model_task_state.cpp: Relacy model of the task state word,
// compiled from the library's own core/exec/task_state.h through
// core/atomics.h.
//
// Three threads share one task whose future returns PENDING on its first
// poll and READY on its second:
//   0: the scheduler: runs the task's first poll (and any resubmission);
//   1: a waker holding a waker reference: wakes by value, and runs the task
//      if that wake submitted it;
//   2: the join handle: registers its waker, reads the output once it sees
//      COMPLETE, then drops the handle.
// Checked: polls never overlap (the poll counter is a plain rl::var), the
// future is dropped at most once, the output is read only after it was
// written (happens-before on rl::var), the join waker is handed over
// without a race, and the task is freed exactly once when the last
// reference goes. Built with -DWEFT_MODEL_BROKEN_STATE, completion is
// published with a relaxed RMW; that model must FAIL (see main).
#include <relacy/relacy.hpp>

#include "model_main.h"

#define WEFT_RELACY 1
#include "../../core/exec/task_state.h"

namespace {

struct task_model : rl::test_suite<task_model, 3> {
  weft__task_state state;
  rl::var<int> polls;     // the future's state: touched by RUNNING only
  rl::var<int> output;    // written before COMPLETE
  rl::var<int> join_waker; // 0 none, 1 set: see JOIN_WAKER
  rl::atomic<int> joined_woken;
  rl::atomic<int> freed;
  rl::atomic<int> dropped;

  void before() {
    // refs: owned list, run reference, join handle, one waker.
    weft__ts_init(&state, 1, 4);
    polls($).store(0);
    output($).store(0);
    join_waker($).store(0);
    joined_woken.store(0, rl::mo_relaxed, $);
    freed.store(0, rl::mo_relaxed, $);
    dropped.store(0, rl::mo_relaxed, $);
  }

  void dealloc() { RL_ASSERT(freed.fetch_add(1, rl::mo_relaxed, $) == 0); }

  void complete() {
    uint64_t snap = weft__ts_to_complete(&state);
    if ((snap & WEFT__TS_JOIN_INTEREST) && (snap & WEFT__TS_JOIN_WAKER)) {
      RL_ASSERT(join_waker($).load() == 1);
      joined_woken.store(1, rl::mo_relaxed, $);
      uint64_t after = weft__ts_unset_waker_after_complete(&state);
      if (!(after & WEFT__TS_JOIN_INTEREST))
        join_waker($).store(0);
    }
    // The run reference and the owned list's reference.
    if (weft__ts_ref_dec(&state, 2))
      dealloc();
  }

  // Run the task once with a run reference, as weft__task_run does.
  void run() {
    for (;;) {
      int a = weft__ts_to_running(&state);
      if (a == WEFT__TR_FAILED)
        return;
      if (a == WEFT__TR_DEALLOC) {
        dealloc();
        return;
      }
      int n = polls($).load() + 1;
      polls($).store(n);
      if (n >= 2) {
        output($).store(42);
        RL_ASSERT(dropped.fetch_add(1, rl::mo_relaxed, $) == 0);
        complete();
        return;
      }
      switch (weft__ts_to_idle(&state)) {
      case WEFT__TR_OK:
        return;
      case WEFT__TR_DEALLOC:
        dealloc();
        return;
      case WEFT__TR_NOTIFIED:
        continue; // resubmitted: run again with the same reference
      default:
        RL_ASSERT(false);
        return;
      }
    }
  }

  void thread(unsigned idx) {
    if (idx == 0) {
      run();
    } else if (idx == 1) {
      int r = weft__ts_notified_by_val(&state);
      if (r == WEFT__NV_SUBMIT)
        run();
      else if (r == WEFT__NV_DEALLOC)
        dealloc();
    } else {
      // The join handle: one attempt to read, else register the waker.
      uint64_t s = weft__ts_load(&state);
      if (s & WEFT__TS_COMPLETE) {
        RL_ASSERT(output($).load() == 42);
      } else {
        join_waker($).store(1);
        if (weft__ts_set_join_waker(&state) < 0) {
          join_waker($).store(0);
          RL_ASSERT(output($).load() == 42);
        }
      }
      if (weft__ts_join_dropped(&state))
        join_waker($).store(0);
      if (weft__ts_ref_dec(&state, 1))
        dealloc();
    }
  }

  void after() {
    uint64_t s = weft__ts_load(&state);
    if (s & WEFT__TS_COMPLETE)
      RL_ASSERT(freed.load(rl::mo_relaxed, $) == 1);
    RL_ASSERT(freed.load(rl::mo_relaxed, $) == (weft__ts_refs(s) == 0));
  }
};

} // namespace

int main() {
#ifdef WEFT_MODEL_BROKEN_STATE
  const bool broken = true;
#else
  const bool broken = false;
#endif
  return weft_model_main<task_model>(300000, broken);
}
