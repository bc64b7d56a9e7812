/* core/exec/queue.h: the bounded lock-free local run queue of a worker.
 * Invariants and memory orders are at the top of queue.c. */
#ifndef WEFT_CORE_EXEC_QUEUE_H
#define WEFT_CORE_EXEC_QUEUE_H

#include <stdint.h>

#include "../atomics.h"

/* The model build shrinks the queue so the checker reaches the overflow
 * path; the library always uses 256 slots. */
#ifndef WEFT__LQ_CAP
#define WEFT__LQ_CAP 256u
#endif
#define WEFT__LQ_MASK (WEFT__LQ_CAP - 1u)

typedef struct weft__lq {
  /* (steal << 32) | real: `real` is the next slot to pop; `steal` trails it
   * while a thief is copying [steal, real). Equal when no steal runs. */
  WEFT_ATOMIC(uint64_t) head;
  /* The next slot to push; written by the owner only. */
  WEFT_ATOMIC(uint32_t) tail;
  WEFT_VAR(void *) buf[WEFT__LQ_CAP];
} weft__lq;

void weft__lq_init(weft__lq *q);
/* Owner: 1 when pushed, 0 when the queue is full (see push_overflow). */
int weft__lq_push(weft__lq *q, void *item);
/* Owner, after push returned 0: claim the older half of the queue into
 * `out` (WEFT__LQ_CAP / 2 items) so the caller can move it to the shared
 * queue. Returns the count, 0 when a thief is busy (the caller moves just
 * its own item to the shared queue), or -1 when the queue changed under it
 * (retry push). */
int weft__lq_push_overflow(weft__lq *q, void **out);
/* Owner: pop the oldest item, or NULL. */
void *weft__lq_pop(weft__lq *q);
/* A thief (the owner of `dst`): move half of `src` into `dst`, return one
 * of the moved items to run at once, or NULL when nothing was stolen. */
void *weft__lq_steal_into(weft__lq *src, weft__lq *dst, uint32_t *moved);
/* Any thread: approximate number of items. */
uint32_t weft__lq_len(weft__lq *q);

#endif /* WEFT_CORE_EXEC_QUEUE_H */
