/* weft/blocking.h: running blocking functions on the blocking pool.
 *
 * Never block a worker: a function that sleeps, reads a file, resolves a name
 * or hashes a password goes to the blocking pool instead. The pool starts
 * threads on demand, up to max_blocking_threads (weft_builder_*; default
 * 512), and a thread idle for the keep-alive (default 10 s) exits.
 *
 * A blocking job is a task: weft_spawn_blocking returns the same join handle
 * as weft_spawn, so a task awaits it with weft_join_poll, a plain thread
 * waits with weft_join_wait, and anyone may abort it with weft_join_abort.
 * Its output is the void * the function returned: on WEFT_JOIN_COMPLETED,
 * result.output points to a void * slot holding it and result.output_size is
 * sizeof(void *).
 *
 * Cancellation: a job aborted before it starts leaves the queue at once; it
 * never runs, its cleanup callback (if any) runs on the aborting thread, and
 * its handle resolves WEFT_JOIN_CANCELLED. A running job cannot be stopped
 * from outside, but its cancel token turns true, so cooperative code can
 * return early; what it returns is still its output (the handle resolves
 * WEFT_JOIN_COMPLETED).
 *
 * See docs/blocking.md. */
#ifndef WEFT_BLOCKING_H
#define WEFT_BLOCKING_H

#include "common.h"
#include "future.h"
#include "runtime.h"

WEFT_BEGIN_DECLS

/* The token handed to a running job. Opaque; valid only during the call it
 * was passed to. */
typedef struct weft_cancel_token weft_cancel_token;

/* A blocking function. Runs once on a pool thread; its return value is the
 * job's output. */
typedef void *(*weft_blocking_fn)(void *arg, const weft_cancel_token *token);

/* Run `fn(arg, token)` on a pool thread. `*handle` receives the join handle
 * (owned by the caller: free or detach it); `handle` may be NULL to detach.
 * Callable from any thread: a task, a plain thread, a pool thread.
 * `arg` stays owned by the caller (fn or cleanup typically frees it).
 * Returns 0, WEFT_EINVAL (rt or fn NULL), WEFT_ENOMEM, WEFT_ESHUTDOWN,
 * WEFT_EAGAIN (the queue bound of weft_builder_blocking_queue_limit is
 * reached, or no pool thread exists and none can be started). On error,
 * nothing ran and nothing is allocated. Since 0.1. */
WEFT_API int weft_spawn_blocking(weft_runtime *rt, weft_blocking_fn fn,
                                 void *arg, weft_join_handle **handle);

/* As weft_spawn_blocking, plus `cleanup(arg)`, called exactly once if the job
 * is cancelled before it starts (weft_join_abort, or runtime shutdown), on the
 * thread that cancels it. Not called when the job ran, nor when this call
 * fails. `cleanup` may be NULL. Since 0.1. */
WEFT_API int weft_spawn_blocking_with_cleanup(weft_runtime *rt,
                                              weft_blocking_fn fn, void *arg,
                                              void (*cleanup)(void *arg),
                                              weft_join_handle **handle);

/* A future that waits until the queue has room, then spawns as
 * weft_spawn_blocking_with_cleanup. Its output (weft_future_output) is a
 * `weft_join_handle *`: the new job's handle, owned by whoever reads it, or
 * NULL when the spawn failed (the runtime shut down, out of memory, no
 * thread could be started; `cleanup` has then run). `cleanup` is also called
 * if the future is dropped before it spawned. `*out` is owned by the caller
 * (weft_future_free) and must be freed before the runtime.
 * Returns 0, WEFT_EINVAL (rt, fn or out NULL), WEFT_ENOMEM, WEFT_ESHUTDOWN.
 * Any thread. Since 0.1. */
WEFT_API int weft_spawn_blocking_async(weft_runtime *rt, weft_blocking_fn fn,
                                       void *arg, void (*cleanup)(void *arg),
                                       weft_future **out);

/* 1 once the job's handle was aborted or its runtime is shutting down, 0
 * while neither happened, WEFT_EINVAL when `token` is NULL. Callable by the
 * job, during the call it was passed to. Since 0.1. */
WEFT_API int weft_cancel_token_is_cancelled(const weft_cancel_token *token);

WEFT_END_DECLS

#endif /* WEFT_BLOCKING_H */
