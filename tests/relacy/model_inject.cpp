// tests/relacy/model_inject.cpp: Relacy model of a worker moving a batch
// of tasks from the inject queue into its own local queue (sched.c,
// inject_pop_batch) while a thief steals from that local queue. The local
// queue is the library's own core/exec/queue.c, compiled through
// core/atomics.h with 4 slots.
//
// The hazard: an empty local queue may still have no room. A thief that
// claimed half of the ring keeps those slots until it has copied them; if
// the owner pops the rest meanwhile, every slot is taken while the queue
// looks empty, and a push fails. The batch move must then leave the task in
// the inject queue; the library once assumed room and dropped it, losing
// the task.
//
// The inject queue is guarded by a mutex in the library, and only the
// owner touches it here, so it is modelled as a plain array. move_batch
// below follows inject_pop_batch step for step (the first task is returned
// to run, the rest go to the local queue until a push is refused).
//
// Checked: every task is taken exactly once (run by the owner or a thief,
// or still in the inject queue at the end, to be run later). Built with
// -DWEFT_MODEL_BROKEN_INJECT the move ignores a refused push, as the
// library used to; that model must FAIL, and this program then exits 0
// only if the checker caught it (see main).
#include <relacy/relacy.hpp>

#include "model_main.h"

#define WEFT_RELACY 1
#define WEFT__LQ_CAP 4u
#include "../../core/exec/queue.c"

namespace {

const int kLocal = 4;  // fill the owner's local queue
const int kInject = 3; // then move this batch from the inject queue

struct task {
  rl::var<int> payload;
  rl::atomic<int> taken;
};

struct inject_model : rl::test_suite<inject_model, 2> {
  weft__lq owner, thief;
  task local[kLocal], injected[kInject];
  // The inject queue: injected[inj_head..kInject) are still queued.
  int inj_head;

  void before() {
    weft__lq_init(&owner);
    weft__lq_init(&thief);
    for (int i = 0; i < kLocal; i++)
      local[i].taken.store(0, rl::mo_relaxed, $);
    for (int i = 0; i < kInject; i++)
      injected[i].taken.store(0, rl::mo_relaxed, $);
    inj_head = 0;
  }

  void take(void *p) {
    task *t = static_cast<task *>(p);
    RL_ASSERT(t->payload($).load() == 7);
    int prev = t->taken.fetch_add(1, rl::mo_relaxed, $);
    RL_ASSERT(prev == 0);
  }

  // inject_pop_batch: returns the first task; the others go to the local
  // queue as long as it takes them.
  task *move_batch(int max) {
    if (inj_head == kInject)
      return 0;
    task *first = &injected[inj_head++];
    for (int taken = 1; inj_head < kInject && taken < max; taken++) {
      task *t = &injected[inj_head];
#ifdef WEFT_MODEL_BROKEN_INJECT
      weft__lq_push(&owner, t); // assumes room: a refused task is lost
#else
      if (!weft__lq_push(&owner, t))
        break; // stays at the head of the inject queue
#endif
      inj_head++;
    }
    return first;
  }

  void thread(unsigned idx) {
    if (idx == 0) {
      for (int i = 0; i < kLocal; i++) {
        local[i].payload($).store(7);
        RL_ASSERT(weft__lq_push(&owner, &local[i]));
      }
      for (int i = 0; i < kInject; i++)
        injected[i].payload($).store(7);
      // Run everything the local queue still holds: it looks empty now,
      // whether or not the thief has finished copying.
      void *p;
      while ((p = weft__lq_pop(&owner)) != 0)
        take(p);
      task *t = move_batch(kInject);
      if (t)
        take(t);
      while ((p = weft__lq_pop(&owner)) != 0)
        take(p);
      // Whatever the inject queue kept is run later, by someone.
      while (inj_head < kInject)
        take(&injected[inj_head++]);
    } else {
      uint32_t moved = 0;
      void *p = weft__lq_steal_into(&owner, &thief, &moved);
      if (p)
        take(p);
      while ((p = weft__lq_pop(&thief)) != 0)
        take(p);
    }
  }

  void after() {
    for (int i = 0; i < kLocal; i++)
      RL_ASSERT(local[i].taken.load(rl::mo_relaxed, $) == 1);
    for (int i = 0; i < kInject; i++)
      RL_ASSERT(injected[i].taken.load(rl::mo_relaxed, $) == 1);
  }
};

} // namespace

int main() {
#ifdef WEFT_MODEL_BROKEN_INJECT
  const bool broken = true;
#else
  const bool broken = false;
#endif
  return weft_model_main<inject_model>(200000, broken);
}
