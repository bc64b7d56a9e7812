/* examples/hash-passwords: CPU-heavy work on the blocking pool while the
 * event loop keeps time.
 *
 *   hash-passwords [N] [--inline]
 *
 * Hashes N passwords (default 4) with libsodium's crypto_pwhash_str
 * (Argon2id, the "interactive" limits: about a quarter of a second and
 * 64 MiB each), verifies every hash against its password and against a
 * wrong one, and prints the results. Each password is one job for
 * weft_spawn_blocking, so the hashing runs on the blocking pool's threads.
 *
 * Meanwhile a ticker task on the runtime's one loop thread (the
 * current-thread flavour) waits for a 10 ms interval and records how late
 * each tick came. With the hashing on the pool, the ticks stay on time. With
 * --inline the same hashing runs inside the task, on the loop thread, as a
 * careless program would do it: the ticker then starves for as long as
 * each hash takes, and the lateness printed shows it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sched.h>

#include <sodium.h>
#include <weft.h>

/* One password: the blocking job's argument and result. */
typedef struct job {
  char password[32];
  char hash[crypto_pwhash_STRBYTES];
  int hashed, verified, wrong_rejected;
} job;

/* Runs on a pool thread (or, with --inline, on the loop thread). */
static void *hash_and_verify(void *arg, const weft_cancel_token *token) {
  job *j = arg;
  (void)token; /* one crypto_pwhash call cannot be stopped half-way */
  size_t len = strlen(j->password);
  j->hashed = crypto_pwhash_str(j->hash, j->password, len,
                                crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
  if (j->hashed) {
    j->verified = crypto_pwhash_str_verify(j->hash, j->password, len) == 0;
    j->wrong_rejected = crypto_pwhash_str_verify(j->hash, "not it", 6) != 0;
  }
  return j;
}

/* ---- the ticker ------------------------------------------------------------ */

typedef struct tick_stats {
  unsigned ticks;
  uint64_t max_late_ns;
} tick_stats;

typedef struct ticker {
  weft_interval *iv;
  tick_stats *stats; /* read by main once the ticker has been joined */
} ticker;

static weft_poll ticker_poll(void *p, weft_context *cx, void *out) {
  ticker *t = p;
  uint64_t due;
  (void)out;
  for (;;) {
    int rc = weft_interval_poll_tick(t->iv, cx, &due);
    if (rc == WEFT_PENDING)
      return WEFT_PENDING;
    if (rc < 0)
      return WEFT_READY;
    uint64_t late = weft_now_ns() - due;
    if (late > t->stats->max_late_ns)
      t->stats->max_late_ns = late;
    t->stats->ticks++;
  }
}

static void ticker_drop(void *p) { weft_interval_free(((ticker *)p)->iv); }

static const weft_future_vtable ticker_vt = {sizeof(weft_future_vtable),
                                             ticker_poll, ticker_drop};

/* ---- the main future ---------------------------------------------------------
 * Spawn the ticker and the jobs, await the jobs in order, then stop the
 * ticker (abort) and await it too. */

typedef struct hasher {
  weft_coro co;
  weft_runtime *rt;
  job *jobs;
  unsigned n, i;
  int inline_hashing;
  weft_join_handle **handles;
  weft_join_handle *tick;
  weft_future *pause;
  tick_stats stats;
  int error;
} hasher;

static weft_poll hasher_poll(void *p, weft_context *cx, void *out) {
  hasher *h = p;
  (void)out;
  WEFT_CORO_BEGIN(&h->co);
  {
    ticker t = {NULL, &h->stats};
    if ((h->error = weft_interval_new(10, WEFT_MISSED_TICK_SKIP, &t.iv)) < 0)
      WEFT_CORO_RETURN(&h->co);
    if ((h->error = weft_spawn(h->rt, &ticker_vt, &t, sizeof t, 0,
                               &h->tick)) < 0) {
      weft_interval_free(t.iv);
      WEFT_CORO_RETURN(&h->co);
    }
  }
  /* Let the ticker start before the work does. */
  if ((h->error = weft_sleep(30, &h->pause)) < 0)
    WEFT_CORO_RETURN(&h->co);
  WEFT_AWAIT(&h->co, weft_future_poll(h->pause, cx));
  for (h->i = 0; h->i < h->n; h->i++) {
    if (h->inline_hashing) {
      /* The mistake: CPU work inside a task holds the loop thread. */
      hash_and_verify(&h->jobs[h->i], NULL);
      WEFT_YIELD(&h->co, cx);
    } else if ((h->error = weft_spawn_blocking(h->rt, hash_and_verify,
                                               &h->jobs[h->i],
                                               &h->handles[h->i])) < 0) {
      break;
    }
  }
  for (h->i = 0; h->i < h->n; h->i++) {
    if (!h->handles[h->i])
      continue;
    WEFT_AWAIT(&h->co, weft_join_poll(h->handles[h->i], cx, NULL));
    weft_join_free(h->handles[h->i]);
    h->handles[h->i] = NULL;
  }
  /* Give the ticker one more period before stopping it, so that it sees
   * (and measures) a tick that came due while the loop was busy. */
  weft_future_free(h->pause);
  h->pause = NULL;
  if ((h->error = weft_sleep(15, &h->pause)) < 0)
    WEFT_CORO_RETURN(&h->co); /* weft_runtime_free stops the ticker */
  WEFT_AWAIT(&h->co, weft_future_poll(h->pause, cx));
  weft_join_abort(h->tick);
  WEFT_AWAIT(&h->co, weft_join_poll(h->tick, cx, NULL));
  WEFT_CORO_END(&h->co);
}

static const weft_future_vtable hasher_vt = {sizeof(weft_future_vtable),
                                             hasher_poll, NULL};

int main(int argc, char **argv) {
  unsigned n = 4;
  int inline_hashing = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--inline"))
      inline_hashing = 1;
    else if (atoi(argv[i]) > 0 && atoi(argv[i]) <= 64)
      n = (unsigned)atoi(argv[i]);
    else {
      fprintf(stderr, "usage: hash-passwords [N (1..64)] [--inline]\n");
      return 2;
    }
  }
  if (sodium_init() < 0) {
    fprintf(stderr, "hash-passwords: libsodium failed to initialise\n");
    return 1;
  }

  /* One loop thread runs every task; the hashing goes to the pool. */
  weft_builder *b;
  weft_runtime *rt = NULL;
  int rc = weft_builder_new(&b);
  if (rc == 0) {
    rc = weft_builder_flavor(b, WEFT_FLAVOR_CURRENT_THREAD);
    /* Hash on at most one thread fewer than the CPUs we may use, so one
     * CPU is left for the loop thread. */
    cpu_set_t cpus;
    int ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0
                   ? CPU_COUNT(&cpus) : 2;
    if (rc == 0)
      rc = weft_builder_max_blocking_threads(b,
                                             ncpu > 2 ? (unsigned)ncpu - 1 : 1);
    if (rc == 0)
      rc = weft_builder_build(b, &rt);
    weft_builder_free(b);
  }
  if (rc < 0) {
    fprintf(stderr, "hash-passwords: runtime: %s\n", weft_strerror(rc));
    return 1;
  }

  hasher h = {.co = WEFT_CORO_INIT, .rt = rt, .n = n,
              .inline_hashing = inline_hashing};
  h.jobs = calloc(n, sizeof *h.jobs);
  h.handles = calloc(n, sizeof *h.handles);
  if (!h.jobs || !h.handles) {
    fprintf(stderr, "hash-passwords: out of memory\n");
    free(h.jobs);
    free(h.handles);
    weft_runtime_free(rt);
    return 1;
  }
  for (unsigned i = 0; i < n; i++)
    snprintf(h.jobs[i].password, sizeof h.jobs[i].password,
             "correct horse %u", i + 1);

  uint64_t t0 = weft_now_ns();
  rc = weft_block_on(rt, &hasher_vt, &h, NULL);
  uint64_t elapsed_ms = (weft_now_ns() - t0) / 1000000;
  if (rc == 0)
    rc = h.error;

  unsigned ok = 0;
  for (unsigned i = 0; i < n && rc == 0; i++) {
    job *j = &h.jobs[i];
    printf("password %u: %.40s... verified: %s, wrong password rejected: "
           "%s\n",
           i + 1, j->hashed ? j->hash : "(not hashed)",
           j->verified ? "yes" : "NO", j->wrong_rejected ? "yes" : "NO");
    ok += j->hashed && j->verified && j->wrong_rejected;
  }
  if (rc == 0) {
    printf("%s %u passwords in %llu ms on %s (%s)\n",
           ok == n ? "all verified:" : "FAILED:", n,
           (unsigned long long)elapsed_ms, weft_runtime_backend_name(rt),
           inline_hashing ? "inline, on the loop thread"
                          : "weft_spawn_blocking");
    printf("ticker: %u ticks of 10 ms, max lateness %.1f ms\n",
           h.stats.ticks, (double)h.stats.max_late_ns / 1e6);
  } else {
    fprintf(stderr, "hash-passwords: %s\n", weft_strerror(rc));
  }
  weft_join_free(h.tick);
  weft_future_free(h.pause);
  for (unsigned i = 0; i < n; i++)
    weft_join_free(h.handles[i]);
  weft_runtime_free(rt);
  free(h.jobs);
  free(h.handles);
  return rc == 0 && ok == n ? 0 : 1;
}
