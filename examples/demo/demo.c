/* demo.c: weft in one page.
 *
 * Spawns a few tasks written with the coroutine macros: each sleeps a
 * little on the runtime's timer wheel, then sums numbers, yielding now and
 * then so the others get a turn. Another task hands a blocking function to
 * the blocking pool and awaits its result. main() joins them all and prints
 * what each computed. Run it with `./scripts/demo.sh`, or choose the
 * backend at run time: `WEFT_BACKEND=libev build/examples/demo/weft-demo`. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft.h>

enum { TASKS = 4, STEPS = 1000 };

/* ---- A task written with the coroutine macros --------------------------
 * Everything that must survive an await or a yield lives in the state, not
 * in locals: the poll function returns at each one. */
struct summer {
  weft_coro co;
  unsigned id;
  unsigned i;
  uint64_t sum;
  weft_future *sleep;
};

/* Sleeps id * 5 ms, then sums id * i for i in 1..STEPS, yielding every
 * 100 steps; the output is the sum. */
static weft_poll summer_poll(void *state, weft_context *cx, void *output) {
  struct summer *s = state;
  WEFT_CORO_BEGIN(&s->co);
  if (weft_sleep(5u * s->id, &s->sleep) < 0) {
    weft_task_fail(cx, WEFT_ENOMEM);
    WEFT_CORO_RETURN(&s->co);
  }
  WEFT_AWAIT(&s->co, weft_future_poll(s->sleep, cx));
  weft_future_free(s->sleep);
  s->sleep = NULL;
  for (s->i = 1; s->i <= STEPS; s->i++) {
    s->sum += (uint64_t)s->id * s->i;
    if (s->i % 100 == 0)
      WEFT_YIELD(&s->co, cx);
  }
  *(uint64_t *)output = s->sum;
  WEFT_CORO_END(&s->co);
}

/* Runs once, however the task ends (completed or cancelled), to release
 * what the state owns. */
static void summer_drop(void *state) {
  struct summer *s = state;
  weft_future_free(s->sleep);
}

static const weft_future_vtable summer_vtable = {
    .struct_size = sizeof(weft_future_vtable),
    .poll = summer_poll,
    .drop = summer_drop,
};

/* ---- Blocking work, awaited from a task -------------------------------- */

/* Stands for a blocking call (a file read, a DNS lookup): it sleeps the
 * thread, which must never happen on a worker, hence the blocking pool. */
static void *slow_square(void *arg, const weft_cancel_token *token) {
  (void)token;
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  uintptr_t n = (uintptr_t)arg;
  return (void *)(n * n);
}

/* A blocking job's output is the void * its function returned. */
static uintptr_t job_value(const weft_join_result *res) {
  if (res->status != WEFT_JOIN_COMPLETED || res->output == NULL)
    return 0;
  void *value = *(void *const *)res->output;
  return (uintptr_t)value;
}

struct offloader {
  weft_coro co;
  weft_join_handle *job;
};

static weft_poll offloader_poll(void *state, weft_context *cx, void *output) {
  struct offloader *o = state;
  weft_join_result res;
  WEFT_CORO_BEGIN(&o->co);
  if (weft_spawn_blocking(weft_runtime_current(), slow_square, (void *)12,
                          &o->job) < 0) {
    weft_task_fail(cx, WEFT_EAGAIN);
    WEFT_CORO_RETURN(&o->co);
  }
  WEFT_AWAIT(&o->co, weft_join_poll(o->job, cx, &res));
  *(uintptr_t *)output = job_value(&res);
  weft_join_free(o->job);
  o->job = NULL;
  WEFT_CORO_END(&o->co);
}

static void offloader_drop(void *state) {
  struct offloader *o = state;
  weft_join_free(o->job);
}

static const weft_future_vtable offloader_vtable = {
    .struct_size = sizeof(weft_future_vtable),
    .poll = offloader_poll,
    .drop = offloader_drop,
};

/* ---- main: spawn, join, print ------------------------------------------ */

static int fail(const char *what, int rc) {
  fprintf(stderr, "weft-demo: %s: %s (%s)\n", what, weft_strerror(rc),
          weft_err_name(rc));
  return EXIT_FAILURE;
}

int main(void) {
  weft_runtime *rt = NULL;
  weft_join_handle *handles[TASKS] = {NULL};
  weft_join_handle *offload = NULL;
  int rc = weft_runtime_new(&rt, NULL);
  if (rc < 0)
    return fail("weft_runtime_new", rc);
  printf("weft %s on the %s backend\n", weft_version_string(),
         weft_runtime_backend_name(rt));

  for (unsigned t = 0; t < TASKS; t++) {
    struct summer s = {.co = WEFT_CORO_INIT, .id = t + 1};
    rc = weft_spawn(rt, &summer_vtable, &s, sizeof s, sizeof(uint64_t),
                    &handles[t]);
    if (rc < 0)
      return fail("weft_spawn", rc);
  }
  struct offloader o = {.co = WEFT_CORO_INIT};
  rc = weft_spawn(rt, &offloader_vtable, &o, sizeof o, sizeof(uintptr_t),
                  &offload);
  if (rc < 0)
    return fail("weft_spawn", rc);

  int status = EXIT_SUCCESS;
  weft_join_result res;
  for (unsigned t = 0; t < TASKS; t++) {
    rc = weft_join_wait(handles[t], -1, &res);
    if (rc < 0)
      return fail("weft_join_wait", rc);
    uint64_t want = (uint64_t)(t + 1) * STEPS * (STEPS + 1) / 2;
    uint64_t got = res.status == WEFT_JOIN_COMPLETED && res.output
                       ? *(const uint64_t *)res.output
                       : 0;
    printf("task %u: slept %u ms, sum %" PRIu64 "%s\n", t + 1, 5 * (t + 1), got,
           got == want ? "" : " WRONG");
    if (got != want)
      status = EXIT_FAILURE;
    weft_join_free(handles[t]);
  }

  rc = weft_join_wait(offload, -1, &res);
  if (rc < 0)
    return fail("weft_join_wait", rc);
  uintptr_t sq = res.status == WEFT_JOIN_COMPLETED && res.output
                     ? *(const uintptr_t *)res.output
                     : 0;
  printf("blocking pool: 12 * 12 = %" PRIuPTR "%s\n", sq,
         sq == 144 ? "" : " WRONG");
  if (sq != 144)
    status = EXIT_FAILURE;
  weft_join_free(offload);

  weft_runtime_free(rt);
  puts(status == EXIT_SUCCESS ? "all tasks joined" : "some results wrong");
  return status;
}
