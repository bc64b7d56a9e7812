/* examples/switch-backend: one binary, any reactor backend.
 *
 * The program asks for no backend at all: weft_runtime_new(&rt, NULL)
 * takes the one named by the WEFT_BACKEND environment variable, or the
 * build's default. It then sleeps on a weft timer and does a TCP round
 * trip over 127.0.0.1 (skipped on the sim backend, whose time is virtual
 * and which serves no real sockets), and prints which backend ran, as the
 * runtime reports it (weft_runtime_backend_name).
 *
 *   WEFT_BACKEND=libev ./switch-backend     # backend: libev
 *
 * An unknown name is an error whose message lists the backends this build
 * can select (weft_backend_list). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

/* A task: sleep 10 ms, then (on real backends) connect to our own listener,
 * accept, and send one byte across. */
typedef struct trip {
  weft_coro co;
  weft_listener *l;
  int with_io;
  weft_future *sleep, *connect, *accept;
  weft_stream *client, *server; /* ours once the futures finished */
  uint64_t t0, slept_ns;
  int rc;
  char byte;
  size_t n;
} trip;

static weft_poll trip_poll(void *p, weft_context *cx, void *out) {
  trip *t = p;
  int *err = out;
  WEFT_CORO_BEGIN(&t->co);
  t->t0 = weft_now_ns();
  if ((*err = weft_sleep(10, &t->sleep)) < 0)
    WEFT_CORO_RETURN(&t->co);
  WEFT_AWAIT(&t->co, weft_future_poll(t->sleep, cx));
  t->slept_ns = weft_now_ns() - t->t0;
  if (!t->with_io)
    WEFT_CORO_RETURN(&t->co);
  {
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if ((*err = weft_listener_local_addr(t->l, &a, &len)) < 0 ||
        (*err = weft_tcp_connect((struct sockaddr *)&a, len, 5000,
                                 &t->connect)) < 0 ||
        (*err = weft_listener_accept(t->l, &t->accept)) < 0)
      WEFT_CORO_RETURN(&t->co);
  }
  WEFT_AWAIT(&t->co, weft_future_poll(t->connect, cx));
  WEFT_AWAIT(&t->co, weft_future_poll(t->accept, cx));
  {
    weft_stream_result *c = weft_future_output(t->connect);
    weft_stream_result *s = weft_future_output(t->accept);
    t->client = c->stream;
    t->server = s->stream;
    if ((*err = c->error ? c->error : s->error) < 0)
      WEFT_CORO_RETURN(&t->co);
    size_t n;
    /* One byte into an empty socket buffer: never PENDING. */
    if ((*err = weft_stream_poll_write(t->client, cx, "!", 1, &n)) < 0)
      WEFT_CORO_RETURN(&t->co);
  }
  WEFT_AWAIT(&t->co, (t->rc = weft_stream_poll_read(t->server, cx, &t->byte,
                                                    1, &t->n)) != WEFT_PENDING);
  *err = t->rc < 0 ? t->rc : t->n == 1 && t->byte == '!' ? 0 : WEFT_EIO;
  WEFT_CORO_END(&t->co);
}

static void trip_drop(void *p) {
  trip *t = p;
  weft_stream_free(t->client);
  weft_stream_free(t->server);
  weft_future_free(t->sleep);
  weft_future_free(t->connect);
  weft_future_free(t->accept);
}

static const weft_future_vtable trip_vt = {sizeof(weft_future_vtable),
                                           trip_poll, trip_drop};

int main(void) {
  const char *asked = getenv("WEFT_BACKEND");
  weft_runtime *rt;
  int rc = weft_runtime_new(&rt, NULL);
  if (rc < 0) {
    /* weft has printed its reason too; say it in one line of our own. */
    fprintf(stderr, "switch-backend: cannot start backend \"%s\": %s; "
                    "available:",
            asked ? asked : "(default)", weft_strerror(rc));
    const char *const *names = weft_backend_list();
    for (size_t i = 0; names[i]; i++)
      fprintf(stderr, " %s", names[i]);
    fputc('\n', stderr);
    return 1;
  }
  const char *name = weft_runtime_backend_name(rt);
  trip t = {.co = WEFT_CORO_INIT, .with_io = strcmp(name, "sim") != 0};
  struct sockaddr_storage a;
  socklen_t len;
  if (t.with_io && (weft_addr_parse("127.0.0.1:0", &a, &len) < 0 ||
                    weft_tcp_listen((struct sockaddr *)&a, len, 4, &t.l) < 0)) {
    fprintf(stderr, "switch-backend: cannot listen on 127.0.0.1\n");
    weft_runtime_free(rt);
    return 1;
  }
  int err = 0;
  rc = weft_block_on(rt, &trip_vt, &t, &err);
  trip_drop(&t); /* weft_block_on leaves the state to its owner */
  weft_listener_free(t.l);
  if (rc == 0)
    rc = err;
  if (rc < 0) {
    fprintf(stderr, "switch-backend: on %s: %s\n", name, weft_strerror(rc));
    weft_runtime_free(rt);
    return 1;
  }
  printf("backend: %s\n", name);
  printf("timer: slept %llu ms\n",
         (unsigned long long)((t.slept_ns + 500000) / 1000000));
  printf("tcp: %s\n", t.with_io ? "one byte across 127.0.0.1" : "skipped");
  weft_runtime_free(rt);
  return 0;
}
