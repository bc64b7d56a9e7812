/* tests/reliability/rel_helpers.h: clocks, CPU time, scale and child
 * processes for the reliability tests. Header-only, static.
 *
 * Scale: the tests that do a million of something read WEFT_REL_SCALE (a
 * factor, 1.0 by default); a sanitizer build (meson defines REL_SANITIZED)
 * defaults to 0.1, so the CI builds run a tenth of the work. */
#ifndef WEFT_TESTS_REL_HELPERS_H
#define WEFT_TESTS_REL_HELPERS_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

#include "../reactor/rt_helpers.h"

#ifndef REL_SANITIZED
#define REL_SANITIZED 0
#endif

static inline double rel_scale(void) {
  const char *s = getenv("WEFT_REL_SCALE");
  double v = s ? atof(s) : (REL_SANITIZED ? 0.1 : 1.0);
  return v > 0 ? v : 1.0;
}

/* Sanitizers make each operation several times dearer: CPU bounds are
 * multiplied by this. */
static inline double rel_cpu_factor(void) { return REL_SANITIZED ? 10.0 : 1.0; }

static inline uint64_t rel_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process (every thread), user + system. */
static inline uint64_t rel_cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
             1000000000u +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
             1000u;
}

/* Peak resident set size of this process in KiB. */
static inline long rel_maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* A multi-thread runtime with `workers` workers on `backend` (NULL: the
 * default, which WEFT_BACKEND may name): the reactor tests' helper. */
static inline weft_runtime *rel_runtime(unsigned workers,
                                        const char *backend) {
  return rt_new(workers, backend);
}

/* Read exactly `len` bytes within `timeout_ms`; returns the count read. */
static inline int rel_read_full(int fd, void *buf, size_t len,
                                int timeout_ms) {
  size_t have = 0;
  uint64_t end = rel_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  while (have < len) {
    uint64_t now = rel_mono_ns();
    if (now >= end)
      break;
    struct pollfd p = {fd, POLLIN, 0};
    int pr = poll(&p, 1, (int)((end - now) / 1000000u) + 1);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      break;
    ssize_t n = read(fd, (char *)buf + have, len - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    have += (size_t)n;
  }
  return (int)have;
}

/* Wait for child `pid` for up to `timeout_ms`; on timeout kill it and
 * return -1 (a hang is a failure, never a stuck test). */
static inline int rel_wait_child(pid_t pid, int timeout_ms, int *status) {
  uint64_t end = rel_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid)
      return 0;
    if (r < 0 && errno != EINTR)
      return -1;
    if (rel_mono_ns() >= end) {
      kill(pid, SIGKILL);
      waitpid(pid, status, 0);
      return -1;
    }
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

#endif /* WEFT_TESTS_REL_HELPERS_H */
