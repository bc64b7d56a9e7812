/* tests/reactor/test_registry.c: backend selection and module loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reactor/reactor.h"

#ifndef TEST_MODULE_DIR
#error "TEST_MODULE_DIR must name the directory of the test modules"
#endif

static int open_cfg(const char *name, const char *module,
                    const weft_backend **be, void **h) {
  weft__config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.backend_name = name;
  cfg.backend_module = module;
  return weft__backend_open(&cfg, be, h);
}

static void test_registry_builtins_by_name(void **state) {
  (void)state;
  const weft_backend *be;
  void *h;
  unsetenv("WEFT_BACKEND");
  assert_int_equal(open_cfg("epoll", NULL, &be, &h), 0);
  assert_string_equal(be->name, "epoll");
  assert_null(h);
  assert_int_equal(open_cfg("sim", NULL, &be, &h), 0);
  assert_string_equal(be->name, "sim");
  /* No choice at all: the build default. */
  assert_int_equal(open_cfg(NULL, NULL, &be, &h), 0);
  assert_string_equal(be->name, WEFT_DEFAULT_BACKEND);
}

static void test_registry_env_then_builder_wins(void **state) {
  (void)state;
  const weft_backend *be;
  void *h;
  setenv("WEFT_BACKEND", "sim", 1);
  assert_int_equal(open_cfg(NULL, NULL, &be, &h), 0);
  assert_string_equal(be->name, "sim"); /* env over the default */
  assert_int_equal(open_cfg("epoll", NULL, &be, &h), 0);
  assert_string_equal(be->name, "epoll"); /* builder over env */
  setenv("WEFT_BACKEND", "no-such-backend", 1);
  assert_int_equal(open_cfg(NULL, NULL, &be, &h), WEFT_EBACKEND);
  unsetenv("WEFT_BACKEND");
}

static void test_registry_unknown_name_fails(void **state) {
  (void)state;
  const weft_backend *be;
  void *h;
  assert_int_equal(open_cfg("nonesuch", NULL, &be, &h), WEFT_EBACKEND);
  /* A name is never a path. */
  assert_int_equal(open_cfg("../../etc/x", NULL, &be, &h), WEFT_EBACKEND);
}

static void test_registry_module_by_path(void **state) {
  (void)state;
  const weft_backend *be;
  void *h;
  assert_int_equal(
      open_cfg(NULL, TEST_MODULE_DIR "/libweft-backend-testep.so", &be, &h),
      0);
  assert_string_equal(be->name, "testep");
  assert_non_null(h);
  weft__backend_release(h);
  assert_int_equal(open_cfg(NULL, TEST_MODULE_DIR "/nonexistent.so", &be, &h),
                   WEFT_EBACKEND);
}

static void test_registry_unknown_abi_rejected(void **state) {
  (void)state;
  const weft_backend *be;
  void *h;
  assert_int_equal(
      open_cfg(NULL, TEST_MODULE_DIR "/libweft-backend-badabi.so", &be, &h),
      WEFT_EABI);
  weft_backend bogus = weft__backend_epoll;
  bogus.abi_version = 0x12340001u; /* wrong magic */
  assert_int_equal(weft__backend_validate(&bogus), WEFT_EABI);
  bogus = weft__backend_epoll;
  bogus.struct_size = 8;
  assert_int_equal(weft__backend_validate(&bogus), WEFT_EABI);
  bogus = weft__backend_epoll;
  bogus.wake = NULL;
  assert_int_equal(weft__backend_validate(&bogus), WEFT_EINVAL);
  assert_int_equal(weft__backend_validate(&weft__backend_epoll), 0);
}

static void test_registry_module_by_name_on_search_path(void **state) {
  (void)state;
  const weft_backend *be;
  void *h;
  /* The list is computed once, so the path is set before its first use. */
  assert_int_equal(open_cfg("testep", NULL, &be, &h), 0);
  assert_string_equal(be->name, "testep");
  weft__backend_release(h);
  const char *const *l = weft_backend_list();
  int epoll = 0, sim = 0, testep = 0, n = 0;
  for (; l[n]; n++) {
    epoll += !strcmp(l[n], "epoll");
    sim += !strcmp(l[n], "sim");
    testep += !strcmp(l[n], "testep");
  }
  assert_int_equal(epoll, 1);
  assert_int_equal(sim, 1);
  assert_int_equal(testep, 1);
  assert_string_equal(l[0], "epoll"); /* built-ins first */
  assert_ptr_equal(weft_backend_list(), l); /* static */
}

int main(void) {
  setenv("WEFT_BACKEND_PATH", "/nonexistent-dir:" TEST_MODULE_DIR, 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry_builtins_by_name),
      cmocka_unit_test(test_registry_env_then_builder_wins),
      cmocka_unit_test(test_registry_unknown_name_fails),
      cmocka_unit_test(test_registry_module_by_path),
      cmocka_unit_test(test_registry_unknown_abi_rejected),
      cmocka_unit_test(test_registry_module_by_name_on_search_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
