/* backends/modules/common/cmdq.h: what the libuv, libevent and libev
 * backends share: a table of per-fd records, the MPSC command queue that
 * carries requests from any thread to the loop thread, and the lazy
 * readiness word that keeps level-triggered watchers from busy-looping.
 *
 * Compiled into each module (cmdq.c), never into libweft.
 *
 * Why a queue: libuv and libev loops (and a foreign libevent base that may
 * lack locks) may be touched only by the thread running them. Tasks on any
 * worker register, re-arm and close fds at any time, so those calls store
 * what they want in the fd's record and push the record onto the queue; the
 * loop thread pops it and reconciles the library's watcher with the record.
 * A record is queued at most once (its QUEUED bit), so a burst of requests
 * for one fd costs one queue node. The loop thread applies the *final*
 * state (registered or not, which generation, which interest), so requests
 * that arrive in one batch cannot be applied in the wrong order. */
#ifndef WEFT_BACKENDS_CMDQ_H
#define WEFT_BACKENDS_CMDQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weft/backend.h>
#include <weft/error.h>

/* Op bits of a record (wb_fd.ops). */
#define WB_OP_QUEUED 0x1u /* the record is on the queue */
#define WB_OP_SYNC 0x2u   /* reconcile the watcher with the record */
#define WB_OP_CLOSE 0x4u  /* close the fd after stopping the watcher */

/* The readiness word (wb_fd.state): per direction (WEFT_IO_READABLE,
 * WEFT_IO_WRITABLE), HELD means "reported, and the core has not yet said it
 * drained the fd"; STRIKES counts the spurious reports that came while HELD
 * (0..7); DROPPED means "one more came than the backend forgives
 * (wb_core.forgive), so the direction was taken out of the watcher". Some
 * spurious reports are normal: in the driver topology a worker often polls
 * again before the woken task has read. Whether to forgive them depends on
 * what a drop costs the library: taking a libuv watcher out and back costs
 * three epoll_ctl calls, while libev defers the change to its next
 * iteration and usually makes no call at all. A run of them means the task
 * is really not draining (a stalled peer, a full output), and then the
 * watcher must go quiet. */
#define WB_HELD(d) ((uint32_t)(d))
#define WB_DROPPED(d) ((uint32_t)(d) << 4)
#define WB_STRIKE_SHIFT(d) (8u + 4u * ((uint32_t)(d) >> 1))
#define WB_STRIKES(d) (7u << WB_STRIKE_SHIFT(d))
#define WB_STRIKES_MAX 7u
#define WB_DIRS (WEFT_IO_READABLE | WEFT_IO_WRITABLE)

#define WB_CHUNK 256u
#define WB_CHUNKS 4096u /* fds 0 .. 1M-1 */

typedef struct wb_fd {
  _Atomic(struct wb_fd *) next; /* queue link, valid while QUEUED */
  _Atomic uint32_t ops;
  _Atomic uint32_t want;     /* 1 = the core wants it registered */
  _Atomic uint32_t gen;      /* bumped by every register */
  _Atomic uint32_t interest; /* WEFT_IO_READABLE|WRITABLE */
  _Atomic(void *) token;
  _Atomic uint32_t state; /* HELD/DROPPED bits, see above */
  /* Owned libevent only, where any thread applies requests itself: held
   * while applying them (wb_fd_lock). Zero (calloc) is unlocked. */
  _Atomic int lock;
  int fd;
  /* Loop thread only. */
  int active;           /* a library watcher exists for gen applied_gen */
  uint32_t applied_gen;
  uint32_t started;     /* WEFT_IO_* mask the library watches now */
  void *impl;           /* the backend's watcher */
} wb_fd;

struct wb_ops;

/* The fields of wb_core are grouped by who writes them, and the groups are
 * kept at least a cache line apart (WB_GAP; calloc gives no 64-byte
 * alignment, so a gap and not _Alignas): a worker's wake or push must not
 * evict the line the loop thread reads on every report, nor the loop
 * thread's counters the line workers read on every rearm. */
#define WB_GAP(n) char gap_##n[64]

typedef struct wb_core {
  /* Read by every thread, written once per 256 fds. */
  _Atomic(wb_fd *) chunks[WB_CHUNKS];
  WB_GAP(0);
  /* Written by requesting threads, taken by the loop thread. */
  _Atomic(wb_fd *) head; /* the MPSC stack of queued records */
  WB_GAP(1);
  /* Owned mode: 1 while a thread is (or is about to be) inside poll.
   * seq_cst, paired with the queue push and `woken`: see cmdq.c. */
  _Atomic int polling;
  /* Owned mode: a wake arrived that no poll has consumed yet. */
  _Atomic int woken;
  WB_GAP(2);
  /* Set before the loop is handed to the core, read-only afterwards. */
  /* 1 when watchers are level-triggered and must be dropped lazily. */
  int lazy;
  /* Lazy only: the spurious reports forgiven before a drop (at most
   * WB_STRIKES_MAX). wb_core_init sets 1; wb_loop_new takes the module's
   * wb_ops.forgive. */
  unsigned forgive;
  /* What the module does with the library (fdreq.h). */
  const struct wb_ops *ops;
  weft_backend_host host;
  void *native; /* the library's loop, for WEFT_BACKEND_CTL_NATIVE_LOOP */
  int attached;          /* attach mode: the application runs the loop */
  pthread_t loop_thread; /* attach mode: the thread that runs it */
  /* 1 when the library is thread-safe (owned libevent): requests are
   * applied on the calling thread under the record's lock, never queued. */
  int direct;
  WB_GAP(3);
  /* Loop thread only. Readiness reports made by the current poll. */
  int reported;
  /* Attach mode: inside host->run_tasks, and a wake came from the loop
   * thread meanwhile (run again before blocking). */
  int in_run;
  int rerun;
} wb_core;

void wb_core_init(wb_core *c, int lazy);
/* Free the table. The backend has already released every watcher. */
void wb_core_fini(wb_core *c);
/* The record for `fd`, allocating its chunk if `create`; NULL if fd is out
 * of range or memory ran out. Records live until wb_core_fini. Any thread. */
wb_fd *wb_fd_get(wb_core *c, int fd, int create);
/* Visit every allocated record (loop thread, or no thread running). */
void wb_foreach(wb_core *c, void (*fn)(void *arg, wb_fd *f), void *arg);

/* Request helpers: update the record's wanted state. Any thread. */
void wb_want_register(wb_fd *f, uint32_t interest, void *token);
void wb_want_modify(wb_fd *f, uint32_t interest, void *token);
void wb_want_deregister(wb_fd *f);
/* Clear HELD (and STRIKES, DROPPED) for `events`; returns 1 if a direction
 * had been dropped from the watcher, so the loop thread must restart it. */
int wb_rearm(wb_fd *f, uint32_t events);

/* Queue `ops` for `f`. Returns 1 if the queue was empty before (the caller
 * then decides whether the loop thread must be woken), else 0. */
int wb_push(wb_core *c, wb_fd *f, uint32_t ops);
/* Loop thread: take `ops` for `f` right away (the caller applies them now),
 * leaving the record's queue membership alone. */
uint32_t wb_take(wb_fd *f, uint32_t ops);
/* Loop thread: pop every queued record and call apply(arg, f, ops) for each.
 * Returns the number of records applied. */
int wb_drain(wb_core *c, void (*apply)(void *arg, wb_fd *f, uint32_t ops),
             void *arg);

/* Loop thread, in a watcher callback: readiness `dirs` (WB_DIRS bits) came
 * in. Returns the directions to report; sets *drop to the directions whose
 * spurious reports (HELD) went beyond `forgive` and are now DROPPED.
 * Without `lazy`, every direction is reported. */
uint32_t wb_on_ready(wb_core *c, wb_fd *f, uint32_t dirs, uint32_t *drop);
/* The mask the watcher should have now: interest minus dropped directions,
 * or 0 if the record is not wanted (or its generation was replaced). */
uint32_t wb_desired(const wb_fd *f);
/* 1 if a report for this record may still go to the core: it is wanted,
 * its generation is the one applied, and no close is pending. */
int wb_reportable(const wb_fd *f);

/* A tiny per-record lock for backends that apply requests on the calling
 * thread. The critical section may wait inside the library (libevent's
 * event_del waits for a running callback), so it yields while it spins; it
 * is only contended when two threads act on the same fd at once. It also
 * makes the hand-over of a reused fd number between two threads visible to
 * ThreadSanitizer (the kernel's close-then-accept ordering is not). */
void wb_fd_lock(wb_fd *f);
void wb_fd_unlock(wb_fd *f);

/* Owned-mode wake bookkeeping, see cmdq.c. The calling thread is "in
 * poll" for `c` between the two calls. */
void wb_poll_enter(wb_core *c, int64_t *timeout_ms);
void wb_poll_leave(wb_core *c);
int wb_in_poll(const wb_core *c);
/* Returns 1 if the caller must send the library's async wake. */
int wb_wake_needed(wb_core *c);
/* After a push that found the queue empty: 1 if a poller may be blocked. */
int wb_poller_blocked(wb_core *c);

#endif /* WEFT_BACKENDS_CMDQ_H */
