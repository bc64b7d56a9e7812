/* core/exec/runtime.c: runtime life cycle, weft_block_on, attach mode and
 * metrics.
 *
 * Life cycle. weft_runtime_new starts the driver, the blocking pool and
 * (multi-thread flavour) the workers. weft_runtime_shutdown:
 *   1. sets `shutdown`, so spawn is refused and workers leave their loop;
 *   2. joins the workers (current-thread: takes the core from block_on);
 *   3. closes the owned list and cancels every task in it: each unfinished
 *      future is dropped exactly once, its join handle resolves CANCELLED;
 *   4. shuts the blocking pool down;
 *   5. closes the inject queue and drops every queued run reference.
 * After step 3 every owned task is COMPLETE, so a later wake is a no-op on
 * the task's state word and never reaches the scheduler's queues, except
 * to release a reference. weft_runtime_free then frees the driver and the
 * pool and drops the user's reference on the runtime; the remaining shell
 * (this struct) is freed when the last task is, because every task holds a
 * runtime reference.
 */
#include <stdlib.h>
#include <string.h>

#include "exec.h"

int weft__builder_resolve(const weft_builder *b, weft__config *out);

void weft__runtime_ref(weft_runtime *rt) {
  /* Relaxed: the caller already holds a reference (or is creating it). */
  atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
}

static void runtime_destroy_shell(weft_runtime *rt) {
  for (unsigned i = 0; i < rt->nworkers; i++) {
    weft__alloc_worker_free(&rt->workers[i]);
    pthread_mutex_destroy(&rt->workers[i].park_mu);
    pthread_cond_destroy(&rt->workers[i].park_cv);
  }
  for (unsigned i = 0; i < WEFT__OWNED_SHARDS; i++)
    pthread_mutex_destroy(&rt->owned[i].mu);
  weft__alloc_remote_free(&rt->remote_cache);
  pthread_mutex_destroy(&rt->inject_mu);
  pthread_mutex_destroy(&rt->idle_mu);
  pthread_mutex_destroy(&rt->life_mu);
  pthread_cond_destroy(&rt->core_cv);
  free(rt->sleepers);
  free(rt->workers);
  free((char *)rt->cfg.backend_name);
  free((char *)rt->cfg.backend_module);
  free(rt);
}

void weft__runtime_unref(weft_runtime *rt) {
  /* acq_rel: the last reference sees every task's last use of the shell. */
  if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1)
    runtime_destroy_shell(rt);
}

static int runtime_create(weft__config *cfg, weft_runtime **out) {
  weft_runtime *rt = aligned_alloc(128, (sizeof *rt + 127) & ~(size_t)127);
  if (!rt) {
    free((char *)cfg->backend_name);
    free((char *)cfg->backend_module);
    return WEFT_ENOMEM;
  }
  memset(rt, 0, sizeof *rt);
  rt->cfg = *cfg;
  atomic_init(&rt->refs, 1);
  rt->attach = cfg->attach_loop != NULL;
  rt->current_thread = rt->attach || cfg->flavor == WEFT_FLAVOR_CURRENT_THREAD;
  rt->nworkers = rt->current_thread ? 1 : cfg->workers;
  size_t wsz = ((sizeof(weft__worker) + 127) & ~(size_t)127) * rt->nworkers;
  rt->workers = aligned_alloc(128, wsz);
  rt->sleepers = calloc(rt->nworkers, sizeof *rt->sleepers);
  if (!rt->workers || !rt->sleepers) {
    free(rt->workers);
    free(rt->sleepers);
    free((char *)cfg->backend_name);
    free((char *)cfg->backend_module);
    free(rt);
    return WEFT_ENOMEM;
  }
  memset(rt->workers, 0, wsz);
  for (unsigned i = 0; i < rt->nworkers; i++) {
    weft__worker *w = &rt->workers[i];
    weft__lq_init(&w->lq);
    w->rt = rt;
    w->index = i;
    w->rng = 0x9e3779b9u * (i + 1);
    atomic_init(&w->park_state, WEFT__PK_EMPTY);
    for (unsigned c = 0; c < WEFT__ALLOC_CLASSES; c++)
      atomic_init(&w->returned[c], NULL);
    pthread_mutex_init(&w->park_mu, NULL);
    pthread_cond_init(&w->park_cv, NULL);
  }
  /* The inject queue's lock is taken for every spawn from a plain thread
   * and by the workers that take those tasks, each time for a few stores.
   * A plain mutex sent nearly every collision to the kernel (a futex wait,
   * then a futex wake from the holder: a few microseconds against a spawn
   * of a few hundred nanoseconds); an adaptive one spins a little first,
   * which is long enough for a holder that is running. The idle lock has
   * the same pattern on a wake-up. */
  pthread_mutexattr_t spin_attr;
  pthread_mutexattr_init(&spin_attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
  pthread_mutexattr_settype(&spin_attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
  pthread_mutex_init(&rt->inject_mu, &spin_attr);
  weft__alloc_remote_init(&rt->remote_cache);
  pthread_mutex_init(&rt->idle_mu, &spin_attr);
  pthread_mutexattr_destroy(&spin_attr);
  pthread_mutex_init(&rt->life_mu, NULL);
  pthread_cond_init(&rt->core_cv, NULL);
  for (unsigned i = 0; i < WEFT__OWNED_SHARDS; i++)
    pthread_mutex_init(&rt->owned[i].mu, NULL);
  atomic_init(&rt->idle_state, rt->nworkers);
  atomic_init(&rt->next_id, 1);
  rt->slow_poll_ns = cfg->slow_poll_us * 1000u;

  int rc = weft__driver_new(rt, &rt->cfg, &rt->driver);
  if (rc) {
    runtime_destroy_shell(rt);
    return rc;
  }
  uint64_t seed;
  if (rt->current_thread &&
      weft__driver_sched_seed(rt->driver, &seed) == 0) {
    rt->ct_seeded = 1;
    rt->ct_rng = seed;
  }
  rc = weft__blocking_pool_new(rt, &rt->cfg, &rt->pool);
  if (rc) {
    weft__driver_free(rt->driver);
    runtime_destroy_shell(rt);
    return rc;
  }
  if (!rt->current_thread) {
    rc = weft__sched_start(rt);
    if (rc) {
      atomic_store(&rt->shutdown, 1);
      weft__sched_stop(rt);
      weft__blocking_pool_free(rt->pool);
      weft__driver_free(rt->driver);
      runtime_destroy_shell(rt);
      return rc;
    }
  }
  *out = rt;
  return 0;
}

int weft_runtime_new(weft_runtime **out, const weft_builder *b) {
  if (!out)
    return WEFT_EINVAL;
  weft__config cfg;
  int rc = weft__builder_resolve(b, &cfg);
  if (rc)
    return rc;
  cfg.attach_loop = NULL;
  return runtime_create(&cfg, out);
}

int weft__runtime_new_attached(const weft_builder *b,
                               const char *backend_name, void *foreign_loop,
                               weft_runtime **out) {
  if (!out || !foreign_loop)
    return WEFT_EINVAL;
  weft__config cfg;
  int rc = weft__builder_resolve(b, &cfg);
  if (rc)
    return rc;
  if (backend_name) {
    char *copy = strdup(backend_name);
    if (!copy) {
      free((char *)cfg.backend_name);
      free((char *)cfg.backend_module);
      return WEFT_ENOMEM;
    }
    free((char *)cfg.backend_name);
    cfg.backend_name = copy;
  }
  cfg.attach_loop = foreign_loop;
  cfg.flavor = WEFT_FLAVOR_CURRENT_THREAD;
  return runtime_create(&cfg, out);
}

static int inside_runtime(weft_runtime *rt) {
  return (weft__tls_worker && weft__tls_worker->rt == rt) ||
         (weft__tls_task && weft__tls_task->rt == rt);
}

/* Current-thread: take the core (wait while another thread holds it). */
static int core_acquire(weft_runtime *rt, int wait) {
  pthread_mutex_lock(&rt->life_mu);
  while (rt->core_busy && wait &&
         !atomic_load_explicit(&rt->shutdown, memory_order_acquire))
    pthread_cond_wait(&rt->core_cv, &rt->life_mu);
  if (rt->core_busy ||
      atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
    int rc = rt->core_busy && !atomic_load(&rt->shutdown) ? WEFT_EBUSY
                                                           : WEFT_ESHUTDOWN;
    pthread_mutex_unlock(&rt->life_mu);
    return rc;
  }
  rt->core_busy = 1;
  pthread_mutex_unlock(&rt->life_mu);
  weft__tls_worker = &rt->workers[0];
  return 0;
}

static void core_release(weft_runtime *rt) {
  weft__sched_flush_refs(&rt->workers[0]);
  weft__tls_worker = NULL;
  pthread_mutex_lock(&rt->life_mu);
  rt->core_busy = 0;
  pthread_cond_broadcast(&rt->core_cv);
  pthread_mutex_unlock(&rt->life_mu);
}

int weft_runtime_shutdown(weft_runtime *rt, int64_t timeout_ms) {
  if (!rt || timeout_ms < -1)
    return WEFT_EINVAL;
  if (inside_runtime(rt))
    return WEFT_EBUSY;
  pthread_mutex_lock(&rt->life_mu);
  if (rt->shut_done) {
    pthread_mutex_unlock(&rt->life_mu);
    return 0;
  }
  /* Release: a thread that sees the flag sees everything before it. */
  atomic_store_explicit(&rt->shutdown, 1, memory_order_release);
  if (rt->current_thread) {
    weft__sched_ct_wake(rt);
    while (rt->core_busy)
      pthread_cond_wait(&rt->core_cv, &rt->life_mu);
    rt->core_busy = 1; /* never handed back */
  }
  rt->shut_done = 1;
  pthread_mutex_unlock(&rt->life_mu);
  if (!rt->current_thread)
    weft__sched_stop(rt);
  weft__owned_close_and_shutdown(rt);
  int left = weft__blocking_pool_shutdown(rt->pool, timeout_ms);
  weft__sched_drain(rt);
  return left > 0 ? left : 0;
}

void weft_runtime_free(weft_runtime *rt) {
  if (!rt)
    return;
  weft_runtime_shutdown(rt, -1);
  weft__blocking_pool_free(rt->pool);
  rt->pool = NULL;
  weft__driver_free(rt->driver);
  rt->driver = NULL;
  weft__runtime_unref(rt);
}

const weft__config *weft__runtime_config(const weft_runtime *rt) {
  return &rt->cfg;
}

weft__driver *weft__runtime_driver(weft_runtime *rt) { return rt->driver; }

weft__blocking_pool *weft__runtime_blocking_pool(weft_runtime *rt) {
  return rt->pool;
}

const char *weft_runtime_backend_name(const weft_runtime *rt) {
  if (!rt || !rt->driver)
    return "none";
  return weft__driver_backend_name(rt->driver);
}

/* ---- weft_block_on ------------------------------------------------------ */

static weft_poll poll_main(weft_runtime *rt, const weft_future_vtable *vt,
                           void *state, void *output, weft_waker w) {
  weft_context cx;
  cx.waker = w;
  cx.rt = rt;
  cx.task = NULL;
  weft_runtime *prev = weft__tls_rt;
  weft__tls_rt = rt;
  weft__tls_budget = 128;
  weft_poll r = vt->poll(state, &cx, output);
  weft__tls_rt = prev;
  return r;
}

static int block_on_multi(weft_runtime *rt, const weft_future_vtable *vt,
                          void *state, void *output) {
  weft__parker *p = weft__parker_new(NULL);
  if (!p)
    return WEFT_ENOMEM;
  weft_waker w = weft__parker_waker(p);
  int rc = 0;
  for (;;) {
    if (atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
      rc = WEFT_ESHUTDOWN;
      break;
    }
    if (poll_main(rt, vt, state, output, w) == WEFT_READY)
      break;
    /* Wake up now and then to notice a shutdown from another thread. */
    while (!weft__parker_wait(p, weft__now_ns() + 50000000u)) {
      if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
        break;
    }
  }
  w.vtable->drop(w.data);
  weft__parker_unref(p);
  return rc;
}

static int block_on_current(weft_runtime *rt, const weft_future_vtable *vt,
                            void *state, void *output) {
  weft__parker *p = weft__parker_new(rt);
  if (!p)
    return WEFT_ENOMEM;
  int rc = core_acquire(rt, 1);
  if (rc) {
    weft__parker_unref(p);
    return rc;
  }
  weft_waker w = weft__parker_waker(p);
  int poll_now = 1;
  for (;;) {
    if (atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
      rc = WEFT_ESHUTDOWN;
      break;
    }
    if (poll_now || atomic_exchange_explicit(&p->notified, 0,
                                             memory_order_acquire)) {
      poll_now = 0;
      if (poll_main(rt, vt, state, output, w) == WEFT_READY)
        break;
    }
    int more = weft__sched_ct_run(rt, 61);
    if (!more && !atomic_load_explicit(&p->notified, memory_order_acquire))
      weft__sched_ct_park(rt);
  }
  core_release(rt);
  w.vtable->drop(w.data);
  weft__parker_unref(p);
  return rc;
}

int weft_block_on(weft_runtime *rt, const weft_future_vtable *vtable,
                  void *state, void *output) {
  if (!rt || !vtable || vtable->struct_size < sizeof(weft_future_vtable) ||
      !vtable->poll)
    return WEFT_EINVAL;
  if (weft__tls_task || weft__tls_worker)
    return WEFT_EBUSY;
  if (rt->attach)
    return WEFT_EBUSY; /* the foreign loop runs the tasks */
  if (rt->current_thread)
    return block_on_current(rt, vtable, state, output);
  return block_on_multi(rt, vtable, state, output);
}

int weft__runtime_run_ready(weft_runtime *rt, unsigned budget) {
  if (!rt->current_thread)
    return 0;
  if (core_acquire(rt, 0))
    return 0;
  int more = weft__sched_ct_run(rt, budget);
  core_release(rt);
  return more;
}

/* ---- Metrics ------------------------------------------------------------- */

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int weft_runtime_metrics_get(const weft_runtime *crt,
                             weft_runtime_metrics *out) {
  if (!crt || !out || out->struct_size < sizeof(uint32_t) * 2)
    return WEFT_EINVAL;
  weft_runtime *rt = (weft_runtime *)crt;
  weft_runtime_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.workers = rt->current_thread ? 0 : rt->nworkers;
  /* Alive: spawned less completed. The completions are read first, so
   * that a task counted as completed was normally counted as spawned too;
   * the relaxed counters give no guarantee, hence the clamp below. */
  uint64_t completed = LOAD(rt->remote_completed);
  for (unsigned i = 0; i < rt->nworkers; i++)
    completed += LOAD(rt->workers[i].m_completed);
  m.tasks_spawned = LOAD(rt->remote_spawned);
  for (unsigned i = 0; i < rt->nworkers; i++) {
    weft__worker *w = &rt->workers[i];
    m.tasks_spawned += LOAD(w->m_spawned);
    m.polls += LOAD(w->m_polls);
    m.steals += LOAD(w->m_steals);
    m.parks += LOAD(w->m_parks);
  }
  m.tasks_alive =
      m.tasks_spawned > completed ? m.tasks_spawned - completed : 0;
  m.inject_queue_depth = LOAD(rt->inj_len);
  if (rt->pool)
    weft__blocking_pool_metrics(rt->pool, &m);
  size_t n = out->struct_size < sizeof m ? out->struct_size : sizeof m;
  uint32_t keep = out->struct_size;
  memcpy(out, &m, n);
  out->struct_size = keep;
  return 0;
}

int weft_runtime_worker_metrics_get(const weft_runtime *crt, unsigned worker,
                                    weft_worker_metrics *out) {
  if (!crt || !out || out->struct_size < sizeof(uint32_t) ||
      worker >= crt->nworkers)
    return WEFT_EINVAL;
  weft_runtime *rt = (weft_runtime *)crt;
  weft__worker *w = &rt->workers[worker];
  weft_worker_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.polls = LOAD(w->m_polls);
  m.steals = LOAD(w->m_steals);
  m.stolen_tasks = LOAD(w->m_stolen);
  m.parks = LOAD(w->m_parks);
  m.local_queue_depth = weft__lq_len(&w->lq);
  m.overflows = LOAD(w->m_overflows);
  size_t n = out->struct_size < sizeof m ? out->struct_size : sizeof m;
  uint32_t keep = out->struct_size;
  memcpy(out, &m, n);
  out->struct_size = keep;
  return 0;
}
