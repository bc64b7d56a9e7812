/* weft/attach.h: run weft's tasks on an event loop the application owns.
 *
 * Attach mode makes a current-thread runtime whose tasks run on the
 * application's loop thread, between the application's own callbacks: weft
 * installs a few handles in the loop (a check/prepare-style hook that runs
 * ready tasks, an idle hook while tasks remain, one timer for weft's next
 * deadline, an async wake for other threads, and one watcher per fd that a
 * task waits on). weft starts no polling thread there and uses no CPU while
 * idle. CPU-bound work can still go to the blocking pool.
 *
 * The loop keeps running as the application runs it (uv_run, ev_run,
 * event_base_dispatch...). weft's handles keep it alive only while weft has
 * something to do: ready tasks, a pending timer, or an fd a task waits on.
 * (libevent: weft's wake event is persistent, so event_base_dispatch does
 * not return on its own while a runtime is attached; use
 * event_base_loopexit or detach first.)
 *
 * Detaching (weft_runtime_detach, or weft_runtime_free) drops every task
 * and removes every handle weft made, leaving the loop usable. With libuv
 * the removed handles finish closing on the loop's next iteration, as any
 * uv_close does.
 *
 * This header names the libraries' loop types only by forward declaration:
 * including it pulls in no library header, and libweft links none of the
 * libraries (the backend modules do, loaded when attached). */
#ifndef WEFT_ATTACH_H
#define WEFT_ATTACH_H

#include "common.h"
#include "runtime.h"

WEFT_BEGIN_DECLS

struct uv_loop_s;    /* uv_loop_t */
struct event_base;   /* libevent */
struct ev_loop;      /* libev */

/* Attach a new runtime to the application's loop `foreign_loop`, using the
 * backend module `backend` ("libuv", "libevent", "libev", or a module
 * loaded through `b`'s weft_builder_backend_module). `b` (may be NULL for
 * the defaults) supplies the other settings; its flavour and backend name
 * are ignored. The runtime is current-thread: its tasks run only on the
 * loop's thread.
 *
 * Must be called on the thread that runs `foreign_loop`, with the loop not
 * being run by any other thread. `rt`, `backend` and `foreign_loop` must not
 * be NULL. On success `*rt` is the new runtime, owned by the caller, to be
 * released with weft_runtime_detach (or weft_runtime_free) on the loop
 * thread, before the loop itself is closed or freed.
 *
 * Returns 0, WEFT_EINVAL, WEFT_ENOMEM, WEFT_EBACKEND (unknown backend; the
 * reason and the available backends are printed once to stderr), WEFT_EABI
 * or WEFT_ENOTSUP (the backend cannot attach). Since 0.1. */
WEFT_API int weft_runtime_attach(weft_runtime **rt, const char *backend,
                                 void *foreign_loop, const weft_builder *b);

/* weft_runtime_attach(rt, "libuv", loop, NULL). Since 0.1. */
WEFT_API int weft_runtime_attach_uv(weft_runtime **rt, struct uv_loop_s *loop);

/* weft_runtime_attach(rt, "libevent", base, NULL). The base need not have
 * been created with evthread enabled: other threads reach it only through
 * weft's own eventfd. Since 0.1. */
WEFT_API int weft_runtime_attach_event(weft_runtime **rt,
                                       struct event_base *base);

/* weft_runtime_attach(rt, "libev", loop, NULL). Since 0.1. */
WEFT_API int weft_runtime_attach_ev(weft_runtime **rt, struct ev_loop *loop);

/* Shut the attached runtime down and free it: unfinished tasks are dropped
 * (their join handles resolve cancelled) and every handle weft installed in
 * the loop is removed. Call it on the loop thread, not from inside one of
 * the runtime's tasks (WEFT_EBUSY). Works for any runtime (it is then
 * weft_runtime_free). Returns 0, WEFT_EINVAL (NULL) or WEFT_EBUSY.
 * Since 0.1. */
WEFT_API int weft_runtime_detach(weft_runtime *rt);

WEFT_END_DECLS

#endif /* WEFT_ATTACH_H */
