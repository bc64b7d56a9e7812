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
