/* tests/backends/test_backend_attach_rt.c: a whole weft runtime attached to
 * a loop the application runs, with the application's own repeating timer
 * interleaving with weft's tasks: real TCP echo traffic from client threads,
 * a clean detach, and the loop still usable afterwards. Built once per
 * library (WEFT_TEST_UV, WEFT_TEST_EVENT, WEFT_TEST_EV). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "echo_tasks.h"

#include <weft/attach.h>

static atomic_int clients_done;
static int app_ticks;

#if defined(WEFT_TEST_UV)
#include <uv.h>
typedef uv_loop_t app_loop;
static uv_timer_t tick;
static void tick_cb(uv_timer_t *t) {
  app_ticks++;
  if (atomic_load(&clients_done))
    uv_stop(t->loop);
}
static app_loop *app_new(void) {
  uv_loop_t *l = malloc(sizeof *l);
  uv_loop_init(l);
  uv_timer_init(l, &tick);
  return l;
}
static int app_attach(weft_runtime **rt, app_loop *l) {
  return weft_runtime_attach_uv(rt, l);
}
static void app_run(app_loop *l) {
  uv_timer_start(&tick, tick_cb, 5, 5);
  uv_run(l, UV_RUN_DEFAULT);
  uv_timer_stop(&tick);
}
static void count_cb(uv_handle_t *h, void *arg) {
  if (h != (uv_handle_t *)&tick)
    ++*(int *)arg;
}
static int app_leftovers(app_loop *l) {
  uv_run(l, UV_RUN_NOWAIT);
  int n = 0;
  uv_walk(l, count_cb, &n);
  return n;
}
static void app_free(app_loop *l) {
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(l, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(l), 0);
  free(l);
}
#elif defined(WEFT_TEST_EVENT)
#include <event2/event.h>
typedef struct event_base app_loop;
static struct event *tick;
static void tick_cb(evutil_socket_t fd, short w, void *arg) {
  (void)fd;
  (void)w;
  app_ticks++;
  if (atomic_load(&clients_done))
    event_base_loopbreak(arg);
}
static app_loop *app_new(void) {
  struct event_base *b = event_base_new();
  tick = event_new(b, -1, EV_PERSIST, tick_cb, b);
  return b;
}
static int app_attach(weft_runtime **rt, app_loop *l) {
  return weft_runtime_attach_event(rt, l);
}
static void app_run(app_loop *l) {
  struct timeval tv = {0, 5000};
  event_add(tick, &tv);
  event_base_dispatch(l);
  event_del(tick);
}
static int app_leftovers(app_loop *l) {
  return event_base_get_num_events(l, EVENT_BASE_COUNT_ADDED |
                                          EVENT_BASE_COUNT_ACTIVE);
}
static void app_free(app_loop *l) {
  event_free(tick);
  event_base_free(l);
}
#elif defined(WEFT_TEST_EV)
#include <ev.h>
typedef struct ev_loop app_loop;
static ev_timer tick;
static void tick_cb(struct ev_loop *l, ev_timer *t, int rev) {
  (void)t;
  (void)rev;
  app_ticks++;
  if (atomic_load(&clients_done))
    ev_break(l, EVBREAK_ALL);
}
static app_loop *app_new(void) {
  ev_timer_init(&tick, tick_cb, 0.005, 0.005);
  return ev_loop_new(EVFLAG_AUTO);
}
static int app_attach(weft_runtime **rt, app_loop *l) {
  return weft_runtime_attach_ev(rt, l);
}
static void app_run(app_loop *l) {
  ev_timer_again(l, &tick);
  ev_run(l, 0);
  ev_timer_stop(l, &tick);
}
static int app_leftovers(app_loop *l) {
  /* ev_run returns true while active (referenced) watchers remain. */
  return ev_run(l, EVRUN_NOWAIT) ? 1 : 0;
}
static void app_free(app_loop *l) { ev_loop_destroy(l); }
#else
#error "define WEFT_TEST_UV, WEFT_TEST_EVENT or WEFT_TEST_EV"
#endif

typedef struct clients {
  echo_client cl[4];
  pthread_t th[4];
  int n;
} clients;

static void *clients_main(void *p) {
  clients *c = p;
  for (int i = 0; i < c->n; i++)
    pthread_create(&c->th[i], NULL, echo_client_main, &c->cl[i]);
  for (int i = 0; i < c->n; i++)
    pthread_join(c->th[i], NULL);
  atomic_store(&clients_done, 1);
  return NULL;
}

/* Waves of short connections: fd numbers are reused constantly while the
 * loop thread closes the old ones. */
static void *churn_main(void *p) {
  clients *c = p;
  int waves = test_scale_rounds(15);
  for (int w = 0; w < waves; w++) {
    for (int i = 0; i < c->n; i++) {
      c->cl[i].ok = 0;
      pthread_create(&c->th[i], NULL, echo_client_main, &c->cl[i]);
    }
    for (int i = 0; i < c->n; i++) {
      pthread_join(c->th[i], NULL);
      if (c->cl[i].ok != c->cl[i].rounds)
        atomic_store(&clients_done, 2); /* remember the failure */
    }
  }
  if (atomic_load(&clients_done) == 0)
    atomic_store(&clients_done, 1);
  return NULL;
}

static void test_attach_rt_connection_churn(void **state) {
  (void)state;
  app_loop *l = app_new();
  weft_runtime *rt = NULL;
  assert_int_equal(app_attach(&rt, l), 0);
  weft_listener *lis = NULL;
  int port = echo_listen(&lis);
  assert_true(port > 0);
  atomic_int accepted = 0;
  echo_server sv = {lis, rt, &accepted};
  assert_int_equal(weft_spawn_detached(rt, &echo_server_vt, &sv, sizeof sv),
                   0);
  clients c = {.n = 4};
  for (int i = 0; i < c.n; i++)
    c.cl[i] = (echo_client){port, 3, 32, 0};
  atomic_store(&clients_done, 0);
  pthread_t th;
  pthread_create(&th, NULL, churn_main, &c);
  app_run(l);
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&clients_done), 1);
  assert_int_equal(atomic_load(&accepted), c.n * test_scale_rounds(15));
  weft_listener_free(lis);
  assert_int_equal(weft_runtime_detach(rt), 0);
  assert_int_equal(app_leftovers(l), 0);
  app_free(l);
}

static void test_attach_rt_echo_interleaves(void **state) {
  (void)state;
  app_loop *l = app_new();
  weft_runtime *rt = NULL;
  assert_int_equal(app_attach(&rt, l), 0);
  weft_listener *lis = NULL;
  int port = echo_listen(&lis);
  assert_true(port > 0);
  atomic_int accepted = 0;
  echo_server sv = {lis, rt, &accepted};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &echo_server_vt, &sv, sizeof sv, 0, &h), 0);
  int rounds = test_scale_rounds(300);
  clients c = {.n = 3};
  for (int i = 0; i < c.n; i++)
    c.cl[i] = (echo_client){port, rounds, 64, 0};
  atomic_store(&clients_done, 0);
  app_ticks = 0;
  pthread_t th;
  pthread_create(&th, NULL, clients_main, &c);
  app_run(l);
  pthread_join(th, NULL);
  for (int i = 0; i < c.n; i++)
    assert_int_equal(c.cl[i].ok, rounds);
  assert_int_equal(atomic_load(&accepted), c.n);
  /* The application's own timer kept firing while weft served. */
  assert_true(app_ticks >= 2);
  /* Stop the accept loop: it finishes on the loop thread's next turn. */
  weft_listener_close(lis);
  atomic_store(&clients_done, 1);
  app_run(l);
  weft_join_result res;
  assert_int_equal(weft_join_wait(h, 0, &res), 0);
  assert_int_equal(res.status, WEFT_JOIN_COMPLETED);
  weft_join_free(h);
  weft_listener_free(lis);
  assert_int_equal(weft_runtime_detach(rt), 0);
  assert_int_equal(app_leftovers(l), 0);
  /* The loop is still usable after the detach. */
  app_ticks = 0;
  app_run(l);
  assert_true(app_ticks >= 1);
  app_free(l);
}

/* Detaching with tasks still waiting on sockets drops them and leaves no
 * handle behind. */
static void test_attach_rt_detach_with_live_tasks(void **state) {
  (void)state;
  app_loop *l = app_new();
  weft_runtime *rt = NULL;
  assert_int_equal(app_attach(&rt, l), 0);
  weft_listener *lis = NULL;
  int port = echo_listen(&lis);
  assert_true(port > 0);
  atomic_int accepted = 0;
  echo_server sv = {lis, rt, &accepted};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &echo_server_vt, &sv, sizeof sv, 0, &h), 0);
  clients c = {.n = 1};
  c.cl[0] = (echo_client){port, 5, 16, 0};
  atomic_store(&clients_done, 0);
  pthread_t th;
  pthread_create(&th, NULL, clients_main, &c);
  app_run(l);
  pthread_join(th, NULL);
  assert_int_equal(c.cl[0].ok, 5);
  /* Socket objects belong to the runtime that polled them: free them first.
   * The accept task stays alive (nothing runs it while the loop is not
   * running) until the detach drops it. */
  weft_listener_free(lis);
  assert_int_equal(weft_runtime_detach(rt), 0);
  weft_join_result res;
  assert_int_equal(weft_join_wait(h, 0, &res), 0);
  assert_int_equal(res.status, WEFT_JOIN_CANCELLED);
  weft_join_free(h);
  assert_int_equal(app_leftovers(l), 0);
  app_free(l);
}

static void test_attach_rt_bad_args(void **state) {
  (void)state;
  weft_runtime *rt = NULL;
  assert_int_equal(weft_runtime_attach(&rt, "libuv", NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_runtime_attach(NULL, "libuv", &rt, NULL), WEFT_EINVAL);
  assert_int_equal(weft_runtime_detach(NULL), WEFT_EINVAL);
  app_loop *l = app_new();
  assert_int_equal(weft_runtime_attach(&rt, "no-such-backend", l, NULL),
                   WEFT_EBACKEND);
  app_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_attach_rt_echo_interleaves),
      cmocka_unit_test(test_attach_rt_detach_with_live_tasks),
      cmocka_unit_test(test_attach_rt_connection_churn),
      cmocka_unit_test(test_attach_rt_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
