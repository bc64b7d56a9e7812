/* core/blocking/pool.c: threads, queue, hand-off, keep-alive, shutdown.
 *
 * One mutex guards everything below except the atomics named as such. The
 * work is plain functions that may block for any time, so the pool cannot
 * know how long a job will take; it decides when to add threads from what it
 * sees:
 *
 * Coverage. A queued job is "covered" when a thread is already on its way to
 * the queue: one that is starting, one that was woken for a job and has not
 * yet taken one (notified), or the one spinner (a thread that just found the
 * queue empty and spins briefly before parking). A push that leaves more jobs
 * queued than there are covering threads wakes exactly one parked thread
 * (its own condition variable: no broadcast), or starts a thread when none is
 * parked and fewer than max_blocking_threads are alive.
 *
 * Flow. When jobs are short (their mean run time, a moving average, is
 * under SHORT_JOB_NS) and one finished within FLOW_NS, the threads running
 * them drain the queue as fast as the CPUs allow, and adding threads only
 * adds contention: a 2-core machine gains nothing from a 3rd runnable
 * thread. So while jobs flow, a push adds no thread. That must not strand a
 * job behind a job that then blocks for long (job A waits for job B queued
 * behind it): a watcher thread re-checks every FLOW_NS while jobs are
 * queued, and once nothing has finished for FLOW_NS it takes a job itself
 * and wakes or starts threads for the rest. Every queued job is therefore
 * picked up within about FLOW_NS of the pool being stuck, as long as threads
 * are below the maximum. Right after an idle pool gets work nothing is known
 * yet, so the pool waits up to FLOW_NS before growing past the first thread.
 *
 * Growth. Outside flow, each uncovered job wakes or starts a thread, but at
 * most MAX_STARTING threads are starting or woken-and-not-yet-running at a
 * time: on a machine short of CPU, more would not run either.
 *
 * Admission. With an unbounded queue a spawn takes no lock to reserve its
 * place: it bumps `reserved` and checks `started` (both seq_cst), while a
 * thread leaving on keep-alive drops `started` and then checks `reserved`,
 * so one of the two always sees the other (a Dekker pair).
 *
 * Ring slots. Admission also claims a slot in the queue's ring (`room`
 * counts free slots nobody has claimed: room + claimed + len == cap), and
 * grows the ring when none is free, so a failed allocation is reported by
 * the spawn call as WEFT_ENOMEM. The push that follows never allocates: a
 * job that was admitted can always be queued.
 *
 * Parking and keep-alive. Parked threads sit on a LIFO list, so the most
 * recently active thread is woken first and the others age out after
 * keep_alive; an idle thread exits only when no job is queued and no spawner
 * holds a reservation, so an admitted job always finds a thread.
 *
 * Lifetime. The pool is reference-counted: the owner (the runtime) holds one
 * reference and every thread one. Shutdown waits up to its timeout; a job
 * still running after it keeps its thread and the pool memory alive, and the
 * last thread out frees the pool. Thread records belong to their thread
 * until it exits; then the record waits on the exited list for whoever
 * joins the thread (the next thread to exit, or shutdown), and a pool shut
 * down without a timeout has joined all its threads when shutdown returns.
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How recently a job must have finished for the pool to count as flowing,
 * and how often the watcher re-checks. 500 us is far above the cost of a
 * hand-off, long enough that a thread preempted on a busy machine does not
 * look like a stuck pool, and short beside the blocking calls (disk, DNS)
 * the pool exists for. */
#define FLOW_NS 500000u
/* How long a thread that finds the queue empty spins before parking, so a
 * steady stream of short jobs needs no futex wake per job. */
#define SPIN_NS 30000u
/* At most this many threads are being started or woken at once. Each new
 * thread covers the jobs behind its own when it starts, so a burst still
 * grows the pool quickly (tens of threads per millisecond), but a stall of a
 * few hundred microseconds (a preempted thread) adds a few threads, not
 * hundreds. */
#define MAX_STARTING 16u
/* Jobs whose mean run time is below this count as short (CPU-bound). */
#define SHORT_JOB_NS 50000u

enum wake_reason { WAKE_NONE = 0, WAKE_JOB, WAKE_WATCH, WAKE_EXIT };

typedef struct thread_rec {
  struct thread_rec *next, *prev; /* parked list links; `next` also links
                                   * the list of exited threads */
  pthread_t tid;                  /* set by the thread when it exits */
  weft__blocking_pool *pool;
  pthread_cond_t cv; /* this thread alone waits on it */
  int wake;          /* enum wake_reason, set by the waker under the lock */
  int watch;         /* start as the watcher */
} thread_rec;

struct weft__blocking_pool {
  pthread_mutex_t mu;
  pthread_cond_t quiet; /* shutdown waits here for threads to leave */
  weft__bpool_ops ops;

  /* Settings, fixed at creation. */
  unsigned max_threads;
  uint64_t keep_alive_ns;
  size_t queue_limit;
  size_t stack_size;
  char name[16];
  void (*on_start)(void *);
  void *on_start_arg;
  void (*on_stop)(void *);
  void *on_stop_arg;

  /* The queue: a ring of task pointers. `len` counts slots from `head`
   * including NULL holes left by aborted jobs; `queued` counts live ones. */
  weft__task **ring;
  size_t cap, head, len, queued;
  /* Free ring slots not claimed by an admitted spawn. Claimed without the
   * lock (CAS), returned and grown under it; relaxed, because it is a
   * count only: the ring itself is read and written under the lock. */
  _Atomic size_t room;

  /* Threads. alive = started or starting, not yet decided to exit;
   * lingering = decided to exit, still running the stop hook. */
  thread_rec *parked; /* LIFO, most recent first */
  unsigned n_parked, alive, lingering, starting, notified, spinning;
  unsigned running, peak;
  thread_rec *watcher; /* the thread watching for a stuck queue, or NULL */
  /* Threads that have left (their stop hook has run) and await a join;
   * their records stay allocated until then. See thread_exit. */
  thread_rec *exited;
  int watch_wanted;    /* a watcher was asked for (starting or awake) */
  /* Admitted spawns not yet scheduled. Atomic because the unbounded
   * admission takes no lock: it and a thread's keep-alive exit form a
   * Dekker pair (each writes its own counter, then reads the other's, both
   * seq_cst), so either the spawner sees no started thread and takes the
   * locked path, or the exiting thread sees the reservation and stays. */
  _Atomic size_t reserved;
  _Atomic unsigned started; /* threads past start-up, not yet exiting */
  int shutdown;
  weft__bpool_waiter *w_head, *w_tail;
  uint64_t busy_since;   /* when a job last arrived at an idle pool */
  uint64_t done_at_busy; /* jobs_done then */

  /* Atomics read without the lock. */
  /* Written under the lock, read by the spinner to leave its spin early;
   * relaxed because the spinner re-checks under the lock before acting. */
  _Atomic size_t queued_hint;
  /* When a job last finished; relaxed: a heuristic input, ordered by the
   * lock whenever a decision depends on it. */
  _Atomic uint64_t last_finish_ns;
  /* Set once at shutdown; acquire/release so a token that sees it also sees
   * that the pool is shutting down (nothing else hangs on it). */
  _Atomic int closing;
  /* Owner + threads; acq_rel so the last holder sees every write before it
   * frees the memory. */
  _Atomic unsigned refs;
  /* Moving average of job run times (1/8 weight per job); relaxed: a
   * heuristic input, and concurrent updates may lose one sample. */
  _Atomic uint64_t avg_job_ns;
  /* Jobs run to completion; relaxed, a counter for metrics. */
  _Atomic uint64_t jobs_done;
  /* weft__bpool_on_idle's hook; under the lock. */
  void (*idle_fn)(void *ctx);
  void *idle_ctx;
};

/* The reservation made by weft__bpool_admit on this thread, consumed by the
 * schedule call that weft__task_spawn_custom makes on the same thread. */
static _Thread_local weft__blocking_pool *tls_admitted;

/* Join the threads of an exited list and free their records. Each one has
 * already pushed itself and has only its last pool_unref and return left,
 * so the joins are short. Lock NOT held. */
static void join_exited(thread_rec *r) {
  while (r) {
    thread_rec *next = r->next;
    pthread_join(r->tid, NULL);
    free(r);
    r = next;
  }
}

static void pool_unref(weft__blocking_pool *p) {
  if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
    return;
  /* The last reference went with a thread: the owner shut the pool down
   * with a timeout and left before this thread finished its job. Nobody
   * is left to join the threads still listed (this one among them), so
   * they release their own resources as they end. */
  for (thread_rec *r = p->exited, *next; r; r = next) {
    next = r->next;
    pthread_detach(r->tid);
    free(r);
  }
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->quiet);
  free(p->ring);
  free(p);
}

static int cond_init_monotonic(pthread_cond_t *cv) {
  pthread_condattr_t a;
  if (pthread_condattr_init(&a) != 0)
    return WEFT_ENOMEM;
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(cv, &a);
  pthread_condattr_destroy(&a);
  return rc == 0 ? 0 : WEFT_ENOMEM;
}

static struct timespec deadline_after(uint64_t ns) {
  uint64_t at = weft__now_ns() + ns;
  struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
  return ts;
}

int weft__bpool_create(const weft__bpool_ops *ops, const weft__config *cfg,
                       weft__blocking_pool **out) {
  weft__blocking_pool *p = calloc(1, sizeof *p);
  if (!p)
    return WEFT_ENOMEM;
  /* Adaptive: critical sections here are a few dozen instructions, so a
   * contender spins briefly before sleeping in the kernel. */
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
  int mrc = pthread_mutex_init(&p->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  if (mrc != 0) {
    free(p);
    return WEFT_ENOMEM;
  }
  if (cond_init_monotonic(&p->quiet) != 0) {
    pthread_mutex_destroy(&p->mu);
    free(p);
    return WEFT_ENOMEM;
  }
  p->ops = *ops;
  p->max_threads = cfg->max_blocking_threads ? cfg->max_blocking_threads : 512;
  p->keep_alive_ns = cfg->blocking_keep_alive_ms * 1000000u;
  p->queue_limit = cfg->blocking_queue_limit;
  p->stack_size = cfg->stack_size;
  memcpy(p->name, cfg->thread_name, sizeof p->name);
  p->name[sizeof p->name - 1] = '\0';
  p->on_start = cfg->on_thread_start;
  p->on_start_arg = cfg->on_thread_start_arg;
  p->on_stop = cfg->on_thread_stop;
  p->on_stop_arg = cfg->on_thread_stop_arg;
  atomic_init(&p->queued_hint, 0);
  atomic_init(&p->last_finish_ns, 0);
  atomic_init(&p->closing, 0);
  atomic_init(&p->refs, 1);
  atomic_init(&p->jobs_done, 0);
  atomic_init(&p->reserved, 0);
  atomic_init(&p->room, 0);
  atomic_init(&p->started, 0);
  atomic_init(&p->avg_job_ns, 0);
  *out = p;
  return 0;
}

/* ---- Queue (lock held) --------------------------------------------------- */

/* Claim a free ring slot without the lock; 0 if none is free. */
static int slot_claim(weft__blocking_pool *p) {
  size_t r = atomic_load_explicit(&p->room, memory_order_relaxed);
  while (r > 0) {
    if (atomic_compare_exchange_weak_explicit(&p->room, &r, r - 1,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      return 1;
  }
  return 0;
}

static void slot_return(weft__blocking_pool *p) {
  atomic_fetch_add_explicit(&p->room, 1, memory_order_relaxed);
}

/* Claim a slot, doubling the ring while none is free (lock held). */
static int slot_claim_locked(weft__blocking_pool *p) {
  while (!slot_claim(p)) {
    size_t ncap = p->cap ? p->cap * 2 : 64;
    weft__task **n = malloc(ncap * sizeof *n);
    if (!n)
      return WEFT_ENOMEM;
    for (size_t i = 0; i < p->len; i++)
      n[i] = p->ring[(p->head + i) % p->cap];
    free(p->ring);
    p->ring = n;
    atomic_fetch_add_explicit(&p->room, ncap - p->cap, memory_order_relaxed);
    p->cap = ncap;
    p->head = 0;
  }
  return 0;
}

/* Queue `t` in the slot its admission claimed. */
static void ring_push(weft__blocking_pool *p, weft__task *t) {
  p->ring[(p->head + p->len) % p->cap] = t;
  p->len++;
  p->queued++;
  atomic_store_explicit(&p->queued_hint, p->queued, memory_order_relaxed);
}

static weft__task *ring_pop(weft__blocking_pool *p) {
  while (p->len) {
    weft__task *t = p->ring[p->head];
    p->head = (p->head + 1) % p->cap;
    p->len--;
    slot_return(p);
    if (t) {
      p->queued--;
      atomic_store_explicit(&p->queued_hint, p->queued, memory_order_relaxed);
      return t;
    }
  }
  return NULL;
}

/* Take `t` out of the queue if it is there; leaves a NULL hole. */
static int ring_remove(weft__blocking_pool *p, weft__task *t) {
  for (size_t i = 0; i < p->len; i++) {
    size_t k = (p->head + i) % p->cap;
    if (p->ring[k] == t) {
      p->ring[k] = NULL;
      p->queued--;
      atomic_store_explicit(&p->queued_hint, p->queued, memory_order_relaxed);
      return 1;
    }
  }
  return 0;
}

/* ---- Room waiters (lock held) ------------------------------------------- */

static void waiter_unlink(weft__blocking_pool *p, weft__bpool_waiter *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    p->w_head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    p->w_tail = w->prev;
  w->next = w->prev = NULL;
  w->linked = 0;
}

/* Take the first waiter off the list when there is room; the caller wakes
 * the returned waker after unlocking. */
static weft_waker room_take_waiter(weft__blocking_pool *p) {
  weft_waker none = {NULL, NULL};
  weft__bpool_waiter *w = p->w_head;
  if (!w || (p->queue_limit &&
             p->queued + atomic_load_explicit(&p->reserved,
                                              memory_order_relaxed) >=
                 p->queue_limit &&
             !p->shutdown))
    return none;
  waiter_unlink(p, w);
  w->woken = 1;
  weft_waker k = w->waker;
  w->waker = none;
  return k;
}

static void wake_waker(weft_waker *w) {
  if (w->vtable)
    w->vtable->wake(w->data);
}

/* ---- Threads -------------------------------------------------------------- */

static void *pool_thread(void *arg);

/* Start one thread; the caller already counted it in alive and starting.
 * Returns 0 or a negative code after undoing the counts (lock NOT held). */
static int start_thread(weft__blocking_pool *p, int watch) {
  thread_rec *r = calloc(1, sizeof *r);
  int rc = r ? cond_init_monotonic(&r->cv) : WEFT_ENOMEM;
  if (rc == 0) {
    r->pool = p;
    r->watch = watch;
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    pthread_attr_t a;
    pthread_attr_init(&a);
    /* Joinable: shutdown joins every thread, so none is still running
     * pool code when the runtime is freed (a library unloaded right after
     * would otherwise pull the code out from under it). */
    if (p->stack_size)
      pthread_attr_setstacksize(&a, p->stack_size);
    pthread_t tid;
    int e = pthread_create(&tid, &a, pool_thread, r);
    pthread_attr_destroy(&a);
    if (e == 0)
      return 0;
    /* EAGAIN (RLIMIT_NPROC, threads-max) or ENOMEM: a recoverable error. */
    rc = e == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
    atomic_fetch_sub_explicit(&p->refs, 1, memory_order_relaxed);
    pthread_cond_destroy(&r->cv);
  }
  free(r);
  pthread_mutex_lock(&p->mu);
  p->alive--;
  p->starting--;
  if (watch)
    p->watch_wanted = 0;
  if (p->alive + p->lingering == 0)
    pthread_cond_broadcast(&p->quiet);
  pthread_mutex_unlock(&p->mu);
  return rc;
}

/* Jobs flow when they are short (their mean run time, a moving average, is
 * under SHORT_JOB_NS), one finished within FLOW_NS, and some thread is
 * draining the queue (running a job, spinning, or woken for one). Short jobs
 * are bound by the CPU, which more threads cannot add; jobs that block
 * (sleep, disk, DNS) have long run times, so a burst of them never looks like
 * flow and the pool grows until the burst is covered. Lock held. */
static int flowing(const weft__blocking_pool *p, uint64_t now) {
  if (p->running + p->spinning + p->notified + p->starting == 0)
    return 0;
  uint64_t last = atomic_load_explicit(&p->last_finish_ns, memory_order_relaxed);
  uint64_t avg = atomic_load_explicit(&p->avg_job_ns, memory_order_relaxed);
  if (last && now - last < FLOW_NS && avg < SHORT_JOB_NS)
    return 1;
  /* Nothing finished since the pool got busy, and for less than
   * FLOW_NS: too early to tell, so count it as flow and let the watcher
   * look again. A burst waits FLOW_NS before it grows the pool; a stream
   * of short jobs does not start hundreds of threads before the first of
   * them has had time to finish. */
  return atomic_load_explicit(&p->jobs_done, memory_order_relaxed) ==
             p->done_at_busy &&
         now - p->busy_since < FLOW_NS;
}


static thread_rec *unpark_one(weft__blocking_pool *p, int reason) {
  thread_rec *r = p->parked;
  if (!r)
    return NULL;
  p->parked = r->next;
  if (r->next)
    r->next->prev = NULL;
  r->next = r->prev = NULL;
  p->n_parked--;
  r->wake = reason;
  /* Signal under the lock: once unlocked, the thread may run, finish and
   * free its record. */
  pthread_cond_signal(&r->cv);
  return r;
}

/* Make sure the queued jobs have threads coming (lock held). Returns how
 * many threads the caller must start after unlocking (already counted);
 * `*watch` is set when one of them is to start as the watcher. */
static unsigned cover(weft__blocking_pool *p, uint64_t now, int *watch) {
  unsigned start = 0;
  *watch = 0;
  if (p->shutdown)
    return 0;
  size_t covering = (size_t)p->starting + p->notified + p->spinning;
  if (p->queued <= covering)
    return 0;
  if (!now)
    now = weft__now_ns(); /* read only when a decision needs it */
  if (flowing(p, now)) {
    /* Running threads drain the queue; make sure someone checks that they
     * keep doing so. */
    if (!p->watch_wanted) {
      if (unpark_one(p, WAKE_WATCH)) {
        p->watch_wanted = 1;
      } else if (p->alive < p->max_threads) {
        p->watch_wanted = 1;
        p->alive++;
        p->starting++;
        *watch = 1;
        start = 1;
      }
    }
    return start;
  }
  while (p->queued > covering) {
    /* Threads woken or started but not yet running are not getting the
     * CPU: more of them would not either. */
    if (p->notified + p->starting >= MAX_STARTING)
      break;
    if (unpark_one(p, WAKE_JOB)) {
      p->notified++;
    } else if (p->alive < p->max_threads) {
      p->alive++;
      p->starting++;
      start++;
    } else {
      break;
    }
    covering++;
  }
  return start;
}

static void start_threads(weft__blocking_pool *p, unsigned n, int watch) {
  for (unsigned i = 0; i < n; i++)
    if (start_thread(p, watch && i == 0) != 0) {
      /* Out of threads: the jobs stay queued for the threads that exist
       * (admission guarantees at least one). Undo the rest too. */
      pthread_mutex_lock(&p->mu);
      p->alive -= n - i - 1;
      p->starting -= n - i - 1;
      pthread_mutex_unlock(&p->mu);
      return;
    }
}

static void spin_for_work(weft__blocking_pool *p) {
  uint64_t until = weft__now_ns() + SPIN_NS;
  for (unsigned i = 1;; i++) {
    if (atomic_load_explicit(&p->queued_hint, memory_order_relaxed) ||
        atomic_load_explicit(&p->closing, memory_order_relaxed))
      return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if ((i & 63) == 0 && weft__now_ns() >= until)
      return;
  }
}

/* Watch the queue (lock held, r is p->watcher). Returns when the thread
 * should go back to the main loop. */
static void watch_queue(weft__blocking_pool *p, thread_rec *r) {
  p->watcher = r;
  for (;;) {
    struct timespec ts = deadline_after(FLOW_NS);
    r->wake = WAKE_NONE;
    while (r->wake == WAKE_NONE && !p->shutdown)
      if (pthread_cond_timedwait(&r->cv, &p->mu, &ts) == ETIMEDOUT)
        break;
    uint64_t now = weft__now_ns();
    if (p->shutdown || p->queued == 0 || !flowing(p, now))
      break;
  }
  /* Stuck or done: stop watching; the main loop takes a job if one is
   * queued and then covers the rest, which is no longer flowing. */
  p->watcher = NULL;
  p->watch_wanted = 0;
}

/* A thread leaves. Its record goes on the exited list, to be joined: by
 * the next thread to leave (which takes the list, so at most a few threads
 * ever wait for a join, however many keep-alive has retired), or by
 * shutdown. A thread joins only threads listed before it, so two leaving
 * threads never wait for each other. */
static void thread_exit(weft__blocking_pool *p, thread_rec *r) {
  /* Lock held: leave the count of threads that can take jobs now, so that
   * a spawn racing with this exit starts a new thread. */
  p->alive--;
  p->lingering++;
  pthread_mutex_unlock(&p->mu);
  if (p->on_stop)
    p->on_stop(p->on_stop_arg);
  pthread_cond_destroy(&r->cv);
  r->tid = pthread_self();
  pthread_mutex_lock(&p->mu);
  thread_rec *earlier = p->exited;
  r->next = NULL;
  p->exited = r;
  p->lingering--;
  if (p->alive + p->lingering == 0)
    pthread_cond_broadcast(&p->quiet);
  pthread_mutex_unlock(&p->mu);
  join_exited(earlier);
  pool_unref(p);
}

static void *pool_thread(void *arg) {
  thread_rec *r = arg;
  weft__blocking_pool *p = r->pool;
  if (p->name[0])
    pthread_setname_np(pthread_self(), p->name);
  if (p->on_start)
    p->on_start(p->on_start_arg);

  pthread_mutex_lock(&p->mu);
  p->starting--;
  /* seq_cst: the exit path's half of the Dekker pair (see `reserved`). */
  unsigned now_started =
      atomic_fetch_add_explicit(&p->started, 1, memory_order_seq_cst) + 1;
  if (now_started > p->peak)
    p->peak = now_started; /* threads that really run, not attempts */
  int first = 1;
  if (r->watch)
    watch_queue(p, r);
  for (;;) {
    /* After shutdown, queued jobs belong to the shutdown's cancel loop,
     * which drops the lock between jobs: a thread that just finished its
     * job must not start one of them (they are "not yet started", and the
     * contract cancels those). */
    weft__task *t = p->shutdown ? NULL : ring_pop(p);
    if (t) {
      int watch = 0;
      unsigned n = 0;
      if (first) {
        /* A new or woken thread covers the jobs behind its own, so that
         * threads start two at a time (spawner and this one) in a burst. */
        n = cover(p, 0, &watch);
      }
      first = 0;
      p->running++;
      weft_waker w = room_take_waiter(p);
      pthread_mutex_unlock(&p->mu);
      wake_waker(&w);
      start_threads(p, n, watch);
      uint64_t t0 = weft__now_ns();
      p->ops.run(t);
      uint64_t t1 = weft__now_ns();
      uint64_t avg =
          atomic_load_explicit(&p->avg_job_ns, memory_order_relaxed);
      atomic_store_explicit(&p->avg_job_ns, avg - avg / 8 + (t1 - t0) / 8,
                            memory_order_relaxed);
      atomic_store_explicit(&p->last_finish_ns, t1, memory_order_relaxed);
      atomic_fetch_add_explicit(&p->jobs_done, 1, memory_order_relaxed);
      pthread_mutex_lock(&p->mu);
      p->running--;
      if (p->shutdown && p->running == 0)
        pthread_cond_broadcast(&p->quiet);
      /* Under the lock, so that shutdown (which clears the hook) never
       * races a call into a runtime being freed. */
      if (p->idle_fn && p->running == 0 && p->queued == 0)
        p->idle_fn(p->idle_ctx);
      continue;
    }
    if (p->shutdown)
      break;
    if (!p->spinning) {
      p->spinning = 1;
      pthread_mutex_unlock(&p->mu);
      spin_for_work(p);
      pthread_mutex_lock(&p->mu);
      p->spinning = 0;
      if (p->queued || p->shutdown)
        continue;
    }
    /* Park until a job, a watch request, shutdown, or keep-alive. */
    r->wake = WAKE_NONE;
    r->prev = NULL;
    r->next = p->parked;
    if (p->parked)
      p->parked->prev = r;
    p->parked = r;
    p->n_parked++;
    struct timespec ts = deadline_after(p->keep_alive_ns);
    while (r->wake == WAKE_NONE)
      if (pthread_cond_timedwait(&r->cv, &p->mu, &ts) == ETIMEDOUT)
        break;
    first = 1;
    if (r->wake == WAKE_JOB) {
      p->notified--;
      continue;
    }
    if (r->wake == WAKE_WATCH) {
      watch_queue(p, r);
      continue;
    }
    if (r->wake == WAKE_EXIT)
      break;
    /* Keep-alive ran out; still on the parked list. */
    if (r->prev)
      r->prev->next = r->next;
    else
      p->parked = r->next;
    if (r->next)
      r->next->prev = r->prev;
    p->n_parked--;
    /* Leave the started count first, then look for reservations: an
     * unlocked admission either saw this thread gone or is seen here. */
    atomic_fetch_sub_explicit(&p->started, 1, memory_order_seq_cst);
    if (p->queued ||
        atomic_load_explicit(&p->reserved, memory_order_seq_cst)) {
      atomic_fetch_add_explicit(&p->started, 1, memory_order_seq_cst);
      continue; /* an admitted job may count on this thread */
    }
    thread_exit(p, r);
    return NULL;
  }
  atomic_fetch_sub_explicit(&p->started, 1, memory_order_seq_cst);
  thread_exit(p, r);
  return NULL;
}

/* ---- Admission and scheduling ------------------------------------------- */

int weft__bpool_admit(weft__blocking_pool *p) {
  if (!p->queue_limit) {
    /* Unbounded queue: no lock when a started thread exists. */
    atomic_fetch_add_explicit(&p->reserved, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&p->started, memory_order_seq_cst) > 0 &&
        !atomic_load_explicit(&p->closing, memory_order_acquire) &&
        slot_claim(p)) {
      tls_admitted = p;
      return 0;
    }
    atomic_fetch_sub_explicit(&p->reserved, 1, memory_order_relaxed);
  }
  pthread_mutex_lock(&p->mu);
  if (p->shutdown) {
    pthread_mutex_unlock(&p->mu);
    return WEFT_ESHUTDOWN;
  }
  if (p->queue_limit &&
      p->queued + atomic_load_explicit(&p->reserved, memory_order_relaxed) >=
          p->queue_limit) {
    pthread_mutex_unlock(&p->mu);
    return WEFT_EAGAIN;
  }
  if (slot_claim_locked(p) != 0) {
    pthread_mutex_unlock(&p->mu);
    return WEFT_ENOMEM;
  }
  atomic_fetch_add_explicit(&p->reserved, 1, memory_order_seq_cst);
  int need_thread = p->alive == 0;
  if (need_thread) {
    p->alive++;
    p->starting++;
  }
  pthread_mutex_unlock(&p->mu);
  if (need_thread) {
    /* With no thread at all, a job could wait forever: fail now instead. */
    int rc = start_thread(p, 0);
    if (rc != 0) {
      weft__bpool_unadmit(p);
      return rc == WEFT_ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
    }
  }
  tls_admitted = p;
  return 0;
}

void weft__bpool_unadmit(weft__blocking_pool *p) {
  pthread_mutex_lock(&p->mu);
  atomic_fetch_sub_explicit(&p->reserved, 1, memory_order_relaxed);
  slot_return(p);
  weft_waker w = room_take_waiter(p);
  pthread_mutex_unlock(&p->mu);
  if (tls_admitted == p)
    tls_admitted = NULL;
  wake_waker(&w);
}

void weft__bpool_schedule(void *sched, weft__task *t) {
  weft__blocking_pool *p = sched;
  if (tls_admitted != p) {
    /* Not a spawn: the task was aborted (or woken) while queued or running.
     * Take the queued reference back, if it is still queued, and cancel both
     * here: the job leaves the queue now and its cleanup runs now. */
    pthread_mutex_lock(&p->mu);
    int was_queued = ring_remove(p, t);
    weft_waker w = was_queued ? room_take_waiter(p) : (weft_waker){0};
    pthread_mutex_unlock(&p->mu);
    wake_waker(&w);
    if (was_queued)
      p->ops.cancel(t);
    p->ops.cancel(t);
    return;
  }
  tls_admitted = NULL;
  pthread_mutex_lock(&p->mu);
  /* Relaxed: the lock orders it against the exit path's check. */
  atomic_fetch_sub_explicit(&p->reserved, 1, memory_order_relaxed);
  if (p->shutdown) {
    /* Shut down since admission: the job cannot run; it resolves
     * cancelled. */
    slot_return(p);
    weft_waker w = room_take_waiter(p);
    pthread_mutex_unlock(&p->mu);
    wake_waker(&w);
    p->ops.cancel(t);
    return;
  }
  ring_push(p, t);
  uint64_t now = 0;
  if (p->queued == 1 && p->running == 0) {
    /* The pool was idle: a new busy period starts. */
    now = weft__now_ns();
    p->busy_since = now;
    p->done_at_busy =
        atomic_load_explicit(&p->jobs_done, memory_order_relaxed);
  }
  int watch;
  unsigned n = cover(p, now, &watch);
  pthread_mutex_unlock(&p->mu);
  start_threads(p, n, watch);
}

int weft__bpool_wait_room(weft__blocking_pool *p, weft__bpool_waiter *wt,
                          const weft_waker *w) {
  pthread_mutex_lock(&p->mu);
  wt->woken = 0;
  if (p->shutdown || !p->queue_limit ||
      p->queued + atomic_load_explicit(&p->reserved, memory_order_relaxed) <
          p->queue_limit) {
    if (wt->linked)
      waiter_unlink(p, wt);
    weft_waker old = wt->waker;
    wt->waker = (weft_waker){NULL, NULL};
    pthread_mutex_unlock(&p->mu);
    if (old.vtable)
      old.vtable->drop(old.data);
    return 1;
  }
  weft_waker old = wt->waker;
  wt->waker = w->vtable->clone(w->data);
  if (!wt->linked) {
    wt->linked = 1;
    wt->next = NULL;
    wt->prev = p->w_tail;
    if (p->w_tail)
      p->w_tail->next = wt;
    else
      p->w_head = wt;
    p->w_tail = wt;
  }
  pthread_mutex_unlock(&p->mu);
  if (old.vtable)
    old.vtable->drop(old.data);
  return 0;
}

void weft__bpool_cancel_wait(weft__blocking_pool *p, weft__bpool_waiter *wt,
                             int used_room) {
  pthread_mutex_lock(&p->mu);
  weft_waker old = wt->waker, next = {NULL, NULL};
  wt->waker = (weft_waker){NULL, NULL};
  if (wt->linked)
    waiter_unlink(p, wt);
  else if (wt->woken && !used_room)
    next = room_take_waiter(p); /* pass the room it did not use along */
  wt->woken = 0;
  pthread_mutex_unlock(&p->mu);
  if (old.vtable)
    old.vtable->drop(old.data);
  wake_waker(&next);
}

int weft__bpool_is_shutdown(const weft__blocking_pool *p) {
  return atomic_load_explicit(&p->closing, memory_order_acquire);
}

unsigned weft__bpool_peak_threads(const weft__blocking_pool *p) {
  weft__blocking_pool *m = (weft__blocking_pool *)p; /* the lock is not data */
  pthread_mutex_lock(&m->mu);
  unsigned n = m->peak;
  pthread_mutex_unlock(&m->mu);
  return n;
}

/* ---- The runtime's side of the seam (core/internal.h) --------------------- */

int weft__blocking_pool_shutdown(weft__blocking_pool *p, int64_t timeout_ms) {
  pthread_mutex_lock(&p->mu);
  p->idle_fn = NULL;
  if (!p->shutdown) {
    p->shutdown = 1;
    atomic_store_explicit(&p->closing, 1, memory_order_release);
    while (p->parked)
      unpark_one(p, WAKE_EXIT);
    if (p->watcher) {
      p->watcher->wake = WAKE_EXIT;
      pthread_cond_signal(&p->watcher->cv);
    }
    /* Cancel queued jobs one at a time, outside the lock: their cleanup
     * callbacks are user code and may spawn (and get WEFT_ESHUTDOWN). */
    weft__task *t;
    while ((t = ring_pop(p)) != NULL) {
      pthread_mutex_unlock(&p->mu);
      p->ops.cancel(t);
      pthread_mutex_lock(&p->mu);
    }
    /* Spawners waiting for room learn about the shutdown when they poll. */
    weft__bpool_waiter *w;
    while ((w = p->w_head) != NULL) {
      waiter_unlink(p, w);
      w->woken = 1;
      weft_waker k = w->waker;
      w->waker = (weft_waker){NULL, NULL};
      pthread_mutex_unlock(&p->mu);
      wake_waker(&k);
      pthread_mutex_lock(&p->mu);
    }
  }
  struct timespec ts = deadline_after(
      timeout_ms < 0 ? 0 : (uint64_t)timeout_ms * 1000000u);
  while (p->alive + p->lingering > 0) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&p->quiet, &p->mu);
    } else if (pthread_cond_timedwait(&p->quiet, &p->mu, &ts) == ETIMEDOUT) {
      break;
    }
  }
  int still = (int)p->running;
  /* Every thread listed has left: join them now, so that a pool shut down
   * without a timeout has no thread left at all when this returns. */
  thread_rec *gone = p->exited;
  p->exited = NULL;
  pthread_mutex_unlock(&p->mu);
  join_exited(gone);
  return still;
}

void weft__blocking_pool_free(weft__blocking_pool *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  int done = p->shutdown;
  /* Shut down earlier with a timeout: threads that have left since are
   * joined here; the ones still running jobs detach as they end. */
  thread_rec *gone = done ? p->exited : NULL;
  if (done)
    p->exited = NULL;
  pthread_mutex_unlock(&p->mu);
  join_exited(gone);
  if (!done)
    weft__blocking_pool_shutdown(p, -1);
  pool_unref(p);
}

void weft__blocking_pool_metrics(const weft__blocking_pool *p,
                                 weft_runtime_metrics *m) {
  weft__blocking_pool *q = (weft__blocking_pool *)p; /* the lock is not data */
  pthread_mutex_lock(&q->mu);
  uint64_t alive = q->alive, idle = q->n_parked + q->spinning,
           depth = q->queued;
  if (q->watcher)
    idle++;
  pthread_mutex_unlock(&q->mu);
  uint64_t done = atomic_load_explicit(&q->jobs_done, memory_order_relaxed);
  size_t end = m->struct_size;
#define WEFT__FILL(field, value)                                             \
  if (end >= offsetof(weft_runtime_metrics, field) + sizeof m->field)        \
  m->field = (value)
  WEFT__FILL(blocking_threads, alive);
  WEFT__FILL(blocking_idle_threads, idle);
  WEFT__FILL(blocking_queue_depth, depth);
  WEFT__FILL(blocking_jobs_done, done);
#undef WEFT__FILL
}

void weft__bpool_on_idle(weft__blocking_pool *p, void (*fn)(void *ctx),
                         void *ctx) {
  pthread_mutex_lock(&p->mu);
  p->idle_fn = fn;
  p->idle_ctx = ctx;
  pthread_mutex_unlock(&p->mu);
}

int weft__blocking_pool_busy(weft__blocking_pool *p) {
  pthread_mutex_lock(&p->mu);
  int busy = p->queued > 0 || p->running > 0;
  pthread_mutex_unlock(&p->mu);
  return busy;
}
