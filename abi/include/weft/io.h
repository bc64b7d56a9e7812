/* weft/io.h: readiness of any file descriptor.
 *
 * A weft_io wraps an fd (a socket, pipe, eventfd, tty...) and tells tasks
 * when it is readable or writable, with edge semantics: readiness stays
 * set until the task has drained the fd (its read or write returned
 * EAGAIN) and says so with weft_io_clear_ready; the task then waits for
 * the next edge. The fd is registered with the runtime's backend on the
 * first poll, from the runtime of the polling task.
 *
 * Closing: weft_io_close deregisters and closes the fd, and wakes any task
 * waiting on it; that task's next poll returns WEFT_ECLOSED. Closing the fd
 * behind weft's back (close(2) while registered) is not supported. */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include "backend.h" /* WEFT_IO_READABLE, WEFT_IO_WRITABLE... */
#include "common.h"
#include "future.h"

WEFT_BEGIN_DECLS

typedef struct weft_io weft_io;

/* Wrap `fd` (>= 0), which is switched to non-blocking mode. weft_io_free
 * does not close it; weft_io_close does. Returns 0, WEFT_EINVAL,
 * WEFT_EBADF or WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_io_new(int fd, weft_io **out);

/* Wait until the fd is ready for any bit of `interest`
 * (WEFT_IO_READABLE and/or WEFT_IO_WRITABLE). Returns 1 (ready; the bits
 * seen go to `*ready` when not NULL, WEFT_IO_ERROR/HANGUP included), 0
 * (pending, cx's waker stored), or a negative code: WEFT_ECLOSED after
 * weft_io_close, WEFT_EINVAL, WEFT_ESHUTDOWN outside a runtime, or the
 * backend's registration error. One reader task and one writer task at a
 * time. Since 0.1. */
WEFT_API int weft_io_poll_ready(weft_io *io, weft_context *cx,
                                uint32_t interest, uint32_t *ready);

/* The fd returned EAGAIN for `bits` (or gave a short read or write): clear
 * them, unless a new readiness arrived since the last weft_io_poll_ready
 * that reported them. Since 0.1. */
WEFT_API void weft_io_clear_ready(weft_io *io, uint32_t bits);

/* Futures for the next readiness; output: int, 0 or a negative code as
 * above. `io` must outlive the future. Since 0.1. */
WEFT_API int weft_io_readable(weft_io *io, weft_future **out);
WEFT_API int weft_io_writable(weft_io *io, weft_future **out);

/* Deregister and close the fd; waiting tasks wake with WEFT_ECLOSED.
 * Idempotent. Any thread. Returns 0 or a negative code. Since 0.1. */
WEFT_API int weft_io_close(weft_io *io);

/* Deregister (without closing the fd, unless weft_io_close ran) and free.
 * No task may be polling `io` any more. NULL does nothing. Since 0.1. */
WEFT_API void weft_io_free(weft_io *io);

/* The wrapped fd, or -1 after weft_io_close. Since 0.1. */
WEFT_API int weft_io_fd(const weft_io *io);

WEFT_END_DECLS

#endif /* WEFT_IO_H */
