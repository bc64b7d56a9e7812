/* weft/channel.h: channels between tasks and threads.
 *
 * Three kinds, all carrying fixed-size messages: byte blobs of `elem_size`
 * bytes given when the channel is made, copied in on send and out on
 * receive (so a message may be a struct, a pointer, or an integer):
 *
 * - oneshot: one message from one sender to one receiver;
 * - mpsc: many senders, one receiver, bounded (a send waits while the
 *   channel is full: backpressure) or unbounded;
 * - watch: one sender publishes a value; many receivers see the latest one.
 *
 * Every wait has two forms. The poll-style calls (weft_*_poll_*) take the
 * task's context, allocate nothing, and fit in a hand-written poll function
 * or a WEFT_AWAIT. They return WEFT_READY with the outcome in `*result`
 * (0 or a negative WEFT_E* code), or WEFT_PENDING after arranging a wake.
 * The boxed forms (weft_mpsc_send, weft_mpsc_recv...) return a weft_future
 * for combinators and weft_spawn_future. A handle is used by one task or
 * thread at a time; different handles of one channel may be used from any
 * threads at once.
 *
 * Giving up a wait (dropping a pending future, or simply not polling a
 * handle again) never loses a message or a slot: a send either placed its
 * message in the channel or the message is still the caller's.
 * See docs/toolkit.md. */
#ifndef WEFT_CHANNEL_H
#define WEFT_CHANNEL_H

#include <string.h>

#include "common.h"
#include "error.h"
#include "future.h"

WEFT_BEGIN_DECLS

/* The output room of a boxed receive future: an int result (0, or
 * WEFT_ECLOSED when nothing will ever arrive) at offset 0, then the message
 * at WEFT_RECV_MSG_OFFSET. Its size is WEFT_RECV_OUTPUT_SIZE(elem_size).
 * The output room of a boxed send or wait future is one int result. */
#define WEFT_RECV_MSG_OFFSET 16u
#define WEFT_RECV_OUTPUT_SIZE(elem_size) (WEFT_RECV_MSG_OFFSET + (elem_size))

/* The result of a finished boxed future whose output starts with an int. */
static inline int weft_future_result(weft_future *f) {
  int rc = WEFT_EINVAL;
  void *o = f ? weft_future_output(f) : NULL;
  if (o)
    memcpy(&rc, o, sizeof rc);
  return rc;
}

/* The message in a finished boxed receive future's output (NULL if none). */
static inline void *weft_future_msg(weft_future *f) {
  void *o = f ? weft_future_output(f) : NULL;
  return o ? (char *)o + WEFT_RECV_MSG_OFFSET : NULL;
}

/* ---- oneshot ---------------------------------------------------------- */

typedef struct weft_oneshot_tx weft_oneshot_tx;
typedef struct weft_oneshot_rx weft_oneshot_rx;

/* Make a oneshot channel for one message of `elem_size` bytes (1..65536).
 * Both handles are owned by the caller and released with weft_oneshot_send
 * or weft_oneshot_tx_free, and weft_oneshot_rx_free. Returns 0, WEFT_EINVAL
 * or WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_oneshot_new(size_t elem_size, weft_oneshot_tx **tx,
                              weft_oneshot_rx **rx);

/* Send the message (`elem_size` bytes copied from `msg`) and release `tx`,
 * whatever the result. Returns 0, or WEFT_ECLOSED when the receiver is
 * gone (the message was not taken), or WEFT_EINVAL (NULL arguments; `tx`
 * is then released if not NULL). Never waits. Any thread. Since 0.1. */
WEFT_API int weft_oneshot_send(weft_oneshot_tx *tx, const void *msg);

/* Release `tx` without sending: the receiver gets WEFT_ECLOSED. NULL does
 * nothing. Any thread. Since 0.1. */
WEFT_API void weft_oneshot_tx_free(weft_oneshot_tx *tx);

/* Wait for the message. READY with `*result` 0 and the message copied to
 * `out`, or with WEFT_ECLOSED when the sender was released without sending
 * (or the message was already taken). `result` may be NULL; `out` must hold
 * `elem_size` bytes. Since 0.1. */
WEFT_API weft_poll weft_oneshot_poll_recv(weft_oneshot_rx *rx,
                                          weft_context *cx, void *out,
                                          int *result);

/* Without waiting: 0 (message copied to `out`), WEFT_EAGAIN (not yet),
 * WEFT_ECLOSED or WEFT_EINVAL. Any thread. Since 0.1. */
WEFT_API int weft_oneshot_try_recv(weft_oneshot_rx *rx, void *out);

/* A boxed receive future; its output is described at WEFT_RECV_MSG_OFFSET.
 * It borrows `rx`, which must outlive it. Returns 0, WEFT_EINVAL or
 * WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_oneshot_recv(weft_oneshot_rx *rx, weft_future **out);

/* Release the receiver; a message not received is discarded and a later
 * send returns WEFT_ECLOSED. NULL does nothing. Since 0.1. */
WEFT_API void weft_oneshot_rx_free(weft_oneshot_rx *rx);

/* ---- mpsc --------------------------------------------------------------
 * Closing rules:
 * - after weft_mpsc_close(rx) or weft_mpsc_rx_free(rx), every send returns
 *   WEFT_ECLOSED and the message stays with the caller; pending sends are
 *   woken and finish with WEFT_ECLOSED;
 * - after every sender is released (and after close), the receiver still
 *   gets the messages already queued, then WEFT_ECLOSED. */

typedef struct weft_mpsc_tx weft_mpsc_tx;
typedef struct weft_mpsc_rx weft_mpsc_rx;

/* A bounded channel of `capacity` (1..2^30) messages of `elem_size` bytes
 * (1..65536). The buffer is allocated here, once. The caller owns both
 * handles. Returns 0, WEFT_EINVAL or WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_mpsc_new(size_t elem_size, size_t capacity,
                           weft_mpsc_tx **tx, weft_mpsc_rx **rx);

/* An unbounded channel: sends never wait; the buffer grows (doubling) and
 * a send that cannot grow it returns WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_mpsc_unbounded_new(size_t elem_size, weft_mpsc_tx **tx,
                                     weft_mpsc_rx **rx);

/* Another sender for the same channel, owned by the caller. Returns 0,
 * WEFT_EINVAL or WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_mpsc_tx_clone(weft_mpsc_tx *tx, weft_mpsc_tx **out);

/* Release a sender. If it was waiting to send, its place is given up (and a
 * slot it had been promised goes to the next sender). When the last sender
 * goes, the receiver is woken. NULL does nothing. Since 0.1. */
WEFT_API void weft_mpsc_tx_free(weft_mpsc_tx *tx);

/* Send with backpressure: READY with `*result` 0 once the message
 * (`elem_size` bytes at `msg`, read only during this call) is in the
 * channel, or WEFT_ECLOSED (the message was not sent). PENDING while the
 * channel is full; the sender then holds a place in a FIFO queue of
 * senders, and must poll again with the same message (or release the
 * sender, or call weft_mpsc_send_cancel) to give the place up. `result` may
 * be NULL. Since 0.1. */
WEFT_API weft_poll weft_mpsc_poll_send(weft_mpsc_tx *tx, weft_context *cx,
                                       const void *msg, int *result);

/* Give up a pending weft_mpsc_poll_send on `tx`; nothing is sent. Safe to
 * call when nothing is pending. Since 0.1. */
WEFT_API void weft_mpsc_send_cancel(weft_mpsc_tx *tx);

/* Without waiting: 0, WEFT_EAGAIN (full, or other senders are queued
 * first), WEFT_ECLOSED, WEFT_ENOMEM (unbounded growth failed) or
 * WEFT_EINVAL. Any thread, including plain threads. Since 0.1. */
WEFT_API int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *msg);

/* A boxed send future: the message is copied into it now; its output is
 * one int result. It borrows `tx`, which must outlive it. Dropping it while
 * pending sends nothing. Returns 0, WEFT_EINVAL or WEFT_ENOMEM. Since 0.1.
 */
WEFT_API int weft_mpsc_send(weft_mpsc_tx *tx, const void *msg,
                            weft_future **out);

/* Receive: READY with `*result` 0 and the message copied to `out`, or
 * WEFT_ECLOSED when the channel is empty and closed or every sender is
 * gone. `result` may be NULL. Since 0.1. */
WEFT_API weft_poll weft_mpsc_poll_recv(weft_mpsc_rx *rx, weft_context *cx,
                                       void *out, int *result);

/* Without waiting: 0, WEFT_EAGAIN (empty), WEFT_ECLOSED or WEFT_EINVAL. */
WEFT_API int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *out);

/* A boxed receive future (output: see WEFT_RECV_MSG_OFFSET). It borrows
 * `rx`. Dropping it while pending loses nothing: a message is taken only
 * when it is delivered. Since 0.1. */
WEFT_API int weft_mpsc_recv(weft_mpsc_rx *rx, weft_future **out);

/* Close the channel from the receiving side: no more sends; queued
 * messages can still be received. Idempotent. Since 0.1. */
WEFT_API void weft_mpsc_close(weft_mpsc_rx *rx);

/* Messages queued now (a snapshot). */
WEFT_API size_t weft_mpsc_len(const weft_mpsc_rx *rx);

/* Close and release the receiver; queued messages are discarded. NULL does
 * nothing. Since 0.1. */
WEFT_API void weft_mpsc_rx_free(weft_mpsc_rx *rx);

/* ---- watch -------------------------------------------------------------
 * One value, replaced by each send; receivers wait for a newer version than
 * the one they last saw and read the latest (intermediate values may be
 * skipped, which is the point: state, not events). */

typedef struct weft_watch_tx weft_watch_tx;
typedef struct weft_watch_rx weft_watch_rx;

/* Make a watch channel holding `elem_size` bytes (1..65536), initially a
 * copy of `init` (which the receiver counts as seen). Returns 0, WEFT_EINVAL
 * or WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_watch_new(size_t elem_size, const void *init,
                            weft_watch_tx **tx, weft_watch_rx **rx);

/* Replace the value and wake every waiting receiver. Returns 0, WEFT_ECLOSED
 * when no receiver is left (the value is stored anyway), or WEFT_EINVAL.
 * Never waits. Any thread. Since 0.1. */
WEFT_API int weft_watch_send(weft_watch_tx *tx, const void *msg);

/* Release the sender; receivers then see WEFT_ECLOSED once they have seen
 * the last value. NULL does nothing. Since 0.1. */
WEFT_API void weft_watch_tx_free(weft_watch_tx *tx);

/* Another receiver, which has seen what `rx` has seen. Since 0.1. */
WEFT_API int weft_watch_rx_clone(weft_watch_rx *rx, weft_watch_rx **out);

/* Wait until the value changed since this receiver last saw it; READY
 * with `*result` 0 (and the new version marked seen) or WEFT_ECLOSED (the
 * sender is gone and nothing new is left). `result` may be NULL.
 * Since 0.1. */
WEFT_API weft_poll weft_watch_poll_changed(weft_watch_rx *rx,
                                           weft_context *cx, int *result);

/* A boxed form of weft_watch_poll_changed; output: one int result. It
 * borrows `rx`. Since 0.1. */
WEFT_API int weft_watch_changed(weft_watch_rx *rx, weft_future **out);

/* Copy the current value to `out` and mark it seen. Returns 0 or
 * WEFT_EINVAL. Any thread. Since 0.1. */
WEFT_API int weft_watch_get(weft_watch_rx *rx, void *out);

/* Release a receiver. NULL does nothing. Since 0.1. */
WEFT_API void weft_watch_rx_free(weft_watch_rx *rx);

WEFT_END_DECLS

#endif /* WEFT_CHANNEL_H */
