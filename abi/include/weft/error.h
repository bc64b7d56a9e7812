/* weft/error.h: error codes.
 *
 * Every weft call that can fail returns an int: 0 (or a non-negative count)
 * on success, or a negative WEFT_E* code. Codes that have an errno are that
 * errno negated, so WEFT_ENOMEM == -ENOMEM and a system call's failure can be
 * passed straight through as -errno. Codes with no errno live below -4000.
 *
 * The list below is the single source: the enum, weft_strerror() and
 * weft_err_name() are all generated from it. Append only; never renumber. */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include <errno.h>

#include "common.h"

/* X(name, value, message) */
#define WEFT_ERRNO_MAP(X)                                                    \
  X(EPERM, -EPERM, "operation not permitted")                                \
  X(ENOENT, -ENOENT, "no such file or directory")                            \
  X(EINTR, -EINTR, "interrupted system call")                                \
  X(EIO, -EIO, "i/o error")                                                  \
  X(EBADF, -EBADF, "bad file descriptor")                                    \
  X(EAGAIN, -EAGAIN, "resource temporarily unavailable")                     \
  X(ENOMEM, -ENOMEM, "not enough memory")                                    \
  X(EACCES, -EACCES, "permission denied")                                    \
  X(EBUSY, -EBUSY, "resource busy")                                          \
  X(EEXIST, -EEXIST, "already exists")                                       \
  X(EINVAL, -EINVAL, "invalid argument")                                     \
  X(ENFILE, -ENFILE, "file table overflow")                                  \
  X(EMFILE, -EMFILE, "too many open files")                                  \
  X(EPIPE, -EPIPE, "broken pipe")                                            \
  X(ERANGE, -ERANGE, "result out of range")                                  \
  X(ENOSYS, -ENOSYS, "function not implemented")                             \
  X(ENOTSUP, -ENOTSUP, "operation not supported")                            \
  X(EADDRINUSE, -EADDRINUSE, "address already in use")                       \
  X(EADDRNOTAVAIL, -EADDRNOTAVAIL, "address not available")                  \
  X(ENETUNREACH, -ENETUNREACH, "network is unreachable")                     \
  X(ECONNABORTED, -ECONNABORTED, "software caused connection abort")         \
  X(ECONNRESET, -ECONNRESET, "connection reset by peer")                     \
  X(ENOTCONN, -ENOTCONN, "socket is not connected")                          \
  X(ESHUTDOWN, -ESHUTDOWN, "runtime or object is shut down")                 \
  X(ETIMEDOUT, -ETIMEDOUT, "operation timed out")                            \
  X(ECONNREFUSED, -ECONNREFUSED, "connection refused")                       \
  X(EHOSTUNREACH, -EHOSTUNREACH, "host is unreachable")                      \
  X(EALREADY, -EALREADY, "operation already in progress")                    \
  X(EINPROGRESS, -EINPROGRESS, "operation in progress")                      \
  X(ECANCELED, -ECANCELED, "operation canceled")                             \
  X(EOVERFLOW, -EOVERFLOW, "value too large")                                \
  X(EMSGSIZE, -EMSGSIZE, "message too long")

/* Codes with no errno counterpart. */
#define WEFT_OWN_ERROR_MAP(X)                                                \
  X(ECLOSED, -4001, "channel or object closed")                              \
  X(EFAILED, -4002, "task failed")                                           \
  X(EBACKEND, -4003, "unknown or unavailable backend")                       \
  X(EABI, -4004, "incompatible ABI version")                                 \
  X(EEOF, -4005, "end of stream")                                            \
  X(ENOTASK, -4006, "not called from inside a weft task")                    \
  X(EDNS, -4007, "name resolution failed")

#define WEFT_ERROR_MAP(X) WEFT_ERRNO_MAP(X) WEFT_OWN_ERROR_MAP(X)

typedef enum weft_errno {
#define WEFT__ERR_ENUM(name, value, msg) WEFT_##name = (value),
  WEFT_ERROR_MAP(WEFT__ERR_ENUM)
#undef WEFT__ERR_ENUM
  WEFT__ERR_DUMMY_LAST = 0 /* keeps the list's trailing comma legal in C89 */
} weft_errno;

WEFT_BEGIN_DECLS

/* A human-readable message for `err`, e.g. "not enough memory". Unknown
 * codes give "unknown error". Never NULL; static storage; any thread.
 * Since 0.1. */
WEFT_API const char *weft_strerror(int err);

/* The code's name, e.g. "WEFT_ENOMEM", or "WEFT_UNKNOWN" for an unknown code.
 * Never NULL; static storage; any thread. Since 0.1. */
WEFT_API const char *weft_err_name(int err);

WEFT_END_DECLS

#endif /* WEFT_ERROR_H */
