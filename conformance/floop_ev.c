/* conformance/floop_ev.c: an application's libev loop (see floop.h). */
#include <stdlib.h>

#include <ev.h>

#include "floop.h"

typedef struct ev_app {
  struct ev_loop *loop;
  ev_timer tick;
  int (*fn)(void *);
  void *arg;
} ev_app;

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  (void)revents;
  ev_app *a = t->data;
  if (a->fn(a->arg))
    ev_break(loop, EVBREAK_ALL);
}

static void *create(void) {
  ev_app *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->loop = ev_loop_new(EVFLAG_AUTO);
  if (!a->loop) {
    free(a);
    return NULL;
  }
  ev_timer_init(&a->tick, tick_cb, 0.001, 0.001);
  a->tick.data = a;
  return a;
}

static void *foreign(void *impl) { return ((ev_app *)impl)->loop; }

static void run(void *impl, int (*fn)(void *), void *arg) {
  ev_app *a = impl;
  a->fn = fn;
  a->arg = arg;
  ev_timer_again(a->loop, &a->tick);
  ev_run(a->loop, 0);
  ev_timer_stop(a->loop, &a->tick);
}

static int leftovers(void *impl) {
  /* ev_run returns non-zero while active, referenced watchers remain. */
  return ev_run(((ev_app *)impl)->loop, EVRUN_NOWAIT) ? 1 : 0;
}

static int destroy(void *impl) {
  ev_app *a = impl;
  ev_loop_destroy(a->loop);
  free(a);
  return 0;
}

const floop_ops conf_floop_ev = {"libev", create, foreign, run, leftovers,
                                 destroy};
