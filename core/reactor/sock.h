/* core/reactor/sock.h: the part every fd-based object shares (weft_io,
 * streams, listeners, UDP): the fd, its registration made at the first
 * poll, and the ticks that make clearing readiness safe. */
#ifndef WEFT_REACTOR_SOCK_H
#define WEFT_REACTOR_SOCK_H

#include "reactor.h"

typedef struct weft__sock {
  _Atomic int fd; /* -1 once closed */
  /* The registration, made by the first poll. Published with release
   * under init_mu and read with acquire, so a poll that finds it non-NULL
   * sees it initialised without taking the lock. */
  _Atomic(weft__io_reg *) reg;
  pthread_mutex_t init_mu;
  /* The tick seen by the last ready poll, per direction: [0] read, [1]
   * write. Each is touched only by the one task doing that direction. */
  uint64_t tick[2];
} weft__sock;

/* Take `fd` (made non-blocking). Returns 0 or a negative code. */
int weft__sock_init(weft__sock *s, int fd);
/* The same for an fd created non-blocking (SOCK_NONBLOCK, accept4): saves
 * the fcntl system calls on every accepted connection. */
int weft__sock_init_nonblocking(weft__sock *s, int fd);
/* Wait for `dir` (one WEFT_IO_* direction): 1 ready, 0 pending, < 0. */
int weft__sock_poll(weft__sock *s, weft_context *cx, uint32_t dir,
                    uint32_t *ready);
/* The last operation in `dir` hit EAGAIN or was short. */
void weft__sock_clear(weft__sock *s, uint32_t dir);
/* Deregister and close the fd, waking waiters. Idempotent. */
int weft__sock_close(weft__sock *s);
/* Close and release everything but the object's memory. */
void weft__sock_destroy(weft__sock *s);

/* The errno of a failed system call as a weft code. */
static inline int weft__errno(int e) { return e > 0 ? -e : WEFT_EIO; }

#endif /* WEFT_REACTOR_SOCK_H */
