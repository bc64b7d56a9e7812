/* core/reactor/driver.c: PLACEHOLDER until the reactor lands: a driver with
 * no backend, whose turn only sleeps on a condition variable. It exists so
 * that the executor can park and be unparked; it is replaced wholesale. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "../internal.h"

struct weft__driver {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int unparked;
};

int weft__driver_new(weft_runtime *rt, const weft__config *cfg,
                     weft__driver **out) {
  (void)rt;
  (void)cfg;
  weft__driver *d = calloc(1, sizeof *d);
  if (!d)
    return WEFT_ENOMEM;
  pthread_mutex_init(&d->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&d->cv, &ca);
  pthread_condattr_destroy(&ca);
  *out = d;
  return 0;
}

void weft__driver_free(weft__driver *d) {
  if (!d)
    return;
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

int weft__driver_turn(weft__driver *d, int64_t timeout_ms) {
  pthread_mutex_lock(&d->mu);
  if (!d->unparked && timeout_ms != 0) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&d->cv, &d->mu);
    } else {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_sec += timeout_ms / 1000;
      ts.tv_nsec += (timeout_ms % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
  }
  d->unparked = 0;
  pthread_mutex_unlock(&d->mu);
  return 0;
}

void weft__driver_unpark(weft__driver *d) {
  pthread_mutex_lock(&d->mu);
  d->unparked = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

const char *weft__driver_backend_name(const weft__driver *d) {
  (void)d;
  return "none";
}

uint64_t weft__driver_now_ns(const weft__driver *d) {
  (void)d;
  return weft__now_ns();
}
