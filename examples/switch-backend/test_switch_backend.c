/* examples/switch-backend/test_switch_backend.c: run the one binary under a
 * WEFT_BACKEND value and check the backend it reports.
 *
 *   test_switch_backend SWITCH-BACKEND NAME            one backend
 *   test_switch_backend SWITCH-BACKEND --unknown A B.. an unknown name must
 *                                                      fail, listing A B.. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../common/run_example.h"

static char *binary;
static char *backend;
static char **expected_names;
static int n_expected;

static void test_switch_backend_reports_its_backend(void **state) {
  (void)state;
  char *argv[] = {binary, NULL};
  run_output r;
  assert_int_equal(run_example(argv, backend, 10000, &r), 0);
  fprintf(stderr, "%s", r.err);
  assert_int_equal(r.status, 0);
  char line[96];
  snprintf(line, sizeof line, "backend: %s\n", backend);
  /* The first line names the backend that ran, as the runtime reports it. */
  assert_int_equal(strncmp(r.out, line, strlen(line)), 0);
  const char *slept = strstr(r.out, "timer: slept ");
  assert_non_null(slept);
  assert_true(atoi(slept + strlen("timer: slept ")) >= 10);
  int sim = strcmp(backend, "sim") == 0;
  assert_non_null(strstr(r.out, sim ? "tcp: skipped\n"
                                    : "tcp: one byte across 127.0.0.1\n"));
  run_output_free(&r);
}

static void test_switch_backend_unknown_name_lists_available(void **state) {
  (void)state;
  char *argv[] = {binary, NULL};
  run_output r;
  assert_int_equal(run_example(argv, "no-such-loop", 10000, &r), 0);
  assert_int_equal(r.status, 1);
  assert_string_equal(r.out, "");
  const char *msg = strstr(r.err, "switch-backend: cannot start backend "
                                  "\"no-such-loop\"");
  assert_non_null(msg);
  const char *avail = strstr(msg, "available:");
  assert_non_null(avail);
  const char *eol = strchr(avail, '\n');
  assert_non_null(eol);
  for (int i = 0; i < n_expected; i++) {
    char word[64];
    snprintf(word, sizeof word, " %s", expected_names[i]);
    const char *at = strstr(avail, word);
    assert_true(at != NULL && at < eol);
  }
  run_output_free(&r);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s SWITCH-BACKEND NAME | --unknown NAMES...\n",
            argv[0]);
    return 2;
  }
  binary = argv[1];
  if (!strcmp(argv[2], "--unknown")) {
    expected_names = argv + 3;
    n_expected = argc - 3;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switch_backend_unknown_name_lists_available),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
  }
  backend = argv[2];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_switch_backend_reports_its_backend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
