/* conformance/floop_event.c: an application's libevent base (floop.h). */
#include <stdlib.h>

#include <event2/event.h>

#include "floop.h"

typedef struct event_app {
  struct event_base *base;
  struct event *tick;
  int (*fn)(void *);
  void *arg;
} event_app;

static void tick_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  event_app *a = arg;
  if (a->fn(a->arg))
    event_base_loopbreak(a->base);
}

static void *create(void) {
  event_app *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->base = event_base_new();
  if (a->base)
    a->tick = event_new(a->base, -1, EV_PERSIST, tick_cb, a);
  if (!a->tick) {
    if (a->base)
      event_base_free(a->base);
    free(a);
    return NULL;
  }
  return a;
}

static void *foreign(void *impl) { return ((event_app *)impl)->base; }

static void run(void *impl, int (*fn)(void *), void *arg) {
  event_app *a = impl;
  a->fn = fn;
  a->arg = arg;
  struct timeval tv = {0, 1000};
  event_add(a->tick, &tv);
  event_base_dispatch(a->base);
  event_del(a->tick);
}

static int leftovers(void *impl) {
  event_app *a = impl;
  return event_base_get_num_events(a->base, EVENT_BASE_COUNT_ADDED |
                                                EVENT_BASE_COUNT_ACTIVE);
}

static int destroy(void *impl) {
  event_app *a = impl;
  event_free(a->tick);
  event_base_free(a->base);
  free(a);
  return 0;
}

const floop_ops conf_floop_event = {"libevent", create, foreign, run,
                                    leftovers,  destroy};
