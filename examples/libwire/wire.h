/* examples/libwire/wire.h: a small async line protocol, client and server.
 *
 * A request is one line of text ending in '\n'; the reply is one line.
 * libwire is written once against <weft.h> and nothing else: it does not
 * know which event loop runs it. The same code serves on a weft runtime of
 * its own (epoll, or any backend module) and on a runtime attached to an
 * application's libuv, libevent or libev loop (see the libwire-host-*
 * examples).
 *
 * Lines are at most WIRE_MAX_LINE bytes, '\n' excluded; a longer request
 * closes its connection. */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <weft.h>

#define WIRE_MAX_LINE 256

/* Answer one request. `line` holds `len` bytes (no '\n', not
 * NUL-terminated). Write the reply (without '\n') into `reply`, which
 * holds `cap` bytes, and return its length; a negative return closes the
 * connection instead. Called on the runtime's threads, inside a task: it
 * must not block. */
typedef int (*wire_handler)(void *arg, const char *line, size_t len,
                            char *reply, size_t cap);

typedef struct wire_server wire_server;

/* Listen on `addr` ("127.0.0.1:0" picks a free port) and serve every
 * connection with `handler(arg, ...)`, on tasks of `rt`. The listener is
 * open when this returns. `*out` is owned by the caller and released with
 * wire_server_stop. Returns 0 or a negative WEFT_E* code. */
int wire_server_start(weft_runtime *rt, const char *addr, wire_handler handler,
                      void *arg, wire_server **out);

/* The port the server listens on. */
int wire_server_port(const wire_server *s);

/* Stop serving: the listener and every open connection are closed (their
 * tasks are aborted), and `s` is freed. Call it from outside the server's
 * tasks, on a thread allowed to abort them (the loop thread, when
 * attached). NULL does nothing. */
void wire_server_stop(wire_server *s);

/* The output of a request future. */
typedef struct wire_reply {
  int error;  /* 0, or a negative WEFT_E* code: the connect's or the
                 socket's, WEFT_EEOF when the server closed before
                 replying, WEFT_EMSGSIZE when the reply line was too long */
  size_t len; /* reply length, without '\n' */
  char line[WIRE_MAX_LINE + 1]; /* the reply, NUL-terminated */
} wire_reply;

/* A future that connects to `addr` ("127.0.0.1:7000"), sends `request`
 * (a NUL-terminated line without '\n', copied now), reads one reply line
 * and closes. Its output is a wire_reply. `timeout_ms` bounds the connect
 * (0: no bound); wrap the future in weft_timeout to bound it all. `*out`
 * is owned by the caller (weft_future_free). Returns 0, WEFT_EINVAL (bad
 * address, line too long or containing '\n') or WEFT_ENOMEM. */
int wire_client_request(const char *addr, const char *request,
                        uint64_t timeout_ms, weft_future **out);

#endif /* WIRE_H */
