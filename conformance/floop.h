/* conformance/floop.h: the application's own loop, for the attach area.
 *
 * One implementation per library (floop_uv.c, floop_event.c, floop_ev.c),
 * each in its own file because libevent's and libev's headers cannot be
 * included together (both define EV_READ and friends). Each runs its loop
 * the way an application does, with one repeating 1 ms timer of its own
 * whose callback asks `tick(arg)` whether to stop the loop. */
#ifndef WEFT_CONFORMANCE_FLOOP_H
#define WEFT_CONFORMANCE_FLOOP_H

typedef struct floop_ops {
  const char *name; /* the backend's name: "libuv", "libevent", "libev" */
  /* A new loop with the application's tick timer made but not started;
   * NULL on failure. */
  void *(*create)(void);
  /* What weft_runtime_attach takes: uv_loop_t *, event_base *, ev_loop *. */
  void *(*foreign)(void *impl);
  /* Run the loop until tick(arg) returns non-zero (called every 1 ms). */
  void (*run)(void *impl, int (*tick)(void *arg), void *arg);
  /* Handles or events left in the loop besides the tick timer. */
  int (*leftovers)(void *impl);
  /* Close the loop; 0 when it closed cleanly. */
  int (*destroy)(void *impl);
} floop_ops;

extern const floop_ops conf_floop_uv, conf_floop_event, conf_floop_ev;

#endif /* WEFT_CONFORMANCE_FLOOP_H */
