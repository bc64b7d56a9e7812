/* core/reactor/net_udp.c: UDP sockets. A datagram is sent or received
 * whole, so there is no short-read clearing here: only EAGAIN clears. */
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include "net_internal.h"

struct weft_udp {
  weft__sock s;
};

int weft_udp_bind(const struct sockaddr *addr, socklen_t len, weft_udp **out) {
  if (!addr || !out ||
      (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
    return WEFT_EINVAL;
  int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  0);
  if (fd < 0)
    return weft__errno(errno);
  if (bind(fd, addr, len) < 0) {
    int e = weft__errno(errno);
    close(fd);
    return e;
  }
  weft_udp *u = calloc(1, sizeof *u);
  if (!u) {
    close(fd);
    return WEFT_ENOMEM;
  }
  int rc = weft__sock_init_nonblocking(&u->s, fd);
  if (rc < 0) {
    close(fd);
    free(u);
    return rc;
  }
  *out = u;
  return 0;
}

static int ufd(const weft_udp *u) {
  return atomic_load_explicit(&u->s.fd, memory_order_relaxed);
}

int weft_udp_poll_send_to(weft_udp *u, weft_context *cx, const void *buf,
                          size_t len, const struct sockaddr *addr,
                          socklen_t addr_len, size_t *n) {
  if (!u || !cx || !n || (!buf && len) || !addr)
    return WEFT_EINVAL;
  if (!weft__coop_proceed(cx))
    return 0;
  for (;;) {
    int rc = weft__sock_poll(&u->s, cx, WEFT_IO_WRITABLE, NULL);
    if (rc <= 0)
      return rc;
    int fd = ufd(u);
    if (fd < 0)
      return WEFT_ECLOSED;
    ssize_t w = sendto(fd, buf, len, MSG_NOSIGNAL, addr, addr_len);
    if (w >= 0) {
      *n = (size_t)w;
      return 1;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return weft__errno(errno);
    weft__sock_clear(&u->s, WEFT_IO_WRITABLE);
  }
}

int weft_udp_poll_recv_from(weft_udp *u, weft_context *cx, void *buf,
                            size_t cap, size_t *n,
                            struct sockaddr_storage *from,
                            socklen_t *from_len) {
  if (!u || !cx || !n || (!buf && cap))
    return WEFT_EINVAL;
  if (!weft__coop_proceed(cx))
    return 0;
  for (;;) {
    int rc = weft__sock_poll(&u->s, cx, WEFT_IO_READABLE, NULL);
    if (rc <= 0)
      return rc;
    int fd = ufd(u);
    if (fd < 0)
      return WEFT_ECLOSED;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ssize_t r = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &sl);
    if (r >= 0) {
      *n = (size_t)r;
      if (from)
        *from = ss;
      if (from_len)
        *from_len = sl;
      return 1;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return weft__errno(errno);
    weft__sock_clear(&u->s, WEFT_IO_READABLE);
  }
}

int weft_udp_local_addr(const weft_udp *u, struct sockaddr_storage *out,
                        socklen_t *len) {
  if (!u || !out || !len)
    return WEFT_EINVAL;
  int fd = ufd(u);
  if (fd < 0)
    return WEFT_ECLOSED;
  *len = sizeof *out;
  return getsockname(fd, (struct sockaddr *)out, len) < 0 ? weft__errno(errno)
                                                          : 0;
}

void weft_udp_free(weft_udp *u) {
  if (!u)
    return;
  weft__sock_destroy(&u->s);
  free(u);
}
