/* backends/modules/common/cmdq.c: the fd table, command queue and lazy
 * readiness word shared by the library backends (see cmdq.h).
 *
 * Invariants:
 * 1. A record is on the queue iff its ops word has WB_OP_QUEUED. Only the
 *    pusher that sets QUEUED (fetch_or saw it clear) links the record in, so
 *    a record is never linked twice. The loop thread reads `next` before it
 *    clears QUEUED (exchange of ops), so a record re-pushed at once by
 *    another thread cannot corrupt the list being walked.
 * 2. Requesters store the wanted state (want, gen, interest, token) with
 *    relaxed stores and then publish it with the ops fetch_or (release); the
 *    loop thread's ops exchange (acquire) makes all of it visible. Records
 *    applied directly on the loop thread need no publication.
 * 3. Lost wake-ups, owned mode (Dekker): a poller stores polling = 1 and
 *    then reads the queue and `woken`; a requester pushes (or sets woken)
 *    and then reads `polling`. All four are seq_cst, so at least one side
 *    sees the other: either the poller finds the request before it blocks,
 *    or the requester sees polling == 1 and sends the library's async wake.
 * 4. Readiness word: HELD(d) is set only by the loop thread when it reports
 *    d; the core clears HELD(d), STRIKES(d) and DROPPED(d) together
 *    (wb_rearm). A callback that finds HELD(d) set counts a strike, or if
 *    the strikes already reach `forgive`, sets DROPPED(d), in the same CAS,
 *    so a rearm racing with it either clears the bits first (and the
 *    callback reports) or sees DROPPED and asks the loop to restart d.
 * 5. Records are never freed before wb_core_fini, so a pointer taken from
 *    the table stays valid for the life of the loop. */
#include "cmdq.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

void wb_core_init(wb_core *c, int lazy) {
  for (unsigned i = 0; i < WB_CHUNKS; i++)
    atomic_init(&c->chunks[i], NULL);
  atomic_init(&c->head, NULL);
  atomic_init(&c->polling, 0);
  atomic_init(&c->woken, 0);
  c->lazy = lazy;
  c->forgive = 1;
}

void wb_core_fini(wb_core *c) {
  for (unsigned i = 0; i < WB_CHUNKS; i++) {
    wb_fd *chunk = atomic_load_explicit(&c->chunks[i], memory_order_relaxed);
    free(chunk);
  }
}

wb_fd *wb_fd_get(wb_core *c, int fd, int create) {
  if (fd < 0 || (unsigned)fd >= WB_CHUNK * WB_CHUNKS)
    return NULL;
  unsigned ci = (unsigned)fd / WB_CHUNK;
  /* Acquire: the chunk's records were initialised before the CAS that
   * published it. */
  wb_fd *chunk = atomic_load_explicit(&c->chunks[ci], memory_order_acquire);
  if (!chunk) {
    if (!create)
      return NULL;
    wb_fd *fresh = calloc(WB_CHUNK, sizeof *fresh);
    if (!fresh)
      return NULL;
    for (unsigned i = 0; i < WB_CHUNK; i++)
      fresh[i].fd = (int)(ci * WB_CHUNK + i);
    wb_fd *expected = NULL;
    /* Release publishes the initialised chunk; acquire on failure reads the
     * winner's chunk. */
    if (atomic_compare_exchange_strong_explicit(&c->chunks[ci], &expected,
                                                fresh, memory_order_acq_rel,
                                                memory_order_acquire)) {
      chunk = fresh;
    } else {
      free(fresh);
      chunk = expected;
    }
  }
  return &chunk[(unsigned)fd % WB_CHUNK];
}

void wb_foreach(wb_core *c, void (*fn)(void *arg, wb_fd *f), void *arg) {
  for (unsigned i = 0; i < WB_CHUNKS; i++) {
    wb_fd *chunk = atomic_load_explicit(&c->chunks[i], memory_order_acquire);
    if (!chunk)
      continue;
    for (unsigned j = 0; j < WB_CHUNK; j++)
      fn(arg, &chunk[j]);
  }
}

/* The wanted-state stores are relaxed: the ops RMW that follows publishes
 * them (invariant 2). */
void wb_want_register(wb_fd *f, uint32_t interest, void *token) {
  atomic_store_explicit(&f->interest, interest & WB_DIRS,
                        memory_order_relaxed);
  atomic_store_explicit(&f->token, token, memory_order_relaxed);
  atomic_store_explicit(&f->state, 0, memory_order_relaxed);
  atomic_fetch_add_explicit(&f->gen, 1, memory_order_relaxed);
  atomic_store_explicit(&f->want, 1, memory_order_release);
}

void wb_want_modify(wb_fd *f, uint32_t interest, void *token) {
  atomic_store_explicit(&f->interest, interest & WB_DIRS,
                        memory_order_relaxed);
  atomic_store_explicit(&f->token, token, memory_order_release);
}

void wb_want_deregister(wb_fd *f) {
  atomic_store_explicit(&f->want, 0, memory_order_release);
}

int wb_rearm(wb_fd *f, uint32_t events) {
  uint32_t d = events & WB_DIRS;
  /* acq_rel: pairs with the callback's CAS (invariant 4). */
  uint32_t old = atomic_fetch_and_explicit(
      &f->state, ~(WB_HELD(d) | WB_STRIKES(d) | WB_DROPPED(d)),
      memory_order_acq_rel);
  return (old & WB_DROPPED(d)) != 0;
}

int wb_push(wb_core *c, wb_fd *f, uint32_t ops) {
  /* seq_cst: this RMW is one side of the Dekker pairing (invariant 3) when
   * it links the record; it also publishes the wanted state (release). */
  uint32_t old = atomic_fetch_or_explicit(&f->ops, ops | WB_OP_QUEUED,
                                          memory_order_seq_cst);
  if (old & WB_OP_QUEUED)
    return 0; /* already queued: the loop thread will see the new bits */
  wb_fd *head = atomic_load_explicit(&c->head, memory_order_relaxed);
  do {
    atomic_store_explicit(&f->next, head, memory_order_relaxed);
    /* seq_cst on success: the push must be ordered before the caller's
     * read of `polling` (invariant 3). */
  } while (!atomic_compare_exchange_weak_explicit(
      &c->head, &head, f, memory_order_seq_cst, memory_order_relaxed));
  return head == NULL;
}

uint32_t wb_take(wb_fd *f, uint32_t ops) {
  /* Keep QUEUED as it is: the record may be linked in the queue. */
  uint32_t old = atomic_fetch_and_explicit(&f->ops, WB_OP_QUEUED,
                                           memory_order_acquire);
  return (old & ~WB_OP_QUEUED) | ops;
}

int wb_drain(wb_core *c, void (*apply)(void *arg, wb_fd *f, uint32_t ops),
             void *arg) {
  /* seq_cst: the poller's side of invariant 3. */
  wb_fd *f = atomic_exchange_explicit(&c->head, NULL, memory_order_seq_cst);
  int n = 0;
  while (f) {
    wb_fd *next = atomic_load_explicit(&f->next, memory_order_relaxed);
    /* Acquire: see the wanted state stored before the push (invariant 2).
     * Clearing QUEUED after reading `next` keeps the walk safe (inv. 1). */
    uint32_t ops = atomic_exchange_explicit(&f->ops, 0, memory_order_acquire);
    apply(arg, f, (ops & ~WB_OP_QUEUED) | WB_OP_SYNC);
    n++;
    f = next;
  }
  return n;
}

uint32_t wb_on_ready(wb_core *c, wb_fd *f, uint32_t dirs, uint32_t *drop) {
  *drop = 0;
  dirs &= WB_DIRS;
  if (!c->lazy || !dirs)
    return dirs;
  uint32_t old = atomic_load_explicit(&f->state, memory_order_acquire);
  uint32_t report, dropped, nw;
  do {
    report = 0;
    dropped = 0;
    nw = old;
    for (uint32_t d = 1; d <= WEFT_IO_WRITABLE; d <<= 1) {
      if (!(dirs & d))
        continue;
      uint32_t strikes = (old & WB_STRIKES(d)) >> WB_STRIKE_SHIFT(d);
      if ((old & WB_HELD(d)) && strikes >= c->forgive) {
        nw |= WB_DROPPED(d);
        dropped |= d;
      } else if (old & WB_HELD(d)) {
        nw = (nw & ~WB_STRIKES(d)) | ((strikes + 1) << WB_STRIKE_SHIFT(d));
      } else {
        nw |= WB_HELD(d);
        report |= d;
      }
    }
    /* acq_rel: pairs with wb_rearm's fetch_and (invariant 4). */
  } while (!atomic_compare_exchange_weak_explicit(
      &f->state, &old, nw, memory_order_acq_rel, memory_order_acquire));
  *drop = dropped;
  return report;
}

uint32_t wb_desired(const wb_fd *f) {
  if (!atomic_load_explicit(&f->want, memory_order_acquire))
    return 0;
  uint32_t interest = atomic_load_explicit(&f->interest, memory_order_acquire);
  uint32_t st = atomic_load_explicit(&f->state, memory_order_acquire);
  return interest & ~(st >> 4) & WB_DIRS;
}

int wb_reportable(const wb_fd *f) {
  if (!f->active)
    return 0;
  if (!atomic_load_explicit(&f->want, memory_order_acquire))
    return 0;
  if (atomic_load_explicit(&f->gen, memory_order_acquire) != f->applied_gen)
    return 0;
  return !(atomic_load_explicit(&f->ops, memory_order_acquire) & WB_OP_CLOSE);
}

/* Owned mode: the loop whose poll runs on this thread, if any. A module is
 * one copy of this file, so the variable is per module, as the loops are.
 * Any thread that wakes the loop reads it, blocking-pool threads included,
 * so it is initial-exec: a dynamic TLS block (the default in a dlopen'ed
 * module) would be allocated in each of those threads, and LeakSanitizer
 * crashes scanning the freed block of a pool thread still exiting at
 * process exit. One pointer fits glibc's static TLS surplus for dlopen'ed
 * modules. */
static _Thread_local wb_core *tls_polling
    __attribute__((tls_model("initial-exec")));

int wb_in_poll(const wb_core *c) { return tls_polling == c; }

void wb_poll_enter(wb_core *c, int64_t *timeout_ms) {
  tls_polling = c;
  /* seq_cst store then seq_cst reads of woken and the queue (inv. 3). */
  atomic_store_explicit(&c->polling, 1, memory_order_seq_cst);
  if (atomic_exchange_explicit(&c->woken, 0, memory_order_seq_cst))
    *timeout_ms = 0;
}

void wb_poll_leave(wb_core *c) {
  /* Relaxed: a requester that still sees 1 only sends one needless async
   * wake, which the next poll absorbs. */
  atomic_store_explicit(&c->polling, 0, memory_order_relaxed);
  tls_polling = NULL;
}

int wb_wake_needed(wb_core *c) {
  /* seq_cst exchange then seq_cst load of polling (invariant 3). If woken
   * was already 1, the thread that set it took care of the send. */
  if (atomic_exchange_explicit(&c->woken, 1, memory_order_seq_cst))
    return 0;
  return atomic_load_explicit(&c->polling, memory_order_seq_cst);
}

int wb_poller_blocked(wb_core *c) {
  return atomic_load_explicit(&c->polling, memory_order_seq_cst);
}

void wb_fd_lock(wb_fd *f) {
  int expected = 0;
  /* Acquire: see everything the previous holder wrote. */
  while (!atomic_compare_exchange_weak_explicit(&f->lock, &expected, 1,
                                                memory_order_acquire,
                                                memory_order_relaxed)) {
    expected = 0;
    sched_yield();
  }
}

void wb_fd_unlock(wb_fd *f) {
  /* Release: publish the record's loop-side fields to the next holder. */
  atomic_store_explicit(&f->lock, 0, memory_order_release);
}
