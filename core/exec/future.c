/* core/exec/future.c: boxed futures, the yield future, and the waker
 * helpers of weft/future.h. */
#include <stdlib.h>
#include <string.h>

#include "exec.h"

#define BOX_ALIGN ((size_t)alignof(max_align_t))
#define BOX_ROUND(x) (((x) + BOX_ALIGN - 1) & ~(BOX_ALIGN - 1))

/* One allocation: this header, the state, the output room. `done` and
 * `dropped` are touched only by the future's single owner. */
struct weft_future {
  const weft_future_vtable *vt;
  void *state;
  void *output;
  size_t output_size;
  int done;
  int dropped;
};

int weft_future_new(const weft_future_vtable *vtable, const void *state,
                    size_t state_size, size_t output_size,
                    weft_future **out) {
  if (!out || !vtable || vtable->struct_size < sizeof(weft_future_vtable) ||
      !vtable->poll || (!state && state_size) || state_size > SIZE_MAX / 4 ||
      output_size > SIZE_MAX / 4)
    return WEFT_EINVAL;
  size_t hdr = BOX_ROUND(sizeof(weft_future));
  size_t ss = BOX_ROUND(state_size);
  weft_future *f = malloc(hdr + ss + output_size);
  if (!f)
    return WEFT_ENOMEM;
  f->vt = vtable;
  f->state = (char *)f + hdr;
  if (state_size)
    memcpy(f->state, state, state_size);
  f->output = output_size ? (char *)f + hdr + ss : NULL;
  f->output_size = output_size;
  f->done = 0;
  f->dropped = 0;
  *out = f;
  return 0;
}

weft_poll weft_future_poll(weft_future *f, weft_context *cx) {
  if (!f || f->done || f->dropped)
    return WEFT_READY;
  if (!cx)
    return WEFT_PENDING; /* misuse: nothing can be arranged without cx */
  weft_poll r = f->vt->poll(f->state, cx, f->output);
  if (r == WEFT_READY)
    f->done = 1;
  return r;
}

void *weft_future_output(weft_future *f) {
  return f && f->output_size ? f->output : NULL;
}

size_t weft_future_output_size(const weft_future *f) {
  return f ? f->output_size : 0;
}

/* Run the future's drop once, keeping the box and its output room. */
void weft__future_drop_state(weft_future *f) {
  if (!f || f->dropped)
    return;
  f->dropped = 1;
  if (f->vt->drop)
    f->vt->drop(f->state);
}

void weft_future_free(weft_future *f) {
  if (!f)
    return;
  weft__future_drop_state(f);
  free(f);
}

weft_poll weft_yield_now(int *yielded, weft_context *cx) {
  if (!yielded || !cx || *yielded)
    return WEFT_READY;
  *yielded = 1;
  weft_waker_wake_by_ref(&cx->waker);
  return WEFT_PENDING;
}

/* ---- Wakers ------------------------------------------------------------ */

static const weft_waker no_waker = {NULL, NULL};

const weft_waker *weft_context_waker(const weft_context *cx) {
  return cx ? &cx->waker : &no_waker;
}

int weft_waker_clone(const weft_waker *w, weft_waker *out) {
  if (!w || !out)
    return WEFT_EINVAL;
  if (!w->vtable) {
    *out = no_waker;
    return 0;
  }
  *out = w->vtable->clone(w->data);
  return 0;
}

void weft_waker_wake(weft_waker *w) {
  if (!w || !w->vtable)
    return;
  weft_waker k = *w;
  *w = no_waker;
  k.vtable->wake(k.data);
}

void weft_waker_wake_by_ref(const weft_waker *w) {
  if (!w || !w->vtable)
    return;
  w->vtable->wake_by_ref(w->data);
}

void weft_waker_drop(weft_waker *w) {
  if (!w || !w->vtable)
    return;
  weft_waker k = *w;
  *w = no_waker;
  k.vtable->drop(k.data);
}

int weft_waker_will_wake(const weft_waker *a, const weft_waker *b) {
  if (!a || !b)
    return 0;
  return a->data == b->data && a->vtable == b->vtable;
}
