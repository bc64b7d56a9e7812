/* core/reactor/net_listener.c: TCP and Unix listeners, and accept.
 *
 * Running out of descriptors: accept(2) fails with EMFILE or ENFILE (or
 * ENOBUFS/ENOMEM) while the pending connection stays in the backlog, so
 * the fd stays readable and a naive loop spins at 100 % CPU. The listener
 * instead backs off: it arms a 100 ms timer and stays PENDING until it
 * fires, counts the event, and returns the error to the caller once per
 * episode (an episode ends at the next successful accept), so that the
 * application can log it or shed load. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net_internal.h"

#define BACKOFF_MS 100u

struct weft_listener {
  weft__sock s;
  int family;
  /* Back-off state: used by the one task that accepts. */
  weft__timer backoff;
  weft__driver *d;
  uint64_t backoff_until_ns;
  int backing_off;
  int in_episode;
  _Atomic uint64_t errors; /* relaxed: a statistic */
};

static int listen_fd(int fd, const struct sockaddr *addr, socklen_t len,
                     int backlog, int family, weft_listener **out) {
  if (bind(fd, addr, len) < 0 ||
      listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
    int e = weft__errno(errno);
    close(fd);
    return e;
  }
  weft_listener *l = calloc(1, sizeof *l);
  if (!l) {
    close(fd);
    return WEFT_ENOMEM;
  }
  int rc = weft__sock_init_nonblocking(&l->s, fd);
  if (rc < 0) {
    close(fd);
    free(l);
    return rc;
  }
  l->family = family;
  l->backoff.entry.level = -1;
  atomic_init(&l->errors, 0);
  *out = l;
  return 0;
}

int weft_tcp_listen(const struct sockaddr *addr, socklen_t len, int backlog,
                    weft_listener **out) {
  if (!addr || !out ||
      (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) ||
      (addr->sa_family == AF_INET && len < sizeof(struct sockaddr_in)) ||
      (addr->sa_family == AF_INET6 && len < sizeof(struct sockaddr_in6)))
    return WEFT_EINVAL;
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  0);
  if (fd < 0)
    return weft__errno(errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  return listen_fd(fd, addr, len, backlog, addr->sa_family, out);
}

int weft_unix_listen(const char *path, int backlog, weft_listener **out) {
  if (!path || !out)
    return WEFT_EINVAL;
  struct sockaddr_un un;
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof un.sun_path)
    return WEFT_EINVAL;
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  memcpy(un.sun_path, path, n + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return weft__errno(errno);
  return listen_fd(fd, (struct sockaddr *)&un,
                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1),
                   backlog, AF_UNIX, out);
}

static int out_of_resources(int e) {
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* Errors that concern one pending connection only: skip it. */
static int transient(int e) {
  return e == ECONNABORTED || e == EPROTO || e == EPERM || e == EINTR ||
         e == ENETDOWN || e == ENOPROTOOPT || e == EHOSTDOWN || e == ENONET ||
         e == EHOSTUNREACH || e == EOPNOTSUPP || e == ENETUNREACH;
}

int weft_listener_poll_accept(weft_listener *l, weft_context *cx,
                              weft_stream **out, struct sockaddr_storage *peer,
                              socklen_t *peer_len) {
  if (!l || !cx || !out)
    return WEFT_EINVAL;
  if (!weft__coop_proceed(cx))
    return 0;
  if (l->backing_off) {
    if (!weft__timer_poll(l->d, &l->backoff, l->backoff_until_ns, cx))
      return 0;
    weft__timer_cancel(l->d, &l->backoff);
    l->backing_off = 0;
  }
  for (;;) {
    int rc = weft__sock_poll(&l->s, cx, WEFT_IO_READABLE, NULL);
    if (rc <= 0)
      return rc;
    int lfd = atomic_load_explicit(&l->s.fd, memory_order_relaxed);
    if (lfd < 0)
      return WEFT_ECLOSED;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      l->in_episode = 0;
      weft_stream *s;
      rc = weft__stream_new(fd, l->family, &s);
      if (rc < 0) {
        close(fd);
        return rc;
      }
      if (peer)
        *peer = ss;
      if (peer_len)
        *peer_len = sl;
      *out = s;
      return 1;
    }
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      weft__sock_clear(&l->s, WEFT_IO_READABLE);
      continue;
    }
    if (transient(e))
      continue;
    if (!out_of_resources(e))
      return weft__errno(e);
    atomic_fetch_add_explicit(&l->errors, 1, memory_order_relaxed);
    if (!l->d && !(l->d = weft__driver_of(cx)))
      return weft__errno(e);
    l->backing_off = 1;
    l->backoff_until_ns =
        weft__driver_now_ns(l->d) + (uint64_t)BACKOFF_MS * 1000000u;
    if (!l->in_episode) {
      /* Report once; the timer is armed by the next poll. */
      l->in_episode = 1;
      return weft__errno(e);
    }
    if (!weft__timer_poll(l->d, &l->backoff, l->backoff_until_ns, cx))
      return 0;
    weft__timer_cancel(l->d, &l->backoff);
    l->backing_off = 0;
  }
}

uint64_t weft_listener_accept_errors(const weft_listener *l) {
  return l ? atomic_load_explicit(&l->errors, memory_order_relaxed) : 0;
}

int weft_listener_local_addr(const weft_listener *l,
                             struct sockaddr_storage *out, socklen_t *len) {
  if (!l || !out || !len)
    return WEFT_EINVAL;
  int fd = atomic_load_explicit(&l->s.fd, memory_order_relaxed);
  if (fd < 0)
    return WEFT_ECLOSED;
  *len = sizeof *out;
  return getsockname(fd, (struct sockaddr *)out, len) < 0 ? weft__errno(errno)
                                                          : 0;
}

int weft_listener_close(weft_listener *l) {
  if (!l)
    return WEFT_EINVAL;
  /* A backend may close the fd later, on its loop thread (the library
   * modules do). Stop listening now, so that a connect made after this
   * call returns is refused on every backend, not queued on a socket about
   * to close and then reset. Under init_mu, which weft__sock_close takes
   * to swap the fd out, so the fd cannot be closed (and reused) meanwhile. */
  pthread_mutex_lock(&l->s.init_mu);
  int fd = atomic_load_explicit(&l->s.fd, memory_order_relaxed);
  if (fd >= 0)
    shutdown(fd, SHUT_RDWR);
  pthread_mutex_unlock(&l->s.init_mu);
  return weft__sock_close(&l->s);
}

void weft_listener_free(weft_listener *l) {
  if (!l)
    return;
  if (l->d)
    weft__timer_cancel(l->d, &l->backoff);
  weft__sock_destroy(&l->s);
  free(l);
}

/* ---- accept future ---------------------------------------------------------- */

typedef struct accept_state {
  weft_listener *l;
} accept_state;

static weft_poll accept_poll(void *p, weft_context *cx, void *out) {
  accept_state *st = p;
  weft_stream_result *o = out;
  weft_stream *s = NULL;
  int rc = weft_listener_poll_accept(st->l, cx, &s, NULL, NULL);
  if (rc == 0)
    return WEFT_PENDING;
  *o = (weft_stream_result){rc < 0 ? rc : 0, rc < 0 ? NULL : s};
  return WEFT_READY;
}

static const weft_future_vtable accept_vt = {sizeof(weft_future_vtable),
                                             accept_poll, NULL};

int weft_listener_accept(weft_listener *l, weft_future **out) {
  if (!l || !out)
    return WEFT_EINVAL;
  accept_state st = {l};
  return weft_future_new(&accept_vt, &st, sizeof st,
                         sizeof(weft_stream_result), out);
}
