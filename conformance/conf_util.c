/* conformance/conf_util.c: runtime builders and small futures the areas
 * share. Everything here goes through the public API only, because the
 * suite also runs against third-party backend modules. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"

conf_config conf = {.scale = 100};

unsigned conf_scaled(unsigned n) {
  unsigned long long v = (unsigned long long)n * conf.scale / 100u;
  return v == 0 ? 1u : (unsigned)v;
}

weft_builder *conf_builder(unsigned workers) {
  weft_builder *b = NULL;
  assert_int_equal(weft_builder_new(&b), 0);
  if (conf.module)
    assert_int_equal(weft_builder_backend_module(b, conf.module), 0);
  else if (conf.backend)
    assert_int_equal(weft_builder_backend(b, conf.backend), 0);
  if (conf.is_sim) {
    /* Virtual time and a seeded schedule only make sense on one thread. */
    assert_int_equal(weft_builder_flavor(b, WEFT_FLAVOR_CURRENT_THREAD), 0);
  } else {
    assert_int_equal(weft_builder_flavor(b, WEFT_FLAVOR_MULTI_THREAD), 0);
    assert_int_equal(weft_builder_worker_threads(b, workers ? workers : 2),
                     0);
  }
  return b;
}

weft_runtime *conf_rt_new(unsigned workers) {
  weft_builder *b = conf_builder(workers);
  weft_runtime *rt = NULL;
  int rc = weft_builder_build(b, &rt);
  weft_builder_free(b);
  if (rc != 0)
    fail_msg("building a runtime failed: %s", weft_err_name(rc));
  return rt;
}

weft_runtime *conf_rt_new_current(void) {
  weft_builder *b = conf_builder(1);
  assert_int_equal(weft_builder_flavor(b, WEFT_FLAVOR_CURRENT_THREAD), 0);
  weft_runtime *rt = NULL;
  int rc = weft_builder_build(b, &rt);
  weft_builder_free(b);
  if (rc != 0)
    fail_msg("building a runtime failed: %s", weft_err_name(rc));
  return rt;
}

/* ---- join from the test thread ------------------------------------------ */

typedef struct join_state {
  weft_join_handle *h;
  weft_join_result *res;
} join_state;

static weft_poll join_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  join_state *s = p;
  return weft_join_poll(s->h, cx, s->res);
}

static const weft_future_vtable join_vt = {sizeof(weft_future_vtable),
                                           join_poll, NULL};

void conf_join(weft_runtime *rt, weft_join_handle *h, weft_join_result *res) {
  join_state s = {h, res};
  assert_int_equal(weft_block_on(rt, &join_vt, &s, NULL), 0);
}

/* ---- function futures ----------------------------------------------------- */

typedef struct fn_state {
  conf_poll_fn fn;
  void *arg;
} fn_state;

static weft_poll fn_poll(void *p, weft_context *cx, void *out) {
  (void)out;
  fn_state *s = p;
  return s->fn(s->arg, cx);
}

static const weft_future_vtable fn_vt = {sizeof(weft_future_vtable), fn_poll,
                                         NULL};

int conf_spawn_fn(weft_runtime *rt, conf_poll_fn fn, void *arg,
                  weft_join_handle **h) {
  fn_state s = {fn, arg};
  if (h)
    return weft_spawn(rt, &fn_vt, &s, sizeof s, 0, h);
  return weft_spawn_detached(rt, &fn_vt, &s, sizeof s);
}

void conf_block_on_fn(weft_runtime *rt, conf_poll_fn fn, void *arg) {
  fn_state s = {fn, arg};
  assert_int_equal(weft_block_on(rt, &fn_vt, &s, NULL), 0);
}

uint64_t conf_real_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void conf_sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}
