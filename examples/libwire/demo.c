/* examples/libwire/demo.c: the server handler and the client task the
 * libwire hosts share. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

int demo_handler(void *arg, const char *line, size_t len, char *reply,
                 size_t cap) {
  (void)arg;
  if (len == 4 && !memcmp(line, "PING", 4))
    return snprintf(reply, cap, "PONG");
  if (len >= 6 && !memcmp(line, "UPPER ", 6)) {
    size_t n = len - 6 < cap ? len - 6 : cap;
    for (size_t i = 0; i < n; i++)
      reply[i] = (char)toupper((unsigned char)line[6 + i]);
    return (int)n;
  }
  if (len >= 4 && !memcmp(line, "ADD ", 4) && len < 64) {
    char num[64];
    memcpy(num, line + 4, len - 4);
    num[len - 4] = '\0';
    long a, b;
    if (sscanf(num, "%ld %ld", &a, &b) == 2)
      return snprintf(reply, cap, "%ld", a + b);
  }
  return snprintf(reply, cap, "ERR unknown command");
}

static const struct {
  const char *request, *reply;
} script[] = {
    {"PING", "PONG"},
    {"UPPER hello, loop", "HELLO, LOOP"},
    {"ADD 2 40", "42"},
    {"FLY", "ERR unknown command"},
};
enum { N_SCRIPT = sizeof script / sizeof *script };

typedef struct client {
  weft_coro co;
  char addr[32];
  const int *native_ticks;
  unsigned i;
  weft_future *req, *pause;
} client;

static weft_poll client_poll(void *p, weft_context *cx, void *out) {
  client *c = p;
  int *wrong = out;
  WEFT_CORO_BEGIN(&c->co);
  *wrong = 0;
  for (c->i = 0; c->i < N_SCRIPT; c->i++) {
    if (wire_client_request(c->addr, script[c->i].request, 2000, &c->req) <
        0) {
      ++*wrong;
      continue;
    }
    WEFT_AWAIT(&c->co, weft_future_poll(c->req, cx));
    {
      wire_reply *r = weft_future_output(c->req);
      int ok = r->error == 0 && !strcmp(r->line, script[c->i].reply);
      *wrong += !ok;
      printf("client: %s -> %s%s (host timer ticks so far: %d)\n",
             script[c->i].request, r->error ? weft_strerror(r->error) : r->line,
             ok ? "" : " UNEXPECTED", *c->native_ticks);
      fflush(stdout);
    }
    weft_future_free(c->req);
    c->req = NULL;
    /* A pause, so the host's own timer fires between requests. */
    if (weft_sleep(20, &c->pause) < 0)
      continue;
    WEFT_AWAIT(&c->co, weft_future_poll(c->pause, cx));
    weft_future_free(c->pause);
    c->pause = NULL;
  }
  WEFT_CORO_END(&c->co);
}

static void client_drop(void *p) {
  client *c = p;
  weft_future_free(c->req);
  weft_future_free(c->pause);
}

static const weft_future_vtable client_vt = {sizeof(weft_future_vtable),
                                             client_poll, client_drop};

int demo_client_spawn(weft_runtime *rt, int port, const int *native_ticks,
                      weft_join_handle **handle) {
  client c = {.co = WEFT_CORO_INIT, .native_ticks = native_ticks};
  snprintf(c.addr, sizeof c.addr, "127.0.0.1:%d", port);
  return weft_spawn(rt, &client_vt, &c, sizeof c, sizeof(int), handle);
}

int demo_client_status(weft_join_handle *h) {
  weft_join_result res;
  if (weft_join_wait(h, 0, &res) < 0 || res.status != WEFT_JOIN_COMPLETED)
    return 1;
  return *(int *)res.output == 0 ? 0 : 1;
}
