/* core/reactor/backend_registry.c: which backend a runtime gets, and loading
 * backend modules.
 *
 * Choice order: the builder's module path, else the builder's name, else
 * $WEFT_BACKEND, else the build default (-Ddefault_backend, passed in as
 * WEFT_DEFAULT_BACKEND). A name is looked up among the built-ins first,
 * then as a module `libweft-backend-<name>.so` in, in order:
 *   1. each directory of $WEFT_BACKEND_PATH (colon-separated);
 *   2. <dir of libweft.so>/weft/           (the installed layout);
 *   3. <dir of libweft.so>/backends/modules/<name>/   (the build tree);
 *   4. WEFT_MODULE_DIR                     (<libdir>/weft of the prefix).
 * The directory of libweft.so comes from dladdr() on one of our own
 * functions, so a relocated install still finds its modules.
 *
 * Modules are opened with RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND: NOW so a
 * missing symbol fails here rather than in the middle of a poll, LOCAL so
 * the module's event library does not leak into the global namespace, and
 * DEEPBIND because libev exports libevent's API under the same unversioned
 * names: without it, the libevent module of a program that also links
 * libev binds to libev's emulation layer and aborts (see BACKENDS.md). */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/sim/sim.h"
#include "reactor.h"

#ifndef WEFT_DEFAULT_BACKEND
#define WEFT_DEFAULT_BACKEND "epoll"
#endif
#ifndef WEFT_MODULE_DIR
#define WEFT_MODULE_DIR "/usr/local/lib/weft"
#endif

/* The sanitizers' runtimes refuse RTLD_DEEPBIND (it would let a module
 * bypass their interceptors), so sanitized builds go without it. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT__DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WEFT__DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#endif
#endif
#ifndef WEFT__DLOPEN_FLAGS
#define WEFT__DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
#endif

/* The backends compiled into libweft. Add a built-in here and nowhere
 * else; the order is the order weft_backend_list() reports. */
static const struct {
  const char *name;
  const weft_backend *be;
} builtins[] = {
    {"epoll", &weft__backend_epoll},
    {"sim", &weft__backend_sim},
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

#define MODULE_PREFIX "libweft-backend-"
#define MODULE_SUFFIX ".so"

int weft__backend_validate(const weft_backend *be) {
  if (!be)
    return WEFT_EINVAL;
  if ((be->abi_version >> 16) != WEFT_BACKEND_MAGIC)
    return WEFT_EABI;
  uint32_t band = be->abi_version & 0xffffu;
  if (band < 1 || band > (WEFT_BACKEND_ABI_CURRENT & 0xffffu))
    return WEFT_EABI;
  /* Band 1 is the whole struct as this build knows it. */
  if (be->struct_size < sizeof(weft_backend))
    return WEFT_EABI;
  if (!be->name || !be->destroy || !be->register_fd || !be->modify_fd ||
      !be->deregister_fd || !be->wake || (!be->create && !be->attach))
    return WEFT_EINVAL;
  return 0;
}

/* The directory holding libweft (or the program, when linked statically),
 * without a trailing slash; "" when unknown. */
static void self_dir(char *buf, size_t cap) {
  Dl_info info;
  buf[0] = '\0';
  if (!dladdr((const void *)&builtins, &info) || !info.dli_fname)
    return;
  const char *slash = strrchr(info.dli_fname, '/');
  if (!slash)
    return;
  size_t n = (size_t)(slash - info.dli_fname);
  if (n >= cap)
    return;
  memcpy(buf, info.dli_fname, n);
  buf[n] = '\0';
}

/* Call fn(dir, arg) for each search directory of a module named `name`
 * (NULL when listing: then the per-name build-tree directory is replaced by
 * the build-tree parent, which the lister scans one level deeper). Stops
 * when fn returns non-zero, and returns that value. */
typedef int (*dir_fn)(const char *dir, int nested, void *arg);
static int for_each_dir(const char *name, dir_fn fn, void *arg) {
  char path[PATH_MAX];
  int rc;
  const char *env = secure_getenv("WEFT_BACKEND_PATH");
  if (env && *env) {
    const char *p = env;
    while (*p) {
      const char *colon = strchr(p, ':');
      size_t n = colon ? (size_t)(colon - p) : strlen(p);
      if (n > 0 && n < sizeof path) {
        memcpy(path, p, n);
        path[n] = '\0';
        if ((rc = fn(path, 0, arg)) != 0)
          return rc;
      }
      p += n;
      if (*p == ':')
        p++;
    }
  }
  char self[PATH_MAX];
  self_dir(self, sizeof self);
  if (self[0]) {
    snprintf(path, sizeof path, "%s/weft", self);
    if ((rc = fn(path, 0, arg)) != 0)
      return rc;
    if (name) {
      snprintf(path, sizeof path, "%s/backends/modules/%s", self, name);
      if ((rc = fn(path, 0, arg)) != 0)
        return rc;
    } else {
      snprintf(path, sizeof path, "%s/backends/modules", self);
      if ((rc = fn(path, 1, arg)) != 0)
        return rc;
    }
  }
  return fn(WEFT_MODULE_DIR, 0, arg);
}

/* ---- Listing ------------------------------------------------------------ */

#define MAX_LISTED 32
static const char *listed[MAX_LISTED + 1];
static char listed_names[MAX_LISTED][64];
static pthread_once_t list_once = PTHREAD_ONCE_INIT;

static void add_listed(const char *name, size_t len) {
  if (len == 0 || len >= sizeof listed_names[0])
    return;
  size_t n = 0;
  while (listed[n]) {
    if (strlen(listed[n]) == len && !memcmp(listed[n], name, len))
      return; /* already there: built-ins and earlier directories win */
    n++;
  }
  if (n >= MAX_LISTED)
    return;
  memcpy(listed_names[n], name, len);
  listed_names[n][len] = '\0';
  listed[n] = listed_names[n];
}

static void scan_dir(const char *dir, int nested) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    if (nested) {
      char sub[PATH_MAX];
      if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) <
          sizeof sub)
        scan_dir(sub, 0);
      continue;
    }
    size_t len = strlen(de->d_name);
    size_t pre = sizeof MODULE_PREFIX - 1, suf = sizeof MODULE_SUFFIX - 1;
    if (len > pre + suf && !strncmp(de->d_name, MODULE_PREFIX, pre) &&
        !strcmp(de->d_name + len - suf, MODULE_SUFFIX))
      add_listed(de->d_name + pre, len - pre - suf);
  }
  closedir(d);
}

static int scan_cb(const char *dir, int nested, void *arg) {
  (void)arg;
  scan_dir(dir, nested);
  return 0;
}

static void build_list(void) {
  for (size_t i = 0; i < N_BUILTINS; i++)
    add_listed(builtins[i].name, strlen(builtins[i].name));
  for_each_dir(NULL, scan_cb, NULL);
}

const char *const *weft_backend_list(void) {
  /* The list is computed once: the search path is read at the first call,
   * and the result is static, as the header promises. */
  pthread_once(&list_once, build_list);
  return listed;
}

static void print_available(FILE *f) {
  const char *const *l = weft_backend_list();
  fputs("available backends:", f);
  for (size_t i = 0; l[i]; i++)
    fprintf(f, "%s %s", i ? "," : "", l[i]);
  fputc('\n', f);
}

/* ---- Loading -------------------------------------------------------------- */

static int load_path(const char *path, const weft_backend **be,
                     void **handle, int quiet_missing) {
  void *h = dlopen(path, WEFT__DLOPEN_FLAGS);
  if (!h) {
    if (!quiet_missing)
      fprintf(stderr, "weft: cannot load backend module %s: %s\n", path,
              dlerror());
    return WEFT_EBACKEND;
  }
  union {
    void *obj;
    weft_backend_module_entry_fn fn;
  } entry;
  entry.obj = dlsym(h, "weft_backend_module_entry");
  if (!entry.obj) {
    fprintf(stderr,
            "weft: %s is not a weft backend module (no "
            "weft_backend_module_entry)\n",
            path);
    dlclose(h);
    return WEFT_EBACKEND;
  }
  const weft_backend *b = entry.fn();
  int rc = weft__backend_validate(b);
  if (rc == WEFT_EINVAL) {
    fprintf(stderr,
            "weft: backend module %s lacks a required method or name: "
            "rejected\n",
            path);
    dlclose(h);
    return WEFT_EBACKEND;
  }
  if (rc < 0) {
    if (b && (b->abi_version >> 16) == WEFT_BACKEND_MAGIC)
      fprintf(stderr,
              "weft: backend module %s has abi_version 0x%08x (band %u) and "
              "struct_size %u; this weft knows bands 1..%u (size %zu): "
              "rejected\n",
              path, b->abi_version, b->abi_version & 0xffffu, b->struct_size,
              WEFT_BACKEND_ABI_CURRENT & 0xffffu, sizeof(weft_backend));
    else
      fprintf(stderr,
              "weft: backend module %s has an unknown abi_version 0x%08x "
              "(not a weft backend vtable): rejected\n",
              path, b ? b->abi_version : 0u);
    dlclose(h);
    return rc;
  }
  *be = b;
  *handle = h;
  return 0;
}

struct find_arg {
  const char *name;
  const weft_backend *be;
  void *handle;
  int rc;
};

static int find_cb(const char *dir, int nested, void *arg) {
  (void)nested;
  struct find_arg *a = arg;
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/" MODULE_PREFIX "%s" MODULE_SUFFIX,
                       dir, a->name) >= sizeof path)
    return 0;
  FILE *probe = fopen(path, "rb");
  if (!probe)
    return 0;
  fclose(probe);
  a->rc = load_path(path, &a->be, &a->handle, 0);
  return 1; /* the first module found is the one used, loaded or not */
}

static int valid_name(const char *name) {
  if (!*name || strlen(name) > 48)
    return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
      return 0;
  return 1;
}

static int open_by_name(const char *name, const char *why,
                        const weft_backend **be, void **handle) {
  for (size_t i = 0; i < N_BUILTINS; i++) {
    if (!strcmp(name, builtins[i].name)) {
      *be = builtins[i].be;
      *handle = NULL;
      return 0;
    }
  }
  /* A name never becomes a path: "../x" must not load anything. */
  if (valid_name(name)) {
    struct find_arg a = {name, NULL, NULL, WEFT_EBACKEND};
    if (for_each_dir(name, find_cb, &a)) {
      if (a.rc == 0) {
        *be = a.be;
        *handle = a.handle;
      }
      return a.rc;
    }
  }
  fprintf(stderr, "weft: unknown backend \"%s\" (from %s); ", name, why);
  print_available(stderr);
  return WEFT_EBACKEND;
}

int weft__backend_open(const weft__config *cfg, const weft_backend **be,
                       void **handle) {
  *be = NULL;
  *handle = NULL;
  if (cfg && cfg->backend_module)
    return load_path(cfg->backend_module, be, handle, 0);
  if (cfg && cfg->backend_name)
    return open_by_name(cfg->backend_name, "weft_builder_backend", be, handle);
  const char *env = getenv("WEFT_BACKEND");
  if (env && *env)
    return open_by_name(env, "WEFT_BACKEND", be, handle);
  return open_by_name(WEFT_DEFAULT_BACKEND, "the build default", be, handle);
}

void weft__backend_release(void *handle) {
  if (handle)
    dlclose(handle);
}
