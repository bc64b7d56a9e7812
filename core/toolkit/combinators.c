/* core/toolkit/combinators.c: select (race) and join_all.
 *
 * Invariants: the combinator's state owns `kids` (an array it allocated)
 * and every non-NULL future in it until the moment it finishes; then the
 * winner (select) or every child (join_all) is handed to the output room
 * and the state forgets them in the same step, so each child is freed
 * exactly once: by the combinator's drop, or by the caller who took it.
 * Children are polled with the caller's context and never concurrently
 * (poll and drop of one future never overlap, by the future contract). */
#include "toolkit/tk.h"

#define WEFT__COMB_MAX 65536u

/* The output room of a select: the winner, until taken. */
typedef struct select_out {
  size_t index;
  weft_future *winner;
} select_out;

typedef struct comb_state {
  size_t n;
  size_t start;     /* select: where the next poll begins (rotation) */
  size_t remaining; /* join_all: children not yet finished */
  weft_future **kids;
  unsigned char *done; /* join_all: 1 per finished child */
} comb_state;

static int comb_new(const weft_future_vtable *vt, weft_future *const *futs,
                    size_t n, size_t out_size, int with_done,
                    weft_future **out) {
  if (!futs || !out || n == 0 || n > WEFT__COMB_MAX)
    return WEFT_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!futs[i])
      return WEFT_EINVAL;
  comb_state s = {.n = n, .remaining = n};
  s.kids = malloc(n * sizeof *s.kids + (with_done ? n : 0));
  if (!s.kids)
    return WEFT_ENOMEM;
  memcpy(s.kids, futs, n * sizeof *s.kids);
  if (with_done) {
    s.done = (unsigned char *)(s.kids + n);
    memset(s.done, 0, n);
  }
  int rc = weft_future_new(vt, &s, sizeof s, out_size, out);
  if (rc != 0) {
    free(s.kids); /* the children stay the caller's */
    return rc;
  }
  /* The take functions read the output room before the combinator may
   * have finished: zeroed, it reads as "nothing to take" until then. */
  memset(weft_future_output(*out), 0, out_size);
  return 0;
}

static void comb_drop(void *state) {
  comb_state *s = state;
  if (!s->kids)
    return;
  for (size_t i = 0; i < s->n; i++)
    weft_future_free(s->kids[i]);
  free(s->kids);
  s->kids = NULL;
}

static weft_poll select_poll(void *state, weft_context *cx, void *out) {
  comb_state *s = state;
  for (size_t k = 0; k < s->n; k++) {
    size_t i = (s->start + k) % s->n;
    if (weft_future_poll(s->kids[i], cx) != WEFT_READY)
      continue;
    select_out r = {i, s->kids[i]};
    s->kids[i] = NULL;
    comb_drop(s); /* the losers go now, not when the select is freed */
    memcpy(out, &r, sizeof r);
    return WEFT_READY;
  }
  s->start = (s->start + 1) % s->n;
  return WEFT_PENDING;
}

static const weft_future_vtable select_vt = {sizeof(weft_future_vtable),
                                             select_poll, comb_drop};

int weft_select(weft_future *const *futs, size_t n, weft_future **out) {
  return comb_new(&select_vt, futs, n, sizeof(select_out), 0, out);
}

weft_future *weft_select_take(weft_future *sel, size_t *index) {
  select_out r;
  void *o = sel ? weft_future_output(sel) : NULL;
  if (!o || weft_future_output_size(sel) != sizeof r)
    return NULL;
  memcpy(&r, o, sizeof r);
  if (index)
    *index = r.index;
  weft_future *w = r.winner;
  r.winner = NULL;
  memcpy(o, &r, sizeof r);
  return w;
}

static weft_poll join_all_poll(void *state, weft_context *cx, void *out) {
  comb_state *s = state;
  for (size_t i = 0; i < s->n && s->remaining; i++) {
    if (s->done[i])
      continue;
    if (weft_future_poll(s->kids[i], cx) == WEFT_READY) {
      s->done[i] = 1;
      s->remaining--;
    }
  }
  if (s->remaining)
    return WEFT_PENDING;
  memcpy(out, s->kids, s->n * sizeof *s->kids);
  free(s->kids);
  s->kids = NULL;
  return WEFT_READY;
}

static const weft_future_vtable join_all_vt = {sizeof(weft_future_vtable),
                                               join_all_poll, comb_drop};

int weft_join_all(weft_future *const *futs, size_t n, weft_future **out) {
  if (n > WEFT__COMB_MAX)
    return WEFT_EINVAL;
  return comb_new(&join_all_vt, futs, n, n * sizeof(weft_future *), 1, out);
}
