/* core/reactor/io.c: weft_io, readiness of any fd, and its futures. */
#include <stdlib.h>

#include <weft/io.h>

#include "sock.h"

struct weft_io {
  weft__sock s;
};

int weft_io_new(int fd, weft_io **out) {
  if (fd < 0 || !out)
    return WEFT_EINVAL;
  weft_io *io = calloc(1, sizeof *io);
  if (!io)
    return WEFT_ENOMEM;
  int rc = weft__sock_init(&io->s, fd);
  if (rc < 0) {
    free(io);
    return rc;
  }
  *out = io;
  return 0;
}

int weft_io_poll_ready(weft_io *io, weft_context *cx, uint32_t interest,
                       uint32_t *ready) {
  interest &= WEFT_IO_READABLE | WEFT_IO_WRITABLE;
  if (!io || !cx || !interest)
    return WEFT_EINVAL;
  if (!weft__coop_proceed(cx))
    return 0;
  /* Both directions at once: the tick is recorded for each direction
   * asked, so either may be cleared afterwards. */
  uint32_t seen = 0;
  int rc = weft__sock_poll(&io->s, cx, interest, &seen);
  if (rc == 1 && ready)
    *ready = seen;
  return rc;
}

void weft_io_clear_ready(weft_io *io, uint32_t bits) {
  if (!io)
    return;
  if (bits & WEFT_IO_READABLE)
    weft__sock_clear(&io->s, WEFT_IO_READABLE);
  if (bits & WEFT_IO_WRITABLE)
    weft__sock_clear(&io->s, WEFT_IO_WRITABLE);
}

int weft_io_close(weft_io *io) {
  if (!io)
    return WEFT_EINVAL;
  return weft__sock_close(&io->s);
}

void weft_io_free(weft_io *io) {
  if (!io)
    return;
  /* weft_io does not own its fd: deregister only, unless closed. */
  weft__io_reg *r = atomic_load_explicit(&io->s.reg, memory_order_relaxed);
  if (r)
    weft__io_free(r);
  pthread_mutex_destroy(&io->s.init_mu);
  free(io);
}

int weft_io_fd(const weft_io *io) {
  return io ? atomic_load_explicit(&io->s.fd, memory_order_relaxed) : -1;
}

/* ---- readiness futures ------------------------------------------------------ */

typedef struct ready_state {
  weft_io *io;
  uint32_t dir;
} ready_state;

static weft_poll ready_poll(void *p, weft_context *cx, void *out) {
  ready_state *s = p;
  int rc = weft_io_poll_ready(s->io, cx, s->dir, NULL);
  if (rc == 0)
    return WEFT_PENDING;
  *(int *)out = rc < 0 ? rc : 0;
  return WEFT_READY;
}

static const weft_future_vtable ready_vt = {
    .struct_size = sizeof(weft_future_vtable),
    .poll = ready_poll,
    .drop = NULL,
};

static int make_ready(weft_io *io, uint32_t dir, weft_future **out) {
  if (!io || !out)
    return WEFT_EINVAL;
  ready_state s = {io, dir};
  return weft_future_new(&ready_vt, &s, sizeof s, sizeof(int), out);
}

int weft_io_readable(weft_io *io, weft_future **out) {
  return make_ready(io, WEFT_IO_READABLE, out);
}

int weft_io_writable(weft_io *io, weft_future **out) {
  return make_ready(io, WEFT_IO_WRITABLE, out);
}
