/* tests/fault/sweep.h: run a scenario in a forked child, with a deadline.
 *
 * Each injected fault runs in its own child process, so that whatever one
 * failure leaves behind (a leak, a stuck thread, a signal disposition)
 * cannot change the next run, and so that a crash or a hang is caught and
 * reported with the fault that caused it. The child sends its report back
 * through a pipe and exits with exit(), so LeakSanitizer checks it. */
#ifndef WEFT_TESTS_FAULT_SWEEP_H
#define WEFT_TESTS_FAULT_SWEEP_H

#include <stddef.h>

/* In the child the report pipe is also this descriptor, so that `fn` may
 * exec a program that writes the report there itself. */
#define FAULT_REPORT_FD 3

/* Runs `fn(arg, report)` in a child; `report` (of `size` bytes) is filled
 * by the child and copied back. Returns 0 if the child exited with status
 * 0 within `timeout_ms` and sent a whole report; otherwise -1 with a
 * description in `why` (a crash, a sanitizer report, a hang). */
int fault_in_child(void (*fn)(void *arg, void *report), void *arg,
                   void *report, size_t size, int timeout_ms, char *why,
                   size_t why_cap);

#endif /* WEFT_TESTS_FAULT_SWEEP_H */
