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
      /* Out of fds: weft backs off by itself; say it once and go on. */
      fprintf(stderr, "echo-server: accept: %s\n", weft_strerror(rc));
      continue;
    }
    weft_stream_set_nodelay(s, 1);
    conn c;
    c.s = s;
    c.len = c.off = 0;
    /* The state, buffer included, is copied into the task's single
     * allocation. */
    if (weft_spawn_detached(a->rt, &conn_vt, &c, sizeof c) < 0)
      weft_stream_free(s);
  }
}

static const weft_future_vtable accept_vt = {sizeof(weft_future_vtable),
                                             accept_poll, NULL};

int main(void) {
  const char *port = getenv("PORT");
  char addr_text[64];
  snprintf(addr_text, sizeof addr_text, "127.0.0.1:%s", port ? port : "7000");
  struct sockaddr_storage addr;
  socklen_t len;
  if (weft_addr_parse(addr_text, &addr, &len) < 0) {
    fprintf(stderr, "echo-server: bad address %s\n", addr_text);
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
    fprintf(stderr, "echo-server: runtime: %s\n", weft_strerror(rc));
    return 1;
  }

  acceptor a = {NULL, rt};
  rc = weft_tcp_listen((struct sockaddr *)&addr, len, 1024, &a.l);
  if (rc < 0) {
    fprintf(stderr, "echo-server: listen %s: %s\n", addr_text,
            weft_strerror(rc));
    weft_runtime_free(rt);
    return 1;
  }
  fprintf(stderr, "echo-server: listening on %s (backend %s)\n", addr_text,
          weft_runtime_backend_name(rt));
  weft_join_handle *h;
  rc = weft_spawn(rt, &accept_vt, &a, sizeof a, 0, &h);
  if (rc < 0) {
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
