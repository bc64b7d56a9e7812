/* weft/coro.h: stackless coroutine macros.
 *
 * A poll function written by hand is a state machine; these macros let it
 * read as straight-line code. The coroutine's position is a `weft_coro`
 * field in the future's state (zero-initialised), and every local that must
 * survive an await lives in the state too, since the poll function returns
 * at each await. They are macros over a switch statement (Duff's device), so
 * they need no library support and add no symbol to the ABI.
 *
 *   struct hello { weft_coro co; weft_future *sleep; };
 *
 *   static weft_poll hello_poll(void *p, weft_context *cx, void *out) {
 *     struct hello *h = p;
 *     WEFT_CORO_BEGIN(&h->co);
 *     weft_sleep(100, &h->sleep);
 *     WEFT_AWAIT(&h->co, weft_future_poll(h->sleep, cx));
 *     weft_future_free(h->sleep);
 *     h->sleep = NULL;
 *     WEFT_CORO_END(&h->co);
 *   }
 *
 * Rules: no `switch` of your own may enclose an await inside the same
 * function; locals declared between awaits do not survive them. */
#ifndef WEFT_CORO_H
#define WEFT_CORO_H

#include "future.h"

/* The resume point: 0 at the start, the line of the last await, or -1 when
 * finished. */
typedef struct weft_coro {
  int line;
} weft_coro;

#define WEFT_CORO_INIT {0}

/* Open the coroutine body. */
#define WEFT_CORO_BEGIN(co)                                                  \
  switch ((co)->line) {                                                      \
  case -1:                                                                   \
    return WEFT_READY;                                                       \
  case 0:

/* Evaluate `poll_expr` (a weft_poll) now and on every later poll until it is
 * WEFT_READY; return WEFT_PENDING meanwhile. */
#define WEFT_AWAIT(co, poll_expr)                                            \
  do {                                                                       \
    (co)->line = __LINE__;                                                   \
    /* fall through */                                                       \
  case __LINE__:                                                             \
    if ((poll_expr) != WEFT_READY)                                           \
      return WEFT_PENDING;                                                   \
  } while (0)

/* Give other tasks a turn: wake this task and return PENDING once. */
#define WEFT_YIELD(co, cx)                                                   \
  do {                                                                       \
    (co)->line = __LINE__;                                                   \
    weft_waker_wake_by_ref(weft_context_waker(cx));                          \
    return WEFT_PENDING;                                                     \
  case __LINE__:;                                                            \
  } while (0)

/* Finish early: the coroutine returns WEFT_READY now and on any later poll.
 */
#define WEFT_CORO_RETURN(co)                                                 \
  do {                                                                       \
    (co)->line = -1;                                                         \
    return WEFT_READY;                                                       \
  } while (0)

/* Close the body; reaching it finishes the coroutine. */
#define WEFT_CORO_END(co)                                                    \
  }                                                                          \
  (co)->line = -1;                                                           \
  return WEFT_READY

#endif /* WEFT_CORO_H */
