/* backends/sim/sim.h: the deterministic simulation backend.
 *
 * "sim" has no real I/O and a virtual clock: its now_ns starts at a fixed
 * value, and its poll, when nothing is ready and the timeout is finite,
 * moves the clock to the end of the timeout at once instead of sleeping. A
 * runtime on sim therefore runs a one-hour timer in microseconds, and the
 * order in which it runs tasks depends only on WEFT_SIM_SEED (see
 * docs/conformance.md and the WEFT_BACKEND_CTL_SCHED_SEED op). */
#ifndef WEFT_BACKENDS_SIM_H
#define WEFT_BACKENDS_SIM_H

#include <weft/backend.h>

/* The sim backend's vtable, built into libweft (registered as "sim"). */
extern const weft_backend weft__backend_sim;

/* The virtual clock's value when a sim loop is created: one second, so that
 * no deadline is ever computed as zero by accident. */
#define WEFT__SIM_EPOCH_NS 1000000000ull

/* The seed used when WEFT_SIM_SEED is unset or not a number. */
#define WEFT__SIM_DEFAULT_SEED 1ull

#endif /* WEFT_BACKENDS_SIM_H */
