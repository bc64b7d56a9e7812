/* backends/shim/shim.c: a backend that wraps another and injects faults.
 *
 * See shim.h for what it injects and how it is configured. The shim passes
 * the core's host straight to the inner backend, so readiness tokens and
 * callbacks are the core's own; it only stands between the core's calls and
 * the inner vtable. Its own vtable is built once, when the module entry is
 * first called, as a copy of the shim's methods with the optional slots the
 * inner backend lacks set to NULL, so that the core applies the same
 * fallbacks it would apply to the inner backend alone.
 *
 * Counters are process-wide _Atomic int64_t: the core calls wake from any
 * thread and register_fd from any thread. Each counter is independent of
 * the others (none guards data), so relaxed order is enough; a test reads
 * them after joining the threads that changed them. The injection budgets
 * are consumed with a CAS loop so that N failures are injected exactly N
 * times even when several threads race. */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <weft/backend.h>
#include <weft/error.h>

#include "../sim/sim.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

typedef struct shim_loop {
  void *inner;
} shim_loop;

static const weft_backend *g_inner;
static weft_backend g_vtable;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static _Atomic int64_t g_fail_register;
static _Atomic int64_t g_fail_wake;
static _Atomic int64_t g_poll_eintr;

static _Atomic int64_t g_registered, g_register_failed, g_deregistered;
static _Atomic int64_t g_wakes, g_wake_failed, g_polls, g_poll_eintr_done;
static _Atomic int64_t g_loops_live;

static void bump(_Atomic int64_t *c) {
  atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Take one unit from an injection budget: 1 if this call must fail. A
 * budget of -1 never runs out; 0 means no injection. */
static int take(_Atomic int64_t *budget) {
  int64_t v = atomic_load_explicit(budget, memory_order_relaxed);
  for (;;) {
    if (v == 0)
      return 0;
    if (v < 0)
      return 1;
    if (atomic_compare_exchange_weak_explicit(budget, &v, v - 1,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      return 1;
  }
}

static int64_t env_budget(const char *name) {
  const char *s = getenv(name);
  if (!s || !*s)
    return 0;
  return strtoll(s, NULL, 0);
}

SHIM_EXPORT void weft_shim_configure(int64_t fail_register, int64_t fail_wake,
                                     int64_t poll_eintr) {
  atomic_store_explicit(&g_fail_register, fail_register, memory_order_relaxed);
  atomic_store_explicit(&g_fail_wake, fail_wake, memory_order_relaxed);
  atomic_store_explicit(&g_poll_eintr, poll_eintr, memory_order_relaxed);
}

static int64_t read_counter(_Atomic int64_t *c, int reset) {
  return reset ? atomic_exchange_explicit(c, 0, memory_order_relaxed)
               : atomic_load_explicit(c, memory_order_relaxed);
}

SHIM_EXPORT void weft_shim_stats_get(weft_shim_stats *out, int reset) {
  if (!out)
    return;
  out->registered = read_counter(&g_registered, reset);
  out->register_failed = read_counter(&g_register_failed, reset);
  out->deregistered = read_counter(&g_deregistered, reset);
  out->live = out->registered - out->deregistered;
  out->wakes = read_counter(&g_wakes, reset);
  out->wake_failed = read_counter(&g_wake_failed, reset);
  out->polls = read_counter(&g_polls, reset);
  out->poll_eintr = read_counter(&g_poll_eintr_done, reset);
  /* The number of live loops is a state, not an event count: never reset. */
  out->loops_live = atomic_load_explicit(&g_loops_live, memory_order_relaxed);
}

static int shim_create(void **loop_out, const weft_backend_host *host) {
  shim_loop *l = calloc(1, sizeof *l);
  if (!l)
    return WEFT_ENOMEM;
  int rc = g_inner->create(&l->inner, host);
  if (rc < 0) {
    free(l);
    return rc;
  }
  weft_shim_configure(env_budget("WEFT_SHIM_FAIL_REGISTER"),
                      env_budget("WEFT_SHIM_FAIL_WAKE"),
                      env_budget("WEFT_SHIM_POLL_EINTR"));
  bump(&g_loops_live);
  *loop_out = l;
  return 0;
}

static int shim_attach(void **loop_out, void *foreign,
                       const weft_backend_host *host) {
  shim_loop *l = calloc(1, sizeof *l);
  if (!l)
    return WEFT_ENOMEM;
  int rc = g_inner->attach(&l->inner, foreign, host);
  if (rc < 0) {
    free(l);
    return rc;
  }
  bump(&g_loops_live);
  *loop_out = l;
  return 0;
}

static void shim_destroy(void *loop) {
  shim_loop *l = loop;
  if (!l)
    return;
  g_inner->destroy(l->inner);
  atomic_fetch_sub_explicit(&g_loops_live, 1, memory_order_relaxed);
  free(l);
}

static int shim_register_fd(void *loop, int fd, uint32_t interest,
                            void *token) {
  shim_loop *l = loop;
  if (take(&g_fail_register)) {
    bump(&g_register_failed);
    return WEFT_ENOMEM;
  }
  int rc = g_inner->register_fd(l->inner, fd, interest, token);
  if (rc >= 0)
    bump(&g_registered);
  return rc;
}

static int shim_modify_fd(void *loop, int fd, uint32_t interest,
                          void *token) {
  shim_loop *l = loop;
  return g_inner->modify_fd(l->inner, fd, interest, token);
}

static int shim_rearm_fd(void *loop, int fd, uint32_t events, void *token) {
  shim_loop *l = loop;
  return g_inner->rearm_fd(l->inner, fd, events, token);
}

static int shim_deregister_fd(void *loop, int fd, void *token) {
  shim_loop *l = loop;
  int rc = g_inner->deregister_fd(l->inner, fd, token);
  if (rc >= 0)
    bump(&g_deregistered);
  return rc;
}

static int shim_close_fd(void *loop, int fd, void *token) {
  shim_loop *l = loop;
  int rc = g_inner->close_fd(l->inner, fd, token);
  if (rc >= 0)
    bump(&g_deregistered);
  return rc;
}

static int shim_poll(void *loop, int64_t timeout_ms) {
  shim_loop *l = loop;
  if (take(&g_poll_eintr)) {
    bump(&g_poll_eintr_done);
    return -EINTR;
  }
  bump(&g_polls);
  return g_inner->poll(l->inner, timeout_ms);
}

static int shim_wake(void *loop) {
  shim_loop *l = loop;
  if (take(&g_fail_wake)) {
    bump(&g_wake_failed);
    return WEFT_EAGAIN;
  }
  bump(&g_wakes);
  return g_inner->wake(l->inner);
}

static int shim_signal_watch(void *loop, int signo) {
  shim_loop *l = loop;
  return g_inner->signal_watch(l->inner, signo);
}

static int shim_signal_unwatch(void *loop, int signo) {
  shim_loop *l = loop;
  return g_inner->signal_unwatch(l->inner, signo);
}

static int shim_ctl(void *loop, int op, void *arg) {
  shim_loop *l = loop;
  return g_inner->ctl(l->inner, op, arg);
}

static uint64_t shim_now_ns(void *loop) {
  shim_loop *l = loop;
  return g_inner->now_ns(l->inner);
}

/* Resolve the inner backend and build the shim's vtable. A module that
 * cannot be loaded leaves g_inner NULL, and the entry then returns NULL,
 * which weft reports as an unavailable backend. */
static void shim_init(void) {
  const char *path = getenv("WEFT_SHIM_INNER");
  const weft_backend *inner = &weft__backend_sim;
  if (path && *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "weft shim: cannot load %s: %s\n", path, dlerror());
      return;
    }
    weft_backend_module_entry_fn entry;
    /* POSIX requires this conversion of dlsym's result to work. */
    *(void **)&entry = dlsym(h, "weft_backend_module_entry");
    inner = entry ? entry() : NULL;
    if (!inner || inner->struct_size < sizeof(weft_backend)) {
      fprintf(stderr, "weft shim: %s is not a usable weft backend\n", path);
      return;
    }
  }
  g_inner = inner;
  g_vtable = (weft_backend){
      .abi_version = WEFT_BACKEND_ABI_V1,
      .struct_size = sizeof(weft_backend),
      .name = "shim",
      .create = shim_create,
      .attach = inner->attach ? shim_attach : NULL,
      .destroy = shim_destroy,
      .register_fd = shim_register_fd,
      .modify_fd = shim_modify_fd,
      .rearm_fd = inner->rearm_fd ? shim_rearm_fd : NULL,
      .deregister_fd = shim_deregister_fd,
      .close_fd = inner->close_fd ? shim_close_fd : NULL,
      .poll = shim_poll,
      .wake = shim_wake,
      .signal_watch = inner->signal_watch ? shim_signal_watch : NULL,
      .signal_unwatch = inner->signal_unwatch ? shim_signal_unwatch : NULL,
      .ctl = inner->ctl ? shim_ctl : NULL,
      .now_ns = inner->now_ns ? shim_now_ns : NULL,
  };
}

SHIM_EXPORT const weft_backend *weft_backend_module_entry(void) {
  pthread_once(&g_once, shim_init);
  return g_inner ? &g_vtable : NULL;
}
