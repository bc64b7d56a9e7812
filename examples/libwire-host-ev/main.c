/* examples/libwire-host-ev: a plain libev program that uses libwire.
 *
 * The program owns its loop and runs it with ev_run. One line attaches weft
 * to it; libwire's server and client tasks then run on the loop's thread
 * between the program's own callbacks (here a 5 ms repeating ev_timer).
 * When the client is done, the timer callback stops the server, detaches
 * weft and stops the timer, and ev_run returns because no watcher is left
 * active. */
#include <stdio.h>

#include <ev.h>

#include "demo.h"

static struct {
  weft_runtime *rt;
  wire_server *server;
  weft_join_handle *client;
  int ticks, status;
} app;

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents) {
  (void)revents;
  app.ticks++;
  if (!weft_join_is_finished(app.client))
    return;
  app.status = demo_client_status(app.client);
  weft_join_free(app.client);
  wire_server_stop(app.server);
  weft_runtime_detach(app.rt); /* stops every watcher weft started */
  ev_timer_stop(loop, t);
}

int main(void) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  if (!loop)
    return 1;

  int rc = weft_runtime_attach_ev(&app.rt, loop); /* the one line */
  if (rc < 0) {
    fprintf(stderr, "libwire-host-ev: attach: %s\n", weft_strerror(rc));
    ev_loop_destroy(loop);
    return 1;
  }
  if ((rc = wire_server_start(app.rt, "127.0.0.1:0", demo_handler, NULL,
                              &app.server)) < 0 ||
      (rc = demo_client_spawn(app.rt, wire_server_port(app.server),
                              &app.ticks, &app.client)) < 0) {
    fprintf(stderr, "libwire-host-ev: %s\n", weft_strerror(rc));
    wire_server_stop(app.server);
    weft_runtime_detach(app.rt);
    ev_loop_destroy(loop);
    return 1;
  }
  printf("host: libev loop, weft on backend %s, server on port %d\n",
         weft_runtime_backend_name(app.rt), wire_server_port(app.server));

  ev_timer tick;
  ev_timer_init(&tick, on_tick, 0.005, 0.005);
  ev_timer_start(loop, &tick);
  ev_run(loop, 0);

  /* ev_run(EVRUN_NOWAIT) is true while an active watcher remains. */
  int left = ev_run(loop, EVRUN_NOWAIT);
  printf("host: %d timer ticks; loop %s\n", app.ticks,
         left ? "left watchers behind" : "closed cleanly");
  ev_loop_destroy(loop);
  return app.status == 0 && !left ? 0 : 1;
}
