/* examples/common/serve.c: runtime, listener and accept loop of the example
 * servers (see serve.h). */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acceptor {
  weft_listener *l;
  weft_runtime *rt;
  const serve_config *cfg;
  void *scratch; /* a connection's state, built here, copied by spawn */
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
      fprintf(stderr, "%s: accept: %s\n", a->cfg->name, weft_strerror(rc));
      continue;
    }
    weft_stream_set_nodelay(s, 1);
    memset(a->scratch, 0, a->cfg->conn_size);
    memcpy(a->scratch, &s, sizeof s);
    if (weft_spawn_detached(a->rt, a->cfg->conn_vt, a->scratch,
                            a->cfg->conn_size) < 0)
      weft_stream_free(s);
  }
}

static const weft_future_vtable accept_vt = {sizeof(weft_future_vtable),
                                             accept_poll, NULL};

int serve_forever(const serve_config *cfg) {
  const char *port = getenv("PORT");
  char addr_text[64];
  snprintf(addr_text, sizeof addr_text, "127.0.0.1:%s",
           port ? port : cfg->default_port);
  struct sockaddr_storage addr;
  socklen_t len;
  if (weft_addr_parse(addr_text, &addr, &len) < 0) {
    fprintf(stderr, "%s: bad address %s\n", cfg->name, addr_text);
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
    fprintf(stderr, "%s: runtime: %s\n", cfg->name, weft_strerror(rc));
    return 1;
  }

  acceptor a = {NULL, rt, cfg, calloc(1, cfg->conn_size)};
  rc = a.scratch ? weft_tcp_listen((struct sockaddr *)&addr, len, 1024, &a.l)
                 : WEFT_ENOMEM;
  if (rc < 0) {
    fprintf(stderr, "%s: listen %s: %s\n", cfg->name, addr_text,
            weft_strerror(rc));
    free(a.scratch);
    weft_runtime_free(rt);
    return 1;
  }
  fprintf(stderr, "%s: listening on %s (backend %s)\n", cfg->name, addr_text,
          weft_runtime_backend_name(rt));
  weft_join_handle *h;
  rc = weft_spawn(rt, &accept_vt, &a, sizeof a, 0, &h);
  if (rc == 0) {
    weft_join_wait(h, -1, NULL); /* serves until killed */
    weft_join_free(h);
  }
  weft_listener_free(a.l);
  weft_runtime_free(rt);
  free(a.scratch);
  return rc == 0 ? 0 : 1;
}
