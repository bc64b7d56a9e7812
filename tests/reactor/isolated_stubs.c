/* tests/reactor/isolated_stubs.c: the executor's side of core/internal.h,
 * reduced to nothing, for tests that link the reactor's sources alone. */
#include "internal.h"

weft_runtime *weft_runtime_current(void) { return NULL; }
weft__driver *weft__runtime_driver(weft_runtime *rt) {
  (void)rt;
  return NULL;
}
int weft__runtime_run_ready(weft_runtime *rt, unsigned budget) {
  (void)rt;
  (void)budget;
  return 0;
}
int weft__coop_proceed(weft_context *cx) {
  (void)cx;
  return 1;
}
/* The driver asks whether blocking jobs run (virtual clocks only): these
 * tests make drivers without a runtime, so there is never a pool. */
weft__blocking_pool *weft__runtime_blocking_pool(weft_runtime *rt) {
  (void)rt;
  return NULL;
}
int weft__blocking_pool_busy(weft__blocking_pool *p) {
  (void)p;
  return 0;
}
