/* tests/fault/test_fault_syscall.c: failing system calls under the scenario.
 *
 * The scenario (scenario.h: runtime creation, spawn, blocking jobs, timers,
 * I/O, signals) runs in a child process started with the LD_PRELOAD shim
 * (shim.c) that fails the n-th call of one function: pthread_create with
 * EAGAIN; eventfd, epoll_create1 and pipe2 with EMFILE (weft makes its
 * pipes with pipe2; the shim fails plain pipe too, for other callers). For each
 * function, n goes from 1 until the scenario makes fewer than n calls.
 * Every failure must surface as a clean negative WEFT_E* code from a public
 * call (or be absorbed: the scenario still completes), with no crash, no
 * hang, and no leak (LeakSanitizer checks the child in the ASan build).
 *
 * usage: test_fault_syscall SHIM.so      (the test)
 *        test_fault_syscall --child       (one scenario, report on fd 3)
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "scenario.h"
#include "sweep.h"

typedef struct report {
  fault_outcome o;
  long calls; /* calls of the chosen function; -1 if the shim is missing */
} report;

static const char *shim_path;

/* A clean report: a negative code that weft has a name for. */
static int accept_named(int rc) {
  return rc < 0 && strcmp(weft_err_name(rc), "WEFT_UNKNOWN") != 0;
}

static int child_main(void) {
  report r;
  memset(&r, 0, sizeof r);
  const char *flavor = getenv("WEFT_SHIM_FLAVOR");
  fault_scenario_run(flavor && strcmp(flavor, "multi") == 0
                         ? WEFT_FLAVOR_MULTI_THREAD
                         : WEFT_FLAVOR_CURRENT_THREAD,
                     accept_named, &r.o);
  long (*calls)(void) =
      (long (*)(void))(uintptr_t)dlsym(RTLD_DEFAULT, "weft_fault_shim_calls");
  r.calls = calls ? calls() : -1;
  ssize_t w = write(FAULT_REPORT_FD, &r, sizeof r);
  return w == (ssize_t)sizeof r ? 0 : 3;
}

typedef struct job {
  const char *func;
  long nth;
  const char *flavor;
} job;

/* In the forked child: become a scenario child with the shim preloaded. */
static void exec_child(void *arg, void *out) {
  job *j = arg;
  char nth[32], asan[512];
  (void)out;
  snprintf(nth, sizeof nth, "%ld", j->nth);
  setenv("LD_PRELOAD", shim_path, 1);
  setenv("WEFT_SHIM_FUNC", j->func, 1);
  setenv("WEFT_SHIM_NTH", nth, 1);
  setenv("WEFT_SHIM_FLAVOR", j->flavor, 1);
  /* The shim comes before the sanitizer runtime in the library list,
   * which ASan refuses unless told that it is on purpose. */
  const char *a = getenv("ASAN_OPTIONS");
  snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0", a ? a : "",
           a && *a ? ":" : "");
  setenv("ASAN_OPTIONS", asan, 1);
  execl("/proc/self/exe", "test_fault_syscall", "--child", (char *)NULL);
  _exit(127);
}

static void sweep(const char *func, const char *flavor) {
  long n;
  int defects = 0;
  for (n = 1;; n++) {
    job j = {func, n, flavor};
    report r;
    char why[128];
    if (fault_in_child(exec_child, &j, &r, sizeof r, 20000, why,
                       sizeof why)) {
      printf("%s #%ld (%s): %s\n", func, n, flavor, why);
      defects++;
      if (n > 64)
        break;
      continue;
    }
    assert_true(r.calls >= 0); /* the shim was loaded */
    if (r.o.bad_rc) {
      printf("%s #%ld (%s): result %d at scenario.c:%d is no WEFT_E* code\n",
             func, n, flavor, r.o.bad_rc, r.o.bad_line);
      defects++;
    }
    if (r.calls < n) {
      if (!r.o.completed) {
        printf("%s (%s): nothing failed but the scenario stopped (%s)\n",
               func, flavor, weft_err_name(r.o.stopped_by));
        defects++;
      }
      break;
    }
    if (!r.o.completed && !r.o.bad_rc && !r.o.stopped_by) {
      printf("%s #%ld (%s): stopped without an error\n", func, n, flavor);
      defects++;
    }
    if (r.o.completed)
      printf("%s #%ld (%s): absorbed, the scenario completed\n", func, n,
             flavor);
    else
      printf("%s #%ld (%s): %s at scenario.c:%d\n", func, n, flavor,
             weft_err_name(r.o.stopped_by), r.o.stopped_line);
  }
  printf("%s (%s): %ld calls failed one at a time\n", func, flavor, n - 1);
  assert_int_equal(defects, 0);
  assert_true(n > 1); /* the scenario does call it */
}

#define SWEEP_TEST(name, func)                                               \
  static void test_fault_syscall_##name(void **state) {                      \
    (void)state;                                                             \
    sweep(func, "current");                                                  \
    sweep(func, "multi");                                                    \
  }
SWEEP_TEST(pthread_create, "pthread_create")
SWEEP_TEST(eventfd, "eventfd")
SWEEP_TEST(epoll_create1, "epoll_create1")
SWEEP_TEST(pipe2, "pipe2")

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--child") == 0)
    return child_main();
  if (argc != 2) {
    fprintf(stderr, "usage: %s SHIM.so\n", argv[0]);
    return 2;
  }
  shim_path = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fault_syscall_pthread_create),
      cmocka_unit_test(test_fault_syscall_eventfd),
      cmocka_unit_test(test_fault_syscall_epoll_create1),
      cmocka_unit_test(test_fault_syscall_pipe2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
