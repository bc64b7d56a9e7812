/* backends/modules/common/fdreq.h: what the libuv, libevent and libev
 * backends do alike, written once: the fd requests, the bookkeeping around
 * an owned poll, and the task run of attach mode.
 *
 * register_fd, modify_fd, rearm_fd, deregister_fd and close_fd are the same
 * on every library: they record what the core wants in the fd's record
 * (cmdq.h) and hand the record to the loop thread, which reconciles the
 * library's watcher with it. Only the last step touches the library, so a
 * module supplies it as a small table of operations (wb_ops) and puts the
 * functions below straight into its vtable.
 *
 * A module's loop object must start with its wb_core: the vtable functions
 * receive the loop pointer and use it as the wb_core. */
#ifndef WEFT_BACKENDS_FDREQ_H
#define WEFT_BACKENDS_FDREQ_H

#include "cmdq.h"

/* What a module does with its library. Every operation but kick runs on the
 * loop thread (or, with wb_core.direct, on the requesting thread under the
 * record's lock). */
typedef struct wb_ops {
  /* A new registration of f->fd: prepare the library watcher in f->impl
   * (reusing one left there by an earlier registration if the library
   * allows) without starting it. Return 0, or a negative code: the
   * registration is then not applied (the module reports the error to the
   * waiting task itself if it wants to). */
  int (*open)(wb_core *c, wb_fd *f);
  /* Stop the watcher for good: the registration ended or the fd is about to
   * be closed. f->impl may be kept for the next registration or freed (then
   * set to NULL). */
  void (*release)(wb_core *c, wb_fd *f);
  /* Make the watcher watch `mask` (WEFT_IO_* bits, 0 = none); f->started
   * holds the mask it watches now. Return 0 on success. */
  int (*set_mask)(wb_core *c, wb_fd *f, uint32_t mask);
  /* Any thread: make the loop thread drain the queue soon (the library's
   * thread-safe wake). */
  void (*kick)(wb_core *c);
  /* Lazy watchers: the spurious reports forgiven before a direction is
   * dropped (wb_core.forgive, at most WB_STRIKES_MAX). */
  unsigned forgive;
} wb_ops;

/* Allocate a module's loop object of `size` bytes (starting with a
 * wb_core), zeroed, with the core initialised, `host` copied and `ops` set.
 * Returns 0, WEFT_EINVAL (no host or no io_ready) or WEFT_ENOMEM. */
int wb_loop_new(void **out, size_t size, const weft_backend_host *host,
                const wb_ops *ops, int lazy);

/* 1 if the calling thread is the one running the loop: in attach mode the
 * application's loop thread, in owned mode a thread inside poll (between
 * wb_poll_enter and wb_poll_leave). */
int wb_on_loop_thread(wb_core *c);

/* Loop thread: reconcile the watcher with the record (the apply callback of
 * wb_drain); `ops` are the record's op bits (WB_OP_CLOSE...). */
void wb_apply(void *core, wb_fd *f, uint32_t ops);
/* Loop thread: drain the queue into wb_apply. */
int wb_drain_all(wb_core *c);
/* Loop thread, in a watcher callback: readiness `dirs` (WEFT_IO_READABLE|
 * WRITABLE) plus `extra` (ERROR, HANGUP) came in for `f`. Applies the lazy
 * rule (a direction reported twice more while the core still holds it is
 * dropped from the watcher) and reports to the core. Returns 1 if it
 * reported. */
int wb_report(wb_core *c, wb_fd *f, uint32_t dirs, uint32_t extra);

/* Owned mode, wake from a thread that is not the loop's: returns 1 if the
 * caller must kick the loop (a poll may be blocked and no other wake is on
 * its way); on the loop thread, makes the next poll return at once. */
int wb_wake_owned(wb_core *c);

/* Attach mode, loop thread: apply the queued requests and run weft's ready
 * tasks. Returns 1 if tasks are still ready (or a wake came during the
 * run), so the loop must poll without blocking and come back. */
int wb_attach_run(wb_core *c);
/* ms until weft's next timer, -1 if none: what the loop timer is armed
 * with after each run. */
int64_t wb_next_timeout(wb_core *c);

/* The vtable entries, for every library. */
int wb_be_register(void *loop, int fd, uint32_t interest, void *token);
int wb_be_modify(void *loop, int fd, uint32_t interest, void *token);
int wb_be_rearm(void *loop, int fd, uint32_t events, void *token);
int wb_be_deregister(void *loop, int fd, void *token);
int wb_be_close_fd(void *loop, int fd, void *token);
int wb_be_ctl(void *loop, int op, void *arg);

#endif /* WEFT_BACKENDS_FDREQ_H */
