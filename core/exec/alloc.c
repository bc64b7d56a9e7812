/* core/exec/alloc.c: task memory, cached per worker.
 *
 * A spawn and a completion are the hottest paths of the executor, and the
 * task block is usually freed by another worker than the one that made it
 * (work stealing moves tasks). With the system allocator that is a free
 * into a foreign arena (its lock contended with the spawner's mallocs) and
 * heap trimming that makes the spawner fault pages back in. So blocks of
 * the common sizes are cached by the worker that allocated them:
 *
 *  - the worker allocates from its own free list (no atomics), refilled by
 *    taking its whole "returned" stack with one atomic exchange, then from
 *    malloc;
 *  - a block freed on its origin worker goes back on the free list (no
 *    atomics); freed anywhere else it is pushed on the origin's returned
 *    stack with a CAS (a Treiber stack that is only ever emptied whole, so
 *    there is no ABA problem);
 *  - a worker's cache never holds more blocks than it had tasks alive at
 *    its peak; past CACHE_MAX blocks freed on the worker itself go back to
 *    free() at once;
 *  - the cached blocks are freed with the runtime's shell, which outlives
 *    every task (each holds a runtime reference).
 *
 * Tasks spawned from plain threads (spawn_remote) are nearly always freed
 * by a worker, which with malloc means a free into the spawner's arena and
 * a slow malloc on the spawner's side for every task. So the runtime has
 * one more cache, the remote cache: its free lists are guarded by a mutex
 * (any number of plain threads may spawn, but the lock is normally taken
 * by one thread only, so it stays in that thread's cache), and its returned
 * stacks are fed by workers in batches of REMOTE_BATCH blocks (one CAS per
 * batch, collected in worker-owned chains) and by plain threads one block
 * at a time. Blocks waiting in a worker's chain are freed with the shell.
 *
 * Class sizes are those malloc can serve without waste (a multiple of 16,
 * less the 8-byte chunk header), so a 112-byte chunk holds a task of up to
 * 104 bytes, and the small classes are 16 bytes apart, so a cached block is
 * never much larger than what malloc would have given the task.
 *
 * Memory orders: a pusher writes the block's link and publishes it with a
 * release CAS; the owner's acquire exchange makes the links visible.
 */
#include <stdlib.h>

#include "exec.h"

#define CACHE_MAX 4096u
#define REMOTE_BATCH 32u

/* Fine steps where most tasks are (a 96-byte header and a small future),
 * coarser above. */
static const size_t class_size[WEFT__ALLOC_CLASSES] = {
    104, 120, 136, 152, 184, 248, 376, 504, 760, 1016};

typedef struct weft__block {
  struct weft__block *next;
} weft__block;

/* Blocks in a free list were mostly freed on another core, so the first
 * touch of each is a cache miss (reading its link). Prefetching the next
 * block when one is taken overlaps that miss with the work done until the
 * next spawn. */
static inline void prefetch_block(const weft__block *b) {
#if defined(__GNUC__) || defined(__clang__)
  if (b) {
    /* The header spans two lines, and the spawn writes both. */
    __builtin_prefetch(b, 1, 3);
    __builtin_prefetch((const char *)b + 64, 1, 3);
  }
#else
  (void)b;
#endif
}

static unsigned class_of(size_t size) {
  unsigned c = 0;
  while (class_size[c] < size)
    c++;
  return c;
}

static void *remote_alloc(weft_runtime *rt, unsigned c) {
  weft__remote_cache *rc = &rt->remote_cache;
  pthread_mutex_lock(&rc->mu);
  weft__block *b = rc->free_list[c];
  if (!b) /* Acquire: the links written by the threads that pushed them. */
    b = atomic_exchange_explicit(&rc->returned[c], NULL, memory_order_acquire);
  if (b) {
    rc->free_list[c] = b->next;
    prefetch_block(b->next);
  }
  pthread_mutex_unlock(&rc->mu);
  return b ? b : malloc(class_size[c]);
}

/* Push the chain first..last on a returned stack. */
static void push_chain(_Atomic(weft__block *) *stack, weft__block *first,
                       weft__block *last) {
  weft__block *head = atomic_load_explicit(stack, memory_order_relaxed);
  do {
    last->next = head;
    /* Release: publish the links to the owner's exchange. */
  } while (!atomic_compare_exchange_weak_explicit(
      stack, &head, first, memory_order_release, memory_order_relaxed));
}

static void remote_free(weft_runtime *rt, weft__block *b, unsigned c) {
  weft__worker *w = weft__tls_worker;
  if (!w || w->rt != rt) {
    push_chain(&rt->remote_cache.returned[c], b, b);
    return;
  }
  /* A worker collects a batch first, so that the workers do not take
   * turns on the stack's cache line for every task. */
  b->next = w->rem_head[c];
  if (!w->rem_head[c])
    w->rem_tail[c] = b;
  w->rem_head[c] = b;
  if (++w->rem_count[c] == REMOTE_BATCH) {
    push_chain(&rt->remote_cache.returned[c], b, w->rem_tail[c]);
    w->rem_head[c] = w->rem_tail[c] = NULL;
    w->rem_count[c] = 0;
  }
}

void *weft__task_alloc(weft_runtime *rt, size_t size, unsigned char *cls,
                       uint16_t *origin) {
  weft__worker *w = weft__tls_worker;
  *cls = WEFT__ALLOC_MALLOC;
  *origin = 0;
  if (size > class_size[WEFT__ALLOC_CLASSES - 1])
    return malloc(size);
  unsigned c = class_of(size);
  if (!w || w->rt != rt) {
    void *m = remote_alloc(rt, c);
    if (m) {
      *cls = (unsigned char)c;
      *origin = WEFT__ALLOC_REMOTE;
    }
    return m;
  }
  weft__block *b = w->free_list[c];
  if (!b) {
    /* Acquire: the links written by the threads that pushed them. */
    b = atomic_exchange_explicit(&w->returned[c], NULL, memory_order_acquire);
    /* Not counted: walking a long list would touch every block at once.
     * free_count counts only the blocks freed here since. */
    w->free_count[c] = 0;
  }
  if (b) {
    w->free_list[c] = b->next;
    prefetch_block(b->next);
    if (w->free_count[c])
      w->free_count[c]--;
  } else {
    b = malloc(class_size[c]);
    if (!b)
      return NULL;
  }
  *cls = (unsigned char)c;
  *origin = (uint16_t)w->index; /* at most 1024 workers (builder.c) */
  return b;
}

void weft__task_free_mem(weft_runtime *rt, void *mem, unsigned char cls,
                         uint16_t origin_index) {
  if (cls == WEFT__ALLOC_MALLOC) {
    free(mem);
    return;
  }
  weft__block *b = mem;
  if (origin_index == WEFT__ALLOC_REMOTE) {
    remote_free(rt, b, cls);
    return;
  }
  weft__worker *origin = &rt->workers[origin_index];
  if (weft__tls_worker == origin) {
    if (origin->free_count[cls] >= CACHE_MAX) {
      free(b);
      return;
    }
    b->next = origin->free_list[cls];
    origin->free_list[cls] = b;
    origin->free_count[cls]++;
    return;
  }
  push_chain(&origin->returned[cls], b, b);
}

static void free_chain(weft__block *b) {
  while (b) {
    weft__block *n = b->next;
    free(b);
    b = n;
  }
}

void weft__alloc_worker_free(weft__worker *w) {
  for (unsigned c = 0; c < WEFT__ALLOC_CLASSES; c++) {
    free_chain(w->free_list[c]);
    free_chain(atomic_exchange_explicit(&w->returned[c], NULL,
                                        memory_order_acquire));
    free_chain(w->rem_head[c]);
    w->free_list[c] = w->rem_head[c] = w->rem_tail[c] = NULL;
    w->free_count[c] = w->rem_count[c] = 0;
  }
}

void weft__alloc_remote_init(weft__remote_cache *c) {
  pthread_mutex_init(&c->mu, NULL);
  for (unsigned i = 0; i < WEFT__ALLOC_CLASSES; i++) {
    c->free_list[i] = NULL;
    atomic_init(&c->returned[i], NULL);
  }
}

void weft__alloc_remote_free(weft__remote_cache *c) {
  for (unsigned i = 0; i < WEFT__ALLOC_CLASSES; i++) {
    free_chain(c->free_list[i]);
    free_chain(atomic_exchange_explicit(&c->returned[i], NULL,
                                        memory_order_acquire));
    c->free_list[i] = NULL;
  }
  pthread_mutex_destroy(&c->mu);
}
