/* core/exec/queue.c: the bounded lock-free local run queue of a worker.
 *
 * One owner thread pushes at `tail` and pops at `head.real`; any other
 * thread may steal half of the items. 256 slots, a power of two, indexed by
 * free-running 32-bit counters that wrap (all differences are mod 2^32).
 *
 * Invariants:
 *  1. Only the owner writes `tail` and the slots at and after it.
 *  2. `head` packs two counters: `real` (next item to take) and `steal`
 *     (start of the range a thief is still copying). steal <= real <= tail.
 *     Slots in [steal, tail) hold items; the owner never writes a slot in
 *     that range, so a thief copying [steal, real) reads stable slots.
 *  3. Every item is taken exactly once: by a successful CAS on `head` that
 *     moves `real` past it (pop, steal, overflow).
 *  4. At most one steal is in progress (steal != real marks it); a second
 *     thief backs off.
 *
 * Memory orders:
 *  - push: the slot write is published by the release store of `tail`;
 *    thieves load `tail` with acquire before reading slots.
 *  - push reads `head` with acquire so that a thief's reads of the slots it
 *    released (its final CAS is release) happen before the owner reuses
 *    them.
 *  - Every CAS on `head` is acq_rel: it both claims slots (acquire the
 *    owner's writes) and releases our reads of them.
 *
 * This file is compiled as C11 in the library and as C++ against Relacy in
 * tests/relacy/ (through ../atomics.h); keep it free of C-only syntax.
 */
#include "queue.h"

#ifdef WEFT_MODEL_BROKEN_QUEUE
/* Deliberately wrong, for the model's broken twin: publish without release. */
#define WEFT__LQ_PUBLISH_ORDER WEFT_RELAXED
#else
#define WEFT__LQ_PUBLISH_ORDER WEFT_RELEASE
#endif

static inline uint32_t lq_steal(uint64_t h) { return (uint32_t)(h >> 32); }
static inline uint32_t lq_real(uint64_t h) { return (uint32_t)h; }
static inline uint64_t lq_pack(uint32_t steal, uint32_t real) {
  return ((uint64_t)steal << 32) | real;
}

void weft__lq_init(weft__lq *q) {
  weft_atomic_init(&q->head, (uint64_t)0);
  weft_atomic_init(&q->tail, (uint32_t)0);
  for (uint32_t i = 0; i < WEFT__LQ_CAP; i++)
    WEFT_VAR_SET(q->buf[i], (void *)0);
}

uint32_t weft__lq_len(weft__lq *q) {
  /* Relaxed/acquire mix: only an estimate, used for metrics and for the
   * decision to wake another worker. */
  uint64_t h = weft_load(&q->head, WEFT_ACQUIRE);
  uint32_t t = weft_load(&q->tail, WEFT_ACQUIRE);
  return t - lq_real(h);
}

int weft__lq_push(weft__lq *q, void *item) {
  /* Relaxed: we are the only writer of tail. */
  uint32_t tail = weft_load(&q->tail, WEFT_RELAXED);
  /* Acquire: pairs with a thief's final release CAS (invariant 2). */
  uint64_t head = weft_load(&q->head, WEFT_ACQUIRE);
  if (tail - lq_steal(head) < WEFT__LQ_CAP) {
    WEFT_VAR_SET(q->buf[tail & WEFT__LQ_MASK], item);
    /* Release: publish the slot to thieves. */
    weft_store(&q->tail, tail + 1, WEFT__LQ_PUBLISH_ORDER);
    return 1;
  }
  return 0;
}

int weft__lq_push_overflow(weft__lq *q, void **out) {
  const uint32_t n = WEFT__LQ_CAP / 2;
  uint32_t tail = weft_load(&q->tail, WEFT_RELAXED);
  uint64_t head = weft_load(&q->head, WEFT_ACQUIRE);
  uint32_t steal = lq_steal(head), real = lq_real(head);
  if (steal != real)
    return 0; /* a thief is copying: the queue will have room soon */
  if (tail - real < WEFT__LQ_CAP)
    return -1; /* a steal finished meanwhile: there is room now */
  uint64_t next = lq_pack(real + n, real + n);
  /* acq_rel: claim the items (see invariant 3). */
  if (!weft_cas(&q->head, &head, next, WEFT_ACQ_REL, WEFT_RELAXED))
    return -1;
  for (uint32_t i = 0; i < n; i++)
    out[i] = WEFT_VAR_GET(q->buf[(real + i) & WEFT__LQ_MASK]);
  return (int)n;
}

void *weft__lq_pop(weft__lq *q) {
  uint64_t head = weft_load(&q->head, WEFT_ACQUIRE);
  uint32_t real;
  for (;;) {
    uint32_t steal = lq_steal(head);
    real = lq_real(head);
    uint32_t tail = weft_load(&q->tail, WEFT_RELAXED);
    if (real == tail)
      return (void *)0;
    uint64_t next = steal == real ? lq_pack(real + 1, real + 1)
                                  : lq_pack(steal, real + 1);
    /* acq_rel: claim the item against thieves. */
    if (weft_cas_weak(&q->head, &head, next, WEFT_ACQ_REL, WEFT_ACQUIRE))
      break;
  }
  return WEFT_VAR_GET(q->buf[real & WEFT__LQ_MASK]);
}

/* Copy half of src into dst's slots from dst_tail on; returns the count. */
static uint32_t lq_steal2(weft__lq *src, weft__lq *dst, uint32_t dst_tail) {
  uint64_t prev = weft_load(&src->head, WEFT_ACQUIRE), next;
  uint32_t n;
  for (;;) {
    uint32_t steal = lq_steal(prev), real = lq_real(prev);
    if (steal != real)
      return 0; /* another thief is at work */
    /* Acquire: the owner's slot writes up to tail become visible. */
    uint32_t tail = weft_load(&src->tail, WEFT_ACQUIRE);
    n = tail - real;
    n -= n / 2;
    if (n == 0 || n > WEFT__LQ_CAP / 2)
      return 0; /* empty, or a stale snapshot: try elsewhere */
    next = lq_pack(steal, real + n);
    if (weft_cas_weak(&src->head, &prev, next, WEFT_ACQ_REL, WEFT_ACQUIRE))
      break;
  }
  uint32_t first = lq_steal(next);
  for (uint32_t i = 0; i < n; i++) {
    void *it = WEFT_VAR_GET(src->buf[(first + i) & WEFT__LQ_MASK]);
    WEFT_VAR_SET(dst->buf[(dst_tail + i) & WEFT__LQ_MASK], it);
  }
  /* Release the copied range to the owner: steal catches up with real. */
  prev = next;
  for (;;) {
    uint32_t real = lq_real(prev);
    next = lq_pack(real, real);
    if (weft_cas_weak(&src->head, &prev, next, WEFT_ACQ_REL, WEFT_ACQUIRE))
      return n;
    WEFT_MODEL_ASSERT(lq_steal(prev) != lq_real(prev));
  }
}

void *weft__lq_steal_into(weft__lq *src, weft__lq *dst, uint32_t *moved) {
  uint32_t dst_tail = weft_load(&dst->tail, WEFT_RELAXED);
  uint64_t dst_head = weft_load(&dst->head, WEFT_ACQUIRE);
  *moved = 0;
  if (dst_tail - lq_steal(dst_head) > WEFT__LQ_CAP / 2)
    return (void *)0; /* our own queue is busy enough */
  uint32_t n = lq_steal2(src, dst, dst_tail);
  if (n == 0)
    return (void *)0;
  *moved = n;
  n -= 1;
  void *ret = WEFT_VAR_GET(dst->buf[(dst_tail + n) & WEFT__LQ_MASK]);
  if (n > 0) {
    /* Release: publish the copied slots to other thieves. */
    weft_store(&dst->tail, dst_tail + n, WEFT_RELEASE);
  }
  return ret;
}
