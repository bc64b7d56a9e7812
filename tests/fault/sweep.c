/* tests/fault/sweep.c: see sweep.h. */
#include "sweep.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fault_in_child(void (*fn)(void *arg, void *report), void *arg,
                   void *report, size_t size, int timeout_ms, char *why,
                   size_t why_cap) {
  int p[2];
  if (pipe(p) != 0) {
    snprintf(why, why_cap, "pipe: %s", strerror(errno));
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(why, why_cap, "fork: %s", strerror(errno));
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    close(p[0]);
    if (p[1] != FAULT_REPORT_FD) {
      dup2(p[1], FAULT_REPORT_FD);
      close(p[1]);
      p[1] = FAULT_REPORT_FD;
    }
    memset(report, 0, size);
    fn(arg, report);
    ssize_t w = write(p[1], report, size);
    close(p[1]);
    exit(w == (ssize_t)size ? 0 : 3);
  }
  close(p[1]);
  size_t got = 0;
  long long deadline = now_ms() + timeout_ms;
  int hung = 0;
  while (got < size) {
    long long left = deadline - now_ms();
    struct pollfd pfd = {p[0], POLLIN, 0};
    if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
      hung = 1;
      break;
    }
    ssize_t r = read(p[0], (char *)report + got, size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(p[0]);
  if (hung)
    kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (hung) {
    snprintf(why, why_cap, "no report within %d ms (hang)", timeout_ms);
    return -1;
  }
  if (WIFSIGNALED(st)) {
    snprintf(why, why_cap, "killed by signal %d", WTERMSIG(st));
    return -1;
  }
  if (WEXITSTATUS(st) != 0) {
    snprintf(why, why_cap, "exit status %d (a sanitizer report?)",
             WEXITSTATUS(st));
    return -1;
  }
  if (got != size) {
    snprintf(why, why_cap, "short report (%zu of %zu bytes)", got, size);
    return -1;
  }
  return 0;
}
