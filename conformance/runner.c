/* conformance/runner.c: weft-conformance, the suite's command line.
 *
 *   weft-conformance [--backend NAME | --backend-module PATH]
 *                    [--area AREA[,AREA...]] [--filter PATTERN] [--list]
 *
 * It runs every selected test against one backend and exits 0 only when
 * all of them pass (skipped tests, which the backend cannot support, are
 * listed by name and do not fail the run), 1 when one failed, 2 on a usage
 * error or when no test matches the selection, and 77 when every selected
 * test was skipped. PATTERN is a shell wildcard
 * matched against "<area>.<clause>.<function>", e.g. '*timers*' or
 * 'io.*'. meson runs one area per backend per test so that a hang or crash
 * in one area cannot hide the others. */
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static const conf_area *const areas[] = {
    &conf_area_waker,   &conf_area_spawn,    &conf_area_timers,
    &conf_area_io,      &conf_area_wake,     &conf_area_signals,
    &conf_area_shutdown, &conf_area_blocking, &conf_area_attach,
};
#define N_AREAS (sizeof areas / sizeof areas[0])

/* The exit status when every selected test was skipped. */
#define CONF_EXIT_ALL_SKIPPED 77

static void usage(FILE *f) {
  fprintf(f,
          "usage: weft-conformance [--backend NAME | --backend-module PATH]\n"
          "                        [--area AREA[,AREA...]] [--filter "
          "PATTERN] [--list]\n"
          "areas:");
  for (size_t i = 0; i < N_AREAS; i++)
    fprintf(f, " %s", areas[i]->name);
  fprintf(f, "\nenvironment: WEFT_TEST_SCALE (percent of the loop counts), "
             "WEFT_SIM_SEED (sim schedule)\n");
}

/* Is area `name` in the comma-separated list `list` (NULL = all)? */
static int area_selected(const char *list, const char *name) {
  if (!list)
    return 1;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return 1;
    if (!e)
      break;
    p = e + 1;
  }
  return 0;
}

static void full_name(char *buf, size_t n, const conf_area *a,
                      const conf_test *t) {
  snprintf(buf, n, "%s.%s.%s", a->name, t->clause, t->name);
}

/* Why the backend cannot run a test, or NULL when it can. */
static const char *unmet(unsigned needs) {
  if ((needs & CONF_NEEDS_IO) && !conf.has_io)
    return "the backend has no real I/O";
  if ((needs & CONF_NEEDS_SIGNALS) && !conf.has_signals)
    return "the backend does not deliver signals";
  if ((needs & CONF_NEEDS_ATTACH) && !conf.has_attach)
    return "the backend has no attach mode this suite can drive";
  if ((needs & CONF_NEEDS_THREADS) && conf.is_sim)
    return "the backend runs current-thread runtimes only";
  if ((needs & CONF_NEEDS_REAL_TIME) && conf.is_sim)
    return "the backend's clock is virtual";
  return NULL;
}

/* cmocka calls this for every test; the table entry travels in the state,
 * so that a test the backend cannot run is reported as skipped by name. */
static void trampoline(void **state) {
  const conf_test *t = *state;
  const char *why = unmet(t->needs);
  if (why) {
    print_message("[  SKIP    ] %s: %s\n", t->name, why);
    skip();
    return;
  }
  t->fn(state);
}

/* Probe what the backend can do, with a runtime built the way tests build
 * theirs: this also fails early, with one clear message, when the backend
 * cannot be loaded at all. */
static int probe(void) {
  weft_builder *b = NULL;
  weft_runtime *rt = NULL;
  int rc = weft_builder_new(&b);
  if (rc == 0 && conf.module)
    rc = weft_builder_backend_module(b, conf.module);
  else if (rc == 0 && conf.backend)
    rc = weft_builder_backend(b, conf.backend);
  if (rc == 0)
    rc = weft_builder_flavor(b, WEFT_FLAVOR_CURRENT_THREAD);
  if (rc == 0)
    rc = weft_builder_build(b, &rt);
  weft_builder_free(b);
  if (rc != 0) {
    fprintf(stderr, "weft-conformance: cannot build a runtime on %s: %s\n",
            conf.module ? conf.module : conf.backend ? conf.backend
                                                     : "the default backend",
            weft_strerror(rc));
    return rc;
  }
  static char name[64];
  snprintf(name, sizeof name, "%s", weft_runtime_backend_name(rt));
  conf.resolved_name = name;
  weft_runtime_free(rt);
  conf.is_sim = strcmp(name, "sim") == 0;
  conf.has_io = !conf.is_sim;
  conf.has_signals = !conf.is_sim;
  conf.has_attach = conf_attach_supported(name);
  return 0;
}

int main(int argc, char **argv) {
  const char *area_list = NULL, *filter = NULL;
  int list = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--backend") == 0 && v) {
      conf.backend = v;
      i++;
    } else if (strcmp(a, "--backend-module") == 0 && v) {
      conf.module = v;
      i++;
    } else if (strcmp(a, "--area") == 0 && v) {
      area_list = v;
      i++;
    } else if (strcmp(a, "--filter") == 0 && v) {
      filter = v;
      i++;
    } else if (strcmp(a, "--list") == 0) {
      list = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (conf.backend && conf.module) {
    fprintf(stderr, "weft-conformance: --backend and --backend-module "
                    "are exclusive\n");
    return 2;
  }
  /* A peer that closes first must show up as EPIPE in the test that wrote,
   * not kill the whole run: tests write to sockets and pipes whose other
   * end they close on purpose. */
  signal(SIGPIPE, SIG_IGN);
  const char *scale = getenv("WEFT_TEST_SCALE");
  if (scale && atoi(scale) > 0)
    conf.scale = (unsigned)atoi(scale);
  /* Runtimes the tests build without the helpers (weft_runtime_new with
   * NULL) must land on the same backend. */
  if (conf.backend)
    setenv("WEFT_BACKEND", conf.backend, 1);

  size_t selected = 0;
  char name[256];
  for (size_t i = 0; i < N_AREAS; i++) {
    const conf_area *a = areas[i];
    if (!area_selected(area_list, a->name))
      continue;
    for (size_t j = 0; j < a->count; j++) {
      full_name(name, sizeof name, a, &a->tests[j]);
      if (filter && fnmatch(filter, name, 0) != 0)
        continue;
      selected++;
      if (list)
        printf("%s\n", name);
    }
  }
  if (list)
    return 0;
  if (selected == 0) {
    fprintf(stderr, "weft-conformance: no test selected\n");
    return 2;
  }
  if (probe() != 0)
    return 1;
  const char *seed = getenv("WEFT_SIM_SEED");
  printf("weft-conformance: backend %s%s%s, %zu tests\n", conf.resolved_name,
         conf.is_sim ? ", WEFT_SIM_SEED=" : "",
         conf.is_sim ? (seed ? seed : "(default)") : "", selected);

  int failed = 0;
  size_t skipped = 0;
  for (size_t i = 0; i < N_AREAS; i++) {
    const conf_area *a = areas[i];
    if (!area_selected(area_list, a->name))
      continue;
    struct CMUnitTest *tests = calloc(a->count, sizeof *tests);
    char **names = calloc(a->count, sizeof *names);
    if (!tests || !names) {
      fprintf(stderr, "weft-conformance: out of memory\n");
      return 1;
    }
    size_t n = 0;
    for (size_t j = 0; j < a->count; j++) {
      const conf_test *t = &a->tests[j];
      full_name(name, sizeof name, a, t);
      if (filter && fnmatch(filter, name, 0) != 0)
        continue;
      if (unmet(t->needs))
        skipped++;
      names[n] = strdup(name);
      tests[n].name = names[n];
      tests[n].test_func = trampoline;
      tests[n].initial_state = (void *)t;
      n++;
    }
    if (n > 0) {
      char group[64];
      snprintf(group, sizeof group, "%s@%s", a->name, conf.resolved_name);
      failed += _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    }
    for (size_t j = 0; j < n; j++)
      free(names[j]);
    free(names);
    free(tests);
  }
  if (failed != 0)
    return 1;
  /* Nothing ran at all (real I/O on sim, attach without a foreign loop):
   * say so with the exit status test harnesses read as "skipped" (77 for
   * meson and automake), rather than pretend the backend passed. */
  return skipped == selected ? CONF_EXIT_ALL_SKIPPED : 0;
}
