/* core/blocking/pool.c: PLACEHOLDER until the blocking pool lands: it runs
 * nothing. Replaced wholesale by the blocking-pool work. */
#include <stdlib.h>

#include "../internal.h"

struct weft__blocking_pool {
  int unused;
};

int weft__blocking_pool_new(weft_runtime *rt, const weft__config *cfg,
                            weft__blocking_pool **out) {
  (void)rt;
  (void)cfg;
  *out = calloc(1, sizeof **out);
  return *out ? 0 : WEFT_ENOMEM;
}

int weft__blocking_pool_shutdown(weft__blocking_pool *p, int64_t timeout_ms) {
  (void)p;
  (void)timeout_ms;
  return 0;
}

void weft__blocking_pool_free(weft__blocking_pool *p) { free(p); }

void weft__blocking_pool_metrics(const weft__blocking_pool *p,
                                 weft_runtime_metrics *m) {
  (void)p;
  (void)m;
}
