/* backends/shim/shim.h: the fault-injecting backend, for tests only.
 *
 * The shim is a backend module (libweft-shim.so) that wraps another backend
 * and makes chosen calls fail, to check that the core copes with a backend
 * that misbehaves in the ways real ones do. It is never installed.
 *
 * What it wraps: the module at WEFT_SHIM_INNER (a path), or, when that is
 * unset, its own copy of the sim backend. The inner backend is resolved
 * once, when weft loads the shim module.
 *
 * What it injects, read from the environment each time a loop is created
 * and changeable at any time through weft_shim_configure():
 *   WEFT_SHIM_FAIL_REGISTER=N  the next N register_fd calls fail with
 *                              WEFT_ENOMEM without reaching the inner one;
 *   WEFT_SHIM_FAIL_WAKE=N      the next N wake calls fail with WEFT_EAGAIN
 *                              without waking anything;
 *   WEFT_SHIM_POLL_EINTR=N     the next N poll calls return -EINTR at once
 *                              (a contract violation the core must absorb).
 * N = -1 means "every call". A test reaches the two functions below by
 * dlopen()ing the same path weft loaded (dlopen returns the same handle). */
#ifndef WEFT_BACKENDS_SHIM_H
#define WEFT_BACKENDS_SHIM_H

#include <stdint.h>

typedef struct weft_shim_stats {
  int64_t registered;        /* register_fd calls that reached the inner one */
  int64_t register_failed;   /* register_fd calls failed by injection */
  int64_t deregistered;      /* deregister_fd and close_fd calls */
  int64_t live;              /* registered - deregistered */
  int64_t wakes;             /* wake calls passed to the inner backend */
  int64_t wake_failed;       /* wake calls failed by injection */
  int64_t polls;             /* poll calls passed to the inner backend */
  int64_t poll_eintr;        /* poll calls answered -EINTR by injection */
  int64_t loops_live;        /* created - destroyed */
} weft_shim_stats;

/* Set the injection counters (as the environment variables above). */
typedef void (*weft_shim_configure_fn)(int64_t fail_register,
                                       int64_t fail_wake, int64_t poll_eintr);
/* Copy the counters out; reset them to zero when `reset` is non-zero. */
typedef void (*weft_shim_stats_fn)(weft_shim_stats *out, int reset);

#define WEFT_SHIM_CONFIGURE_SYM "weft_shim_configure"
#define WEFT_SHIM_STATS_SYM "weft_shim_stats_get"

#endif /* WEFT_BACKENDS_SHIM_H */
