/* core/toolkit/sema.h: the FIFO semaphore under Semaphore, Mutex, RwLock. */
#ifndef WEFT_CORE_TOOLKIT_SEMA_H
#define WEFT_CORE_TOOLKIT_SEMA_H

#include "toolkit/tk.h"

typedef struct weft__sema {
  pthread_mutex_t lock;
  size_t permits;
  int closed;
  weft__wlist waiting;
} weft__sema;

int weft__sema_init(weft__sema *s, size_t permits);
void weft__sema_destroy(weft__sema *s);
int weft__sema_try_acquire(weft__sema *s, size_t n);
int weft__sema_release(weft__sema *s, size_t n);
/* Release, refusing (WEFT_EINVAL) to go above `total` free permits (0 = no
 * bound): an unlock of a lock that is not held. */
int weft__sema_release_bounded(weft__sema *s, size_t n, size_t total);
void weft__sema_close(weft__sema *s);
/* A boxed future acquiring `n`; output one int. */
int weft__sema_acquire(weft__sema *s, size_t n, weft_future **out);

#endif /* WEFT_CORE_TOOLKIT_SEMA_H */
