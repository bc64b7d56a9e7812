/* tests/backends/test_backend_runtime.c: a whole runtime on a library
 * backend (owned mode), selected by name: real TCP echo traffic through
 * multi-threaded and current-thread runtimes, selection through the builder
 * and through WEFT_BACKEND, and weft_backend_list.
 *
 * Usage: test_backend_runtime NAME   (libuv, libevent, libev) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "echo_tasks.h"

static const char *backend;

static weft_runtime *build(unsigned workers, weft_flavor flavor) {
  weft_builder *b;
  assert_int_equal(weft_builder_new(&b), 0);
  assert_int_equal(weft_builder_backend(b, backend), 0);
  assert_int_equal(weft_builder_flavor(b, flavor), 0);
  if (flavor == WEFT_FLAVOR_MULTI_THREAD)
    assert_int_equal(weft_builder_worker_threads(b, workers), 0);
  weft_runtime *rt = NULL;
  assert_int_equal(weft_builder_build(b, &rt), 0);
  weft_builder_free(b);
  assert_string_equal(weft_runtime_backend_name(rt), backend);
  return rt;
}

/* Start the echo server on `rt`, run `nclients` blocking clients against
 * it, and check every round trip. */
static void run_echo(weft_runtime *rt, int nclients, int rounds, int size) {
  weft_listener *l = NULL;
  int port = echo_listen(&l);
  assert_true(port > 0);
  atomic_int accepted = 0;
  echo_server sv = {l, rt, &accepted};
  weft_join_handle *h = NULL;
  assert_int_equal(weft_spawn(rt, &echo_server_vt, &sv, sizeof sv, 0, &h), 0);
  pthread_t th[8];
  echo_client cl[8];
  for (int i = 0; i < nclients; i++) {
    cl[i] = (echo_client){port, rounds, size, 0};
    pthread_create(&th[i], NULL, echo_client_main, &cl[i]);
  }
  for (int i = 0; i < nclients; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(cl[i].ok, rounds);
  }
  assert_int_equal(atomic_load(&accepted), nclients);
  weft_listener_close(l);
  weft_join_result res;
  assert_int_equal(weft_join_wait(h, 5000, &res), 0);
  weft_join_free(h);
  weft_listener_free(l);
}

static void test_runtime_echo_multi_thread(void **state) {
  (void)state;
  weft_runtime *rt = build(2, WEFT_FLAVOR_MULTI_THREAD);
  run_echo(rt, 4, test_scale_rounds(500), 64);
  run_echo(rt, 2, test_scale_rounds(50), 4000); /* several reads per echo */
  weft_runtime_free(rt);
}

static void test_runtime_echo_one_worker(void **state) {
  (void)state;
  weft_runtime *rt = build(1, WEFT_FLAVOR_MULTI_THREAD);
  run_echo(rt, 3, test_scale_rounds(300), 64);
  weft_runtime_free(rt);
}

/* Connection churn: fd numbers are reused constantly while the loop
 * thread closes the old ones. */
static void test_runtime_echo_churn(void **state) {
  (void)state;
  weft_runtime *rt = build(2, WEFT_FLAVOR_MULTI_THREAD);
  int n = test_scale_rounds(40);
  for (int i = 0; i < n; i++)
    run_echo(rt, 3, 3, 32);
  weft_runtime_free(rt);
}

static void test_runtime_selected_by_env(void **state) {
  (void)state;
  setenv("WEFT_BACKEND", backend, 1);
  weft_runtime *rt = NULL;
  assert_int_equal(weft_runtime_new(&rt, NULL), 0);
  assert_string_equal(weft_runtime_backend_name(rt), backend);
  run_echo(rt, 2, test_scale_rounds(100), 64);
  weft_runtime_free(rt);
  /* An explicit builder call wins over the environment. */
  setenv("WEFT_BACKEND", "epoll", 1);
  rt = build(1, WEFT_FLAVOR_MULTI_THREAD);
  weft_runtime_free(rt);
  unsetenv("WEFT_BACKEND");
}

static void test_runtime_listed(void **state) {
  (void)state;
  const char *const *names = weft_backend_list();
  assert_non_null(names);
  int found = 0;
  for (size_t i = 0; names[i]; i++)
    found |= strcmp(names[i], backend) == 0;
  assert_true(found);
}

int main(int argc, char **argv) {
  backend = argc > 1 ? argv[1] : "libuv";
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_runtime_echo_multi_thread),
      cmocka_unit_test(test_runtime_echo_one_worker),
      cmocka_unit_test(test_runtime_echo_churn),
      cmocka_unit_test(test_runtime_selected_by_env),
      cmocka_unit_test(test_runtime_listed),
  };
  return cmocka_run_group_tests_name(backend, tests, NULL, NULL);
}
