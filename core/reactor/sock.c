/* core/reactor/sock.c: the shared fd object (see sock.h). */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "sock.h"

int weft__sock_init(weft__sock *s, int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return weft__errno(errno);
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return weft__errno(errno);
  return weft__sock_init_nonblocking(s, fd);
}

int weft__sock_init_nonblocking(weft__sock *s, int fd) {
  if (pthread_mutex_init(&s->init_mu, NULL) != 0)
    return WEFT_ENOMEM;
  atomic_init(&s->fd, fd);
  atomic_init(&s->reg, NULL);
  s->tick[0] = s->tick[1] = 0;
  return 0;
}

static int get_reg(weft__sock *s, weft_context *cx, weft__io_reg **out) {
  /* Acquire: pairs with the release below, so the registration's fields
   * are visible to a poller that did not take the lock. */
  weft__io_reg *r = atomic_load_explicit(&s->reg, memory_order_acquire);
  if (r) {
    *out = r;
    return 0;
  }
  int rc = 0;
  pthread_mutex_lock(&s->init_mu);
  r = atomic_load_explicit(&s->reg, memory_order_relaxed);
  if (!r) {
    int fd = atomic_load_explicit(&s->fd, memory_order_relaxed);
    weft__driver *d = weft__driver_of(cx);
    if (fd < 0)
      rc = WEFT_ECLOSED;
    else if (!d)
      rc = WEFT_ESHUTDOWN;
    else if ((rc = weft__io_register(d, fd, &r)) == 0)
      atomic_store_explicit(&s->reg, r, memory_order_release);
  }
  pthread_mutex_unlock(&s->init_mu);
  *out = r;
  return rc;
}

int weft__sock_poll(weft__sock *s, weft_context *cx, uint32_t dir,
                    uint32_t *ready) {
  weft__io_reg *r;
  int rc = get_reg(s, cx, &r);
  if (rc < 0)
    return rc;
  uint64_t tick;
  rc = weft__io_poll(r, cx, dir, ready, &tick);
  if (rc == 1) {
    if (dir & WEFT_IO_READABLE)
      s->tick[0] = tick;
    if (dir & WEFT_IO_WRITABLE)
      s->tick[1] = tick;
  }
  return rc;
}

void weft__sock_clear(weft__sock *s, uint32_t dir) {
  weft__io_reg *r = atomic_load_explicit(&s->reg, memory_order_acquire);
  if (r)
    weft__io_clear(r, dir, s->tick[dir == WEFT_IO_WRITABLE]);
}

int weft__sock_close(weft__sock *s) {
  pthread_mutex_lock(&s->init_mu);
  int fd = atomic_exchange_explicit(&s->fd, -1, memory_order_relaxed);
  weft__io_reg *r = atomic_load_explicit(&s->reg, memory_order_relaxed);
  pthread_mutex_unlock(&s->init_mu);
  if (fd < 0)
    return 0;
  if (r)
    return weft__io_close(r, 1);
  /* Never registered: nobody waits on it, closing is all. */
  close(fd);
  return 0;
}

void weft__sock_destroy(weft__sock *s) {
  weft__sock_close(s);
  weft__io_reg *r = atomic_load_explicit(&s->reg, memory_order_relaxed);
  if (r)
    weft__io_free(r);
  pthread_mutex_destroy(&s->init_mu);
}
