/* core/exec/builder.c: the runtime builder and the default settings. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

struct weft_builder {
  weft__config cfg;
  int slow_poll_set; /* an explicit call wins over WEFT_SLOW_POLL_US */
};

/* CPUs the cgroup v2 quota allows, or 0 when unlimited/unknown. The file
 * holds "max <period>" or "<quota> <period>". */
static unsigned cgroup_cpu_limit_at(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  char quota[32];
  unsigned long long period = 0;
  unsigned n = 0;
  if (fscanf(f, "%31s %llu", quota, &period) == 2 && period > 0 &&
      strcmp(quota, "max") != 0) {
    unsigned long long q = strtoull(quota, NULL, 10);
    n = (unsigned)((q + period - 1) / period);
    if (n == 0)
      n = 1;
  }
  fclose(f);
  return n;
}

static unsigned cgroup_cpu_limit(void) {
  /* The process's own cgroup first ("0::/path" in /proc/self/cgroup), then
   * the root of the mount (a container sees its cgroup there). */
  FILE *f = fopen("/proc/self/cgroup", "r");
  unsigned n = 0;
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "0::", 3) == 0) {
        char *p = line + 3;
        p[strcspn(p, "\n")] = 0;
        char path[600];
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max",
                 strcmp(p, "/") == 0 ? "" : p);
        n = cgroup_cpu_limit_at(path);
        break;
      }
    }
    fclose(f);
  }
  if (n == 0)
    n = cgroup_cpu_limit_at("/sys/fs/cgroup/cpu.max");
  return n;
}

unsigned weft__default_workers(void) {
  unsigned n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    n = (unsigned)CPU_COUNT(&set);
  if (n == 0)
    n = 1;
  unsigned lim = cgroup_cpu_limit();
  if (lim && lim < n)
    n = lim;
  if (n > 1024)
    n = 1024;
  return n;
}

static void default_slow_poll_hook(const weft_slow_poll_info *info,
                                   void *arg) {
  (void)arg;
  fprintf(stderr,
          "weft: slow poll: task %llu (spawned at %s:%d) ran %llu us\n",
          (unsigned long long)info->task_id,
          info->spawn_file ? info->spawn_file : "?", info->spawn_line,
          (unsigned long long)(info->duration_ns / 1000));
}

static void config_defaults(weft__config *c) {
  memset(c, 0, sizeof *c);
  c->workers = 0; /* resolved at build time */
  c->flavor = WEFT_FLAVOR_MULTI_THREAD;
  strcpy(c->thread_name, "weft-worker");
  c->max_blocking_threads = 512;
  c->blocking_keep_alive_ms = 10000;
}

int weft_builder_new(weft_builder **out) {
  if (!out)
    return WEFT_EINVAL;
  weft_builder *b = calloc(1, sizeof *b);
  if (!b)
    return WEFT_ENOMEM;
  config_defaults(&b->cfg);
  *out = b;
  return 0;
}

void weft_builder_free(weft_builder *b) {
  if (!b)
    return;
  free((char *)b->cfg.backend_name);
  free((char *)b->cfg.backend_module);
  free(b);
}

int weft_builder_worker_threads(weft_builder *b, unsigned n) {
  if (!b || n < 1 || n > 1024)
    return WEFT_EINVAL;
  b->cfg.workers = n;
  return 0;
}

int weft_builder_flavor(weft_builder *b, weft_flavor flavor) {
  if (!b || (flavor != WEFT_FLAVOR_MULTI_THREAD &&
             flavor != WEFT_FLAVOR_CURRENT_THREAD))
    return WEFT_EINVAL;
  b->cfg.flavor = flavor;
  return 0;
}

int weft_builder_thread_name(weft_builder *b, const char *prefix) {
  if (!b || !prefix)
    return WEFT_EINVAL;
  size_t n = strlen(prefix);
  if (n > 15)
    n = 15;
  memcpy(b->cfg.thread_name, prefix, n);
  b->cfg.thread_name[n] = 0;
  return 0;
}

int weft_builder_thread_stack_size(weft_builder *b, size_t bytes) {
  if (!b || (bytes != 0 && bytes < 64 * 1024))
    return WEFT_EINVAL;
  b->cfg.stack_size = bytes;
  return 0;
}

int weft_builder_on_thread_start(weft_builder *b, void (*fn)(void *),
                                 void *arg) {
  if (!b)
    return WEFT_EINVAL;
  b->cfg.on_thread_start = fn;
  b->cfg.on_thread_start_arg = arg;
  return 0;
}

int weft_builder_on_thread_stop(weft_builder *b, void (*fn)(void *),
                                void *arg) {
  if (!b)
    return WEFT_EINVAL;
  b->cfg.on_thread_stop = fn;
  b->cfg.on_thread_stop_arg = arg;
  return 0;
}

int weft_builder_max_blocking_threads(weft_builder *b, unsigned n) {
  if (!b || n < 1 || n > 65536)
    return WEFT_EINVAL;
  b->cfg.max_blocking_threads = n;
  return 0;
}

int weft_builder_blocking_keep_alive(weft_builder *b, uint64_t keep_alive_ms) {
  if (!b)
    return WEFT_EINVAL;
  b->cfg.blocking_keep_alive_ms = keep_alive_ms;
  return 0;
}

int weft_builder_blocking_queue_limit(weft_builder *b, size_t n) {
  if (!b)
    return WEFT_EINVAL;
  b->cfg.blocking_queue_limit = n;
  return 0;
}

static int set_string(const char **slot, const char *s) {
  char *copy = strdup(s);
  if (!copy)
    return WEFT_ENOMEM;
  free((char *)*slot);
  *slot = copy;
  return 0;
}

int weft_builder_backend(weft_builder *b, const char *name) {
  if (!b || !name || !*name)
    return WEFT_EINVAL;
  return set_string(&b->cfg.backend_name, name);
}

int weft_builder_backend_module(weft_builder *b, const char *path) {
  if (!b || !path || !*path)
    return WEFT_EINVAL;
  return set_string(&b->cfg.backend_module, path);
}

int weft_builder_slow_poll(weft_builder *b, uint64_t threshold_us,
                           weft_slow_poll_hook hook, void *arg) {
  if (!b)
    return WEFT_EINVAL;
  b->cfg.slow_poll_us = threshold_us;
  b->cfg.slow_poll_hook = hook;
  b->cfg.slow_poll_arg = arg;
  b->slow_poll_set = 1;
  return 0;
}

/* Resolve the builder (NULL = defaults) into a complete config with owned
 * copies of its strings. */
int weft__builder_resolve(const weft_builder *b, weft__config *out) {
  weft__config c;
  if (b)
    c = b->cfg;
  else
    config_defaults(&c);
  if (c.workers == 0)
    c.workers = weft__default_workers();
  if (!(b && b->slow_poll_set)) {
    const char *env = getenv("WEFT_SLOW_POLL_US");
    if (env && *env) {
      char *end;
      unsigned long long v = strtoull(env, &end, 10);
      if (*end == 0)
        c.slow_poll_us = v;
    }
  }
  if (c.slow_poll_us && !c.slow_poll_hook) {
    c.slow_poll_hook = default_slow_poll_hook;
    c.slow_poll_arg = NULL;
  }
  c.backend_name = NULL;
  c.backend_module = NULL;
  if (b && b->cfg.backend_name && set_string(&c.backend_name,
                                             b->cfg.backend_name))
    return WEFT_ENOMEM;
  if (b && b->cfg.backend_module &&
      set_string(&c.backend_module, b->cfg.backend_module)) {
    free((char *)c.backend_name);
    return WEFT_ENOMEM;
  }
  *out = c;
  return 0;
}

int weft_builder_build(const weft_builder *b, weft_runtime **out) {
  if (!b || !out)
    return WEFT_EINVAL;
  return weft_runtime_new(out, b);
}
