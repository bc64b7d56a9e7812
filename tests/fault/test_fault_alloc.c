/* tests/fault/test_fault_alloc.c: the allocation-failure sweep.
 *
 * For k = 1, 2, ... the scenario (scenario.h) runs in a fresh child process
 * with weft's k-th allocation failing (fault_alloc.h), until a run makes
 * fewer than k allocations, i.e. completes with nothing injected. At every
 * k each public call must return 0 or WEFT_ENOMEM (or report WEFT_ENOMEM
 * through a join result), the child must not crash or hang, weft must free
 * every block it allocated, and under ASan LeakSanitizer must find nothing.
 * The sweep prints how many k values and distinct allocation sites (code
 * addresses that called malloc) it covered.
 *
 * WEFT_FAULT_K=n runs only k = n, in this process (for a debugger). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fault_alloc.h"
#include "scenario.h"
#include "sweep.h"

#define MAX_SITES 1024

typedef struct report {
  fault_outcome o;
  long calls;
  long live;
  uintptr_t site;
} report;

typedef struct job {
  weft_flavor flavor;
  long k;
} job;

static int accept_enomem(int rc) { return rc == WEFT_ENOMEM; }

static void run_one(void *arg, void *out) {
  job *j = arg;
  report *r = out;
  fault_alloc_arm(j->k);
  fault_scenario_run(j->flavor, accept_enomem, &r->o);
  r->calls = fault_alloc_calls();
  /* Blocking pool threads are detached and release their last blocks
   * (their records, the pool itself) as they exit, which may be just after
   * weft_runtime_free returns: give them up to 2 s. */
  for (int i = 0; i < 200 && fault_alloc_live() != 0; i++)
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  r->live = fault_alloc_live();
  r->site = fault_alloc_failed_site();
  fault_alloc_arm(0);
}

/* Every defect is printed; the sweep goes on to the end and then fails, so
 * that one run lists them all. */
static int defects;
#define defect(...) (printf(__VA_ARGS__), printf("\n"), defects++)

/* Check one report; returns 1 when the run had nothing injected. */
static int check_report(const char *name, long k, const report *r) {
  int injected = r->calls >= k;
  if (r->o.bad_rc) {
    defect("%s k=%ld: %s (%d) at scenario.c:%d, not 0 or WEFT_ENOMEM",
             name, k, weft_err_name(r->o.bad_rc), r->o.bad_rc,
             r->o.bad_line);
  }
  if (r->live != 0)
    defect("%s k=%ld: %ld blocks not freed", name, k, r->live);
  if (!injected && !r->o.completed)
    defect("%s k=%ld: nothing injected but the scenario stopped (%s at "
             "scenario.c:%d)",
             name, k, weft_err_name(r->o.stopped_by), r->o.stopped_line);
  if (injected && !r->o.completed && !r->o.bad_rc &&
      r->o.stopped_by != WEFT_ENOMEM)
    defect("%s k=%ld: stopped without an error", name, k);
  return !injected;
}

static void sweep(weft_flavor flavor, const char *name) {
  static uintptr_t sites[MAX_SITES];
  defects = 0;
  size_t nsites = 0;
  long stopped = 0, k;
  const char *only = getenv("WEFT_FAULT_K");
  const char *which = getenv("WEFT_FAULT_FLAVOR"); /* e.g. "multi" */
  if (which && !strstr(name, which))
    return;
  if (only) {
    job j = {flavor, atol(only)};
    report r;
    memset(&r, 0, sizeof r);
    run_one(&j, &r);
    printf("%s k=%ld: calls %ld, completed %d, stopped by %s at line %d\n",
           name, j.k, r.calls, r.o.completed, weft_err_name(r.o.stopped_by),
           r.o.stopped_line);
    check_report(name, j.k, &r);
    assert_int_equal(defects, 0);
    return;
  }
  for (k = 1;; k++) {
    job j = {flavor, k};
    report r;
    char why[128];
    if (fault_in_child(run_one, &j, &r, sizeof r, 20000, why, sizeof why)) {
      defect("%s k=%ld: %s", name, k, why);
      continue;
    }
    if (check_report(name, k, &r)) {
      printf("%s: clean run made %ld allocations\n", name, r.calls);
      break;
    }
    if (!r.o.completed)
      stopped++;
    size_t i;
    for (i = 0; i < nsites && sites[i] != r.site; i++) {
    }
    if (i == nsites && nsites < MAX_SITES)
      sites[nsites++] = r.site;
  }
  printf("%s: %ld k values failed one allocation each (%ld stopped the "
         "scenario with WEFT_ENOMEM, %ld were absorbed), %zu distinct "
         "allocation sites\n",
         name, k - 1, stopped, k - 1 - stopped, nsites);
  assert_true(k > 1);
  assert_int_equal(defects, 0);
}

static void test_fault_alloc_current_thread(void **state) {
  (void)state;
  sweep(WEFT_FLAVOR_CURRENT_THREAD, "current-thread");
}

static void test_fault_alloc_multi_thread(void **state) {
  (void)state;
  sweep(WEFT_FLAVOR_MULTI_THREAD, "multi-thread");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fault_alloc_current_thread),
      cmocka_unit_test(test_fault_alloc_multi_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
