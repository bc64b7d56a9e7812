/* weft/signal.h: POSIX signals as a stream.
 *
 * weft_signal_new installs weft's handler for the signal (once per process,
 * shared by every runtime; the previous disposition comes back when the
 * last stream for that signal is freed). Every runtime that watches a
 * signal sees every delivery of it. Deliveries that arrive before the task
 * polls again merge into one ready result that reports how many. */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#include "common.h"
#include "future.h"
#include "runtime.h"

WEFT_BEGIN_DECLS

typedef struct weft_signal weft_signal;

/* Watch `signo` (not SIGKILL/SIGSTOP) on runtime `rt` (NULL: the current
 * task's runtime). Deliveries count from this call on. Returns 0,
 * WEFT_EINVAL (bad signal, or no runtime), WEFT_ENOMEM, WEFT_EBUSY (too
 * many runtimes watch signals), or the backend's error (WEFT_ENOTSUP on a
 * backend without fds, such as sim). Any thread. Since 0.1. */
WEFT_API int weft_signal_new(weft_runtime *rt, int signo, weft_signal **out);

/* Wait for a delivery. Returns the number of deliveries since the last
 * ready result (>= 1), 0 (pending, cx's waker stored), WEFT_EINVAL or
 * WEFT_ESHUTDOWN (the runtime is gone). One task at a time. Since 0.1. */
WEFT_API int weft_signal_poll_recv(weft_signal *s, weft_context *cx);

/* Free the stream. NULL does nothing. Any thread, but not while a task
 * polls it. Since 0.1. */
WEFT_API void weft_signal_free(weft_signal *s);

WEFT_END_DECLS

#endif /* WEFT_SIGNAL_H */
