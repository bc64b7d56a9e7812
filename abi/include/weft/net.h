/* weft/net.h: TCP, UDP and Unix stream sockets, and addresses.
 *
 * Every object here is opaque, allocated by weft and owned by the caller,
 * who frees it with its _free function. The socket is registered with the
 * runtime of the first task that polls it. A stream may be read by one task
 * and written by another at the same time; two tasks must not read (or
 * write) the same object concurrently.
 *
 * Poll-style functions return 1 (WEFT_READY) with their result filled in,
 * 0 (WEFT_PENDING) with the task's waker stored, or a negative WEFT_E*
 * code. They allocate nothing: they are the hot path. Future-returning
 * functions wrap them for coroutines and combinators. */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include <sys/socket.h>

#include "common.h"
#include "future.h"

WEFT_BEGIN_DECLS

/* ---- Addresses ------------------------------------------------------------ */

/* Parse a numeric address: "127.0.0.1:8080", "[::1]:80", or a Unix socket
 * path ("/run/x.sock" or "unix:relative/path"). No name resolution. Fills
 * `*out` and `*len`. Returns 0 or WEFT_EINVAL. Any thread. Since 0.1. */
WEFT_API int weft_addr_parse(const char *text, struct sockaddr_storage *out,
                             socklen_t *len);

/* Format `addr` as weft_addr_parse reads it, NUL-terminated, into `buf`.
 * Returns the length written (without the NUL), WEFT_EINVAL, or
 * WEFT_ERANGE when `cap` is too small. Any thread. Since 0.1. */
WEFT_API int weft_addr_format(const struct sockaddr *addr, socklen_t len,
                              char *buf, size_t cap);

/* ---- Name resolution ------------------------------------------------------ */

#define WEFT_RESOLVE_MAX 8

/* The output of weft_resolve: up to WEFT_RESOLVE_MAX addresses, in the
 * order getaddrinfo gave them. */
typedef struct weft_resolve_output {
  int error;    /* 0, WEFT_EDNS (no such name...), or another code */
  size_t count; /* addresses filled in */
  struct sockaddr_storage addrs[WEFT_RESOLVE_MAX];
  socklen_t lens[WEFT_RESOLVE_MAX];
} weft_resolve_output;

/* Resolve `host` ("example.org", "127.0.0.1") and `service` ("443",
 * "http", or NULL for port 0) for stream sockets with getaddrinfo, run on
 * the blocking pool of the runtime that polls the future. `family` is
 * AF_UNSPEC, AF_INET or AF_INET6. Output: weft_resolve_output. Returns 0,
 * WEFT_EINVAL or WEFT_ENOMEM; the strings are copied. Dropping the future
 * early abandons the lookup. Any thread. Since 0.1. */
WEFT_API int weft_resolve(const char *host, const char *service, int family,
                          weft_future **out);

/* ---- Streams (TCP and Unix) --------------------------------------------- */

typedef struct weft_stream weft_stream;
typedef struct weft_listener weft_listener;

/* Output of weft_tcp_connect, weft_unix_connect and weft_listener_accept. */
typedef struct weft_stream_result {
  int error;           /* 0 or a negative code */
  weft_stream *stream; /* on success, owned by the caller; else NULL */
} weft_stream_result;

/* Output of read and write futures. */
typedef struct weft_io_result {
  int error; /* 0 or a negative code */
  size_t n;  /* bytes moved; 0 on a read means end of stream */
} weft_io_result;

/* Connect to `addr`, giving up after `timeout_ms` (0 = no limit) with
 * WEFT_ETIMEDOUT. Output: weft_stream_result. Returns 0, WEFT_EINVAL or
 * WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_tcp_connect(const struct sockaddr *addr, socklen_t len,
                              uint64_t timeout_ms, weft_future **out);

/* Connect to the Unix stream socket at `path`. As weft_tcp_connect.
 * Since 0.1. */
WEFT_API int weft_unix_connect(const char *path, uint64_t timeout_ms,
                               weft_future **out);

/* Adopt a connected stream socket `fd` (made non-blocking; closed by
 * weft_stream_free). Returns 0, WEFT_EINVAL or WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_stream_from_fd(int fd, weft_stream **out);

/* Read up to `len` bytes. On 1, `*n` is the count, 0 at end of stream.
 * Since 0.1. */
WEFT_API int weft_stream_poll_read(weft_stream *s, weft_context *cx, void *buf,
                                   size_t len, size_t *n);

/* Write up to `len` (> 0) bytes. On 1, `*n` >= 1 is the count. Writing to
 * a peer that closed gives WEFT_EPIPE (never SIGPIPE). Since 0.1. */
WEFT_API int weft_stream_poll_write(weft_stream *s, weft_context *cx,
                                    const void *buf, size_t len, size_t *n);

/* Future reading up to `len` bytes into `buf`; output weft_io_result.
 * `s` and `buf` must outlive it. Since 0.1. */
WEFT_API int weft_stream_read(weft_stream *s, void *buf, size_t len,
                              weft_future **out);

/* Future writing all `len` bytes of `buf`; output weft_io_result (n is
 * what was written before an error). Since 0.1. */
WEFT_API int weft_stream_write_all(weft_stream *s, const void *buf,
                                   size_t len, weft_future **out);

/* shutdown(2): `how` is SHUT_RD, SHUT_WR or SHUT_RDWR. Returns 0 or a
 * negative code. Since 0.1. */
WEFT_API int weft_stream_shutdown(weft_stream *s, int how);

/* Set TCP_NODELAY (on = 1) or clear it. WEFT_ENOTSUP on a Unix stream.
 * Since 0.1. */
WEFT_API int weft_stream_set_nodelay(weft_stream *s, int on);

/* Addresses of the two ends. Returns 0 or a negative code. Since 0.1. */
WEFT_API int weft_stream_peer_addr(const weft_stream *s,
                                   struct sockaddr_storage *out,
                                   socklen_t *len);
WEFT_API int weft_stream_local_addr(const weft_stream *s,
                                    struct sockaddr_storage *out,
                                    socklen_t *len);

/* Close the socket now: tasks waiting on it wake and get WEFT_ECLOSED.
 * The object stays valid until weft_stream_free. Idempotent. Any thread.
 * Since 0.1. */
WEFT_API int weft_stream_close(weft_stream *s);

/* Close (if not yet) and free. No task may still poll `s`. NULL does
 * nothing. Since 0.1. */
WEFT_API void weft_stream_free(weft_stream *s);

/* The socket's fd, or -1 once closed. Since 0.1. */
WEFT_API int weft_stream_fd(const weft_stream *s);

/* ---- Listeners --------------------------------------------------------- */

/* Bind (with SO_REUSEADDR) and listen on `addr`; port 0 picks a free port
 * (see weft_listener_local_addr). `backlog` <= 0 means SOMAXCONN. Returns
 * 0, WEFT_EINVAL, WEFT_ENOMEM or the socket's error (WEFT_EADDRINUSE...).
 * Any thread. Since 0.1. */
WEFT_API int weft_tcp_listen(const struct sockaddr *addr, socklen_t len,
                             int backlog, weft_listener **out);

/* Listen on a Unix stream socket at `path` (an existing socket file there
 * is not removed: WEFT_EADDRINUSE). Since 0.1. */
WEFT_API int weft_unix_listen(const char *path, int backlog,
                              weft_listener **out);

/* Accept one connection. On 1, `*out` is the new stream (owned by the
 * caller) and the peer's address goes to `peer`/`peer_len` when not NULL.
 *
 * Running out of file descriptors (EMFILE, ENFILE) or memory for sockets
 * does not spin: the listener backs off for 100 ms before it tries again,
 * counts the event (weft_listener_accept_errors), and returns the error
 * once per episode (then PENDING until the back-off ends). Since 0.1. */
WEFT_API int weft_listener_poll_accept(weft_listener *l, weft_context *cx,
                                       weft_stream **out,
                                       struct sockaddr_storage *peer,
                                       socklen_t *peer_len);

/* Future accepting one connection; output weft_stream_result. Since 0.1. */
WEFT_API int weft_listener_accept(weft_listener *l, weft_future **out);

/* How many times accept ran out of fds or memory. Any thread. Since 0.1. */
WEFT_API uint64_t weft_listener_accept_errors(const weft_listener *l);

WEFT_API int weft_listener_local_addr(const weft_listener *l,
                                      struct sockaddr_storage *out,
                                      socklen_t *len);

/* Close now (waiting accepts get WEFT_ECLOSED; a connect made after the
 * call returns is refused, on every backend) / close and free. A Unix
 * listener does not unlink its path. Since 0.1. */
WEFT_API int weft_listener_close(weft_listener *l);
WEFT_API void weft_listener_free(weft_listener *l);

/* ---- UDP -------------------------------------------------------------- */

typedef struct weft_udp weft_udp;

/* Bind a UDP socket to `addr` (port 0: any free port). Since 0.1. */
WEFT_API int weft_udp_bind(const struct sockaddr *addr, socklen_t len,
                           weft_udp **out);

/* Send one datagram to `addr`. On 1, `*n` is the size sent. Since 0.1. */
WEFT_API int weft_udp_poll_send_to(weft_udp *u, weft_context *cx,
                                   const void *buf, size_t len,
                                   const struct sockaddr *addr,
                                   socklen_t addr_len, size_t *n);

/* Receive one datagram (truncated to `cap`). On 1, `*n` is its size and
 * the sender goes to `from`/`from_len` when not NULL. Since 0.1. */
WEFT_API int weft_udp_poll_recv_from(weft_udp *u, weft_context *cx, void *buf,
                                     size_t cap, size_t *n,
                                     struct sockaddr_storage *from,
                                     socklen_t *from_len);

WEFT_API int weft_udp_local_addr(const weft_udp *u,
                                 struct sockaddr_storage *out, socklen_t *len);

/* Close and free. NULL does nothing. Since 0.1. */
WEFT_API void weft_udp_free(weft_udp *u);

WEFT_END_DECLS

#endif /* WEFT_NET_H */
