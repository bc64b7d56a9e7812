/* core/reactor/net_internal.h: the net objects' layouts, shared by the
 * net_*.c files. */
#ifndef WEFT_REACTOR_NET_INTERNAL_H
#define WEFT_REACTOR_NET_INTERNAL_H

#include <weft/net.h>

#include "sock.h"

struct weft_stream {
  weft__sock s;
  int family;
};

/* Wrap a connected socket fd (takes it on success). */
int weft__stream_new(int fd, int family, weft_stream **out);

#endif /* WEFT_REACTOR_NET_INTERNAL_H */
