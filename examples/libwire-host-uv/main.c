/* examples/libwire-host-uv: a plain libuv program that uses libwire.
 *
 * The program owns its loop and runs it with uv_run, as any libuv program
 * does. One line attaches weft to that loop; from then on libwire's server
 * and client tasks run on the loop's thread, between the program's own
 * callbacks (here a 5 ms uv_timer). When the client is done, the timer
 * callback stops the server, detaches weft and closes the timer, and
 * uv_run returns because nothing is left on the loop. */
#include <stdio.h>

#include <uv.h>

#include "demo.h"

static struct {
  weft_runtime *rt;
  wire_server *server;
  weft_join_handle *client;
  int ticks, status;
} app;

static void on_tick(uv_timer_t *t) {
  app.ticks++;
  if (!weft_join_is_finished(app.client))
    return;
  app.status = demo_client_status(app.client);
  weft_join_free(app.client);
  wire_server_stop(app.server);
  weft_runtime_detach(app.rt); /* removes every handle weft added */
  uv_close((uv_handle_t *)t, NULL);
}

int main(void) {
  uv_loop_t loop;
  uv_timer_t tick;
  uv_loop_init(&loop);

  int rc = weft_runtime_attach_uv(&app.rt, &loop); /* the one line */
  if (rc < 0) {
    fprintf(stderr, "libwire-host-uv: attach: %s\n", weft_strerror(rc));
    return 1;
  }
  if ((rc = wire_server_start(app.rt, "127.0.0.1:0", demo_handler, NULL,
                              &app.server)) < 0 ||
      (rc = demo_client_spawn(app.rt, wire_server_port(app.server),
                              &app.ticks, &app.client)) < 0) {
    fprintf(stderr, "libwire-host-uv: %s\n", weft_strerror(rc));
    wire_server_stop(app.server);
    weft_runtime_detach(app.rt);
    uv_loop_close(&loop);
    return 1;
  }
  printf("host: libuv loop, weft on backend %s, server on port %d\n",
         weft_runtime_backend_name(app.rt), wire_server_port(app.server));

  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, on_tick, 5, 5);
  uv_run(&loop, UV_RUN_DEFAULT);

  rc = uv_loop_close(&loop); /* UV_EBUSY if any handle were left */
  printf("host: %d timer ticks; loop closed %s\n", app.ticks,
         rc == 0 ? "cleanly" : uv_strerror(rc));
  return app.status == 0 && rc == 0 ? 0 : 1;
}
