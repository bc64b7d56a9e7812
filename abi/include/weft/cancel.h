/* weft/cancel.h: cancellation tokens.
 *
 * A token is a flag that goes from "not cancelled" to "cancelled" once,
 * with a future that waits for it. Tokens form trees: cancelling a token
 * cancels its children, their children, and so on, but never its parent.
 * Freeing a token in the middle of a tree keeps the tree whole: its
 * children become children of its parent. Tokens are reference counted
 * (weft_cancellation_token_clone) and may be used from any thread. */
#ifndef WEFT_CANCEL_H
#define WEFT_CANCEL_H

#include "common.h"
#include "future.h"

WEFT_BEGIN_DECLS

typedef struct weft_cancellation_token weft_cancellation_token;

/* A new root token. Returns 0, WEFT_EINVAL or WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_cancellation_token_new(weft_cancellation_token **out);

/* A child of `parent`, cancelled at once if `parent` already is. Returns 0,
 * WEFT_EINVAL or WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_cancellation_token_child(weft_cancellation_token *parent,
                                           weft_cancellation_token **out);

/* Another reference to the same token (the same pointer is returned in
 * `*out`); each reference is released with weft_cancellation_token_free.
 * Returns 0 or WEFT_EINVAL. Since 0.1. */
WEFT_API int weft_cancellation_token_clone(weft_cancellation_token *t,
                                           weft_cancellation_token **out);

/* Release one reference. NULL does nothing. Since 0.1. */
WEFT_API void weft_cancellation_token_free(weft_cancellation_token *t);

/* Cancel the token and all its descendants, waking every waiting future.
 * Idempotent. Returns 0 or WEFT_EINVAL. Any thread. Since 0.1. */
WEFT_API int weft_cancellation_token_cancel(weft_cancellation_token *t);

/* 1 if cancelled, else 0 (also for NULL). Since 0.1. */
WEFT_API int weft_cancellation_token_is_cancelled(weft_cancellation_token *t);

/* A future that finishes (output: one int, 0) once the token is
 * cancelled. It holds its own reference, so the token may be freed first.
 * Returns 0, WEFT_EINVAL or WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_cancellation_token_cancelled(weft_cancellation_token *t,
                                               weft_future **out);

WEFT_END_DECLS

#endif /* WEFT_CANCEL_H */
