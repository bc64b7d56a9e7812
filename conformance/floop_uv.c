/* conformance/floop_uv.c: an application's libuv loop (see floop.h). */
#include <stdlib.h>

#include <uv.h>

#include "floop.h"

typedef struct uv_app {
  uv_loop_t loop;
  uv_timer_t tick;
  int (*fn)(void *);
  void *arg;
} uv_app;

static void tick_cb(uv_timer_t *t) {
  uv_app *a = t->data;
  if (a->fn(a->arg))
    uv_stop(t->loop);
}

static void *create(void) {
  uv_app *a = calloc(1, sizeof *a);
  if (!a || uv_loop_init(&a->loop) != 0) {
    free(a);
    return NULL;
  }
  uv_timer_init(&a->loop, &a->tick);
  a->tick.data = a;
  return a;
}

static void *foreign(void *impl) { return &((uv_app *)impl)->loop; }

static void run(void *impl, int (*fn)(void *), void *arg) {
  uv_app *a = impl;
  a->fn = fn;
  a->arg = arg;
  uv_timer_start(&a->tick, tick_cb, 1, 1);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  uv_timer_stop(&a->tick);
}

typedef struct counting {
  uv_handle_t *skip;
  int n;
} counting;

static void count_cb(uv_handle_t *h, void *arg) {
  counting *c = arg;
  if (h != c->skip && !uv_is_closing(h))
    c->n++;
}

static int leftovers(void *impl) {
  uv_app *a = impl;
  uv_run(&a->loop, UV_RUN_NOWAIT); /* let closed handles finish closing */
  counting c = {(uv_handle_t *)&a->tick, 0};
  uv_walk(&a->loop, count_cb, &c);
  return c.n;
}

static int destroy(void *impl) {
  uv_app *a = impl;
  uv_close((uv_handle_t *)&a->tick, NULL);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&a->loop);
  free(a);
  return rc;
}

const floop_ops conf_floop_uv = {"libuv", create, foreign, run, leftovers,
                                 destroy};
