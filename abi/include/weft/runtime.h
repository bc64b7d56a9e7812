/* weft/runtime.h: runtimes, builders, spawning and joining tasks.
 *
 * A runtime owns worker threads (or, in the current_thread flavour, none: it
 * runs tasks on the thread that calls weft_block_on), a blocking pool, a
 * timer wheel and a reactor backend. Tasks are futures spawned onto it. */
#ifndef WEFT_RUNTIME_H
#define WEFT_RUNTIME_H

#include "common.h"
#include "future.h"

WEFT_BEGIN_DECLS

typedef struct weft_runtime weft_runtime;
typedef struct weft_builder weft_builder;
typedef struct weft_join_handle weft_join_handle;

typedef enum weft_flavor {
  WEFT_FLAVOR_MULTI_THREAD = 0,  /* work-stealing workers (the default) */
  WEFT_FLAVOR_CURRENT_THREAD = 1 /* tasks run inside weft_block_on */
} weft_flavor;

/* ---- Builder ------------------------------------------------------------
 * A builder collects settings; weft_builder_build() makes a runtime from it.
 * Every setter returns 0 or WEFT_EINVAL (NULL builder, value out of range).
 * A builder is used by one thread at a time. */

/* Make a builder with the defaults. Returns 0, WEFT_EINVAL or WEFT_ENOMEM.
 * Since 0.1. */
WEFT_API int weft_builder_new(weft_builder **out);
/* Free a builder. NULL does nothing. Since 0.1. */
WEFT_API void weft_builder_free(weft_builder *b);
/* Number of workers, 1..1024. Default: CPUs available to the process
 * (sched_getaffinity, capped by cgroup cpu.max). Since 0.1. */
WEFT_API int weft_builder_worker_threads(weft_builder *b, unsigned n);
/* Flavour, WEFT_FLAVOR_*. Since 0.1. */
WEFT_API int weft_builder_flavor(weft_builder *b, weft_flavor flavor);
/* Thread name prefix (copied; at most 15 bytes are used, as Linux allows).
 * Default "weft-worker". Since 0.1. */
WEFT_API int weft_builder_thread_name(weft_builder *b, const char *prefix);
/* Stack size of worker and blocking threads in bytes, >= 64 KiB; 0 means
 * the system default. Since 0.1. */
WEFT_API int weft_builder_thread_stack_size(weft_builder *b, size_t bytes);
/* Called on every thread weft starts (workers and blocking threads), on that
 * thread, before it runs anything / just before it exits. fn may be NULL to
 * clear. Since 0.1. */
WEFT_API int weft_builder_on_thread_start(weft_builder *b, void (*fn)(void *),
                                          void *arg);
WEFT_API int weft_builder_on_thread_stop(weft_builder *b, void (*fn)(void *),
                                         void *arg);
/* Upper bound on blocking-pool threads, 1..65536. Default 512. Since 0.1. */
WEFT_API int weft_builder_max_blocking_threads(weft_builder *b, unsigned n);
/* How long an idle blocking thread waits for work before it exits, in ms.
 * Default 10000. Since 0.1. */
WEFT_API int weft_builder_blocking_keep_alive(weft_builder *b,
                                              uint64_t keep_alive_ms);
/* Bound on queued (not yet started) blocking jobs; 0 = unbounded (default).
 * Since 0.1. */
WEFT_API int weft_builder_blocking_queue_limit(weft_builder *b, size_t n);
/* Choose the reactor backend by name ("epoll", "libuv", "libevent", "libev",
 * "sim"). An explicit call wins over WEFT_BACKEND and the build default.
 * The name is checked when the runtime is built. Since 0.1. */
WEFT_API int weft_builder_backend(weft_builder *b, const char *name);
/* Load a third-party backend module from `path` (see weft/backend.h).
 * Since 0.1. */
WEFT_API int weft_builder_backend_module(weft_builder *b, const char *path);

/* The slow-poll detector: reports every poll that takes longer than the
 * threshold. The hook is called on the worker that ran the poll, after it;
 * a NULL hook means the default, which prints one line to stderr. */
typedef struct weft_slow_poll_info {
  uint32_t struct_size; /* sizeof(weft_slow_poll_info) as weft was built */
  uint64_t task_id;
  const char *spawn_file; /* where the task was spawned, may be NULL */
  int spawn_line;
  uint64_t duration_ns;
} weft_slow_poll_info;
typedef void (*weft_slow_poll_hook)(const weft_slow_poll_info *info,
                                    void *arg);
/* Enable the detector with `threshold_us` (0 disables it). Also enabled by
 * the environment variable WEFT_SLOW_POLL_US=<threshold> when the builder
 * leaves it unset. Since 0.1. */
WEFT_API int weft_builder_slow_poll(weft_builder *b, uint64_t threshold_us,
                                    weft_slow_poll_hook hook, void *arg);

/* Build a runtime; the builder stays usable and owned by the caller.
 * Returns 0, WEFT_EINVAL, WEFT_ENOMEM, WEFT_EAGAIN (threads), or
 * WEFT_EBACKEND (with the reason printed once to stderr, listing the
 * available backends). Since 0.1. */
WEFT_API int weft_builder_build(const weft_builder *b, weft_runtime **out);

/* ---- Runtime ------------------------------------------------------------ */

/* New runtime; `b` NULL means the defaults. Same returns as
 * weft_builder_build. Since 0.1. */
WEFT_API int weft_runtime_new(weft_runtime **out, const weft_builder *b);

/* Stop the runtime: no new tasks are accepted (spawn returns
 * WEFT_ESHUTDOWN); every unfinished task is dropped exactly once and its
 * join handle resolves as cancelled; blocking jobs not yet started are
 * cancelled; running blocking jobs get up to `timeout_ms` (-1 = wait
 * forever). Returns the number of blocking jobs still running when it gave
 * up (0 normally), or WEFT_EINVAL. Idempotent. Must not be called from
 * inside a task of this runtime (WEFT_EBUSY). Since 0.1. */
WEFT_API int weft_runtime_shutdown(weft_runtime *rt, int64_t timeout_ms);

/* Shut down (if not yet, with an infinite timeout) and free the runtime.
 * Join handles still held stay valid and report cancelled. NULL does
 * nothing. Since 0.1. */
WEFT_API void weft_runtime_free(weft_runtime *rt);

/* The runtime of the task being run by this thread, or NULL outside any
 * task. Since 0.1. */
WEFT_API weft_runtime *weft_runtime_current(void);

/* The id of the task being run by this thread (unique per runtime, never 0),
 * or 0 outside any task. Since 0.1. */
WEFT_API uint64_t weft_task_id_current(void);

/* The name of the backend the runtime runs on (static, never NULL). */
WEFT_API const char *weft_runtime_backend_name(const weft_runtime *rt);

/* ---- Spawning -----------------------------------------------------------
 * Spawning makes one allocation holding the task header, a copy of
 * `state_size` bytes of `state` (the future's state, inline) and
 * `output_size` bytes of output room. Callable from any thread: a task, a
 * plain thread, a blocking-pool thread. On error nothing is allocated and
 * the future's drop is NOT called: the caller keeps ownership of what
 * `state` refers to. `state_size` and `output_size` are each at most 1 GiB.
 * Returns 0, WEFT_EINVAL, WEFT_ENOMEM or WEFT_ESHUTDOWN. */

WEFT_API int weft_spawn_at(weft_runtime *rt, const weft_future_vtable *vtable,
                           const void *state, size_t state_size,
                           size_t output_size, weft_join_handle **handle,
                           const char *file, int line);

/* Spawn and get a join handle (`handle` must not be NULL). */
#define weft_spawn(rt, vtable, state, state_size, output_size, handle)      \
  weft_spawn_at((rt), (vtable), (state), (state_size), (output_size),       \
                (handle), __FILE__, __LINE__)

/* Spawn with no handle: the task runs to completion on its own. */
#define weft_spawn_detached(rt, vtable, state, state_size)                   \
  weft_spawn_at((rt), (vtable), (state), (state_size), 0, NULL, __FILE__,   \
                __LINE__)

/* Spawn a boxed future; takes ownership of `f` on success only. The task's
 * output room is the future's own. */
WEFT_API int weft_spawn_future(weft_runtime *rt, weft_future *f,
                               weft_join_handle **handle);

/* Inside a poll: make the task fail with `error` (negative) instead of
 * completing; its join handle reports WEFT_JOIN_FAILED and `error`. Return
 * WEFT_READY right after. Since 0.1. */
WEFT_API int weft_task_fail(weft_context *cx, int error);

/* ---- Join handles --------------------------------------------------------
 * A join handle is owned by whoever holds it, used by one thread at a time,
 * and must be released with weft_join_free (or weft_join_detach). */

typedef enum weft_join_status {
  WEFT_JOIN_COMPLETED = 0,
  WEFT_JOIN_CANCELLED = 1,
  WEFT_JOIN_FAILED = 2
} weft_join_status;

typedef struct weft_join_result {
  weft_join_status status;
  int error;    /* 0, or the error for CANCELLED (WEFT_ECANCELED) / FAILED */
  void *output; /* the output room, valid until the handle is freed; NULL
                   unless COMPLETED with output_size > 0 */
  size_t output_size;
} weft_join_result;

/* Await the task from another future. On WEFT_READY, `*result` is filled
 * (it may be NULL). Since 0.1. */
WEFT_API weft_poll weft_join_poll(weft_join_handle *h, weft_context *cx,
                                  weft_join_result *result);

/* Wait from a plain thread (not a worker of the same runtime) for up to
 * `timeout_ms` (-1 = forever). Returns 0 and fills `*result` (may be NULL),
 * WEFT_ETIMEDOUT, or WEFT_EINVAL. Since 0.1. */
WEFT_API int weft_join_wait(weft_join_handle *h, int64_t timeout_ms,
                            weft_join_result *result);

/* Cancel the task: if it has not completed, its future is dropped (at once
 * if it is idle, after its current poll otherwise) and the handle resolves
 * CANCELLED. Aborting a finished task does nothing. Returns 0 or
 * WEFT_EINVAL. Any thread. Since 0.1. */
WEFT_API int weft_join_abort(weft_join_handle *h);

/* 1 once the task has finished (completed, cancelled or failed). */
WEFT_API int weft_join_is_finished(const weft_join_handle *h);

/* The task's id. */
WEFT_API uint64_t weft_join_task_id(const weft_join_handle *h);

/* Release the handle. The task keeps running (detach); its output is dropped
 * when it completes. NULL does nothing. weft_join_detach is the same call,
 * named for intent. Since 0.1. */
WEFT_API void weft_join_free(weft_join_handle *h);
WEFT_API void weft_join_detach(weft_join_handle *h);

/* ---- Blocking on a future from main() ----------------------------------
 * Run `vtable->poll(state, cx, output)` on the calling thread until READY,
 * while the runtime runs other tasks (in the current_thread flavour, this
 * thread runs them all). `state` stays owned by the caller and is not
 * dropped. Must not be called from inside a task (WEFT_EBUSY).
 * Returns 0, WEFT_EINVAL, WEFT_EBUSY or WEFT_ESHUTDOWN. Since 0.1. */
WEFT_API int weft_block_on(weft_runtime *rt, const weft_future_vtable *vtable,
                           void *state, void *output);

/* ---- Metrics -------------------------------------------------------------
 * Both structs start with struct_size: set it to sizeof before the call;
 * weft fills what fits and never writes past it. */
typedef struct weft_worker_metrics {
  uint32_t struct_size;
  uint64_t polls;
  uint64_t steals;         /* steal operations that moved >= 1 task */
  uint64_t stolen_tasks;   /* tasks moved by them */
  uint64_t parks;
  uint64_t local_queue_depth;
  uint64_t overflows; /* pushes that spilled half the queue to inject */
} weft_worker_metrics;

typedef struct weft_runtime_metrics {
  uint32_t struct_size;
  uint32_t workers;
  uint64_t tasks_spawned;
  uint64_t tasks_alive;
  uint64_t polls;
  uint64_t steals;
  uint64_t parks;
  uint64_t inject_queue_depth;
  uint64_t blocking_threads;      /* alive */
  uint64_t blocking_idle_threads;
  uint64_t blocking_queue_depth;
  uint64_t blocking_jobs_done;
} weft_runtime_metrics;

/* Returns 0 or WEFT_EINVAL (NULL, struct_size too small, index out of
 * range). Any thread. Values are a snapshot, not atomic as a whole. */
WEFT_API int weft_runtime_metrics_get(const weft_runtime *rt,
                                      weft_runtime_metrics *out);
WEFT_API int weft_runtime_worker_metrics_get(const weft_runtime *rt,
                                             unsigned worker,
                                             weft_worker_metrics *out);

WEFT_END_DECLS

#endif /* WEFT_RUNTIME_H */
