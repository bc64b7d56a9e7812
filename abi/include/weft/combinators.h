/* weft/combinators.h: futures made of other futures.
 *
 * weft_select races N boxed futures: the first to finish wins and the
 * others are dropped. weft_join_all waits for all of them. Both poll their
 * children with the caller's context, so a child's wake wakes the task
 * that polls the combinator; each poll of the combinator polls every
 * unfinished child (O(N) per wake, meant for small N). For a timeout, race
 * a future against weft_sleep, or use weft_timeout (weft/time.h). */
#ifndef WEFT_COMBINATORS_H
#define WEFT_COMBINATORS_H

#include <string.h>

#include "common.h"
#include "error.h"
#include "future.h"

WEFT_BEGIN_DECLS

/* Race `n` (1..65536) futures. On success the select takes ownership of all
 * of them (the array itself is copied and stays the caller's): when one
 * finishes, the others are dropped at once, and the winner waits in the
 * select's output for weft_select_take. Dropping the select while
 * pending drops all of them. Children are polled in rotating order, so no
 * child always wins ties. On error nothing is owned and nothing freed.
 * Returns 0, WEFT_EINVAL (NULL, n out of range, a NULL element) or
 * WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_select(weft_future *const *futs, size_t n,
                         weft_future **out);

/* Take the winner of a finished select: returns it (finished; the caller
 * reads its output and frees it with weft_future_free) and stores its
 * position in the array given in `*index` (may be NULL). Returns NULL if
 * `sel` is NULL, has not finished, or the winner was already taken. The
 * winner belongs to the caller from the moment the select finishes: take
 * it before freeing the select, or it leaks. Since 0.1. */
WEFT_API weft_future *weft_select_take(weft_future *sel, size_t *index);

/* Wait for all `n` (1..65536) futures. Ownership as for weft_select. The
 * output is an array of the `n` finished futures in the order given
 * (weft_future *[n]), all now owned by the caller; dropping the join_all
 * before it finishes drops them all. Returns 0, WEFT_EINVAL or WEFT_ENOMEM.
 * Since 0.1. */
WEFT_API int weft_join_all(weft_future *const *futs, size_t n,
                           weft_future **out);

/* The i-th finished future of a finished join_all (NULL if out of range or
 * already taken); the caller owns it and must free it. */
static inline weft_future *weft_join_all_take(weft_future *ja, size_t i) {
  weft_future **arr = ja ? (weft_future **)weft_future_output(ja) : NULL;
  if (!arr || i >= weft_future_output_size(ja) / sizeof *arr)
    return NULL;
  weft_future *f = arr[i];
  arr[i] = NULL;
  return f;
}

WEFT_END_DECLS

#endif /* WEFT_COMBINATORS_H */
