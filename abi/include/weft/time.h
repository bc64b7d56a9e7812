/* weft/time.h: the clock, sleeps, intervals and timeouts.
 *
 * Timers live in the runtime's timer wheel (1 ms resolution). A timer never
 * fires before its deadline as measured by CLOCK_MONOTONIC (or by the
 * backend's clock: the sim backend's virtual time): deadlines are rounded up
 * to the next millisecond. Dropping (freeing) a timer future removes its
 * entry from the wheel at once.
 *
 * A timer future belongs to the runtime that first polls it (or, when it is
 * made inside a task, to that task's runtime), and must be freed before
 * that runtime is. */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include "common.h"
#include "future.h"

WEFT_BEGIN_DECLS

/* The current time in ns on the clock timers use: the current runtime's
 * (inside a task) or CLOCK_MONOTONIC (elsewhere). Any thread. Since 0.1. */
WEFT_API uint64_t weft_now_ns(void);

/* A future that completes `ms` milliseconds after it was made (inside a
 * task) or first polled (elsewhere). Its output is an int: 0, or
 * WEFT_ESHUTDOWN when it is polled outside any runtime. The caller owns
 * `*out` (weft_future_free). Returns 0, WEFT_EINVAL (NULL out) or
 * WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_sleep(uint64_t ms, weft_future **out);

/* Like weft_sleep, until `deadline_ns` on the weft_now_ns() clock. A
 * deadline in the past completes at the first poll. Since 0.1. */
WEFT_API int weft_sleep_until(uint64_t deadline_ns, weft_future **out);

/* What an interval does when ticks were missed (the task was busy or the
 * process stopped for longer than a period). */
typedef enum weft_missed_tick {
  /* Fire the missed ticks back to back until caught up, keeping the
   * original schedule (start + k * period). */
  WEFT_MISSED_TICK_BURST = 0,
  /* Fire once now, then every period from now on: the schedule shifts. */
  WEFT_MISSED_TICK_DELAY = 1,
  /* Fire once now, then at the next point of the original schedule. */
  WEFT_MISSED_TICK_SKIP = 2
} weft_missed_tick;

/* A periodic timer. Opaque; owned by the caller; polled by one task at a
 * time. */
typedef struct weft_interval weft_interval;

/* Make an interval of `period_ms` (>= 1). Its first tick is immediate.
 * Returns 0, WEFT_EINVAL or WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_interval_new(uint64_t period_ms, weft_missed_tick policy,
                               weft_interval **out);

/* Wait for the next tick. Returns 1 (WEFT_READY) when a tick is due, with
 * its scheduled time in `*tick_ns` (may be NULL); 0 (WEFT_PENDING) with
 * cx's waker stored; WEFT_EINVAL for NULL iv or cx, WEFT_ESHUTDOWN outside
 * any runtime. Since 0.1. */
WEFT_API int weft_interval_poll_tick(weft_interval *iv, weft_context *cx,
                                     uint64_t *tick_ns);

/* Free an interval (its timer leaves the wheel at once). NULL does
 * nothing. Since 0.1. */
WEFT_API void weft_interval_free(weft_interval *iv);

/* The output of a weft_timeout future. */
typedef struct weft_timeout_output {
  /* 0: `inner` completed in time; WEFT_ETIMEDOUT: it did not and was
   * freed; WEFT_ESHUTDOWN: polled outside any runtime (inner freed). */
  int status;
  /* On status 0, the inner future, now owned by the caller: read its
   * output with weft_future_output() and free it. NULL otherwise. */
  weft_future *inner;
} weft_timeout_output;

/* Wrap `inner` so that it gives up after `ms` milliseconds. Takes
 * ownership of `inner` on success only. The output is a
 * weft_timeout_output. Returns 0, WEFT_EINVAL (NULL argument) or
 * WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_timeout(weft_future *inner, uint64_t ms, weft_future **out);

WEFT_END_DECLS

#endif /* WEFT_TIME_H */
