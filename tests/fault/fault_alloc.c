/* tests/fault/fault_alloc.c: the --wrap allocation counter (see
 * fault_alloc.h). Why link-time wrapping rather than a hook in the library
 * or an LD_PRELOAD interposer: the library keeps calling plain malloc (no
 * wrapper for every contributor to remember, nothing in the shipped
 * binary), and unlike an interposer it needs no call-site filtering and
 * stays out of the way of the sanitizers' own malloc interposition, which
 * the __real_ functions reach as usual. */
#include "fault_alloc.h"

#include <stdatomic.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t m, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t m, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

/* Relaxed everywhere: the counters are read by the thread that armed them
 * after the runtime's threads are joined, which orders everything. */
static atomic_long calls, fail_at, live;
static _Atomic uintptr_t failed_site;

void fault_alloc_arm(long k) {
  atomic_store_explicit(&calls, 0, memory_order_relaxed);
  atomic_store_explicit(&live, 0, memory_order_relaxed);
  atomic_store_explicit(&failed_site, 0, memory_order_relaxed);
  atomic_store_explicit(&fail_at, k, memory_order_relaxed);
}

long fault_alloc_calls(void) {
  return atomic_load_explicit(&calls, memory_order_relaxed);
}

uintptr_t fault_alloc_failed_site(void) {
  return atomic_load_explicit(&failed_site, memory_order_relaxed);
}

long fault_alloc_live(void) {
  return atomic_load_explicit(&live, memory_order_relaxed);
}

/* Count one call; 1 if it is the one to fail. */
static int fail_now(void *site) {
  long n = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) + 1;
  if (n != atomic_load_explicit(&fail_at, memory_order_relaxed))
    return 0;
  atomic_store_explicit(&failed_site, (uintptr_t)site, memory_order_relaxed);
  return 1;
}

static void *counted(void *p) {
  if (p)
    atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
  return p;
}

#define SITE __builtin_extract_return_addr(__builtin_return_address(0))

void *__wrap_malloc(size_t n) {
  return fail_now(SITE) ? NULL : counted(__real_malloc(n));
}

void *__wrap_calloc(size_t m, size_t n) {
  return fail_now(SITE) ? NULL : counted(__real_calloc(m, n));
}

void *__wrap_realloc(void *p, size_t n) {
  if (fail_now(SITE))
    return NULL;
  void *q = __real_realloc(p, n);
  if (!p)
    counted(q);
  return q;
}

void *__wrap_aligned_alloc(size_t a, size_t n) {
  return fail_now(SITE) ? NULL : counted(__real_aligned_alloc(a, n));
}

int __wrap_posix_memalign(void **p, size_t a, size_t n) {
  if (fail_now(SITE))
    return 12; /* ENOMEM */
  int rc = __real_posix_memalign(p, a, n);
  if (rc == 0)
    counted(*p);
  return rc;
}

char *__wrap_strdup(const char *s) {
  return fail_now(SITE) ? NULL : counted(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n) {
  return fail_now(SITE) ? NULL : counted(__real_strndup(s, n));
}

void __wrap_free(void *p) {
  if (p)
    atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
  __real_free(p);
}
