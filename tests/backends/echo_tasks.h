/* tests/backends/echo_tasks.h: a TCP echo server written as weft tasks, and
 * blocking client threads that drive real traffic through it. Shared by the
 * owned-mode and attach-mode runtime tests. Header-only, static. */
#ifndef WEFT_TESTS_ECHO_TASKS_H
#define WEFT_TESTS_ECHO_TASKS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>
#include <weft/net.h>

/* ---- One connection: read, write back, until EOF ----------------------- */
typedef struct echo_conn {
  weft_stream *s;
  char buf[512];
  size_t len, off;
  int writing;
} echo_conn;

static void echo_conn_drop(void *p) {
  echo_conn *c = p;
  weft_stream_free(c->s);
  c->s = NULL;
}

static weft_poll echo_conn_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  echo_conn *c = p;
  for (;;) {
    size_t n = 0;
    int r;
    if (!c->writing) {
      r = weft_stream_poll_read(c->s, cx, c->buf, sizeof c->buf, &n);
      if (r == 0)
        return WEFT_PENDING;
      if (r < 0 || n == 0)
        return WEFT_READY; /* EOF or error: drop closes the stream */
      c->len = n;
      c->off = 0;
      c->writing = 1;
    } else {
      r = weft_stream_poll_write(c->s, cx, c->buf + c->off, c->len - c->off,
                                 &n);
      if (r == 0)
        return WEFT_PENDING;
      if (r < 0)
        return WEFT_READY;
      c->off += n;
      if (c->off == c->len)
        c->writing = 0;
    }
  }
}

static const weft_future_vtable echo_conn_vt = {
    sizeof(weft_future_vtable), echo_conn_poll, echo_conn_drop};

/* ---- The accept loop -------------------------------------------------- */
typedef struct echo_server {
  weft_listener *l; /* owned by the test, closed to stop the loop */
  weft_runtime *rt;
  atomic_int *accepted;
} echo_server;

static weft_poll echo_server_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  echo_server *sv = p;
  for (;;) {
    weft_stream *s = NULL;
    int r = weft_listener_poll_accept(sv->l, cx, &s, NULL, NULL);
    if (r == 0)
      return WEFT_PENDING;
    if (r < 0)
      return WEFT_READY; /* closed */
    weft_stream_set_nodelay(s, 1);
    echo_conn c;
    memset(&c, 0, sizeof c);
    c.s = s;
    if (weft_spawn_detached(sv->rt, &echo_conn_vt, &c, sizeof c) != 0)
      weft_stream_free(s);
    else
      atomic_fetch_add(sv->accepted, 1);
  }
}

static const weft_future_vtable echo_server_vt = {sizeof(weft_future_vtable),
                                                  echo_server_poll, NULL};

/* Listen on 127.0.0.1:0; returns the port. */
static int echo_listen(weft_listener **l) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (weft_tcp_listen((struct sockaddr *)&a, sizeof a, 128, l) != 0)
    return -1;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (weft_listener_local_addr(*l, &ss, &len) != 0)
    return -1;
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- Blocking clients ------------------------------------------------- */
typedef struct echo_client {
  int port;
  int rounds;
  int size;
  int ok; /* rounds echoed correctly */
} echo_client;

static void *echo_client_main(void *p) {
  echo_client *c = p;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)c->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return NULL;
  }
  char out[4096], in[4096];
  for (int r = 0; r < c->rounds; r++) {
    for (int i = 0; i < c->size; i++)
      out[i] = (char)(r * 31 + i);
    if (write(fd, out, (size_t)c->size) != c->size)
      break;
    int got = 0;
    while (got < c->size) {
      ssize_t n = read(fd, in + got, (size_t)(c->size - got));
      if (n <= 0)
        break;
      got += (int)n;
    }
    if (got != c->size || memcmp(in, out, (size_t)c->size) != 0)
      break;
    c->ok++;
  }
  close(fd);
  return NULL;
}

static int test_scale_rounds(int rounds) {
  const char *s = getenv("WEFT_TEST_SCALE");
  if (s && *s) {
    double f = atof(s);
    if (f > 0)
      rounds = (int)(rounds * f);
  }
  return rounds < 1 ? 1 : rounds;
}

#endif /* WEFT_TESTS_ECHO_TASKS_H */
