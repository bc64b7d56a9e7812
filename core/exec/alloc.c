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
 * Memory orders: a pusher writes the block's link and publishes it with a
 * release CAS; the owner's acquire exchange makes the links visible.
 */
#include <stdlib.h>

#include "exec.h"

#define CACHE_MAX 4096u

static const size_t class_size[WEFT__ALLOC_CLASSES] = {128, 192, 256, 384,
                                                          512, 768, 1024};

typedef struct weft__block {
  struct weft__block *next;
} weft__block;

void *weft__task_alloc(weft_runtime *rt, size_t size, unsigned char *cls,
                       uint16_t *origin) {
  weft__worker *w = weft__tls_worker;
  *cls = WEFT__ALLOC_MALLOC;
  *origin = 0;
  if (!w || w->rt != rt || size > class_size[WEFT__ALLOC_CLASSES - 1])
    return malloc(size);
  unsigned c = 0;
  while (class_size[c] < size)
    c++;
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
  weft__worker *origin = &rt->workers[origin_index];
  weft__block *b = mem;
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
  weft__block *head =
      atomic_load_explicit(&origin->returned[cls], memory_order_relaxed);
  do {
    b->next = head;
    /* Release: publish the link to the owner's exchange. */
  } while (!atomic_compare_exchange_weak_explicit(
      &origin->returned[cls], &head, b, memory_order_release,
      memory_order_relaxed));
}

void weft__alloc_worker_free(weft__worker *w) {
  for (unsigned c = 0; c < WEFT__ALLOC_CLASSES; c++) {
    weft__block *b = w->free_list[c];
    while (b) {
      weft__block *n = b->next;
      free(b);
      b = n;
    }
    b = atomic_exchange_explicit(&w->returned[c], NULL, memory_order_acquire);
    while (b) {
      weft__block *n = b->next;
      free(b);
      b = n;
    }
    w->free_list[c] = NULL;
    w->free_count[c] = 0;
  }
}
