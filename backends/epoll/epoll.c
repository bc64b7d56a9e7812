/* backends/epoll/epoll.c: the default backend, Linux epoll, built into
 * libweft. It has no dependency beyond the kernel.
 *
 * - Edge-triggered: every fd is registered once with EPOLLET for the
 *   interest asked, so the kernel reports each new readiness once and never
 *   again until the fd is drained and becomes ready anew. That is exactly
 *   the edge the core's registry expects, so rearm_fd is NULL.
 * - Woken through an eventfd registered with a NULL token. wake() writes
 *   to it from any thread; poll() drains it when it reports. An eventfd
 *   counter that is already non-zero merges further wakes, and a full
 *   counter (EAGAIN) means a wake is pending anyway.
 * - EINTR: epoll_wait returns 0 events, read/write of the eventfd retry.
 *   epoll_ctl does not fail with EINTR.
 * - Signals are left to the core (signal_watch is NULL): the core's
 *   handler writes to a pipe that is registered here like any other fd.
 * - deregister_fd may run on another thread while poll() holds events for
 *   that fd in its array: the core keeps the token alive until poll
 *   returns (contract clause C4), so nothing is freed under us. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <weft/backend.h>
#include <weft/error.h>

#include "epoll.h"

#define EP_BATCH 256

typedef struct ep_loop {
  int epfd;
  int evfd;
  const weft_backend_host *host;
  struct epoll_event events[EP_BATCH]; /* used by the poll thread only */
} ep_loop;

static int ep_create(void **loop_out, const weft_backend_host *host) {
  if (!loop_out || !host || !host->io_ready)
    return WEFT_EINVAL;
  ep_loop *l = calloc(1, sizeof *l);
  if (!l)
    return WEFT_ENOMEM;
  l->host = host;
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (l->epfd < 0) {
    int e = -errno;
    free(l);
    return e;
  }
  l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (l->evfd < 0) {
    int e = -errno;
    close(l->epfd);
    free(l);
    return e;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
  if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) < 0) {
    int e = -errno;
    close(l->evfd);
    close(l->epfd);
    free(l);
    return e;
  }
  *loop_out = l;
  return 0;
}

static void ep_destroy(void *loop) {
  ep_loop *l = loop;
  if (!l)
    return;
  close(l->evfd);
  close(l->epfd);
  free(l);
}

static uint32_t to_epoll(uint32_t interest) {
  uint32_t ev = EPOLLET;
  if (interest & WEFT_IO_READABLE)
    ev |= EPOLLIN | EPOLLRDHUP;
  if (interest & WEFT_IO_WRITABLE)
    ev |= EPOLLOUT;
  return ev;
}

static int ep_ctl(ep_loop *l, int op, int fd, uint32_t interest,
                  void *token) {
  if (!l || fd < 0 || !token)
    return WEFT_EINVAL;
  struct epoll_event ev = {.events = to_epoll(interest), .data.ptr = token};
  if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
    return -errno;
  return 0;
}

static int ep_register(void *loop, int fd, uint32_t interest, void *token) {
  return ep_ctl(loop, EPOLL_CTL_ADD, fd, interest, token);
}

static int ep_modify(void *loop, int fd, uint32_t interest, void *token) {
  return ep_ctl(loop, EPOLL_CTL_MOD, fd, interest, token);
}

static int ep_deregister(void *loop, int fd, void *token) {
  ep_loop *l = loop;
  (void)token;
  if (!l || fd < 0)
    return WEFT_EINVAL;
  /* A non-NULL event pointer keeps pre-2.6.9 kernels happy; harmless. */
  struct epoll_event ev = {0};
  if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ev) < 0)
    return -errno;
  return 0;
}

static void drain_eventfd(ep_loop *l) {
  uint64_t v;
  for (;;) {
    ssize_t n = read(l->evfd, &v, sizeof v);
    if (n >= 0 || errno != EINTR)
      return; /* EAGAIN: already drained by a previous report */
  }
}

static int ep_poll(void *loop, int64_t timeout_ms) {
  ep_loop *l = loop;
  if (!l)
    return WEFT_EINVAL;
  int t = timeout_ms < 0 ? -1 : timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms;
  int n = epoll_wait(l->epfd, l->events, EP_BATCH, t);
  if (n < 0)
    return errno == EINTR ? 0 : -errno;
  int reported = 0;
  for (int i = 0; i < n; i++) {
    struct epoll_event *e = &l->events[i];
    if (!e->data.ptr) {
      drain_eventfd(l);
      continue;
    }
    uint32_t bits = 0;
    if (e->events & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
      bits |= WEFT_IO_READABLE;
    if (e->events & EPOLLOUT)
      bits |= WEFT_IO_WRITABLE;
    if (e->events & EPOLLERR)
      bits |= WEFT_IO_ERROR;
    /* EPOLLRDHUP (the peer shut its side down) is a hang-up to the core,
     * which keeps the fd readable from then on: the data and the FIN often
     * come in one edge, and a reader whose short read cleared READABLE
     * would otherwise never hear of the FIN. */
    if (e->events & (EPOLLHUP | EPOLLRDHUP))
      bits |= WEFT_IO_HANGUP;
    l->host->io_ready(l->host->ctx, e->data.ptr, bits);
    reported++;
  }
  return reported;
}

static int ep_wake(void *loop) {
  ep_loop *l = loop;
  if (!l)
    return WEFT_EINVAL;
  uint64_t one = 1;
  for (;;) {
    ssize_t n = write(l->evfd, &one, sizeof one);
    if (n >= 0 || errno == EAGAIN)
      return 0; /* EAGAIN: the counter is full, a wake is pending */
    if (errno != EINTR)
      return -errno;
  }
}

static int ep_ctl_op(void *loop, int op, void *arg) {
  ep_loop *l = loop;
  if (!l)
    return WEFT_EINVAL;
  if (op == WEFT_BACKEND_CTL_NATIVE_LOOP) {
    if (!arg)
      return WEFT_EINVAL;
    /* The "native loop" of epoll is its fd; hand out a pointer to it. */
    *(void **)arg = &l->epfd;
    return 0;
  }
  return WEFT_ENOTSUP;
}

const weft_backend weft__backend_epoll = {
    .abi_version = WEFT_BACKEND_ABI_V1,
    .struct_size = sizeof(weft_backend),
    .name = "epoll",
    .create = ep_create,
    .attach = NULL, /* there is no foreign epoll loop to attach to */
    .destroy = ep_destroy,
    .register_fd = ep_register,
    .modify_fd = ep_modify,
    .rearm_fd = NULL, /* edge-triggered */
    .deregister_fd = ep_deregister,
    .close_fd = NULL, /* the core deregisters, then closes */
    .poll = ep_poll,
    .wake = ep_wake,
    .signal_watch = NULL, /* the core's own handler and self-pipe */
    .signal_unwatch = NULL,
    .ctl = ep_ctl_op,
    .now_ns = NULL, /* CLOCK_MONOTONIC */
};
