/* tests/fault/shim.c: an LD_PRELOAD library that fails the n-th call of one
 * system call wrapper, for the system-call fault test.
 *
 *   WEFT_SHIM_FUNC  pthread_create | eventfd | epoll_create1 | pipe | pipe2
 *   WEFT_SHIM_NTH   which call fails (1 = the first); unset = none
 *
 * pthread_create fails with EAGAIN (the thread limit), the others with
 * EMFILE (the descriptor limit), as the kernel would report them. Calls of
 * the chosen function are counted whether they fail or not;
 * weft_fault_shim_calls() returns the count, so the test knows when n has
 * passed the last call. Every other call goes straight to the next
 * definition (libc's, or a sanitizer's interceptor). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

long weft_fault_shim_calls(void);

static const char *target;
static long nth;
static atomic_long calls;

/* The next definitions, looked up once before main() runs (so before any
 * thread can call them). */
static int (*next_pthread_create)(pthread_t *, const pthread_attr_t *,
                                  void *(*)(void *), void *);
static int (*next_eventfd)(unsigned int, int);
static int (*next_epoll_create1)(int);
static int (*next_pipe)(int *);
static int (*next_pipe2)(int *, int);

#define LOOKUP(name) *(void **)&next_##name = dlsym(RTLD_NEXT, #name)

__attribute__((constructor)) static void shim_init(void) {
  const char *n = getenv("WEFT_SHIM_NTH");
  target = getenv("WEFT_SHIM_FUNC");
  nth = n ? atol(n) : 0;
  LOOKUP(pthread_create);
  LOOKUP(eventfd);
  LOOKUP(epoll_create1);
  LOOKUP(pipe);
  LOOKUP(pipe2);
}

long weft_fault_shim_calls(void) {
  return atomic_load_explicit(&calls, memory_order_relaxed);
}

/* Count a call of `fn`; 1 if it is the one to fail. */
static int fail_now(const char *fn) {
  if (!target || strcmp(fn, target) != 0)
    return 0;
  return atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) + 1 ==
         nth;
}

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
                   void *arg) {
  if (fail_now("pthread_create"))
    return EAGAIN;
  return next_pthread_create(t, a, fn, arg);
}

int eventfd(unsigned int initval, int flags) {
  if (fail_now("eventfd")) {
    errno = EMFILE;
    return -1;
  }
  return next_eventfd(initval, flags);
}

int epoll_create1(int flags) {
  if (fail_now("epoll_create1")) {
    errno = EMFILE;
    return -1;
  }
  return next_epoll_create1(flags);
}

int pipe(int fds[2]) {
  if (fail_now("pipe")) {
    errno = EMFILE;
    return -1;
  }
  return next_pipe(fds);
}

int pipe2(int fds[2], int flags) {
  if (fail_now("pipe2")) {
    errno = EMFILE;
    return -1;
  }
  return next_pipe2(fds, flags);
}
