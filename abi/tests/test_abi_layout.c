/* test_abi_layout.c: the layout of every public struct, frozen.
 *
 * A program built against weft 0.1 passes these structs to any later
 * libweft.so.0, so their size and every field offset are part of the ABI.
 * Each one is asserted here at compile time for x86_64 LP64, the platform
 * the numbers were taken on; a change to a public struct makes this file
 * fail to compile, which fails the build and the 'abi' suite.
 *
 * When a public struct is added (or a field appended to one whose
 * struct_size allows growth), add its SIZE and OFF lines here; the test
 * check_layout_coverage.py fails until every public struct and field has
 * them. */
#include <stddef.h>
#include <stdio.h>

#include <weft.h>

#define SIZE(T, n) _Static_assert(sizeof(T) == (n), "sizeof(" #T ") changed")
#define OFF(T, f, n)                                                           \
  _Static_assert(offsetof(T, f) == (n), "offset of " #T "." #f " changed")

#if defined(__x86_64__) && defined(__LP64__)

/* weft/future.h */
SIZE(weft_waker, 16);
OFF(weft_waker, data, 0);
OFF(weft_waker, vtable, 8);

SIZE(weft_waker_vtable, 32);
OFF(weft_waker_vtable, clone, 0);
OFF(weft_waker_vtable, wake, 8);
OFF(weft_waker_vtable, wake_by_ref, 16);
OFF(weft_waker_vtable, drop, 24);

SIZE(weft_future_vtable, 24);
OFF(weft_future_vtable, struct_size, 0);
OFF(weft_future_vtable, poll, 8);
OFF(weft_future_vtable, drop, 16);

SIZE(weft_poll, 4);
_Static_assert(WEFT_PENDING == 0 && WEFT_READY == 1, "weft_poll values");

/* weft/coro.h */
SIZE(weft_coro, 4);
OFF(weft_coro, line, 0);

/* weft/runtime.h */
SIZE(weft_join_result, 24);
OFF(weft_join_result, status, 0);
OFF(weft_join_result, error, 4);
OFF(weft_join_result, output, 8);
OFF(weft_join_result, output_size, 16);
_Static_assert(WEFT_JOIN_COMPLETED == 0 && WEFT_JOIN_CANCELLED == 1 &&
                   WEFT_JOIN_FAILED == 2,
               "weft_join_status values");
_Static_assert(WEFT_FLAVOR_MULTI_THREAD == 0 && WEFT_FLAVOR_CURRENT_THREAD == 1,
               "weft_flavor values");

SIZE(weft_slow_poll_info, 40);
OFF(weft_slow_poll_info, struct_size, 0);
OFF(weft_slow_poll_info, task_id, 8);
OFF(weft_slow_poll_info, spawn_file, 16);
OFF(weft_slow_poll_info, spawn_line, 24);
OFF(weft_slow_poll_info, duration_ns, 32);

SIZE(weft_worker_metrics, 56);
OFF(weft_worker_metrics, struct_size, 0);
OFF(weft_worker_metrics, polls, 8);
OFF(weft_worker_metrics, steals, 16);
OFF(weft_worker_metrics, stolen_tasks, 24);
OFF(weft_worker_metrics, parks, 32);
OFF(weft_worker_metrics, local_queue_depth, 40);
OFF(weft_worker_metrics, overflows, 48);

SIZE(weft_runtime_metrics, 88);
OFF(weft_runtime_metrics, struct_size, 0);
OFF(weft_runtime_metrics, workers, 4);
OFF(weft_runtime_metrics, tasks_spawned, 8);
OFF(weft_runtime_metrics, tasks_alive, 16);
OFF(weft_runtime_metrics, polls, 24);
OFF(weft_runtime_metrics, steals, 32);
OFF(weft_runtime_metrics, parks, 40);
OFF(weft_runtime_metrics, inject_queue_depth, 48);
OFF(weft_runtime_metrics, blocking_threads, 56);
OFF(weft_runtime_metrics, blocking_idle_threads, 64);
OFF(weft_runtime_metrics, blocking_queue_depth, 72);
OFF(weft_runtime_metrics, blocking_jobs_done, 80);

/* weft/backend.h */
SIZE(weft_backend_host, 48);
OFF(weft_backend_host, struct_size, 0);
OFF(weft_backend_host, ctx, 8);
OFF(weft_backend_host, io_ready, 16);
OFF(weft_backend_host, signal_ready, 24);
OFF(weft_backend_host, run_tasks, 32);
OFF(weft_backend_host, next_timeout_ms, 40);

SIZE(weft_backend, 128);
OFF(weft_backend, abi_version, 0);
OFF(weft_backend, struct_size, 4);
OFF(weft_backend, name, 8);
OFF(weft_backend, create, 16);
OFF(weft_backend, attach, 24);
OFF(weft_backend, destroy, 32);
OFF(weft_backend, register_fd, 40);
OFF(weft_backend, modify_fd, 48);
OFF(weft_backend, rearm_fd, 56);
OFF(weft_backend, deregister_fd, 64);
OFF(weft_backend, close_fd, 72);
OFF(weft_backend, poll, 80);
OFF(weft_backend, wake, 88);
OFF(weft_backend, signal_watch, 96);
OFF(weft_backend, signal_unwatch, 104);
OFF(weft_backend, ctl, 112);
OFF(weft_backend, now_ns, 120);
_Static_assert(WEFT_BACKEND_ABI_V1 == 0x57460001u, "backend ABI band 1");

/* weft/time.h */
SIZE(weft_timeout_output, 16);
OFF(weft_timeout_output, status, 0);
OFF(weft_timeout_output, inner, 8);

SIZE(weft_missed_tick, 4);
_Static_assert(WEFT_MISSED_TICK_BURST == 0 && WEFT_MISSED_TICK_DELAY == 1 &&
                   WEFT_MISSED_TICK_SKIP == 2,
               "weft_missed_tick values");

/* weft/net.h */
SIZE(weft_stream_result, 16);
OFF(weft_stream_result, error, 0);
OFF(weft_stream_result, stream, 8);

/* 16 + WEFT_RESOLVE_MAX * sizeof(struct sockaddr_storage) (8 * 128), then
 * WEFT_RESOLVE_MAX socklen_t (8 * 4). */
_Static_assert(WEFT_RESOLVE_MAX == 8, "WEFT_RESOLVE_MAX changed");
SIZE(weft_resolve_output, 1072);
OFF(weft_resolve_output, error, 0);
OFF(weft_resolve_output, count, 8);
OFF(weft_resolve_output, addrs, 16);
OFF(weft_resolve_output, lens, 1040);

SIZE(weft_io_result, 16);
OFF(weft_io_result, error, 0);
OFF(weft_io_result, n, 8);

/* weft/error.h: codes are part of the ABI too; spot-check both kinds. */
_Static_assert(WEFT_ENOMEM == -12 && WEFT_EINVAL == -22, "errno codes");
_Static_assert(WEFT_ECLOSED == -4001 && WEFT_EDNS == -4007, "own codes");

#define WEFT_LAYOUT_CHECKED 1
#else
#define WEFT_LAYOUT_CHECKED 0
#endif

int main(void) {
  /* The assertions above did the work at compile time. At run time, check
   * that the library this program loaded is the one its headers describe,
   * which is what makes the frozen layouts meaningful. */
  if (weft_version() != WEFT_VERSION_HEX) {
    fprintf(stderr, "headers say %#x, library says %#x\n", WEFT_VERSION_HEX,
            weft_version());
    return 1;
  }
  if (!WEFT_LAYOUT_CHECKED) {
    puts("layouts are recorded for x86_64 LP64 only: skipped");
    return 77;
  }
  puts("public struct layouts match the recorded ABI");
  return 0;
}
