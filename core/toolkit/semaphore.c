/* core/toolkit/semaphore.c: the public Semaphore, Mutex and RwLock, all
 * thin layers over the FIFO semaphore in sema.c (whose header comment holds
 * the invariants). A mutex is a semaphore of one permit; a rwlock is one of
 * WEFT_RWLOCK_MAX_READERS permits where a reader takes one and a writer
 * takes them all, so the semaphore's FIFO order is the lock's fairness. */
#include "toolkit/sema.h"

struct weft_semaphore {
  weft__sema s;
};

int weft_semaphore_new(size_t permits, weft_semaphore **out) {
  if (!out || permits > WEFT_SEMAPHORE_MAX_PERMITS)
    return WEFT_EINVAL;
  weft_semaphore *s = malloc(sizeof *s);
  if (!s)
    return WEFT_ENOMEM;
  if (weft__sema_init(&s->s, permits) != 0) {
    free(s);
    return WEFT_ENOMEM;
  }
  *out = s;
  return 0;
}

void weft_semaphore_free(weft_semaphore *s) {
  if (!s)
    return;
  weft__sema_destroy(&s->s);
  free(s);
}

int weft_semaphore_acquire_many(weft_semaphore *s, size_t n,
                                weft_future **out) {
  if (!s || !out || n > WEFT_SEMAPHORE_MAX_PERMITS)
    return WEFT_EINVAL;
  return weft__sema_acquire(&s->s, n, out);
}

int weft_semaphore_acquire(weft_semaphore *s, weft_future **out) {
  return weft_semaphore_acquire_many(s, 1, out);
}

int weft_semaphore_try_acquire(weft_semaphore *s, size_t n) {
  if (!s || n > WEFT_SEMAPHORE_MAX_PERMITS)
    return WEFT_EINVAL;
  return weft__sema_try_acquire(&s->s, n);
}

int weft_semaphore_release(weft_semaphore *s, size_t n) {
  if (!s)
    return WEFT_EINVAL;
  return weft__sema_release(&s->s, n);
}

size_t weft_semaphore_available(weft_semaphore *s) {
  if (!s)
    return 0;
  pthread_mutex_lock(&s->s.lock);
  size_t n = s->s.permits;
  pthread_mutex_unlock(&s->s.lock);
  return n;
}

void weft_semaphore_close(weft_semaphore *s) {
  if (s)
    weft__sema_close(&s->s);
}

/* ---- Mutex ----------------------------------------------------------------- */

struct weft_mutex {
  weft__sema s;
  size_t data_size;
  _Alignas(16) unsigned char data[];
};

int weft_mutex_new(size_t data_size, weft_mutex **out) {
  if (!out || data_size > ((size_t)1 << 30))
    return WEFT_EINVAL;
  weft_mutex *m = calloc(1, sizeof *m + data_size);
  if (!m)
    return WEFT_ENOMEM;
  if (weft__sema_init(&m->s, 1) != 0) {
    free(m);
    return WEFT_ENOMEM;
  }
  m->data_size = data_size;
  *out = m;
  return 0;
}

void weft_mutex_free(weft_mutex *m) {
  if (!m)
    return;
  weft__sema_destroy(&m->s);
  free(m);
}

int weft_mutex_lock(weft_mutex *m, weft_future **out) {
  if (!m || !out)
    return WEFT_EINVAL;
  return weft__sema_acquire(&m->s, 1, out);
}

int weft_mutex_try_lock(weft_mutex *m) {
  if (!m)
    return WEFT_EINVAL;
  return weft__sema_try_acquire(&m->s, 1) == 0 ? 0 : WEFT_EBUSY;
}

/* Unlocking a lock that is not held would mint a permit: the semaphore
 * refuses a release that would exceed the lock's total. */
static int release_held(weft__sema *s, size_t n, size_t total) {
  return weft__sema_release_bounded(s, n, total);
}

int weft_mutex_unlock(weft_mutex *m) {
  if (!m)
    return WEFT_EINVAL;
  return release_held(&m->s, 1, 1);
}

void *weft_mutex_data(weft_mutex *m) {
  return m && m->data_size ? m->data : NULL;
}

/* ---- RwLock ---------------------------------------------------------------- */

struct weft_rwlock {
  weft__sema s;
  size_t data_size;
  _Alignas(16) unsigned char data[];
};

int weft_rwlock_new(size_t data_size, weft_rwlock **out) {
  if (!out || data_size > ((size_t)1 << 30))
    return WEFT_EINVAL;
  weft_rwlock *l = calloc(1, sizeof *l + data_size);
  if (!l)
    return WEFT_ENOMEM;
  if (weft__sema_init(&l->s, WEFT_RWLOCK_MAX_READERS) != 0) {
    free(l);
    return WEFT_ENOMEM;
  }
  l->data_size = data_size;
  *out = l;
  return 0;
}

void weft_rwlock_free(weft_rwlock *l) {
  if (!l)
    return;
  weft__sema_destroy(&l->s);
  free(l);
}

int weft_rwlock_read(weft_rwlock *l, weft_future **out) {
  if (!l || !out)
    return WEFT_EINVAL;
  return weft__sema_acquire(&l->s, 1, out);
}

int weft_rwlock_write(weft_rwlock *l, weft_future **out) {
  if (!l || !out)
    return WEFT_EINVAL;
  return weft__sema_acquire(&l->s, WEFT_RWLOCK_MAX_READERS, out);
}

int weft_rwlock_try_read(weft_rwlock *l) {
  if (!l)
    return WEFT_EINVAL;
  return weft__sema_try_acquire(&l->s, 1) == 0 ? 0 : WEFT_EBUSY;
}

int weft_rwlock_try_write(weft_rwlock *l) {
  if (!l)
    return WEFT_EINVAL;
  return weft__sema_try_acquire(&l->s, WEFT_RWLOCK_MAX_READERS) == 0
             ? 0
             : WEFT_EBUSY;
}

int weft_rwlock_read_unlock(weft_rwlock *l) {
  if (!l)
    return WEFT_EINVAL;
  return release_held(&l->s, 1, WEFT_RWLOCK_MAX_READERS);
}

int weft_rwlock_write_unlock(weft_rwlock *l) {
  if (!l)
    return WEFT_EINVAL;
  return release_held(&l->s, WEFT_RWLOCK_MAX_READERS,
                      WEFT_RWLOCK_MAX_READERS);
}

void *weft_rwlock_data(weft_rwlock *l) {
  return l && l->data_size ? l->data : NULL;
}
