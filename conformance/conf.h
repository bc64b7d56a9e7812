/* conformance/conf.h: what the conformance areas share.
 *
 * The suite is one program, weft-conformance, made of one file per area
 * (waker, spawn, timers, io, wake, signals, shutdown, blocking, attach).
 * Each area exports a table of tests; every entry names the clause of
 * docs/backend-contract.md it checks, and the runner prints "<clause>
 * <function>" so that a failure points at the broken promise.
 *
 * Tests reach the backend under test only through the public API: they
 * build runtimes with conf_rt_new(), which applies the backend chosen on
 * the command line. A test that needs something the backend does not have
 * (real I/O on sim, a foreign loop for attach) declares it in `needs`, and
 * the runner reports it by name as skipped instead of running it. */
#ifndef WEFT_CONFORMANCE_CONF_H
#define WEFT_CONFORMANCE_CONF_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <weft.h>

/* What a test needs from the backend. */
enum {
  CONF_NEEDS_IO = 1u << 0,       /* real fds: sockets, pipes */
  CONF_NEEDS_SIGNALS = 1u << 1,  /* real signal delivery */
  CONF_NEEDS_ATTACH = 1u << 2,   /* attach mode on a foreign loop */
  CONF_NEEDS_THREADS = 1u << 3,  /* a multi-thread runtime */
  CONF_NEEDS_REAL_TIME = 1u << 4 /* a wall clock (not virtual time) */
};

typedef struct conf_test {
  const char *clause; /* "T3": the clause of docs/backend-contract.md */
  const char *name;   /* the test function's name */
  void (*fn)(void **state);
  unsigned needs; /* CONF_NEEDS_* */
} conf_test;

#define CONF_TEST(clause, fn, needs) {clause, #fn, fn, needs}

typedef struct conf_area {
  const char *name;
  const conf_test *tests;
  size_t count;
} conf_area;

#define CONF_AREA(var, area_name, table)                                     \
  const conf_area var = {area_name, table, sizeof table / sizeof table[0]}

extern const conf_area conf_area_waker, conf_area_spawn, conf_area_timers,
    conf_area_io, conf_area_wake, conf_area_signals, conf_area_shutdown,
    conf_area_blocking, conf_area_attach;

/* The backend under test and what it can do, filled by the runner. */
typedef struct conf_config {
  const char *backend; /* name, or NULL when a module path is used */
  const char *module;  /* module path, or NULL */
  const char *resolved_name; /* weft_runtime_backend_name() of a probe */
  int is_sim;        /* virtual time, current-thread only */
  int has_io;        /* registering a pipe works */
  int has_signals;   /* signal delivery works */
  int has_attach;    /* attach mode can be tested for this backend */
  unsigned scale;    /* WEFT_TEST_SCALE percent (100 = full) */
} conf_config;

extern conf_config conf;

/* Whether this build of the suite can make a loop of the library that
 * backend `name` adapts (test_attach.c), i.e. run the attach area on it. */
int conf_attach_supported(const char *name);

/* Scale a loop count by WEFT_TEST_SCALE (never below 1). */
unsigned conf_scaled(unsigned n);

/* A builder for the backend under test, with the flavour the backend
 * supports (current-thread on sim, multi-thread with `workers` otherwise).
 * Fails the test on error. */
weft_builder *conf_builder(unsigned workers);
/* conf_builder + build + free the builder. */
weft_runtime *conf_rt_new(unsigned workers);
/* A current-thread runtime on the backend under test. */
weft_runtime *conf_rt_new_current(void);

/* Wait for a join handle from the test's thread, whatever the runtime's
 * flavour (a current-thread runtime runs its tasks inside weft_block_on, so
 * plain weft_join_wait would never see them finish). */
void conf_join(weft_runtime *rt, weft_join_handle *h, weft_join_result *res);

/* A future made of a plain function of its state, for small test tasks:
 * poll is `fn(state, cx)`, which returns WEFT_READY or WEFT_PENDING. The
 * state is a pointer (copied into the task), the output nothing. */
typedef weft_poll (*conf_poll_fn)(void *arg, weft_context *cx);
int conf_spawn_fn(weft_runtime *rt, conf_poll_fn fn, void *arg,
                  weft_join_handle **h);
/* Run `fn(arg, cx)` on the runtime's block_on until it is READY. */
void conf_block_on_fn(weft_runtime *rt, conf_poll_fn fn, void *arg);

/* Monotonic real time in ms, for bounding how long a test waits. */
uint64_t conf_real_ms(void);
/* Sleep the calling thread for real. */
void conf_sleep_ms(unsigned ms);

#endif /* WEFT_CONFORMANCE_CONF_H */
