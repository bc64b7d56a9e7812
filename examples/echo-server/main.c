/* examples/echo-server: a TCP echo server on weft.
 *
 * Listens on 127.0.0.1:$PORT (default 7000) and writes back every byte it
 * reads, one task per connection, on a multi-threaded runtime with
 * $WORKERS workers (default: weft's, one per CPU). The reactor backend is
 * the build default unless $WEFT_BACKEND names another ("libuv"...).
 *
 * Each connection is a hand-written future: read what is there, write it
 * all back, repeat. The poll-style calls (weft_stream_poll_read/_write)
 * allocate nothing, so a request costs no malloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

#include "../common/serve.h"

typedef struct conn {
  weft_stream *s;
  size_t len, off; /* bytes in buf, bytes of them written back */
  char buf[4096];
} conn;

static weft_poll conn_poll(void *p, weft_context *cx, void *out) {
  conn *c = p;
  (void)out;
  for (;;) {
    while (c->off < c->len) {
      size_t n;
      int rc = weft_stream_poll_write(c->s, cx, c->buf + c->off,
                                      c->len - c->off, &n);
      if (rc == WEFT_PENDING)
        return WEFT_PENDING;
      if (rc < 0)
        return WEFT_READY; /* peer gone: the drop closes the socket */
      c->off += n;
    }
    size_t n;
    int rc = weft_stream_poll_read(c->s, cx, c->buf, sizeof c->buf, &n);
    if (rc == WEFT_PENDING)
      return WEFT_PENDING;
    if (rc < 0 || n == 0)
      return WEFT_READY; /* error or end of stream */
    c->len = n;
    c->off = 0;
  }
}

static void conn_drop(void *p) { weft_stream_free(((conn *)p)->s); }

static const weft_future_vtable conn_vt = {sizeof(weft_future_vtable),
                                           conn_poll, conn_drop};

int main(void) {
  static const serve_config cfg = {"echo-server", "7000", &conn_vt,
                                   sizeof(conn)};
  return serve_forever(&cfg);
}
