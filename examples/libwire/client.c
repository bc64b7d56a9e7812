/* examples/libwire/client.c: the client half of libwire.
 *
 * A request is a boxed future (weft_future_new) written with the coroutine
 * macros: connect, write the line, read until '\n', close. Everything it
 * owns lives in its state, so dropping it at any await (a timeout, an
 * aborted task) releases the socket. */
#include <string.h>

#include "wire.h"

typedef struct request {
  weft_coro co;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  uint64_t timeout_ms;
  weft_future *connect;
  weft_stream *s;
  size_t req_len, off;
  int rc;
  char req[WIRE_MAX_LINE + 1];
  char in[WIRE_MAX_LINE + 2];
} request;

static weft_poll request_poll(void *p, weft_context *cx, void *out) {
  request *r = p;
  wire_reply *reply = out;
  size_t n = 0;
  WEFT_CORO_BEGIN(&r->co);
  if ((reply->error = weft_tcp_connect((struct sockaddr *)&r->addr,
                                       r->addr_len, r->timeout_ms,
                                       &r->connect)) < 0)
    WEFT_CORO_RETURN(&r->co);
  WEFT_AWAIT(&r->co, weft_future_poll(r->connect, cx));
  {
    weft_stream_result *res = weft_future_output(r->connect);
    r->s = res->stream;
    if ((reply->error = res->error) < 0)
      WEFT_CORO_RETURN(&r->co);
  }
  for (r->off = 0; r->off < r->req_len; r->off += n) {
    WEFT_AWAIT(&r->co, (r->rc = weft_stream_poll_write(
                            r->s, cx, r->req + r->off, r->req_len - r->off,
                            &n)) != WEFT_PENDING);
    if ((reply->error = r->rc < 0 ? r->rc : 0) < 0)
      WEFT_CORO_RETURN(&r->co);
  }
  for (r->off = 0;;) {
    char *nl = memchr(r->in, '\n', r->off);
    if (nl) {
      reply->len = (size_t)(nl - r->in);
      memcpy(reply->line, r->in, reply->len);
      reply->line[reply->len] = '\0';
      reply->error = 0;
      break;
    }
    if (r->off == sizeof r->in) {
      reply->error = WEFT_EMSGSIZE;
      break;
    }
    WEFT_AWAIT(&r->co, (r->rc = weft_stream_poll_read(
                            r->s, cx, r->in + r->off, sizeof r->in - r->off,
                            &n)) != WEFT_PENDING);
    if (r->rc < 0 || n == 0) {
      reply->error = r->rc < 0 ? r->rc : WEFT_EEOF;
      break;
    }
    r->off += n;
  }
  weft_stream_free(r->s);
  r->s = NULL;
  WEFT_CORO_END(&r->co);
}

static void request_drop(void *p) {
  request *r = p;
  weft_stream_free(r->s);
  weft_future_free(r->connect);
}

static const weft_future_vtable request_vt = {sizeof(weft_future_vtable),
                                              request_poll, request_drop};

int wire_client_request(const char *addr, const char *line,
                        uint64_t timeout_ms, weft_future **out) {
  if (!addr || !line || !out)
    return WEFT_EINVAL;
  request r;
  memset(&r, 0, sizeof r);
  size_t len = strlen(line);
  if (len > WIRE_MAX_LINE || memchr(line, '\n', len))
    return WEFT_EINVAL;
  int rc = weft_addr_parse(addr, &r.addr, &r.addr_len);
  if (rc < 0)
    return rc;
  memcpy(r.req, line, len);
  r.req[len] = '\n';
  r.req_len = len + 1;
  r.timeout_ms = timeout_ms;
  /* The state is copied into the future; `r` owns nothing yet. */
  return weft_future_new(&request_vt, &r, sizeof r, sizeof(wire_reply), out);
}
