/* examples/http-hello: an HTTP/1.1 keep-alive server that answers every
 * request with "Hello, World!".
 *
 * Listens on 127.0.0.1:$PORT (default 8080), one task per connection, on a
 * multi-threaded runtime with $WORKERS workers; $WEFT_BACKEND picks the
 * reactor backend. It is the http_plaintext server of the benchmarks: it
 * parses only as much HTTP as that needs (a request ends at an empty line;
 * requests without a body), and answers pipelined requests in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

#include "../common/serve.h"

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Server: weft\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 13\r\n"
                               "\r\n"
                               "Hello, World!";
#define RESPONSE_LEN (sizeof response - 1)
#define MAX_PIPELINED 16

typedef struct conn {
  weft_stream *s;
  size_t in;            /* bytes of request data in `req` */
  size_t out_len, out_off;
  char req[4096];
  char out[RESPONSE_LEN * MAX_PIPELINED];
} conn;

/* Take the complete requests at the front of c->req, queue one response
 * per request, and keep the incomplete rest. Returns -1 when a request
 * does not fit the buffer. */
static int take_requests(conn *c) {
  size_t start = 0;
  while (c->out_len + RESPONSE_LEN <= sizeof c->out) {
    char *end = NULL;
    for (size_t i = start; i + 3 < c->in; i++) {
      if (c->req[i] == '\r' && !memcmp(c->req + i, "\r\n\r\n", 4)) {
        end = c->req + i + 4;
        break;
      }
    }
    if (!end)
      break;
    memcpy(c->out + c->out_len, response, RESPONSE_LEN);
    c->out_len += RESPONSE_LEN;
    start = (size_t)(end - c->req);
  }
  memmove(c->req, c->req + start, c->in - start);
  c->in -= start;
  return c->in == sizeof c->req ? -1 : 0;
}

static weft_poll conn_poll(void *p, weft_context *cx, void *out) {
  conn *c = p;
  (void)out;
  for (;;) {
    while (c->out_off < c->out_len) {
      size_t n;
      int rc = weft_stream_poll_write(c->s, cx, c->out + c->out_off,
                                      c->out_len - c->out_off, &n);
      if (rc == WEFT_PENDING)
        return WEFT_PENDING;
      if (rc < 0)
        return WEFT_READY;
      c->out_off += n;
    }
    c->out_len = c->out_off = 0;
    if (take_requests(c) < 0)
      return WEFT_READY; /* request too large: drop the connection */
    if (c->out_len)
      continue;
    size_t n;
    int rc = weft_stream_poll_read(c->s, cx, c->req + c->in,
                                   sizeof c->req - c->in, &n);
    if (rc == WEFT_PENDING)
      return WEFT_PENDING;
    if (rc < 0 || n == 0)
      return WEFT_READY;
    c->in += n;
  }
}

static void conn_drop(void *p) { weft_stream_free(((conn *)p)->s); }

static const weft_future_vtable conn_vt = {sizeof(weft_future_vtable),
                                           conn_poll, conn_drop};

int main(void) {
  static const serve_config cfg = {"http-hello", "8080", &conn_vt,
                                   sizeof(conn)};
  return serve_forever(&cfg);
}
