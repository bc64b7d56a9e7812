/* core/exec/sched.c: the work-stealing scheduler.
 *
 * Each worker owns a bounded local queue (queue.c) and a LIFO slot that
 * holds the task most recently spawned or woken by the running task, so
 * that a message passed to a waiting task is handled while its data is hot.
 * Tasks woken or spawned from outside any worker go to the shared inject
 * queue; a full local queue spills half of itself there.
 *
 * Searching and parking (no lost wake-ups). `idle_state` packs the number
 * of searching workers (high 16 bits) and of unparked workers (low 16).
 *  - Whoever makes work visible to others (a push to a local queue, to the
 *    inject queue) then asks notify_parked(): if nobody is searching and a
 *    worker sleeps, it wakes one and counts it as searching. The check is a
 *    seq_cst read-modify-write on idle_state, so it is ordered after the
 *    push; the searcher side changes idle_state with a seq_cst RMW before it
 *    looks at the queues. One of the two always sees the other.
 *  - At most half the workers search at once, so a burst of wakes does not
 *    make every worker spin on the same queues.
 *  - A searcher that finds work stops searching; if it was the last one it
 *    wakes another worker, which keeps the chain going while work remains.
 *  - A worker parks only after checking its own queues; if it was the last
 *    searcher it re-checks every queue after it parked (under the count),
 *    and wakes a worker if it finds work.
 *
 * Parking itself: each worker has a park state (EMPTY, CONDVAR, DRIVER,
 * NOTIFIED). unpark_worker() swaps in NOTIFIED, so an unpark that comes
 * before the park makes the park return at once. An idle worker that
 * wins the driver try-lock sleeps in weft__driver_turn(-1) (the driver
 * bounds that wait by its next timer) and is woken with
 * weft__driver_unpark; the others sleep on their condition variable.
 *
 * Current-thread flavour: one worker structure and no thread; the thread in
 * weft_block_on (or the foreign loop, in attach mode) holds it, runs the
 * same run loop, and parks in the driver.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

WEFT__TLS weft__worker *weft__tls_worker;

/* Set while this worker runs a driver turn. Tasks that the turn wakes
 * (readiness, timers) go to this worker's own queue without waking a
 * helper for each: the worker runs them as soon as the turn returns, and
 * shares them afterwards if it has more than one (park, maintenance). A
 * helper woken for a single task would only steal it to another CPU, or
 * find nothing and park again. */
static WEFT__TLS int tl_in_turn;

#define SEARCH_ONE (1u << 16)
#define UNPARKED_MASK 0xffffu
#define GLOBAL_QUEUE_INTERVAL 31u
#define DRIVER_INTERVAL 61u
#define MAX_LIFO_POLLS 3u
/* A searcher that finds nothing spins this many rounds (each a short
 * pause) before it parks: a worker that produces tasks slightly slower
 * than another consumes them would otherwise make it park and be woken
 * (two system calls and two context switches) for nearly every task. */
#define SPIN_ROUNDS 16
#define SPIN_PAUSES 32

/* ---- Inject queue ------------------------------------------------------ */

static void inject_push_list(weft_runtime *rt, weft__task *first,
                             weft__task *last, size_t n) {
  pthread_mutex_lock(&rt->inject_mu);
  if (rt->inj_closed) {
    pthread_mutex_unlock(&rt->inject_mu);
    /* Shut down: the run references are released here (the tasks were
     * cancelled already, or are cancelled by this call). */
    while (first) {
      weft__task *next = first == last ? NULL : first->qnext;
      weft__task_shutdown(first);
      first = next;
    }
    return;
  }
  last->qnext = NULL;
  if (rt->inj_tail)
    rt->inj_tail->qnext = first;
  else
    rt->inj_head = first;
  rt->inj_tail = last;
  /* Relaxed: the length is only a hint read without the lock; the lock
   * orders the list itself. */
  atomic_store_explicit(&rt->inj_len,
                        atomic_load_explicit(&rt->inj_len,
                                             memory_order_relaxed) + n,
                        memory_order_relaxed);
  pthread_mutex_unlock(&rt->inject_mu);
}

static size_t inject_len(weft_runtime *rt) {
  return atomic_load_explicit(&rt->inj_len, memory_order_relaxed);
}

/* Pop up to `max` tasks: the first is returned, the rest go to `w`'s local
 * queue as far as it has room. An empty local queue may still have no room:
 * a thief that claimed half of it and was descheduled before it finished
 * copying keeps those slots, and the owner may have popped the rest since
 * (so up to all 256 slots are taken while the queue looks empty). The
 * tasks that do not fit stay in the inject queue. (This used to assume
 * room and drop the task on a failed push: under load, a task spawned
 * from a plain thread was then never run, and a join on it never
 * returned.) */
static weft__task *inject_pop_batch(weft_runtime *rt, weft__worker *w,
                                    size_t max) {
  if (inject_len(rt) == 0)
    return NULL;
  pthread_mutex_lock(&rt->inject_mu);
  weft__task *first = rt->inj_head;
  if (!first) {
    pthread_mutex_unlock(&rt->inject_mu);
    return NULL;
  }
  size_t taken = 1;
  weft__task *t = first->qnext;
  while (t && taken < max) {
    /* Read the link first: once pushed, the task may be stolen, run and
     * queued again by another worker. */
    weft__task *next = t->qnext;
    if (!weft__lq_push(&w->lq, t))
      break;
    t = next;
    taken++;
  }
  rt->inj_head = t;
  if (!t)
    rt->inj_tail = NULL;
  atomic_store_explicit(&rt->inj_len,
                        atomic_load_explicit(&rt->inj_len,
                                             memory_order_relaxed) - taken,
                        memory_order_relaxed);
  pthread_mutex_unlock(&rt->inject_mu);
  return first;
}

/* ---- Parking a single worker ------------------------------------------- */

static void unpark_worker(weft_runtime *rt, weft__worker *w) {
  /* seq_cst: pairs with the CASes of park_timeout(). */
  switch (atomic_exchange(&w->park_state, WEFT__PK_NOTIFIED)) {
  case WEFT__PK_CONDVAR:
    /* Taking the lock makes sure the sleeper is inside its wait. */
    pthread_mutex_lock(&w->park_mu);
    pthread_mutex_unlock(&w->park_mu);
    pthread_cond_signal(&w->park_cv);
    break;
  case WEFT__PK_DRIVER:
    weft__driver_unpark(rt->driver);
    break;
  default:
    break;
  }
}

static int driver_try_lock(weft_runtime *rt) {
  int exp = 0;
  /* Acquire: the previous holder's driver work happens before ours. */
  return atomic_compare_exchange_strong_explicit(
      &rt->driver_busy, &exp, 1, memory_order_acquire, memory_order_relaxed);
}

static void driver_unlock(weft_runtime *rt) {
  atomic_store_explicit(&rt->driver_busy, 0, memory_order_release);
}

static void park_in_driver(weft_runtime *rt, weft__worker *w) {
  int exp = WEFT__PK_EMPTY;
  if (!atomic_compare_exchange_strong(&w->park_state, &exp,
                                      WEFT__PK_DRIVER)) {
    /* NOTIFIED meanwhile: consume it. */
    atomic_store(&w->park_state, WEFT__PK_EMPTY);
    return;
  }
  tl_in_turn = 1;
  weft__driver_turn(rt->driver, -1);
  tl_in_turn = 0;
  atomic_exchange(&w->park_state, WEFT__PK_EMPTY);
}

static void park_timeout(weft_runtime *rt, weft__worker *w) {
  int exp = WEFT__PK_NOTIFIED;
  if (atomic_compare_exchange_strong(&w->park_state, &exp, WEFT__PK_EMPTY))
    return;
  if (driver_try_lock(rt)) {
    park_in_driver(rt, w);
    driver_unlock(rt);
    return;
  }
  pthread_mutex_lock(&w->park_mu);
  exp = WEFT__PK_EMPTY;
  if (!atomic_compare_exchange_strong(&w->park_state, &exp,
                                      WEFT__PK_CONDVAR)) {
    atomic_store(&w->park_state, WEFT__PK_EMPTY);
    pthread_mutex_unlock(&w->park_mu);
    return;
  }
  for (;;) {
    pthread_cond_wait(&w->park_cv, &w->park_mu);
    exp = WEFT__PK_NOTIFIED;
    if (atomic_compare_exchange_strong(&w->park_state, &exp,
                                       WEFT__PK_EMPTY))
      break;
  }
  pthread_mutex_unlock(&w->park_mu);
}

/* ---- Idle coordination -------------------------------------------------- */

static int should_notify(weft_runtime *rt) {
  /* A seq_cst RMW, not a plain load: see the comment at the top. */
  unsigned s = atomic_fetch_add(&rt->idle_state, 0);
  return (s >> 16) == 0 && (s & UNPARKED_MASK) < rt->nworkers;
}

static void notify_parked(weft_runtime *rt) {
  if (!should_notify(rt))
    return;
  pthread_mutex_lock(&rt->idle_mu);
  if (!should_notify(rt) || rt->nsleepers == 0) {
    pthread_mutex_unlock(&rt->idle_mu);
    return;
  }
  atomic_fetch_add(&rt->idle_state, 1u + SEARCH_ONE);
  unsigned idx = rt->sleepers[--rt->nsleepers];
  pthread_mutex_unlock(&rt->idle_mu);
  unpark_worker(rt, &rt->workers[idx]);
}

/* After a push to our own local queue or LIFO slot. The strict protocol
 * above is not needed for liveness here: this worker is awake and will run
 * the task itself if nobody else does, so a plain load decides whether
 * waking a helper is worth it, and the shared word is not written. */
static void notify_parked_local(weft_runtime *rt) {
  unsigned s = atomic_load_explicit(&rt->idle_state, memory_order_relaxed);
  if ((s >> 16) == 0 && (s & UNPARKED_MASK) < rt->nworkers)
    notify_parked(rt);
}

static void notify_if_work_pending(weft_runtime *rt) {
  for (unsigned i = 0; i < rt->nworkers; i++) {
    if (weft__lq_len(&rt->workers[i].lq) > 0) {
      notify_parked(rt);
      return;
    }
  }
  if (inject_len(rt) > 0)
    notify_parked(rt);
}

static int transition_to_searching(weft__worker *w) {
  if (w->searching)
    return 1;
  weft_runtime *rt = w->rt;
  unsigned s = atomic_load(&rt->idle_state);
  if (2 * (s >> 16) >= rt->nworkers)
    return 0;
  atomic_fetch_add(&rt->idle_state, SEARCH_ONE);
  w->searching = 1;
  return 1;
}

static void transition_from_searching(weft__worker *w) {
  if (!w->searching)
    return;
  w->searching = 0;
  unsigned prev = atomic_fetch_sub(&w->rt->idle_state, SEARCH_ONE);
  if ((prev >> 16) == 1)
    notify_parked(w->rt); /* we were the last searcher */
}

static void transition_to_parked(weft__worker *w) {
  weft_runtime *rt = w->rt;
  pthread_mutex_lock(&rt->idle_mu);
  unsigned dec = 1u + (w->searching ? SEARCH_ONE : 0u);
  unsigned prev = atomic_fetch_sub(&rt->idle_state, dec);
  int last_searcher = w->searching && (prev >> 16) == 1;
  rt->sleepers[rt->nsleepers++] = w->index;
  pthread_mutex_unlock(&rt->idle_mu);
  w->searching = 0;
  if (last_searcher)
    notify_if_work_pending(rt);
}

/* Remove `w` from the sleepers if it is there (it woke by itself). */
static int unpark_self(weft__worker *w) {
  weft_runtime *rt = w->rt;
  int found = 0;
  pthread_mutex_lock(&rt->idle_mu);
  for (unsigned i = 0; i < rt->nsleepers; i++) {
    if (rt->sleepers[i] == w->index) {
      rt->sleepers[i] = rt->sleepers[--rt->nsleepers];
      atomic_fetch_add(&rt->idle_state, 1u);
      found = 1;
      break;
    }
  }
  pthread_mutex_unlock(&rt->idle_mu);
  return found;
}

static int is_sleeping(weft__worker *w) {
  weft_runtime *rt = w->rt;
  int found = 0;
  pthread_mutex_lock(&rt->idle_mu);
  for (unsigned i = 0; i < rt->nsleepers; i++)
    if (rt->sleepers[i] == w->index)
      found = 1;
  pthread_mutex_unlock(&rt->idle_mu);
  return found;
}

static int has_local_work(weft__worker *w) {
  return w->lifo != NULL || weft__lq_len(&w->lq) > 0;
}

/* ---- Local scheduling ---------------------------------------------------- */

static void push_local(weft__worker *w, weft__task *t) {
  for (;;) {
    if (weft__lq_push(&w->lq, t))
      return;
    void *batch[WEFT__LQ_CAP / 2];
    int n = weft__lq_push_overflow(&w->lq, batch);
    if (n < 0)
      continue;
    if (n == 0) {
      inject_push_list(w->rt, t, t, 1);
      return;
    }
    for (int i = 0; i < n - 1; i++)
      ((weft__task *)batch[i])->qnext = (weft__task *)batch[i + 1];
    ((weft__task *)batch[n - 1])->qnext = t;
    inject_push_list(w->rt, (weft__task *)batch[0], t, (size_t)n + 1);
    atomic_store_explicit(
        &w->m_overflows,
        atomic_load_explicit(&w->m_overflows, memory_order_relaxed) + 1,
        memory_order_relaxed);
    return;
  }
}

static void schedule_remote(weft_runtime *rt, weft__task *t) {
  inject_push_list(rt, t, t, 1);
  if (rt->attach)
    weft__driver_unpark(rt->driver);
  else if (rt->current_thread)
    unpark_worker(rt, &rt->workers[0]);
  else
    notify_parked(rt);
}

void weft__sched_schedule(void *sched, weft__task *t) {
  weft_runtime *rt = sched;
  weft__worker *w = weft__tls_worker;
  if (!w || w->rt != rt) {
    schedule_remote(rt, t);
    return;
  }
  /* The LIFO slot is for a task woken by the task running here (a message
   * handed on while its data is hot). A wake outside any task, the driver
   * firing timers or reporting readiness in its turn, queues in order:
   * otherwise, of two timers due in the same turn, the later one ran
   * first. */
  if (!weft__tls_task) {
    push_local(w, t);
    if (!rt->current_thread && !tl_in_turn)
      notify_parked_local(rt);
    return;
  }
  weft__task *prev = w->lifo;
  w->lifo = t;
  if (prev) {
    push_local(w, prev);
    if (!rt->current_thread)
      notify_parked_local(rt);
  }
}

void weft__sched_schedule_yield(weft_runtime *rt, weft__task *t) {
  weft__worker *w = weft__tls_worker;
  if (!w || w->rt != rt) {
    schedule_remote(rt, t);
    return;
  }
  push_local(w, t);
  if (!rt->current_thread)
    notify_parked_local(rt);
}

/* ---- Ids and counters ---------------------------------------------------- */

uint64_t weft__sched_next_id(weft_runtime *rt) {
  weft__worker *w = weft__tls_worker;
  if (w && w->rt == rt) {
    if (w->id_next == w->id_end) {
      /* Relaxed: ids only need to be unique. */
      w->id_next = atomic_fetch_add_explicit(&rt->next_id, 1024,
                                             memory_order_relaxed);
      w->id_end = w->id_next + 1024;
    }
    return w->id_next++;
  }
  /* Spawns from outside the workers take their id from the count of
   * remote spawns (one atomic for both), in the upper half of the id
   * space so they never meet the workers' blocks. */
  return (atomic_fetch_add_explicit(&rt->remote_spawned, 1,
                                    memory_order_relaxed) +
          1) |
         ((uint64_t)1 << 63);
}

static void bump(atomic_uint_fast64_t *c, uint64_t n) {
  /* Single writer: a relaxed load and store, no locked instruction. */
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                        memory_order_relaxed);
}

void weft__sched_note_spawn(weft_runtime *rt) {
  weft__worker *w = weft__tls_worker;
  /* Remote spawns were counted when they took their id. */
  if (w && w->rt == rt)
    bump(&w->m_spawned, 1);
}

void weft__sched_note_complete(weft_runtime *rt) {
  weft__worker *w = weft__tls_worker;
  if (w && w->rt == rt)
    bump(&w->m_completed, 1);
  else
    atomic_fetch_add_explicit(&rt->remote_completed, 1, memory_order_relaxed);
}

#define REF_BATCH 256u

void weft__sched_task_ref(weft_runtime *rt) {
  weft__worker *w = weft__tls_worker;
  if (w && w->rt == rt) {
    if (w->ref_cache == 0) {
      /* Relaxed: we hold a reference (the running task's, or the user's
       * for block_on) so the count cannot reach zero meanwhile. */
      atomic_fetch_add_explicit(&rt->refs, REF_BATCH, memory_order_relaxed);
      w->ref_cache = REF_BATCH;
    }
    w->ref_cache--;
    return;
  }
  weft__runtime_ref(rt);
}

void weft__sched_task_unref(weft_runtime *rt) {
  weft__worker *w = weft__tls_worker;
  if (w && w->rt == rt) {
    /* The shared count still includes this reference, and the cache keeps
     * at least REF_BATCH of them, so giving a batch back never reaches
     * zero while the worker runs. */
    if (++w->ref_cache > 2 * REF_BATCH) {
      atomic_fetch_sub_explicit(&rt->refs, REF_BATCH, memory_order_release);
      w->ref_cache -= REF_BATCH;
    }
    return;
  }
  weft__runtime_unref(rt);
}

void weft__sched_flush_refs(weft__worker *w) {
  uint64_t n = w->ref_cache;
  w->ref_cache = 0;
  /* The caller holds another reference (the user's), so this does not
   * free the runtime. */
  if (n)
    atomic_fetch_sub_explicit(&w->rt->refs, n, memory_order_release);
}

/* ---- The run loop ---------------------------------------------------------- */

static weft__task *next_task(weft__worker *w) {
  weft_runtime *rt = w->rt;
  weft__task *t;
  if (w->lifo) {
    t = w->lifo;
    w->lifo = NULL;
    return t;
  }
  if (w->tick % GLOBAL_QUEUE_INTERVAL == 0) {
    t = inject_pop_batch(rt, w, 1);
    if (t)
      return t;
  }
  t = weft__lq_pop(&w->lq);
  if (t)
    return t;
  size_t n = inject_len(rt);
  if (n == 0)
    return NULL;
  n = n / rt->nworkers + 1;
  if (n > WEFT__LQ_CAP / 2)
    n = WEFT__LQ_CAP / 2;
  return inject_pop_batch(rt, w, n);
}

/* The LIFO slot had its turns: its task goes to the back of the queue, so
 * the rest of the queue gets a turn. If the queue was empty, this worker's
 * next pop takes this very task, so waking a helper would only send it
 * looking for a task it cannot get: a chain of tasks that each spawn the
 * next dragged a second worker out of sleep every few tasks, and often
 * moved the chain (and its hot memory) back and forth between the two.
 * Out of line: it keeps run_task's prologue short for every poll. */
#if defined(__GNUC__) || defined(__clang__)
#define OUT_OF_LINE __attribute__((noinline))
#else
#define OUT_OF_LINE
#endif
static OUT_OF_LINE void lifo_requeue(weft__worker *w, weft__task *t) {
  int others = weft__lq_len(&w->lq) > 0;
  push_local(w, t);
  if (others && !w->rt->current_thread)
    notify_parked_local(w->rt);
}

static void run_task(weft__worker *w, weft__task *t) {
  transition_from_searching(w);
  bump(&w->m_polls, 1);
  weft__task_run(t);
  unsigned lifo_polls = 0;
  while (w->lifo) {
    t = w->lifo;
    w->lifo = NULL;
    if (++lifo_polls > MAX_LIFO_POLLS ||
        atomic_load_explicit(&w->rt->shutdown, memory_order_relaxed)) {
      lifo_requeue(w, t);
      return;
    }
    bump(&w->m_polls, 1);
    weft__task_run(t);
  }
}

static weft__task *steal_work(weft__worker *w) {
  weft_runtime *rt = w->rt;
  if (!transition_to_searching(w))
    return NULL;
  unsigned n = rt->nworkers;
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 17;
  w->rng ^= w->rng << 5;
  unsigned start = w->rng % n;
  for (unsigned i = 0; i < n; i++) {
    unsigned idx = (start + i) % n;
    if (idx == w->index)
      continue;
    uint32_t moved;
    weft__task *t = weft__lq_steal_into(&rt->workers[idx].lq, &w->lq, &moved);
    if (t) {
      bump(&w->m_steals, 1);
      bump(&w->m_stolen, moved);
      return t;
    }
  }
  size_t max = WEFT__LQ_CAP / 2 - weft__lq_len(&w->lq) / 2;
  return inject_pop_batch(rt, w, max ? max : 1);
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Keep searching for a little while before parking (see SPIN_ROUNDS). */
static weft__task *spin_for_work(weft__worker *w) {
  weft_runtime *rt = w->rt;
  for (int round = 0; round < SPIN_ROUNDS && w->searching; round++) {
    if (round < SPIN_ROUNDS / 2) {
      for (int i = 0; i < SPIN_PAUSES; i++)
        cpu_relax();
    } else {
      /* Later rounds give the CPU away: the thread that would produce the
       * work (a plain thread spawning, say) may be waiting for this very
       * CPU when there are more runnable threads than cores. */
      sched_yield();
    }
    if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
      return NULL;
    weft__task *t = steal_work(w);
    if (t)
      return t;
  }
  return NULL;
}

static void maintenance(weft__worker *w) {
  weft_runtime *rt = w->rt;
  if (driver_try_lock(rt)) {
    tl_in_turn = 1;
    weft__driver_turn(rt->driver, 0);
    tl_in_turn = 0;
    driver_unlock(rt);
    /* The turn queued what it woke here without notifying (tl_in_turn):
     * share it if there is more than this worker's next task. */
    if (!w->searching && (w->lifo ? 1u : 0u) + weft__lq_len(&w->lq) > 1)
      notify_parked_local(rt);
  }
}

static void park(weft__worker *w) {
  weft_runtime *rt = w->rt;
  if (has_local_work(w))
    return;
  transition_to_parked(w);
  bump(&w->m_parks, 1);
  for (;;) {
    if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
      return;
    park_timeout(rt, w);
    if (has_local_work(w)) {
      /* Woken by the driver with work of our own; if someone else woke us
       * it also counted us as searching. */
      w->searching = !unpark_self(w);
      break;
    }
    if (!is_sleeping(w)) {
      w->searching = 1; /* whoever woke us counted us as searching */
      break;
    }
  }
  /* More than one task of our own and nobody searching: share them. */
  if (!w->searching && (w->lifo ? 1u : 0u) + weft__lq_len(&w->lq) > 1)
    notify_parked(rt);
}

static void *worker_main(void *arg) {
  weft__worker *w = arg;
  weft_runtime *rt = w->rt;
  weft__tls_worker = w;
  if (rt->cfg.on_thread_start)
    rt->cfg.on_thread_start(rt->cfg.on_thread_start_arg);
  while (!atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
    w->tick++;
    if (w->tick % DRIVER_INTERVAL == 0)
      maintenance(w);
    weft__task *t = next_task(w);
    if (!t)
      t = steal_work(w);
    if (!t && rt->nworkers > 1)
      t = spin_for_work(w);
    if (t) {
      run_task(w, t);
      continue;
    }
    park(w);
  }
  weft__sched_flush_refs(w);
  if (rt->cfg.on_thread_stop)
    rt->cfg.on_thread_stop(rt->cfg.on_thread_stop_arg);
  weft__tls_worker = NULL;
  return NULL;
}

int weft__sched_start(weft_runtime *rt) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (rt->cfg.stack_size)
    pthread_attr_setstacksize(&attr, rt->cfg.stack_size);
  for (unsigned i = 0; i < rt->nworkers; i++) {
    weft__worker *w = &rt->workers[i];
    if (pthread_create(&w->thread, &attr, worker_main, w) != 0) {
      pthread_attr_destroy(&attr);
      return WEFT_EAGAIN;
    }
    w->thread_started = 1;
    char name[16];
    size_t plen = strlen(rt->cfg.thread_name);
    char num[8];
    int nlen = snprintf(num, sizeof num, "-%u", i);
    if (plen + (size_t)nlen > 15)
      plen = 15 - (size_t)nlen;
    memcpy(name, rt->cfg.thread_name, plen);
    memcpy(name + plen, num, (size_t)nlen + 1);
    pthread_setname_np(w->thread, name);
  }
  pthread_attr_destroy(&attr);
  return 0;
}

void weft__sched_stop(weft_runtime *rt) {
  for (unsigned i = 0; i < rt->nworkers; i++)
    unpark_worker(rt, &rt->workers[i]);
  for (unsigned i = 0; i < rt->nworkers; i++) {
    if (rt->workers[i].thread_started) {
      pthread_join(rt->workers[i].thread, NULL);
      rt->workers[i].thread_started = 0;
    }
  }
}

void weft__sched_drain(weft_runtime *rt) {
  pthread_mutex_lock(&rt->inject_mu);
  rt->inj_closed = 1;
  weft__task *t = rt->inj_head;
  rt->inj_head = rt->inj_tail = NULL;
  atomic_store_explicit(&rt->inj_len, 0, memory_order_relaxed);
  pthread_mutex_unlock(&rt->inject_mu);
  while (t) {
    weft__task *next = t->qnext;
    weft__task_shutdown(t);
    t = next;
  }
  for (unsigned i = 0; i < rt->nworkers; i++) {
    weft__worker *w = &rt->workers[i];
    if (w->lifo) {
      t = w->lifo;
      w->lifo = NULL;
      weft__task_shutdown(t);
    }
    while ((t = weft__lq_pop(&w->lq)) != NULL)
      weft__task_shutdown(t);
  }
}

/* ---- Current-thread ---------------------------------------------------- */

/* Seeded order (sim): every ready task the thread can see (the LIFO slot,
 * the local queue, and as much of the inject queue as fits) is gathered in
 * the local queue, and one of them is drawn with a PRNG seeded by the
 * backend. The draw rotates the queue (pop k, push them back), which costs
 * O(k) but needs nothing from queue.c; a simulation trades that for a
 * schedule that depends only on the seed, so a failing interleaving can be
 * replayed. No LIFO shortcut either: it would make the order FIFO again
 * for a task woken by the one running. */
static uint64_t ct_rand(weft_runtime *rt) {
  /* splitmix64: full period, and good enough for picking among <= 256. */
  uint64_t z = (rt->ct_rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int ct_pick_seeded(weft__worker *w) {
  weft_runtime *rt = w->rt;
  if (w->lifo) {
    push_local(w, w->lifo);
    w->lifo = NULL;
  }
  uint32_t len = weft__lq_len(&w->lq);
  size_t inj = inject_len(rt);
  if (inj > 0 && len < WEFT__LQ_CAP) {
    size_t room = WEFT__LQ_CAP - len;
    weft__task *t = inject_pop_batch(rt, w, inj < room ? inj : room);
    if (t)
      push_local(w, t);
    len = weft__lq_len(&w->lq);
  }
  if (len == 0)
    return 0;
  for (uint64_t k = ct_rand(rt) % len; k > 0; k--)
    push_local(w, weft__lq_pop(&w->lq));
  bump(&w->m_polls, 1);
  weft__task_run(weft__lq_pop(&w->lq));
  return 1;
}

/* One step of a current-thread run before it picks a task: stop on
 * shutdown (0), and now and then give the driver a non-blocking turn so
 * that busy tasks cannot starve I/O and timers. */
static inline int ct_tick(weft_runtime *rt, weft__worker *w) {
  if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
    return 0;
  w->tick++;
  if (w->tick % DRIVER_INTERVAL == 0 && !rt->attach)
    weft__driver_turn(rt->driver, 0);
  return 1;
}

/* The run loop of weft__sched_ct_run with the seeded pick. A loop of its
 * own, rather than a test inside the ordinary one, so that the ordinary
 * loop compiles exactly as before (measured: a test per poll cost four
 * instructions per poll, from register pressure, not the branch). */
static int ct_run_seeded(weft_runtime *rt, unsigned budget) {
  weft__worker *w = &rt->workers[0];
  for (unsigned i = 0; i < budget; i++) {
    if (!ct_tick(rt, w))
      return 0;
    if (!ct_pick_seeded(w))
      return 0;
  }
  return has_local_work(w) || inject_len(rt) > 0;
}

int weft__sched_ct_run(weft_runtime *rt, unsigned budget) {
  /* One well-predicted branch per run (of up to `budget` polls): only sim,
   * or a backend answering the seed ctl, takes the seeded loop. */
  if (rt->ct_seeded)
    return ct_run_seeded(rt, budget);
  weft__worker *w = &rt->workers[0];
  for (unsigned i = 0; i < budget; i++) {
    if (!ct_tick(rt, w))
      return 0;
    weft__task *t = next_task(w);
    if (!t)
      return 0;
    run_task(w, t);
  }
  return has_local_work(w) || inject_len(rt) > 0;
}

void weft__sched_ct_park(weft_runtime *rt) {
  weft__worker *w = &rt->workers[0];
  int exp = WEFT__PK_NOTIFIED;
  if (atomic_compare_exchange_strong(&w->park_state, &exp, WEFT__PK_EMPTY))
    return;
  bump(&w->m_parks, 1);
  park_in_driver(rt, w);
}

void weft__sched_ct_wake(weft_runtime *rt) {
  if (rt->attach)
    weft__driver_unpark(rt->driver);
  else
    unpark_worker(rt, &rt->workers[0]);
}
