/* examples/libwire-host-event: a plain libevent program that uses libwire.
 *
 * The program owns its event_base and runs it with event_base_dispatch. One
 * line attaches weft to it; libwire's server and client tasks then run on
 * the loop's thread between the program's own callbacks (here a 5 ms
 * persistent timer event). When the client is done, the timer callback
 * stops the server, detaches weft and deletes the timer, and
 * event_base_dispatch returns because no event is left. */
#include <stdio.h>

#include <event2/event.h>

#include "demo.h"

static struct {
  weft_runtime *rt;
  wire_server *server;
  weft_join_handle *client;
  int ticks, status;
} app;

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  struct event *tick = arg;
  (void)fd;
  (void)what;
  app.ticks++;
  if (!weft_join_is_finished(app.client))
    return;
  app.status = demo_client_status(app.client);
  weft_join_free(app.client);
  wire_server_stop(app.server);
  weft_runtime_detach(app.rt); /* removes every event weft added */
  event_del(tick);
}

int main(void) {
  struct event_base *base = event_base_new();
  if (!base)
    return 1;

  weft_runtime *rt;
  int rc = weft_runtime_attach_event(&rt, base); /* the one line */
  if (rc < 0) {
    fprintf(stderr, "libwire-host-event: attach: %s\n", weft_strerror(rc));
    event_base_free(base);
    return 1;
  }
  app.rt = rt;
  if ((rc = wire_server_start(rt, "127.0.0.1:0", demo_handler, NULL,
                              &app.server)) < 0 ||
      (rc = demo_client_spawn(rt, wire_server_port(app.server), &app.ticks,
                              &app.client)) < 0) {
    fprintf(stderr, "libwire-host-event: %s\n", weft_strerror(rc));
    wire_server_stop(app.server);
    weft_runtime_detach(rt);
    event_base_free(base);
    return 1;
  }
  printf("host: libevent loop, weft on backend %s, server on port %d\n",
         weft_runtime_backend_name(rt), wire_server_port(app.server));

  struct event *tick = event_new(base, -1, EV_PERSIST, on_tick,
                                 event_self_cbarg());
  struct timeval every = {0, 5000};
  event_add(tick, &every);
  rc = event_base_dispatch(base); /* 1: returned because no event is left */

  int left = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
  printf("host: %d timer ticks; loop %s\n", app.ticks,
         rc == 1 && left == 0 ? "closed cleanly" : "left events behind");
  event_free(tick);
  event_base_free(base);
  return app.status == 0 && rc == 1 && left == 0 ? 0 : 1;
}
