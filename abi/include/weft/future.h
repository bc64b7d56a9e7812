/* weft/future.h: the poll model. Futures, contexts and wakers.
 *
 * A future is a state object plus a vtable {poll, drop}. The executor calls
 * poll(state, cx, output). poll returns WEFT_READY once, after writing its
 * output (if any) to `output`, or WEFT_PENDING. Returning WEFT_PENDING is a
 * promise: the future has arranged for the waker from weft_context_waker(cx)
 * (or a clone of it) to be woken when progress is possible. A future that
 * returns PENDING without arranging a wake is never polled again.
 *
 * The waker layout is the one of Rust's RawWaker/RawWakerVTable, so a thin
 * Rust or C++ shim can pass wakers across without translation. For that
 * reason the waker vtable alone carries no struct_size: its four slots are
 * fixed forever. */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include "common.h"

WEFT_BEGIN_DECLS

/* The result of a poll. */
typedef enum weft_poll { WEFT_PENDING = 0, WEFT_READY = 1 } weft_poll;

typedef struct weft_waker weft_waker;

/* The four operations on a waker. All four must be callable from any thread.
 * Contract (checked by the conformance suite):
 * - clone returns a new waker that wakes the same task; every clone is
 *   balanced by exactly one wake or drop;
 * - wake consumes the waker; wake_by_ref does not;
 * - waking a finished task does nothing;
 * - a wake during a poll causes exactly one more poll;
 * - several wakes before the next poll may merge into one poll. */
typedef struct weft_waker_vtable {
  weft_waker (*clone)(const void *data);
  void (*wake)(const void *data);
  void (*wake_by_ref)(const void *data);
  void (*drop)(const void *data);
} weft_waker_vtable;

/* A waker: a data pointer and its vtable, passed by value. A waker whose
 * vtable is NULL is "no waker"; weft's functions accept it and do nothing. */
struct weft_waker {
  const void *data;
  const weft_waker_vtable *vtable;
};

/* The context of one poll. Opaque, owned by the executor, valid only for the
 * duration of the poll call it was passed to. */
typedef struct weft_context weft_context;

/* The waker of the task being polled. The pointer is valid during the poll
 * only; clone it (weft_waker_clone) to keep it. `cx` must not be NULL.
 * Since 0.1. */
WEFT_API const weft_waker *weft_context_waker(const weft_context *cx);

/* Clone `w` into `*out`. Returns 0, or WEFT_EINVAL when an argument is NULL.
 * Any thread. Since 0.1. */
WEFT_API int weft_waker_clone(const weft_waker *w, weft_waker *out);

/* Wake and consume `*w`; afterwards `*w` is "no waker". NULL or "no waker"
 * does nothing. Any thread. Since 0.1. */
WEFT_API void weft_waker_wake(weft_waker *w);

/* Wake without consuming. NULL does nothing. Any thread. Since 0.1. */
WEFT_API void weft_waker_wake_by_ref(const weft_waker *w);

/* Drop `*w` without waking; afterwards `*w` is "no waker". NULL does nothing.
 * Any thread. Since 0.1. */
WEFT_API void weft_waker_drop(weft_waker *w);

/* 1 if `a` and `b` wake the same task (same data and vtable), else 0.
 * Since 0.1. */
WEFT_API int weft_waker_will_wake(const weft_waker *a, const weft_waker *b);

/* A future's vtable. `struct_size` must be sizeof(weft_future_vtable) as the
 * caller was compiled; weft rejects smaller or unknown sizes with
 * WEFT_EINVAL and ignores slots it does not know.
 *
 * poll: required. Called on one thread at a time, never concurrently with
 *   itself or drop. `output` points to the output room given at spawn (NULL
 *   when the output size is 0); write it before returning WEFT_READY.
 *   Never called again after it returned WEFT_READY.
 * drop: optional (NULL). Called exactly once, when the future is destroyed,
 *   whether it completed or not, to release what its state owns. It must not
 *   free `state` itself: weft owns that memory. */
typedef struct weft_future_vtable {
  uint32_t struct_size;
  weft_poll (*poll)(void *state, weft_context *cx, void *output);
  void (*drop)(void *state);
} weft_future_vtable;

/* A boxed future: weft's own futures (sleep, I/O readiness, channel recv...)
 * are returned as this opaque, heap-allocated object, so that they can be
 * awaited from a coroutine, passed to combinators or spawned. */
typedef struct weft_future weft_future;

/* Box a future: copy `state_size` bytes of `state` into a new allocation with
 * room for `output_size` bytes of output. `vtable` must outlive the future.
 * `state` may be NULL only when `state_size` is 0.
 * Returns 0, WEFT_EINVAL or WEFT_ENOMEM (nothing is allocated on error; the
 * caller still owns `state`'s resources). Any thread. Since 0.1. */
WEFT_API int weft_future_new(const weft_future_vtable *vtable,
                             const void *state, size_t state_size,
                             size_t output_size, weft_future **out);

/* Poll a boxed future. On WEFT_READY, its output is readable through
 * weft_future_output(). Polling a future that already returned READY
 * returns READY again without calling its poll. `f` and `cx` must not be
 * NULL (a NULL `f` returns WEFT_READY). Since 0.1. */
WEFT_API weft_poll weft_future_poll(weft_future *f, weft_context *cx);

/* The output room of a boxed future (NULL when its output size is 0). */
WEFT_API void *weft_future_output(weft_future *f);

/* The size of that output room in bytes. */
WEFT_API size_t weft_future_output_size(const weft_future *f);

/* Drop and free a boxed future. Runs its drop once. NULL does nothing.
 * Since 0.1. */
WEFT_API void weft_future_free(weft_future *f);

/* Yield once: returns WEFT_PENDING and wakes the task at once the first time
 * it is polled with `*yielded == 0` (setting it to 1), then WEFT_READY. Use
 * it to let other tasks run. `yielded` and `cx` must not be NULL.
 * Since 0.1. */
WEFT_API weft_poll weft_yield_now(int *yielded, weft_context *cx);

WEFT_END_DECLS

#endif /* WEFT_FUTURE_H */
