/* examples/libwire/demo.h: what each libwire host program runs, so that the
 * three hosts differ only in their event loop.
 *
 * demo_handler answers a tiny command set (PING, UPPER text, ADD a b). The
 * demo client is a weft task that sends a few requests to a server, one
 * after another with a 20 ms pause between them, and prints each reply with
 * the count of the host's own timer ticks at that moment, which shows the
 * host's callbacks running between weft's tasks. */
#ifndef WIRE_DEMO_H
#define WIRE_DEMO_H

#include "wire.h"

int demo_handler(void *arg, const char *line, size_t len, char *reply,
                 size_t cap);

/* Spawn the client on `rt`, talking to 127.0.0.1:`port`. It reads
 * `*native_ticks` (written by the host on the same thread) when it prints.
 * `*handle` tells the host when it is done (weft_join_is_finished); its
 * output is an int, the number of replies that were not as expected. */
int demo_client_spawn(weft_runtime *rt, int port, const int *native_ticks,
                      weft_join_handle **handle);

/* 0 when the client finished with every reply as expected, else 1. */
int demo_client_status(weft_join_handle *h);

#endif /* WIRE_DEMO_H */
