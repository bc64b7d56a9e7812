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

typedef struct acceptor {
  weft_listener *l;
  weft_runtime *rt;
} acceptor;

static weft_poll accept_poll(void *p, weft_context *cx, void *out) {
  acceptor *a = p;
  (void)out;
  for (;;) {
    weft_stream *s;
    int rc = weft_listener_poll_accept(a->l, cx, &s, NULL, NULL);
    if (rc == WEFT_PENDING)
      return WEFT_PENDING;
    if (rc < 0) {
      fprintf(stderr, "http-hello: accept: %s\n", weft_strerror(rc));
      continue;
    }
    weft_stream_set_nodelay(s, 1);
    /* The state, buffers included, is copied into the task's single
     * allocation. */
    conn c = {0};
    c.s = s;
    if (weft_spawn_detached(a->rt, &conn_vt, &c, sizeof c) < 0)
      weft_stream_free(s);
  }
}

static const weft_future_vtable accept_vt = {sizeof(weft_future_vtable),
                                             accept_poll, NULL};

int main(void) {
  const char *port = getenv("PORT");
  char addr_text[64];
  snprintf(addr_text, sizeof addr_text, "127.0.0.1:%s", port ? port : "8080");
  struct sockaddr_storage addr;
  socklen_t len;
  if (weft_addr_parse(addr_text, &addr, &len) < 0) {
    fprintf(stderr, "http-hello: bad address %s\n", addr_text);
    return 2;
  }
  weft_builder *b;
  if (weft_builder_new(&b) < 0)
    return 1;
  const char *workers = getenv("WORKERS");
  if (workers && atoi(workers) > 0)
    weft_builder_worker_threads(b, (unsigned)atoi(workers));
  weft_runtime *rt;
  int rc = weft_builder_build(b, &rt);
  weft_builder_free(b);
  if (rc < 0) {
    fprintf(stderr, "http-hello: runtime: %s\n", weft_strerror(rc));
    return 1;
  }
  acceptor a = {NULL, rt};
  rc = weft_tcp_listen((struct sockaddr *)&addr, len, 1024, &a.l);
  if (rc < 0) {
    fprintf(stderr, "http-hello: listen %s: %s\n", addr_text,
            weft_strerror(rc));
    weft_runtime_free(rt);
    return 1;
  }
  fprintf(stderr, "http-hello: listening on %s (backend %s)\n", addr_text,
          weft_runtime_backend_name(rt));
  weft_join_handle *h;
  if (weft_spawn(rt, &accept_vt, &a, sizeof a, 0, &h) < 0) {
    weft_listener_free(a.l);
    weft_runtime_free(rt);
    return 1;
  }
  weft_join_wait(h, -1, NULL); /* serves until killed */
  weft_join_free(h);
  weft_listener_free(a.l);
  weft_runtime_free(rt);
  return 0;
}
