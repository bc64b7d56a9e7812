/* core/reactor/time.c: weft_sleep, weft_sleep_until, weft_interval and
 * weft_timeout, over the driver's timers.
 *
 * Each future holds its weft__timer inline, so a sleep costs one allocation
 * (the boxed future) and its wheel entry goes away in its drop. The driver
 * is found when the future is made inside a task, else at its first poll;
 * the deadline is fixed at the same moment. */
#include <stdlib.h>

#include <weft/time.h>

#include "reactor.h"

uint64_t weft_now_ns(void) {
  weft__driver *d = weft__driver_of(NULL);
  return d ? weft__driver_now_ns(d) : weft__now_ns();
}

static uint64_t add_ms(uint64_t ns, uint64_t ms) {
  if (ms > (UINT64_MAX - ns) / 1000000u)
    return UINT64_MAX;
  return ns + ms * 1000000u;
}

/* ---- sleep ------------------------------------------------------------------ */

typedef struct sleep_state {
  weft__timer timer;
  weft__driver *d;
  uint64_t deadline_ns;
  uint64_t ms;
  int relative; /* deadline not fixed yet: it is now + ms at first poll */
} sleep_state;

static weft_poll sleep_poll(void *p, weft_context *cx, void *out) {
  sleep_state *s = p;
  int *result = out;
  if (!s->d) {
    s->d = weft__driver_of(cx);
    if (!s->d) {
      if (result)
        *result = WEFT_ESHUTDOWN;
      return WEFT_READY;
    }
  }
  if (s->relative) {
    s->deadline_ns = add_ms(weft__driver_now_ns(s->d), s->ms);
    s->relative = 0;
  }
  if (!weft__coop_proceed(cx))
    return WEFT_PENDING;
  if (!weft__timer_poll(s->d, &s->timer, s->deadline_ns, cx))
    return WEFT_PENDING;
  if (result)
    *result = 0;
  return WEFT_READY;
}

static void sleep_drop(void *p) {
  sleep_state *s = p;
  if (s->d)
    weft__timer_cancel(s->d, &s->timer);
}

static const weft_future_vtable sleep_vt = {
    .struct_size = sizeof(weft_future_vtable),
    .poll = sleep_poll,
    .drop = sleep_drop,
};

static int make_sleep(uint64_t deadline_ns, uint64_t ms, int relative,
                      weft_future **out) {
  if (!out)
    return WEFT_EINVAL;
  sleep_state s = {0};
  s.timer.entry.level = -1;
  s.d = weft__driver_of(NULL);
  s.ms = ms;
  if (relative && s.d) {
    s.deadline_ns = add_ms(weft__driver_now_ns(s.d), ms);
  } else {
    s.deadline_ns = deadline_ns;
    s.relative = relative;
  }
  return weft_future_new(&sleep_vt, &s, sizeof s, sizeof(int), out);
}

int weft_sleep(uint64_t ms, weft_future **out) {
  return make_sleep(0, ms, 1, out);
}

int weft_sleep_until(uint64_t deadline_ns, weft_future **out) {
  return make_sleep(deadline_ns, 0, 0, out);
}

/* ---- interval ------------------------------------------------------------- */

struct weft_interval {
  weft__timer timer;
  weft__driver *d;
  uint64_t period_ns;
  uint64_t next_ns; /* scheduled time of the next tick */
  int started;      /* next_ns is set (at the first poll) */
  weft_missed_tick policy;
};

int weft_interval_new(uint64_t period_ms, weft_missed_tick policy,
                      weft_interval **out) {
  if (!out || period_ms == 0 || period_ms > UINT64_MAX / 1000000u ||
      (policy != WEFT_MISSED_TICK_BURST && policy != WEFT_MISSED_TICK_DELAY &&
       policy != WEFT_MISSED_TICK_SKIP))
    return WEFT_EINVAL;
  weft_interval *iv = calloc(1, sizeof *iv);
  if (!iv)
    return WEFT_ENOMEM;
  iv->timer.entry.level = -1;
  iv->period_ns = period_ms * 1000000u;
  iv->policy = policy;
  iv->d = weft__driver_of(NULL);
  if (iv->d) {
    iv->next_ns = weft__driver_now_ns(iv->d);
    iv->started = 1;
  }
  *out = iv;
  return 0;
}

int weft_interval_poll_tick(weft_interval *iv, weft_context *cx,
                            uint64_t *tick_ns) {
  if (!iv || !cx)
    return WEFT_EINVAL;
  if (!iv->d && !(iv->d = weft__driver_of(cx)))
    return WEFT_ESHUTDOWN;
  if (!iv->started) {
    iv->next_ns = weft__driver_now_ns(iv->d);
    iv->started = 1;
  }
  if (!weft__coop_proceed(cx))
    return 0;
  if (!weft__timer_poll(iv->d, &iv->timer, iv->next_ns, cx))
    return 0;
  uint64_t tick = iv->next_ns;
  uint64_t now = weft__driver_now_ns(iv->d);
  uint64_t next = tick + iv->period_ns;
  if (next <= now) { /* at least one tick was missed */
    switch (iv->policy) {
    case WEFT_MISSED_TICK_BURST:
      break; /* keep the schedule: the next poll fires at once */
    case WEFT_MISSED_TICK_DELAY:
      next = now + iv->period_ns;
      break;
    case WEFT_MISSED_TICK_SKIP:
      next += ((now - next) / iv->period_ns + 1) * iv->period_ns;
      break;
    }
  }
  iv->next_ns = next;
  /* Reset the fired timer so the next poll arms it for `next`. */
  weft__timer_cancel(iv->d, &iv->timer);
  if (tick_ns)
    *tick_ns = tick;
  return 1;
}

void weft_interval_free(weft_interval *iv) {
  if (!iv)
    return;
  if (iv->d)
    weft__timer_cancel(iv->d, &iv->timer);
  free(iv);
}

/* ---- timeout ----------------------------------------------------------------- */

typedef struct timeout_state {
  weft__timer timer;
  weft__driver *d;
  weft_future *inner;
  uint64_t deadline_ns;
  uint64_t ms;
  int relative;
} timeout_state;

static weft_poll timeout_poll(void *p, weft_context *cx, void *out) {
  timeout_state *s = p;
  weft_timeout_output *o = out;
  if (!s->d && !(s->d = weft__driver_of(cx))) {
    weft_future_free(s->inner);
    s->inner = NULL;
    *o = (weft_timeout_output){WEFT_ESHUTDOWN, NULL};
    return WEFT_READY;
  }
  if (s->relative) {
    s->deadline_ns = add_ms(weft__driver_now_ns(s->d), s->ms);
    s->relative = 0;
  }
  /* The inner future first: one that is ready right at the deadline
   * counts as in time. */
  if (weft_future_poll(s->inner, cx) == WEFT_READY) {
    weft__timer_cancel(s->d, &s->timer);
    *o = (weft_timeout_output){0, s->inner};
    s->inner = NULL;
    return WEFT_READY;
  }
  if (!weft__timer_poll(s->d, &s->timer, s->deadline_ns, cx))
    return WEFT_PENDING;
  weft_future_free(s->inner);
  s->inner = NULL;
  *o = (weft_timeout_output){WEFT_ETIMEDOUT, NULL};
  return WEFT_READY;
}

static void timeout_drop(void *p) {
  timeout_state *s = p;
  if (s->d)
    weft__timer_cancel(s->d, &s->timer);
  weft_future_free(s->inner);
  s->inner = NULL;
}

static const weft_future_vtable timeout_vt = {
    .struct_size = sizeof(weft_future_vtable),
    .poll = timeout_poll,
    .drop = timeout_drop,
};

int weft_timeout(weft_future *inner, uint64_t ms, weft_future **out) {
  if (!inner || !out)
    return WEFT_EINVAL;
  timeout_state s = {0};
  s.timer.entry.level = -1;
  s.inner = inner;
  s.ms = ms;
  s.d = weft__driver_of(NULL);
  if (s.d)
    s.deadline_ns = add_ms(weft__driver_now_ns(s.d), ms);
  else
    s.relative = 1;
  return weft_future_new(&timeout_vt, &s, sizeof s,
                         sizeof(weft_timeout_output), out);
}
