/* demo.c: weft in one page.
 *
 * Spawns a few tasks written with the coroutine macros, lets them run on
 * the work-stealing workers, joins them from main() and prints what each
 * computed. Run it with `./scripts/demo.sh`, or pick the backend at run
 * time: `WEFT_BACKEND=libev build/examples/demo/weft-demo`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

enum { TASKS = 4, STEPS = 1000 };

/* A task's state. Everything that must survive an await or a yield lives
 * here, not in locals: the poll function returns at each one. */
struct summer {
  weft_coro co;
  unsigned id;
  unsigned i;
  uint64_t sum;
};

/* Sums id * i for i in 1..STEPS, yielding every 100 steps so that the
 * other tasks get a turn; the output is the sum. */
static weft_poll summer_poll(void *state, weft_context *cx, void *output) {
  struct summer *s = state;
  WEFT_CORO_BEGIN(&s->co);
  for (s->i = 1; s->i <= STEPS; s->i++) {
    s->sum += (uint64_t)s->id * s->i;
    if (s->i % 100 == 0)
      WEFT_YIELD(&s->co, cx);
  }
  *(uint64_t *)output = s->sum;
  WEFT_CORO_END(&s->co);
}

static const weft_future_vtable summer_vtable = {
    .struct_size = sizeof(weft_future_vtable),
    .poll = summer_poll,
    .drop = NULL,
};

static int fail(const char *what, int rc) {
  fprintf(stderr, "weft-demo: %s: %s (%s)\n", what, weft_strerror(rc),
          weft_err_name(rc));
  return EXIT_FAILURE;
}

int main(void) {
  weft_runtime *rt = NULL;
  weft_join_handle *handles[TASKS] = {NULL};
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

  int status = EXIT_SUCCESS;
  for (unsigned t = 0; t < TASKS; t++) {
    weft_join_result res;
    rc = weft_join_wait(handles[t], -1, &res);
    if (rc < 0)
      return fail("weft_join_wait", rc);
    uint64_t want = (uint64_t)(t + 1) * STEPS * (STEPS + 1) / 2;
    uint64_t got = res.status == WEFT_JOIN_COMPLETED && res.output
                       ? *(const uint64_t *)res.output
                       : 0;
    printf("task %u (id %" PRIu64 "): sum %" PRIu64 "%s\n", t + 1,
           weft_join_task_id(handles[t]), got, got == want ? "" : " WRONG");
    if (got != want)
      status = EXIT_FAILURE;
    weft_join_free(handles[t]);
  }

  weft_runtime_free(rt);
  puts(status == EXIT_SUCCESS ? "all tasks joined" : "some results wrong");
  return status;
}
