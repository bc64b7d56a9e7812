/* tests/reactor/module_good.c: a valid backend module ("testep"): the
 * epoll backend's vtable under another name, loaded through dlopen. */
#include "../../backends/epoll/epoll.h"

static weft_backend renamed;

WEFT_API const weft_backend *weft_backend_module_entry(void) {
  renamed = weft__backend_epoll;
  renamed.name = "testep";
  return &renamed;
}
