/* examples/libwire/server.c: the server half of libwire.
 *
 * One acceptor task owns the listener and a task group holding one task per
 * connection. Stopping the server aborts the acceptor; its drop frees the
 * group, which aborts every connection task, and closes the listener, so
 * nothing is left running and nothing refers to the freed server. The
 * connection tasks keep their own copy of the handler, never a pointer to
 * the server. */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "wire.h"

struct wire_server {
  weft_join_handle *acceptor;
  weft_listener *l; /* owned by the acceptor task; closed early by stop */
  int port;
};

/* ---- one connection -------------------------------------------------------- */

typedef struct conn {
  weft_stream *s;
  wire_handler handler;
  void *arg;
  size_t in_len;             /* bytes in `in` */
  size_t out_len, out_off;   /* reply bytes, and those already written */
  char in[WIRE_MAX_LINE + 1];
  char out[WIRE_MAX_LINE + 1];
} conn;

/* Answer the first complete line in `in`, if there is one: 1 when a reply
 * was queued, 0 when more input is needed, -1 to close. */
static int answer_one(conn *c) {
  char *nl = memchr(c->in, '\n', c->in_len);
  if (!nl)
    return c->in_len > WIRE_MAX_LINE ? -1 : 0; /* too long: give up */
  size_t len = (size_t)(nl - c->in);
  if (len && c->in[len - 1] == '\r')
    len--; /* be lenient with telnet and nc -C */
  int n = c->handler(c->arg, c->in, len, c->out, WIRE_MAX_LINE);
  if (n < 0 || n > WIRE_MAX_LINE)
    return -1;
  c->out[n] = '\n';
  c->out_len = (size_t)n + 1;
  c->out_off = 0;
  size_t used = (size_t)(nl - c->in) + 1;
  memmove(c->in, c->in + used, c->in_len - used);
  c->in_len -= used;
  return 1;
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
        return WEFT_READY; /* the peer left; drop closes the socket */
      c->out_off += n;
    }
    int a = answer_one(c);
    if (a < 0)
      return WEFT_READY;
    if (a > 0)
      continue; /* pipelined requests are answered in order */
    size_t n;
    int rc = weft_stream_poll_read(c->s, cx, c->in + c->in_len,
                                   sizeof c->in - c->in_len, &n);
    if (rc == WEFT_PENDING)
      return WEFT_PENDING;
    if (rc < 0 || n == 0)
      return WEFT_READY;
    c->in_len += n;
  }
}

static void conn_drop(void *p) { weft_stream_free(((conn *)p)->s); }

static const weft_future_vtable conn_vt = {sizeof(weft_future_vtable),
                                           conn_poll, conn_drop};

/* ---- the acceptor ------------------------------------------------------------ */

typedef struct acceptor {
  weft_listener *l;
  weft_group *conns;
  wire_handler handler;
  void *arg;
} acceptor;

static weft_poll acceptor_poll(void *p, weft_context *cx, void *out) {
  acceptor *a = p;
  (void)out;
  /* Release the handles of connections that have finished. This also
   * registers our waker with the group, which only costs a spurious poll
   * when a connection ends. */
  weft_join_handle *done;
  while (weft_group_poll_next(a->conns, cx, &done) == WEFT_READY && done)
    weft_join_free(done);
  for (;;) {
    conn c = {.handler = a->handler, .arg = a->arg};
    int rc = weft_listener_poll_accept(a->l, cx, &c.s, NULL, NULL);
    if (rc == WEFT_PENDING)
      return WEFT_PENDING;
    if (rc == WEFT_ECLOSED)
      return WEFT_READY; /* wire_server_stop closed the listener */
    if (rc < 0)
      continue; /* out of fds: the listener backs off by itself */
    if (weft_group_spawn(a->conns, &conn_vt, &c, sizeof c, 0) < 0)
      weft_stream_free(c.s); /* refuse this one, keep serving */
  }
}

static void acceptor_drop(void *p) {
  acceptor *a = p;
  weft_group_free(a->conns);
  weft_listener_free(a->l);
}

static const weft_future_vtable acceptor_vt = {sizeof(weft_future_vtable),
                                               acceptor_poll, acceptor_drop};

int wire_server_start(weft_runtime *rt, const char *addr, wire_handler handler,
                      void *arg, wire_server **out) {
  if (!rt || !addr || !handler || !out)
    return WEFT_EINVAL;
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = weft_addr_parse(addr, &ss, &len);
  if (rc < 0)
    return rc;
  wire_server *s = calloc(1, sizeof *s);
  if (!s)
    return WEFT_ENOMEM;
  acceptor a = {NULL, NULL, handler, arg};
  if ((rc = weft_tcp_listen((struct sockaddr *)&ss, len, 128, &a.l)) < 0 ||
      (rc = weft_group_new(rt, &a.conns)) < 0)
    goto fail;
  len = sizeof ss;
  if ((rc = weft_listener_local_addr(a.l, &ss, &len)) < 0)
    goto fail;
  s->port = ss.ss_family == AF_INET6
                ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  s->l = a.l;
  if ((rc = weft_spawn(rt, &acceptor_vt, &a, sizeof a, 0, &s->acceptor)) < 0)
    goto fail;
  *out = s;
  return 0;
fail:
  acceptor_drop(&a);
  free(s);
  return rc;
}

int wire_server_port(const wire_server *s) { return s ? s->port : -1; }

void wire_server_stop(wire_server *s) {
  if (!s)
    return;
  /* Close the socket here and now, so that a connect made after stop
   * returns is refused, even while the acceptor's drop is still to run on
   * another thread. */
  weft_listener_close(s->l);
  weft_join_abort(s->acceptor);
  weft_join_free(s->acceptor);
  free(s);
}
