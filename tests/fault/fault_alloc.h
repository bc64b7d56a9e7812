/* tests/fault/fault_alloc.h: fail the k-th allocation made by weft.
 *
 * The allocation-failure test links the static libweft with
 * -Wl,--wrap=malloc (and calloc, realloc, aligned_alloc, posix_memalign,
 * strdup, strndup, free): every call to those functions from an object in
 * that link, i.e. from weft's own code and from the test's, goes to the
 * __wrap_ functions in fault_alloc.c, which count it and fail the k-th.
 * Calls made inside shared libraries (libc's own, cmocka's, the sanitizer
 * runtime's) are not affected, so only weft's allocations are counted,
 * whichever thread makes them. The test code itself allocates nothing while
 * a scenario runs. */
#ifndef WEFT_TESTS_FAULT_ALLOC_H
#define WEFT_TESTS_FAULT_ALLOC_H

#include <stdint.h>

/* Count allocations from zero and fail the k-th one (k >= 1; 0 = never). */
void fault_alloc_arm(long k);
/* Allocation calls counted since fault_alloc_arm. */
long fault_alloc_calls(void);
/* The address of the code that made the failed call (0 if none failed). */
uintptr_t fault_alloc_failed_site(void);
/* Blocks weft allocated and has not freed since fault_alloc_arm. */
long fault_alloc_live(void);

#endif /* WEFT_TESTS_FAULT_ALLOC_H */
