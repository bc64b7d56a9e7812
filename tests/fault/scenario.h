/* tests/fault/scenario.h: one run of the public API under injected faults.
 *
 * The fault tests (allocation failures, failing system calls) run the same
 * scenario again and again, failing a different call each time. The
 * scenario builds a runtime, and inside weft_block_on spawns a task that
 * sleeps and then sends on an mpsc and a oneshot channel, runs a blocking
 * job, aborts a task that never finishes, waits for readiness on one end of
 * a socketpair, takes a semaphore, waits for a signal, receives both
 * messages and joins all three tasks; then it shuts the runtime down and
 * frees it.
 *
 * Every public call's result goes through fault_scenario_check: 0 goes on,
 * an error the test accepts (accept_fn) stops the scenario cleanly (every
 * object made so far is freed), anything else is recorded as a defect with
 * its line. A scenario never aborts the process itself. */
#ifndef WEFT_TESTS_FAULT_SCENARIO_H
#define WEFT_TESTS_FAULT_SCENARIO_H

#include <weft.h>

typedef struct fault_outcome {
  int stopped_by;   /* the accepted error that stopped the run, or 0 */
  int stopped_line; /* where it was seen */
  int bad_rc;       /* an unaccepted result (a defect), or 0 */
  int bad_line;     /* where it was seen */
  int completed;    /* 1 if every step ran to the end */
} fault_outcome;

/* Which errors are a clean report of the injected fault. */
typedef int (*fault_accept_fn)(int rc);

/* Run the scenario on a runtime of `flavor` (2 workers when multi-thread). */
void fault_scenario_run(weft_flavor flavor, fault_accept_fn accept,
                        fault_outcome *out);

#endif /* WEFT_TESTS_FAULT_SCENARIO_H */
