/* core/reactor/driver.c: the driver. One per runtime: the timer wheel, the
 * backend's loop, and the turn that a parked worker runs.
 *
 * A turn: fire the timers that are due, compute the poll timeout from the
 * next timer (and the caller's own limit), poll the backend, which reports
 * readiness through the host callbacks (io_reg.c delivers it to wakers),
 * free the registrations that were dropped during the poll, and fire the
 * timers again. Wakers are always woken with no lock held: waking or
 * dropping a waker may free a task, whose futures take the driver's lock.
 *
 * Time: the driver's clock is the backend's now_ns (the sim backend's
 * virtual time) or CLOCK_MONOTONIC. Deadlines are rounded UP to the next
 * millisecond tick and the wheel is advanced to the current time rounded
 * DOWN, so a timer fires at or after its deadline, never before.
 *
 * Threads: turn runs on one thread at a time (the scheduler's guarantee);
 * everything else is callable from any thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver_impl.h"

/* Which driver's turn this thread is running, if any: unparking one's own
 * driver from inside its turn (a timer or readiness woke a task) needs no
 * system call, the turn is about to return anyway. */
static _Thread_local weft__driver *tl_turn;

#define NS_PER_MS 1000000u
#define FIRE_BATCH 64

static weft__timer *timer_of(weft__timer_entry *e) {
  /* The entry is the first member of weft__timer. */
  return (weft__timer *)(void *)e;
}

uint64_t weft__driver_now_ns(const weft__driver *d) {
  return weft__backend_now_ns(d->be, d->loop);
}

/* ---- Waking the backend ------------------------------------------------- */

/* How often a failed backend wake is retried, and the poll bound once the
 * backend is known to drop wakes. */
#define WAKE_RETRIES 20
#define WEFT__WAKE_FALLBACK_MS 10

/* Interrupt the backend's poll. A backend's wake can fail (an eventfd or
 * pipe write refused, a module's own queue full); a wake that is simply
 * dropped leaves a task that never runs again. So a failure is retried
 * with a growing pause (1 us doubling to 1 ms, about 11 ms in all), and if
 * the backend still refuses, the driver stops trusting its wake: every
 * later turn polls with a bounded timeout, and the turn in progress, if it
 * waits on a timer, ends by itself. Retrying from the waking thread is
 * safe: wake is thread-safe by contract (C10) and wakes may merge. */
static void driver_wake(weft__driver *d) {
  if (weft__backend_wake(d->be, d->loop) >= 0)
    return;
  if (atomic_load_explicit(&d->wake_unreliable, memory_order_relaxed))
    return;
  for (unsigned i = 0; i < WAKE_RETRIES; i++) {
    struct timespec ts = {0, 1000L << (i < 10 ? i : 10)};
    nanosleep(&ts, NULL);
    if (weft__backend_wake(d->be, d->loop) >= 0)
      return;
  }
  atomic_store_explicit(&d->wake_unreliable, 1, memory_order_relaxed);
  fprintf(stderr, "weft: backend %s keeps failing to wake its loop; "
                  "polling every %d ms from now on\n",
          weft__driver_backend_name(d), WEFT__WAKE_FALLBACK_MS);
}

/* ---- Host callbacks: the backend calls these on the loop thread ---------- */

static char signal_token; /* the address marks the signal pipe's reports */
void *const weft__signal_pipe_token = &signal_token;

static void host_io_ready(void *ctx, void *token, uint32_t events) {
  weft__driver *d = ctx;
  if (token == weft__signal_pipe_token) {
    weft__signal_hub *h =
        atomic_load_explicit(&d->signals, memory_order_acquire);
    if (h)
      weft__signal_hub_drain(h);
    return;
  }
  weft__io_deliver(token, events);
}

static void host_signal_ready(void *ctx, int signo) {
  weft__driver *d = ctx;
  weft__signal_hub *h = atomic_load_explicit(&d->signals, memory_order_acquire);
  if (h)
    weft__signal_hub_deliver(h, signo);
}

static int fire_due(weft__driver *d);

static void free_deferred(weft__driver *d) {
  pthread_mutex_lock(&d->mu);
  weft__io_reg *r = d->free_later;
  d->free_later = NULL;
  pthread_mutex_unlock(&d->mu);
  while (r) {
    weft__io_reg *next = r->free_next;
    weft__io_free_now(r);
    r = next;
  }
}

static int host_run_tasks(void *ctx) {
  weft__driver *d = ctx;
  /* Attach mode: registrations freed since the last call can go now, the
   * loop is between its callbacks (contract clause C6). */
  if (d->attached)
    free_deferred(d);
  fire_due(d);
  if (!d->rt)
    return 0;
  return weft__runtime_run_ready(d->rt, 256);
}

static int64_t timeout_to(weft__driver *d, uint64_t now_ns) {
  uint64_t next = weft__wheel_next(&d->wheel);
  if (next == UINT64_MAX)
    return -1;
  if (next > UINT64_MAX / NS_PER_MS)
    return INT64_MAX;
  uint64_t at = next * NS_PER_MS;
  if (at <= now_ns)
    return 0;
  uint64_t ms = (at - now_ns + NS_PER_MS - 1) / NS_PER_MS;
  return ms > INT64_MAX ? INT64_MAX : (int64_t)ms;
}

static int64_t host_next_timeout_ms(void *ctx) {
  weft__driver *d = ctx;
  pthread_mutex_lock(&d->mu);
  int64_t t = d->wheel.due.head ? 0 : timeout_to(d, weft__driver_now_ns(d));
  pthread_mutex_unlock(&d->mu);
  return t;
}

/* ---- Creation ------------------------------------------------------------- */

int weft__driver_new_with(weft_runtime *rt, const weft_backend *be,
                          void *module_handle, void *attach_loop,
                          weft__driver **out) {
  if (!be || !out)
    return WEFT_EINVAL;
  weft__driver *d = calloc(1, sizeof *d);
  if (!d)
    return WEFT_ENOMEM;
  d->rt = rt;
  d->be = be;
  d->module = module_handle;
  d->host = (weft_backend_host){
      .struct_size = sizeof(weft_backend_host),
      .ctx = d,
      .io_ready = host_io_ready,
      .signal_ready = host_signal_ready,
      .run_tasks = host_run_tasks,
      .next_timeout_ms = host_next_timeout_ms,
  };
  if (pthread_mutex_init(&d->mu, NULL) != 0) {
    free(d);
    return WEFT_ENOMEM;
  }
  int rc = attach_loop
               ? weft__backend_attach(be, &d->loop, attach_loop, &d->host)
               : weft__backend_create(be, &d->loop, &d->host);
  if (rc < 0) {
    pthread_mutex_destroy(&d->mu);
    free(d);
    return rc;
  }
  d->attached = attach_loop != NULL;
  d->virtual_clock = weft__backend_has_clock(d->be);
  weft__wheel_init(&d->wheel, weft__driver_now_ns(d) / NS_PER_MS);
  *out = d;
  return 0;
}

int weft__driver_new(weft_runtime *rt, const weft__config *cfg,
                     weft__driver **out) {
  if (!out)
    return WEFT_EINVAL;
  const weft_backend *be;
  void *handle;
  int rc = weft__backend_open(cfg, &be, &handle);
  if (rc < 0)
    return rc;
  rc = weft__driver_new_with(rt, be, handle, cfg ? cfg->attach_loop : NULL,
                             out);
  if (rc < 0)
    weft__backend_release(handle);
  return rc;
}

void weft__driver_free(weft__driver *d) {
  if (!d)
    return;
  weft__signal_hub *hub =
      atomic_load_explicit(&d->signals, memory_order_relaxed);
  if (hub)
    weft__signal_hub_free(d, hub);
  /* Timers still armed belong to futures that outlive the runtime: take
   * them out of the wheel and drop (not wake) their wakers, so the futures
   * stay safe to free later. */
  weft_waker drop[FIRE_BATCH];
  for (;;) {
    size_t n = 0;
    pthread_mutex_lock(&d->mu);
    weft__wheel_advance(&d->wheel, UINT64_MAX);
    weft__timer_entry *e;
    while (n < FIRE_BATCH && (e = weft__wheel_pop_due(&d->wheel)) != NULL) {
      weft__timer *t = timer_of(e);
      drop[n++] = t->waker;
      t->waker = (weft_waker){NULL, NULL};
      t->armed = 0;
    }
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < n; i++)
      weft__waker_drop_take(&drop[i]);
    if (n < FIRE_BATCH)
      break;
  }
  weft__io_reg *r = d->free_later;
  d->free_later = NULL;
  while (r) {
    weft__io_reg *next = r->free_next;
    weft__io_free_now(r);
    r = next;
  }
  weft__backend_destroy(d->be, d->loop);
  weft__backend_release(d->module);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

const char *weft__driver_backend_name(const weft__driver *d) {
  return d && d->be->name ? d->be->name : "none";
}

int weft__driver_sched_seed(const weft__driver *d, uint64_t *seed) {
  return weft__backend_ctl(d->be, d->loop, WEFT_BACKEND_CTL_SCHED_SEED, seed);
}

const weft_backend *weft__driver_backend(const weft__driver *d) {
  return d->be;
}

void *weft__driver_loop(const weft__driver *d) { return d->loop; }

pthread_mutex_t *weft__driver_mutex(weft__driver *d) { return &d->mu; }


/* ---- Timers ---------------------------------------------------------------- */

/* Fire every due timer: take each one's waker under the lock, in batches,
 * and wake them with the lock released. Returns how many fired. */
static int fire_due(weft__driver *d) {
  weft_waker batch[FIRE_BATCH];
  int fired = 0;
  pthread_mutex_lock(&d->mu);
  weft__wheel_advance(&d->wheel, weft__driver_now_ns(d) / NS_PER_MS);
  for (;;) {
    size_t n = 0;
    weft__timer_entry *e;
    while (n < FIRE_BATCH && (e = weft__wheel_pop_due(&d->wheel)) != NULL) {
      weft__timer *t = timer_of(e);
      batch[n++] = t->waker;
      t->waker = (weft_waker){NULL, NULL};
      t->armed = 0;
      /* Release: the owner's lock-free fast path reads `fired` with
       * acquire and may then free the timer; the waker was moved out
       * before, so nothing here touches `t` afterwards. */
      atomic_store_explicit(&t->fired, 1, memory_order_release);
    }
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < n; i++)
      weft__wake_take(&batch[i]);
    fired += (int)n;
    if (n < FIRE_BATCH)
      return fired;
    pthread_mutex_lock(&d->mu);
  }
}

int weft__timer_poll(weft__driver *d, weft__timer *t, uint64_t deadline_ns,
                     weft_context *cx) {
  /* Acquire pairs with fire_due's release: a fired timer needs no lock. */
  if (atomic_load_explicit(&t->fired, memory_order_acquire))
    return 1;
  weft_waker old = {NULL, NULL};
  int wake_driver = 0, done = 0;
  pthread_mutex_lock(&d->mu);
  if (atomic_load_explicit(&t->fired, memory_order_relaxed)) {
    done = 1;
  } else if (!t->armed) {
    if (deadline_ns <= weft__driver_now_ns(d)) {
      atomic_store_explicit(&t->fired, 1, memory_order_relaxed);
      done = 1;
    } else {
      t->entry.deadline = weft__ns_to_tick_up(deadline_ns);
      if (weft__wheel_insert(&d->wheel, &t->entry)) {
        atomic_store_explicit(&t->fired, 1, memory_order_relaxed);
        done = 1;
      } else {
        t->armed = 1;
        /* A turn sleeping past this deadline must wake up to re-plan. */
        wake_driver = d->polling && t->entry.deadline < d->poll_until_tick;
      }
    }
  }
  if (!done && cx)
    weft__waker_replace(&t->waker, &cx->waker, &old);
  pthread_mutex_unlock(&d->mu);
  weft__waker_drop_take(&old);
  if (wake_driver)
    driver_wake(d);
  return done;
}

void weft__timer_cancel(weft__driver *d, weft__timer *t) {
  weft_waker old;
  pthread_mutex_lock(&d->mu);
  if (t->armed) {
    weft__wheel_remove(&d->wheel, &t->entry);
    t->armed = 0;
  }
  old = t->waker;
  t->waker = (weft_waker){NULL, NULL};
  atomic_store_explicit(&t->fired, 0, memory_order_relaxed);
  pthread_mutex_unlock(&d->mu);
  weft__waker_drop_take(&old);
}

/* ---- The turn ---------------------------------------------------------------- */

int weft__driver_turn(weft__driver *d, int64_t timeout_ms) {
  weft__driver *outer = tl_turn;
  tl_turn = d;
  /* seq_cst: one half of the Dekker pair described in driver_impl.h. */
  atomic_store_explicit(&d->in_turn, 1, memory_order_seq_cst);
  if (atomic_exchange_explicit(&d->unpark_pending, 0, memory_order_seq_cst))
    timeout_ms = 0;
  int fired = fire_due(d);
  if (fired)
    timeout_ms = 0;

  /* A virtual clock follows real time while a blocking job is queued or
   * running (the job takes real time no jump can skip); the job's end
   * wakes the poll (job.c), and the next turn lets the clock jump again.
   * The check comes after in_turn was set, so a job ending from here on
   * unparks this very poll. */
  weft__blocking_pool *pool =
      d->virtual_clock && d->rt ? weft__runtime_blocking_pool(d->rt) : NULL;
  if (pool) {
    int busy = weft__blocking_pool_busy(pool);
    if (busy != d->following_real_time &&
        weft__backend_ctl(d->be, d->loop, WEFT_BACKEND_CTL_FOLLOW_REAL_TIME,
                          &busy) == 0)
      d->following_real_time = busy;
  }

  pthread_mutex_lock(&d->mu);
  uint64_t now = weft__driver_now_ns(d);
  int64_t t = timeout_to(d, now);
  if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
    t = timeout_ms;
  if (atomic_load_explicit(&d->wake_unreliable, memory_order_relaxed) &&
      (t < 0 || t > WEFT__WAKE_FALLBACK_MS))
    t = WEFT__WAKE_FALLBACK_MS;
  d->polling = 1;
  d->poll_until_tick =
      t < 0 ? UINT64_MAX
            : weft__ns_to_tick_up(now + (uint64_t)t * NS_PER_MS);
  pthread_mutex_unlock(&d->mu);

  int n = weft__backend_poll(d->be, d->loop, t);
  /* The contract (C9) has the backend absorb EINTR, but one that passes it
   * up has still only been interrupted: that is an empty turn, not a
   * failure, and the caller's loop polls again. */
  if (n == WEFT_EINTR)
    n = 0;

  pthread_mutex_lock(&d->mu);
  d->polling = 0;
  weft__io_reg *r = d->free_later;
  d->free_later = NULL;
  pthread_mutex_unlock(&d->mu);
  while (r) {
    weft__io_reg *next = r->free_next;
    weft__io_free_now(r);
    r = next;
  }
  atomic_store_explicit(&d->in_turn, 0, memory_order_seq_cst);
  fired += fire_due(d);
  tl_turn = outer;
  if (n < 0)
    return n;
  return n + fired;
}

int weft__driver_virtual_clock(const weft__driver *d) {
  return d->virtual_clock;
}

int weft__driver_fire_timers(weft__driver *d) {
  return d ? fire_due(d) : 0;
}

void weft__driver_unpark(weft__driver *d) {
  if (!d)
    return;
  /* Attach mode has no turn: the application's loop must be asked to run
   * the tasks every time. */
  if (d->attached) {
    driver_wake(d);
    return;
  }
  if (tl_turn == d)
    return;
  /* seq_cst: the other half of the Dekker pair (driver_impl.h). */
  atomic_store_explicit(&d->unpark_pending, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&d->in_turn, memory_order_seq_cst))
    driver_wake(d);
}

/* ---- Finding the driver from a future -------------------------------------- */

weft__driver *weft__driver_test_default;

weft__driver *weft__driver_of(weft_context *cx) {
  weft_runtime *rt = cx ? weft__context_runtime(cx) : weft_runtime_current();
  return rt ? weft__runtime_driver(rt) : weft__driver_test_default;
}
