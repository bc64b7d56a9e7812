/* backends/sim/sim.c: the deterministic backend.
 *
 * The sim backend exists so that code built on weft can be tested without
 * waiting for real time to pass and without depending on the order in which
 * the operating system happens to schedule things:
 *
 * - Time is virtual. now_ns() returns a counter that only poll() moves. When
 *   the core polls with a finite timeout and nothing is ready (no wake is
 *   pending), every task is waiting for a timer, so the counter jumps to the
 *   end of the timeout at once and poll returns: the next timer is due. A
 *   one-hour timer completes as fast as the core can fire it.
 *   While a blocking job is queued or running, the core switches the loop
 *   to follow real time (ctl WEFT_BACKEND_CTL_FOLLOW_REAL_TIME): the job
 *   takes real time that no jump can skip, so poll then waits for real,
 *   up to its timeout, and the clock moves with the real clock (all the
 *   real time since following began, in poll or between polls).
 * - poll(-1) with nothing pending means that every task waits for something
 *   that only another thread can do (a blocking job, a foreign waker). That
 *   is real waiting, so the thread sleeps on a condition variable until
 *   wake() is called; virtual time does not move meanwhile.
 * - There is no real I/O: register_fd and friends return WEFT_ENOTSUP, so
 *   the conformance tests that need sockets report themselves as skipped.
 * - The scheduling seed (WEFT_SIM_SEED, read when the loop is created) is
 *   handed to the executor through ctl(WEFT_BACKEND_CTL_SCHED_SEED); the
 *   current-thread scheduler then picks the next ready task with a PRNG
 *   seeded by it, so one seed gives one schedule, and a failing run can be
 *   replayed by exporting the seed it printed.
 *
 * Threads: poll, now_ns and ctl run on the loop thread; wake and now_ns may
 * be called from any thread. The clock is an _Atomic so that a timer armed
 * on another thread reads a whole value; it is written only by the loop
 * thread, inside poll. The wake flag lives under the mutex because the
 * sleeper in poll(-1) must not miss it between its check and its wait,
 * which is exactly what a mutex + condition variable pair guarantees. */
#include "sim.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <weft/error.h>

typedef struct sim_loop {
  const weft_backend_host *host;
  /* Virtual time in ns. Written by the loop thread only (poll); read from
   * any thread by now_ns. Relaxed is not enough for a reader that then
   * compares against deadlines computed by the loop thread after it
   * advanced the clock, so stores are release and loads acquire. */
  _Atomic uint64_t now_ns;
  uint64_t seed;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int woken; /* under mu: a wake arrived since the last poll returned */
  /* Loop thread only: set by ctl(WEFT_BACKEND_CTL_FOLLOW_REAL_TIME) while
   * work outside the tasks (a blocking job) takes real time. */
  int follow_real_time;
  /* Loop thread only, while following: the virtual and real (monotonic)
   * times when following began. The clock then reads
   * anchor_virtual + (real now - anchor_real), so every real nanosecond
   * counts, spent waiting in poll or not (on a loaded machine the loop
   * thread spends most of it preempted between polls). */
  uint64_t anchor_virtual, anchor_real;
} sim_loop;

static uint64_t real_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Following real time: bring the clock up to the real time that passed
 * since following began. Never backwards. */
static void follow_sync(sim_loop *l) {
  uint64_t v = l->anchor_virtual + (real_now_ns() - l->anchor_real);
  if (v > atomic_load_explicit(&l->now_ns, memory_order_relaxed))
    atomic_store_explicit(&l->now_ns, v, memory_order_release);
}

/* Parse WEFT_SIM_SEED; anything that is not a whole number gives the
 * default, so a typo cannot silently make the schedule random. */
static uint64_t sim_seed_from_env(void) {
  const char *s = getenv("WEFT_SIM_SEED");
  if (!s || !*s)
    return WEFT__SIM_DEFAULT_SEED;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || !end || *end != '\0')
    return WEFT__SIM_DEFAULT_SEED;
  return (uint64_t)v;
}

static int sim_create(void **loop_out, const weft_backend_host *host) {
  if (!loop_out || !host)
    return WEFT_EINVAL;
  sim_loop *l = calloc(1, sizeof *l);
  if (!l)
    return WEFT_ENOMEM;
  l->host = host;
  atomic_init(&l->now_ns, WEFT__SIM_EPOCH_NS);
  l->seed = sim_seed_from_env();
  int rc = pthread_mutex_init(&l->mu, NULL);
  if (rc != 0) {
    free(l);
    return -rc;
  }
  /* CLOCK_MONOTONIC: the real-time wait of follow_real_time mode must not
   * jump with the wall clock. */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  rc = pthread_cond_init(&l->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc != 0) {
    pthread_mutex_destroy(&l->mu);
    free(l);
    return -rc;
  }
  *loop_out = l;
  return 0;
}

static void sim_destroy(void *loop) {
  sim_loop *l = loop;
  if (!l)
    return;
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* No real I/O in a simulation: every fd operation is unsupported, which the
 * core passes on to the caller of the public I/O function. */
static int sim_register_fd(void *loop, int fd, uint32_t interest,
                           void *token) {
  (void)loop;
  (void)fd;
  (void)interest;
  (void)token;
  return WEFT_ENOTSUP;
}

static int sim_modify_fd(void *loop, int fd, uint32_t interest, void *token) {
  (void)loop;
  (void)fd;
  (void)interest;
  (void)token;
  return WEFT_ENOTSUP;
}

static int sim_deregister_fd(void *loop, int fd, void *token) {
  (void)loop;
  (void)fd;
  (void)token;
  return WEFT_ENOTSUP;
}

static int sim_poll(void *loop, int64_t timeout_ms) {
  sim_loop *l = loop;
  pthread_mutex_lock(&l->mu);
  if (!l->woken && timeout_ms < 0) {
    /* Everything waits on another thread: wait for real. The loop guards
     * against spurious wake-ups of the condition variable. */
    while (!l->woken)
      pthread_cond_wait(&l->cv, &l->mu);
    if (l->follow_real_time)
      follow_sync(l);
  } else if (l->follow_real_time) {
    /* A blocking job is running: it takes real time, so virtual time
     * follows real time until the job's end. The driver's timeout was
     * measured from the clock before this catch-up, so only what is left
     * of it is waited for: a timer that falls due meanwhile fires after at
     * least as many real ms as it asked for (never early), and one the job
     * itself waits for is not held up by it. */
    uint64_t before = atomic_load_explicit(&l->now_ns, memory_order_relaxed);
    follow_sync(l);
    uint64_t gap =
        atomic_load_explicit(&l->now_ns, memory_order_relaxed) - before;
    uint64_t limit = timeout_ms > 0 ? (uint64_t)timeout_ms * 1000000u : 0;
    if (!l->woken && gap < limit) {
      uint64_t until_ns = real_now_ns() + (limit - gap);
      struct timespec until = {(time_t)(until_ns / 1000000000u),
                               (long)(until_ns % 1000000000u)};
      int rc = 0;
      while (!l->woken && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->cv, &l->mu, &until);
      follow_sync(l);
    }
  } else if (!l->woken && timeout_ms > 0) {
    /* Everything waits on a timer: jump to its deadline. Only this thread
     * writes the clock, so a load/store pair is not a lost update. */
    uint64_t now = atomic_load_explicit(&l->now_ns, memory_order_relaxed);
    uint64_t step = (uint64_t)timeout_ms * 1000000u;
    uint64_t next = now + step < now ? UINT64_MAX : now + step;
    atomic_store_explicit(&l->now_ns, next, memory_order_release);
  }
  l->woken = 0;
  pthread_mutex_unlock(&l->mu);
  return 0;
}

static int sim_wake(void *loop) {
  sim_loop *l = loop;
  if (!l)
    return WEFT_EINVAL;
  pthread_mutex_lock(&l->mu);
  l->woken = 1;
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  return 0;
}

static int sim_signal_watch(void *loop, int signo) {
  (void)loop;
  (void)signo;
  return WEFT_ENOTSUP;
}

static int sim_ctl(void *loop, int op, void *arg) {
  sim_loop *l = loop;
  switch (op) {
  case WEFT_BACKEND_CTL_SCHED_SEED:
    if (!arg)
      return WEFT_EINVAL;
    *(uint64_t *)arg = l->seed;
    return 0;
  case WEFT_BACKEND_CTL_FOLLOW_REAL_TIME:
    if (!arg)
      return WEFT_EINVAL;
    if (*(const int *)arg != 0 && !l->follow_real_time) {
      l->anchor_virtual = atomic_load_explicit(&l->now_ns, memory_order_relaxed);
      l->anchor_real = real_now_ns();
    } else if (*(const int *)arg == 0 && l->follow_real_time) {
      follow_sync(l); /* the job's last stretch counts too */
    }
    l->follow_real_time = *(const int *)arg != 0;
    return 0;
  default:
    return WEFT_ENOTSUP;
  }
}

static uint64_t sim_now_ns(void *loop) {
  sim_loop *l = loop;
  return atomic_load_explicit(&l->now_ns, memory_order_acquire);
}

const weft_backend weft__backend_sim = {
    .abi_version = WEFT_BACKEND_ABI_V1,
    .struct_size = sizeof(weft_backend),
    .name = "sim",
    .create = sim_create,
    .attach = NULL, /* a simulation has no foreign loop to join */
    .destroy = sim_destroy,
    .register_fd = sim_register_fd,
    .modify_fd = sim_modify_fd,
    .rearm_fd = NULL,
    .deregister_fd = sim_deregister_fd,
    .close_fd = NULL,
    .poll = sim_poll,
    .wake = sim_wake,
    .signal_watch = sim_signal_watch,
    .signal_unwatch = sim_signal_watch,
    .ctl = sim_ctl,
    .now_ns = sim_now_ns,
};
