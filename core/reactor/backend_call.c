/* core/reactor/backend_call.c: the only place the core calls a backend.
 *
 * One wrapper per method. Each wrapper:
 * - asks the fault hook first, so that a test can make any one method fail
 *   and check that the core survives it (the way SQLite's os.c wraps its
 *   VFS);
 * - treats a method as absent when it is NULL or lies beyond the vtable's
 *   struct_size (a module built against an older, shorter band), and then
 *   applies the core's fallback, which the backend contract documents
 *   (docs/backend-contract.md, clauses C5-C9). */
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include "reactor.h"

int (*weft__backend_fault_hook)(weft__backend_method m);

/* A method is usable when the backend's vtable is long enough to hold it
 * and the slot is not NULL. */
#define HAS(be, field)                                                       \
  (offsetof(weft_backend, field) + sizeof((be)->field) <= (be)->struct_size && \
   (be)->field != NULL)

static int fault(weft__backend_method m) {
  int (*hook)(weft__backend_method) = weft__backend_fault_hook;
  return hook ? hook(m) : 0;
}

int weft__backend_create(const weft_backend *be, void **loop,
                         const weft_backend_host *host) {
  int rc = fault(WEFT__BM_CREATE);
  if (rc < 0)
    return rc;
  if (!HAS(be, create))
    return WEFT_ENOTSUP;
  return be->create(loop, host);
}

int weft__backend_attach(const weft_backend *be, void **loop, void *foreign,
                         const weft_backend_host *host) {
  int rc = fault(WEFT__BM_ATTACH);
  if (rc < 0)
    return rc;
  if (!HAS(be, attach))
    return WEFT_ENOTSUP;
  return be->attach(loop, foreign, host);
}

void weft__backend_destroy(const weft_backend *be, void *loop) {
  /* destroy cannot fail, so it has no fault point. */
  if (HAS(be, destroy))
    be->destroy(loop);
}

int weft__backend_register(const weft_backend *be, void *loop, int fd,
                           uint32_t interest, void *token) {
  int rc = fault(WEFT__BM_REGISTER);
  if (rc < 0)
    return rc;
  if (!HAS(be, register_fd))
    return WEFT_ENOTSUP;
  return be->register_fd(loop, fd, interest, token);
}

int weft__backend_modify(const weft_backend *be, void *loop, int fd,
                         uint32_t interest, void *token) {
  int rc = fault(WEFT__BM_MODIFY);
  if (rc < 0)
    return rc;
  if (!HAS(be, modify_fd))
    return WEFT_ENOTSUP;
  return be->modify_fd(loop, fd, interest, token);
}

int weft__backend_rearm(const weft_backend *be, void *loop, int fd,
                        uint32_t events, void *token) {
  int rc = fault(WEFT__BM_REARM);
  if (rc < 0)
    return rc;
  /* NULL rearm: the backend is edge-triggered or keeps reporting, so there
   * is nothing to do. */
  if (!HAS(be, rearm_fd))
    return 0;
  return be->rearm_fd(loop, fd, events, token);
}

int weft__backend_deregister(const weft_backend *be, void *loop, int fd,
                             void *token) {
  int rc = fault(WEFT__BM_DEREGISTER);
  if (rc < 0)
    return rc;
  if (!HAS(be, deregister_fd))
    return WEFT_ENOTSUP;
  return be->deregister_fd(loop, fd, token);
}

int weft__backend_close(const weft_backend *be, void *loop, int fd,
                        void *token) {
  int rc = fault(WEFT__BM_CLOSE);
  if (rc >= 0 && HAS(be, close_fd))
    return be->close_fd(loop, fd, token);
  /* Fallback (and the fault path, which must not leak the fd): deregister,
   * then close here. close() is not retried on EINTR: on Linux the fd is
   * released even then, and a retry could close a reused number. */
  int drc = weft__backend_deregister(be, loop, fd, token);
  close(fd);
  return rc < 0 ? rc : drc;
}

int weft__backend_poll(const weft_backend *be, void *loop, int64_t timeout_ms) {
  int rc = fault(WEFT__BM_POLL);
  if (rc < 0)
    return rc;
  if (!HAS(be, poll))
    return WEFT_ENOTSUP;
  return be->poll(loop, timeout_ms);
}

int weft__backend_wake(const weft_backend *be, void *loop) {
  int rc = fault(WEFT__BM_WAKE);
  if (rc < 0)
    return rc;
  if (!HAS(be, wake))
    return WEFT_ENOTSUP;
  return be->wake(loop);
}

int weft__backend_has_signals(const weft_backend *be) {
  return HAS(be, signal_watch) && HAS(be, signal_unwatch);
}

int weft__backend_signal_watch(const weft_backend *be, void *loop, int signo) {
  int rc = fault(WEFT__BM_SIGNAL_WATCH);
  if (rc < 0)
    return rc;
  /* NULL: the core's own handler and self-pipe take over (signal.c). */
  if (!weft__backend_has_signals(be))
    return WEFT_ENOTSUP;
  return be->signal_watch(loop, signo);
}

int weft__backend_signal_unwatch(const weft_backend *be, void *loop,
                                 int signo) {
  int rc = fault(WEFT__BM_SIGNAL_UNWATCH);
  if (rc < 0)
    return rc;
  if (!weft__backend_has_signals(be))
    return WEFT_ENOTSUP;
  return be->signal_unwatch(loop, signo);
}

int weft__backend_ctl(const weft_backend *be, void *loop, int op, void *arg) {
  int rc = fault(WEFT__BM_CTL);
  if (rc < 0)
    return rc;
  if (!HAS(be, ctl))
    return WEFT_ENOTSUP;
  return be->ctl(loop, op, arg);
}

uint64_t weft__backend_now_ns(const weft_backend *be, void *loop) {
  /* No fault point: a clock cannot fail. NULL means CLOCK_MONOTONIC. */
  if (HAS(be, now_ns))
    return be->now_ns(loop);
  return weft__now_ns();
}

int weft__backend_has_clock(const weft_backend *be) {
  return HAS(be, now_ns);
}
