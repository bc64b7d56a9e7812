/* backends/epoll/epoll.h: the built-in epoll backend. */
#ifndef WEFT_BACKENDS_EPOLL_H
#define WEFT_BACKENDS_EPOLL_H

#include <weft/backend.h>

/* The epoll backend's vtable, built into libweft (registered as "epoll"). */
extern const weft_backend weft__backend_epoll;

#endif /* WEFT_BACKENDS_EPOLL_H */
