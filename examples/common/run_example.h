/* examples/common/run_example.h: run an example program and capture what it
 * prints, for the cmocka drivers that test the examples.
 *
 * run_example() starts `argv[0]` with WEFT_BACKEND set to `backend` (or
 * left as inherited when `backend` is NULL), collects its stdout and stderr
 * in full, and waits for it to exit, killing it if it outlives
 * `timeout_ms`. Both streams are drained together with poll(), so a
 * program that fills one pipe while the other is being read cannot
 * deadlock the test. Header-only: each driver is one small program. */
#ifndef WEFT_EXAMPLES_RUN_EXAMPLE_H
#define WEFT_EXAMPLES_RUN_EXAMPLE_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct run_output {
  char *out;   /* stdout, NUL-terminated, malloc'ed */
  char *err;   /* stderr, NUL-terminated, malloc'ed */
  int status;  /* exit code, or 128 + signal, or -1 when it timed out */
  long ms;     /* wall-clock run time */
} run_output;

/* The buffers of the latest run. A failed cmocka assertion leaves its test
 * without freeing them; holding them here keeps them reachable (so the
 * failure is not buried under leak reports) and the next run frees them. */
static char *run_example_last_out, *run_example_last_err;

static inline long run_example_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Append what `fd` has to `*buf`; returns 0 at end of file, 1 otherwise. */
static inline int run_example_drain(int fd, char **buf, size_t *len) {
  char chunk[4096];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN;
  if (n == 0)
    return 0;
  char *grown = realloc(*buf, *len + (size_t)n + 1);
  if (!grown)
    return 0;
  memcpy(grown + *len, chunk, (size_t)n);
  *len += (size_t)n;
  grown[*len] = '\0';
  *buf = grown;
  return 1;
}

/* Returns 0 with `*r` filled (free it with run_output_free), or -1 when the
 * program could not be started. */
static inline int run_example(char *const argv[], const char *backend,
                              long timeout_ms, run_output *r) {
  int po[2], pe[2];
  memset(r, 0, sizeof *r);
  if (pipe(po) < 0)
    return -1;
  if (pipe(pe) < 0) {
    close(po[0]);
    close(po[1]);
    return -1;
  }
  if (backend)
    setenv("WEFT_BACKEND", backend, 1);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, po[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
  posix_spawn_file_actions_addclose(&fa, po[0]);
  posix_spawn_file_actions_addclose(&fa, pe[0]);
  free(run_example_last_out);
  free(run_example_last_err);
  run_example_last_out = run_example_last_err = NULL;
  pid_t pid;
  long start = run_example_now_ms();
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(po[1]);
  close(pe[1]);
  if (rc != 0) {
    close(po[0]);
    close(pe[0]);
    return -1;
  }
  size_t olen = 0, elen = 0;
  r->out = calloc(1, 1);
  r->err = calloc(1, 1);
  int open_o = 1, open_e = 1, killed = 0;
  while (open_o || open_e) {
    struct pollfd p[2] = {{open_o ? po[0] : -1, POLLIN, 0},
                          {open_e ? pe[0] : -1, POLLIN, 0}};
    long left = timeout_ms - (run_example_now_ms() - start);
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = 1;
      break;
    }
    if (poll(p, 2, (int)left) < 0 && errno != EINTR)
      break;
    if (open_o && (p[0].revents & (POLLIN | POLLHUP)))
      open_o = run_example_drain(po[0], &r->out, &olen);
    if (open_e && (p[1].revents & (POLLIN | POLLHUP)))
      open_e = run_example_drain(pe[0], &r->err, &elen);
  }
  close(po[0]);
  close(pe[0]);
  run_example_last_out = r->out;
  run_example_last_err = r->err;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  r->ms = run_example_now_ms() - start;
  if (killed)
    r->status = -1;
  else if (WIFEXITED(st))
    r->status = WEXITSTATUS(st);
  else
    r->status = 128 + WTERMSIG(st);
  return 0;
}

static inline void run_output_free(run_output *r) {
  if (r->out == run_example_last_out)
    run_example_last_out = run_example_last_err = NULL;
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

#endif /* WEFT_EXAMPLES_RUN_EXAMPLE_H */
