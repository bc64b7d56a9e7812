/* core/clock.c: the monotonic clock every real-time part of weft reads. */
#include <time.h>

#include "internal.h"

uint64_t weft__now_ns(void) {
  struct timespec ts;
  /* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
