/* examples/common/serve.h: the part the example servers share.
 *
 * serve_forever() builds a runtime ($WORKERS workers, $WEFT_BACKEND or the
 * build's backend), listens on 127.0.0.1:$PORT, and spawns one task per
 * accepted connection, with TCP_NODELAY set. Only the connection's future
 * differs between servers: its state must start with the accepted
 * `weft_stream *`; the rest is zeroed for each connection and copied into
 * the task's single allocation. */
#ifndef WEFT_EXAMPLES_SERVE_H
#define WEFT_EXAMPLES_SERVE_H

#include <stddef.h>

#include <weft.h>

typedef struct serve_config {
  const char *name;                  /* the program, for messages */
  const char *default_port;          /* when $PORT is unset */
  const weft_future_vtable *conn_vt; /* one task per connection */
  size_t conn_size;                  /* >= sizeof(weft_stream *) */
} serve_config;

/* Serves until the process is killed. Returns 1 if the runtime or the
 * listener could not be made, 2 for a bad $PORT. */
int serve_forever(const serve_config *cfg);

#endif /* WEFT_EXAMPLES_SERVE_H */
