/* core/attach.c: the public attach-mode entry points (weft/attach.h).
 *
 * They only name the backend and hand the foreign loop to the executor,
 * which builds a current-thread runtime whose driver attaches to the loop
 * (cfg->attach_loop) instead of creating one. No library header is included:
 * the loop is an opaque pointer until the backend module receives it. */
#include "internal.h"

#include <weft/attach.h>

int weft_runtime_attach(weft_runtime **rt, const char *backend,
                        void *foreign_loop, const weft_builder *b) {
  if (!rt || !backend || !*backend || !foreign_loop)
    return WEFT_EINVAL;
  *rt = NULL;
  return weft__runtime_new_attached(b, backend, foreign_loop, rt);
}

int weft_runtime_attach_uv(weft_runtime **rt, struct uv_loop_s *loop) {
  return weft_runtime_attach(rt, "libuv", loop, NULL);
}

int weft_runtime_attach_event(weft_runtime **rt, struct event_base *base) {
  return weft_runtime_attach(rt, "libevent", base, NULL);
}

int weft_runtime_attach_ev(weft_runtime **rt, struct ev_loop *loop) {
  return weft_runtime_attach(rt, "libev", loop, NULL);
}

int weft_runtime_detach(weft_runtime *rt) {
  if (!rt)
    return WEFT_EINVAL;
  if (weft_runtime_current() == rt)
    return WEFT_EBUSY;
  weft_runtime_free(rt);
  return 0;
}
