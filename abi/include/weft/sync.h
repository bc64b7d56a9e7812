/* weft/sync.h: synchronisation between tasks (and plain threads).
 *
 * Notify, Semaphore, a FIFO-fair Mutex and a RwLock. Waiting is done by a
 * boxed future (weft_future) whose output is one int result, 0 or a
 * negative WEFT_E* code (read it with weft_future_result). Every object is
 * opaque, made and released by the caller, and may be used from any number
 * of threads at once. A future borrows its object, which must outlive it.
 *
 * Dropping a pending future gives its place up and loses nothing: a permit
 * or a notification that was handed to it and not yet consumed is passed
 * on to the next waiter. See docs/toolkit.md. */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "common.h"
#include "future.h"

WEFT_BEGIN_DECLS

/* ---- Notify --------------------------------------------------------------
 * Wakes tasks. notify_one wakes the first waiter, or if none waits, stores
 * one permit that the next notified() future consumes at once (several
 * notify_one calls with nobody waiting store one permit). notify_waiters
 * wakes every future made before the call and stores nothing. */

typedef struct weft_notify weft_notify;

/* Returns 0, WEFT_EINVAL or WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_notify_new(weft_notify **out);
/* Free it. No future may still borrow it. NULL does nothing. Since 0.1. */
WEFT_API void weft_notify_free(weft_notify *n);
/* Wake one waiter or store a permit. Any thread. Since 0.1. */
WEFT_API int weft_notify_one(weft_notify *n);
/* Wake every future made before this call. Any thread. Since 0.1. */
WEFT_API int weft_notify_waiters(weft_notify *n);
/* A future that finishes (result 0) when notified. Since 0.1. */
WEFT_API int weft_notify_notified(weft_notify *n, weft_future **out);

/* ---- Semaphore -------------------------------------------------------------
 * A count of permits. Waiters are served strictly in FIFO order: a waiter
 * asking for many permits is not overtaken by later, smaller requests. */

typedef struct weft_semaphore weft_semaphore;

/* Largest permit count a semaphore can hold. */
#define WEFT_SEMAPHORE_MAX_PERMITS ((size_t)1 << 40)

/* Make a semaphore with `permits` (0..WEFT_SEMAPHORE_MAX_PERMITS). Returns
 * 0, WEFT_EINVAL or WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_semaphore_new(size_t permits, weft_semaphore **out);
/* Free it. No future may still borrow it. NULL does nothing. Since 0.1. */
WEFT_API void weft_semaphore_free(weft_semaphore *s);
/* A future acquiring `n` permits (result 0, or WEFT_ECLOSED after close).
 * `n` may be at most WEFT_SEMAPHORE_MAX_PERMITS. Since 0.1. */
WEFT_API int weft_semaphore_acquire_many(weft_semaphore *s, size_t n,
                                         weft_future **out);
/* The same for one permit. Since 0.1. */
WEFT_API int weft_semaphore_acquire(weft_semaphore *s, weft_future **out);
/* Take `n` permits now: 0, WEFT_EAGAIN (not enough, or waiters are queued
 * first), WEFT_ECLOSED or WEFT_EINVAL. Any thread. Since 0.1. */
WEFT_API int weft_semaphore_try_acquire(weft_semaphore *s, size_t n);
/* Add `n` permits (returning acquired ones, or new ones). Returns 0,
 * WEFT_EINVAL, or WEFT_EOVERFLOW past WEFT_SEMAPHORE_MAX_PERMITS (nothing
 * added). Any thread. Since 0.1. */
WEFT_API int weft_semaphore_release(weft_semaphore *s, size_t n);
/* Permits available now (a snapshot). */
WEFT_API size_t weft_semaphore_available(weft_semaphore *s);
/* Close: every waiting and later acquire finishes with WEFT_ECLOSED;
 * release still works. Idempotent. Since 0.1. */
WEFT_API void weft_semaphore_close(weft_semaphore *s);

/* ---- Mutex -----------------------------------------------------------------
 * An async mutex, FIFO-fair: the lock goes to waiters in the order they
 * started waiting (and try_lock fails while anyone waits). It may guard
 * `data_size` bytes of its own, reached with weft_mutex_data. It may be
 * held across awaits and unlocked from another thread than the locker. */

typedef struct weft_mutex weft_mutex;

/* `data_size` may be 0. Returns 0, WEFT_EINVAL or WEFT_ENOMEM. Since 0.1. */
WEFT_API int weft_mutex_new(size_t data_size, weft_mutex **out);
WEFT_API void weft_mutex_free(weft_mutex *m);
/* A future that takes the lock (result 0). Since 0.1. */
WEFT_API int weft_mutex_lock(weft_mutex *m, weft_future **out);
/* 0, or WEFT_EBUSY. Since 0.1. */
WEFT_API int weft_mutex_try_lock(weft_mutex *m);
/* Unlock a held lock: 0 or WEFT_EINVAL. Since 0.1. */
WEFT_API int weft_mutex_unlock(weft_mutex *m);
/* The guarded bytes (NULL when data_size was 0); touch them only while the
 * lock is held. Since 0.1. */
WEFT_API void *weft_mutex_data(weft_mutex *m);

/* ---- RwLock ----------------------------------------------------------------
 * Many readers or one writer, FIFO-fair: a waiting writer holds back
 * readers that come after it, so writers do not starve. */

typedef struct weft_rwlock weft_rwlock;

/* At most WEFT_RWLOCK_MAX_READERS readers hold it at once. */
#define WEFT_RWLOCK_MAX_READERS ((size_t)1 << 30)

WEFT_API int weft_rwlock_new(size_t data_size, weft_rwlock **out);
WEFT_API void weft_rwlock_free(weft_rwlock *l);
/* Futures that take a read / write lock (result 0). Since 0.1. */
WEFT_API int weft_rwlock_read(weft_rwlock *l, weft_future **out);
WEFT_API int weft_rwlock_write(weft_rwlock *l, weft_future **out);
/* 0 or WEFT_EBUSY. Since 0.1. */
WEFT_API int weft_rwlock_try_read(weft_rwlock *l);
WEFT_API int weft_rwlock_try_write(weft_rwlock *l);
/* Release a held read / write lock: 0 or WEFT_EINVAL. Since 0.1. */
WEFT_API int weft_rwlock_read_unlock(weft_rwlock *l);
WEFT_API int weft_rwlock_write_unlock(weft_rwlock *l);
WEFT_API void *weft_rwlock_data(weft_rwlock *l);

WEFT_END_DECLS

#endif /* WEFT_SYNC_H */
