// tests/relacy/model_queue.cpp: Relacy model of the worker's local run
// queue, compiled from the library's own core/exec/queue.c through
// core/atomics.h. One owner pushes (overflowing to a "shared queue"), pops;
// two thieves steal half into their own queues and drain them.
//
// Checked: every item is taken exactly once; no data race on the slots or
// on the items' payloads (Relacy's happens-before checker on rl::var).
// Built with -DWEFT_MODEL_BROKEN_QUEUE the push publishes its slot with a
// relaxed store; that model must FAIL, and this program then exits 0 only
// if the checker caught it (see main).
#include <relacy/relacy.hpp>

#include "model_main.h"

#define WEFT_RELACY 1
#define WEFT__LQ_CAP 4u
#include "../../core/exec/queue.c"

namespace {

const int kItems = 6;

struct item {
  rl::var<int> payload;
  rl::atomic<int> taken;
};

struct queue_model : rl::test_suite<queue_model, 3> {
  weft__lq owner, thief[2];
  item items[kItems];
  rl::atomic<int> overflowed; // items moved to the shared queue

  void before() {
    weft__lq_init(&owner);
    weft__lq_init(&thief[0]);
    weft__lq_init(&thief[1]);
    for (int i = 0; i < kItems; i++)
      items[i].taken.store(0, rl::mo_relaxed, $);
    overflowed.store(0, rl::mo_relaxed, $);
  }

  void take(void *p) {
    item *it = static_cast<item *>(p);
    RL_ASSERT(it->payload($).load() == 7);
    int prev = it->taken.fetch_add(1, rl::mo_relaxed, $);
    RL_ASSERT(prev == 0);
  }

  void push(item *it) {
    it->payload($).store(7);
    for (;;) {
      if (weft__lq_push(&owner, it))
        return;
      void *batch[WEFT__LQ_CAP / 2];
      int n = weft__lq_push_overflow(&owner, batch);
      if (n < 0)
        continue;
      // The shared queue is modelled by taking the items right here, on
      // the owner thread, as the scheduler would later.
      for (int i = 0; i < n; i++)
        take(batch[i]);
      take(it);
      overflowed.fetch_add(n + 1, rl::mo_relaxed, $);
      return;
    }
  }

  void thread(unsigned idx) {
    if (idx == 0) {
      for (int i = 0; i < kItems; i++) {
        push(&items[i]);
        if (i == 2 || i == 4) {
          void *p = weft__lq_pop(&owner);
          if (p)
            take(p);
        }
      }
      void *p;
      while ((p = weft__lq_pop(&owner)) != 0)
        take(p);
    } else {
      weft__lq *mine = &thief[idx - 1];
      for (int round = 0; round < 2; round++) {
        uint32_t moved = 0;
        void *p = weft__lq_steal_into(&owner, mine, &moved);
        if (p)
          take(p);
        while ((p = weft__lq_pop(mine)) != 0)
          take(p);
      }
    }
  }

  void after() {
    for (int i = 0; i < kItems; i++)
      RL_ASSERT(items[i].taken.load(rl::mo_relaxed, $) == 1);
  }
};

} // namespace

int main() {
#ifdef WEFT_MODEL_BROKEN_QUEUE
  const bool broken = true;
#else
  const bool broken = false;
#endif
  return weft_model_main<queue_model>(200000, broken);
}
