/* core/exec/exec.h: the executor's private structures, shared by the files
 * of core/exec/ only. Other core modules go through core/internal.h. */
#ifndef WEFT_CORE_EXEC_EXEC_H
#define WEFT_CORE_EXEC_EXEC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdalign.h>

#include "../internal.h"
#include "queue.h"
#include "task_state.h"

typedef struct weft__parker weft__parker;
typedef struct weft__worker weft__worker;
struct weft__block;

#define WEFT__ALLOC_CLASSES 10
#define WEFT__ALLOC_MALLOC 0xffu
/* Block origin of the runtime's cache for spawns from plain threads. */
#define WEFT__ALLOC_REMOTE 0xffffu

/* A task: one allocation. The header below, then (tasks with a join handle
 * only) the join part, then the future's state, then the output room, each
 * aligned to max_align_t, then (only for the tasks that need it) the cold
 * part. The header is kept at 80 bytes so that a detached task with a
 * 16-byte future fits a 112-byte malloc chunk: what only a join handle
 * reads lives in the join part, fields that most tasks never use live in
 * the cold part, sizes are 32-bit, and the block's origin is a worker
 * index. */
#define WEFT__ROUND_MAX_ALIGN(x)                                             \
  (((x) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))
#define WEFT__TASK_HDR WEFT__ROUND_MAX_ALIGN(sizeof(struct weft__task))
#define WEFT__TASK_JOIN_ROOM WEFT__ROUND_MAX_ALIGN(sizeof(weft__task_join))
/* Where the future's state starts. */
#define WEFT__TASK_STATE_OFF(t)                                              \
  (WEFT__TASK_HDR + ((t)->has_join ? WEFT__TASK_JOIN_ROOM : 0))
#define WEFT__TASK_STATE(t) ((void *)((char *)(t) + WEFT__TASK_STATE_OFF(t)))

/* What the join handle reads, present only in tasks spawned with one. */
typedef struct weft__task_join {
  /* The join waker: owned by the join side while JOIN_WAKER is clear, by
   * the runner side while it is set (see task_state.h). */
  weft_waker waker;
  /* Written by the RUNNING holder before COMPLETE, read after it. */
  /* 0, or the error: set by weft_task_fail during a poll (FAILED), or
   * WEFT_ECANCELED by a cancellation. */
  int error;
  unsigned char status; /* weft_join_status */
} weft__task_join;
/* The largest future state and output room a task takes (sizes are kept in
 * 32 bits). */
#define WEFT__TASK_SIZE_MAX ((size_t)1 << 30)

struct weft__task {
  weft__task_state state; /* task_state.h */
  const weft_future_vtable *vt;
  weft_runtime *rt;
  /* Link in the inject queue: written by whoever holds the run ref. */
  struct weft__task *qnext;
  /* Links in the list of owned tasks, under the shard's lock. */
  struct weft__task *owned_prev, *owned_next;
  uint64_t id;
  uint32_t state_room;  /* the future's state, rounded up to max_align_t */
  uint32_t output_size; /* the output room's (or the boxed future's) */
  uint32_t cold_off;    /* offset of the cold part, 0 when there is none */
  uint16_t origin;      /* index of the worker whose cache made the block */
  unsigned char has_join;  /* immutable: the join part follows the header */
  unsigned char in_owned;  /* WEFT__OWNED_*: see owned.c */
  unsigned char owned; /* immutable: the task is tracked by the owned list */
  /* Where the block came from (alloc.c): a class of a worker's cache, or
   * WEFT__ALLOC_MALLOC. */
  unsigned char alloc_class;
};

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct weft__task) <= 80,
               "the task header must leave a 112-byte malloc chunk room for "
               "a 16-byte future (see idle_tasks in docs/benchmarks.md)");
#endif

/* What only some tasks need, at the end of their allocation: tasks with a
 * custom scheduler (the blocking pool), boxed futures, and every task of a
 * runtime that reports slow polls (the spawn site). Immutable after spawn. */
typedef struct weft__task_cold {
  weft__schedule_fn schedule; /* NULL: the runtime's own scheduler */
  void *sched;
  weft_future *boxed; /* weft_spawn_future: freed with the task */
  const char *file;   /* the spawn site, when slow polls are reported */
  int line;
} weft__task_cold;

/* Only for a task with has_join set. */
static inline weft__task_join *weft__task_join_of(const weft__task *t) {
  return (weft__task_join *)((char *)t + WEFT__TASK_HDR);
}

static inline weft__task_cold *weft__task_cold_of(const weft__task *t) {
  return t->cold_off ? (weft__task_cold *)((char *)t + t->cold_off) : NULL;
}

/* A refcounted thread parker, used as a waker target by weft_join_wait and
 * weft_block_on on plain threads. */
struct weft__parker {
  atomic_uint refs;
  /* Set for weft_block_on on a current-thread runtime: a wake unparks the
   * runtime's core instead of the condition variable. Holds a runtime
   * reference. */
  weft_runtime *rt;
  atomic_int notified;
  pthread_mutex_t mu;
  pthread_cond_t cv;
};
weft__parker *weft__parker_new(weft_runtime *rt);
void weft__parker_unref(weft__parker *p);
weft_waker weft__parker_waker(weft__parker *p); /* adds a reference */
/* Wait until notified or `deadline_ns` (0 = forever); returns 1 if
 * notified (and consumes it), 0 on timeout. */
int weft__parker_wait(weft__parker *p, uint64_t deadline_ns);

/* Worker park states. */
enum { WEFT__PK_EMPTY = 0, WEFT__PK_CONDVAR, WEFT__PK_DRIVER, WEFT__PK_NOTIFIED };

#define WEFT__OWNED_SHARDS 64u

typedef struct weft__owned_shard {
  pthread_mutex_t mu;
  weft__task *head;
  int closed;
  char pad[64];
} weft__owned_shard;

struct weft__worker {
  alignas(128) weft__lq lq; /* first: its own cache lines */
  weft_runtime *rt;
  unsigned index;
  pthread_t thread;
  int thread_started;
  /* Owner-only fields. */
  weft__task *lifo;
  int searching;
  uint32_t tick;
  uint32_t rng;
  uint64_t id_next, id_end;
  /* Runtime references taken in bulk for the tasks this worker spawns and
   * frees, so that a spawn does not touch the shared count (sched.c). */
  uint64_t ref_cache;
  /* Parking (see sched.c). */
  atomic_int park_state;
  pthread_mutex_t park_mu;
  pthread_cond_t park_cv;
  /* Metrics: written by the owner only (relaxed), read by anyone. */
  atomic_uint_fast64_t m_polls, m_steals, m_stolen, m_parks, m_overflows,
      m_spawned, m_completed;
  /* Task block cache (alloc.c): owner-only lists, and a stack other
   * threads push freed blocks on. */
  struct weft__block *free_list[WEFT__ALLOC_CLASSES];
  unsigned free_count[WEFT__ALLOC_CLASSES];
  /* Blocks of the remote cache freed here, handed back in batches. */
  struct weft__block *rem_head[WEFT__ALLOC_CLASSES];
  struct weft__block *rem_tail[WEFT__ALLOC_CLASSES];
  unsigned rem_count[WEFT__ALLOC_CLASSES];
  alignas(64) _Atomic(struct weft__block *) returned[WEFT__ALLOC_CLASSES];
};

/* The cache of blocks for tasks spawned from plain threads (alloc.c). */
typedef struct weft__remote_cache {
  pthread_mutex_t mu; /* guards free_list: any plain thread may spawn */
  struct weft__block *free_list[WEFT__ALLOC_CLASSES];
  alignas(64) _Atomic(struct weft__block *) returned[WEFT__ALLOC_CLASSES];
} weft__remote_cache;

struct weft_runtime {
  /* One reference for the user's handle plus one per task: the shell of the
   * runtime (queues, locks) outlives weft_runtime_free while a task still
   * exists somewhere (a waker or join handle kept by the user), so a late
   * wake never touches freed memory. */
  alignas(64) atomic_uint_fast64_t refs;
  weft__config cfg;
  weft__driver *driver;
  weft__blocking_pool *pool;
  unsigned nworkers;
  int current_thread; /* current_thread flavour or attach mode */
  int attach;
  /* Current-thread on a backend that hands out a scheduling seed (sim's
   * WEFT_BACKEND_CTL_SCHED_SEED): the next task is drawn from the ready
   * ones with this PRNG state (sched.c), so the order depends only on the
   * seed. 0: the usual FIFO order. Set at creation, read by the thread
   * that holds the core. */
  int ct_seeded;
  /* 1 once shutdown began. Read by every worker on every turn of its loop,
   * so it lives with the fields that never change after start, away from
   * any word another thread writes often (sharing a line with the count of
   * remote spawns cost every spawn from a plain thread a cache miss). */
  atomic_int shutdown;
  uint64_t ct_rng;
  weft__worker *workers;

  /* Inject queue. The length hint comes right after the lock so that a
   * push writes one line, not two (the workers read the hint often); the
   * flag, written once, may sit on the next line. */
  alignas(64) pthread_mutex_t inject_mu;
  atomic_size_t inj_len;
  weft__task *inj_head, *inj_tail;
  int inj_closed;

  /* Idle workers: (searching << 16) | unparked, and the sleeper stack. */
  alignas(64) atomic_uint idle_state;
  pthread_mutex_t idle_mu;
  unsigned *sleepers;
  unsigned nsleepers;

  alignas(64) atomic_int driver_busy; /* try-lock of the driver */
  atomic_uint_fast64_t next_id;
  /* Written by every spawn from a plain thread: a line of its own. */
  alignas(64) atomic_uint_fast64_t remote_spawned;
  /* Counted tasks completed outside the workers (shutdown, the blocking
   * pool's threads), for tasks_alive. */
  atomic_uint_fast64_t remote_completed;

  alignas(64) pthread_mutex_t life_mu; /* serialises shutdown and
                                         current-thread runs */
  int shut_done;
  int core_busy;           /* current-thread: a block_on/run_ready holds it */
  pthread_cond_t core_cv;

  uint64_t slow_poll_ns; /* 0 = off */
  alignas(64) weft__remote_cache remote_cache;
  weft__owned_shard owned[WEFT__OWNED_SHARDS];
};

/* Per-thread executor context (sched.c, task.c). The initial-exec TLS
 * model makes each access one instruction instead of a call to
 * __tls_get_addr on the hot path; the four variables take a few bytes of
 * the static TLS surplus that glibc keeps for libraries like this one. */
#if defined(__GNUC__) || defined(__clang__)
#define WEFT__TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define WEFT__TLS _Thread_local
#endif
extern WEFT__TLS weft__worker *weft__tls_worker;
extern WEFT__TLS weft__task *weft__tls_task;
extern WEFT__TLS weft_runtime *weft__tls_rt;
extern WEFT__TLS int weft__tls_budget;

/* task.c */
int weft__task_new(weft_runtime *rt, const weft_future_vtable *vt,
                   const void *state, size_t state_size, size_t output_size,
                   int with_handle, int owned, weft__schedule_fn schedule,
                   void *sched, weft_future *boxed, const char *file,
                   int line, weft__task **out);
void weft__task_drop_ref(weft__task *t);
void weft__task_dealloc(weft__task *t);
extern const weft_waker_vtable weft__task_waker_vtable;

/* sched.c */
void weft__sched_schedule(void *sched, weft__task *t); /* sched == rt */
void weft__sched_schedule_yield(weft_runtime *rt, weft__task *t);
int weft__sched_start(weft_runtime *rt);
void weft__sched_stop(weft_runtime *rt);   /* join worker threads */
void weft__sched_drain(weft_runtime *rt);  /* drop every queued run ref */
uint64_t weft__sched_next_id(weft_runtime *rt);
void weft__sched_note_spawn(weft_runtime *rt);
/* A counted task completed (or was cancelled): for tasks_alive. */
void weft__sched_note_complete(weft_runtime *rt);
/* A task takes / releases its runtime reference (batched per worker). */
void weft__sched_task_ref(weft_runtime *rt);
void weft__sched_task_unref(weft_runtime *rt);
/* Give a worker's cached runtime references back (owner thread). */
void weft__sched_flush_refs(weft__worker *w);
/* Current-thread: run ready tasks, up to `budget` polls; returns 1 when
 * more are ready. The caller holds the core. */
int weft__sched_ct_run(weft_runtime *rt, unsigned budget);
/* Current-thread: park the core holder in the driver. */
void weft__sched_ct_park(weft_runtime *rt);
/* Current-thread: make the core holder's park return (any thread). */
void weft__sched_ct_wake(weft_runtime *rt);

/* alloc.c */
/* `cls` and `origin` say where the block came from, for the free. */
void *weft__task_alloc(weft_runtime *rt, size_t size, unsigned char *cls,
                       uint16_t *origin);
void weft__task_free_mem(weft_runtime *rt, void *mem, unsigned char cls,
                         uint16_t origin);
void weft__alloc_worker_free(weft__worker *w);
void weft__alloc_remote_init(weft__remote_cache *c);
void weft__alloc_remote_free(weft__remote_cache *c);

/* owned.c */
/* in_owned values. */
#define WEFT__OWNED_NEVER 0u    /* not listed yet: the task has its ref */
#define WEFT__OWNED_LISTED 1u   /* in the list, which holds the ref */
#define WEFT__OWNED_TAKEN 2u    /* unlinked by shutdown, which took the ref */
#define WEFT__OWNED_REMOVED 3u  /* unlinked by its completion */
int weft__owned_insert(weft_runtime *rt, weft__task *t); /* 0 or ESHUTDOWN */
/* At a completion: returns 1 when the caller releases the list's
 * reference (the task was listed, or never was), 0 when shutdown took it. */
int weft__owned_remove(weft_runtime *rt, weft__task *t);
void weft__owned_close_and_shutdown(weft_runtime *rt);

/* runtime.c */
void weft__runtime_ref(weft_runtime *rt);
void weft__runtime_unref(weft_runtime *rt);

#endif /* WEFT_CORE_EXEC_EXEC_H */
