/* core/reactor/net_dns.c: name resolution with getaddrinfo(3) on the
 * blocking pool.
 *
 * getaddrinfo blocks (it may read files and talk to a DNS server), so it
 * runs as a blocking job. The job's state is shared by the future and the
 * job with a reference count of two: the future may be dropped while the
 * job still runs (it is then aborted, but a running job cannot be stopped),
 * and the job may be cancelled before it starts (the pool's cleanup drops
 * the job's reference instead). Whoever drops the last reference frees it.
 * The results are written by the job before it completes and read by the
 * future after weft_join_poll reported completion, which orders them. */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <weft/blocking.h>

#include "net_internal.h"

typedef struct dns_job {
  _Atomic int refs;
  char *host, *service;
  int family;
  weft_resolve_output res; /* written by the job */
} dns_job;

static void job_unref(dns_job *j) {
  /* acq_rel: the last owner must see every write of the others. */
  if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) {
    free(j->host);
    free(j->service);
    free(j);
  }
}

static int map_gai(int rc) {
  switch (rc) {
  case EAI_MEMORY:
    return WEFT_ENOMEM;
  case EAI_SYSTEM:
    return weft__errno(errno);
  case EAI_FAMILY:
  case EAI_SOCKTYPE:
  case EAI_BADFLAGS:
  case EAI_SERVICE:
    return WEFT_EINVAL;
  default:
    return WEFT_EDNS;
  }
}

static void *dns_run(void *arg, const weft_cancel_token *token) {
  dns_job *j = arg;
  (void)token;
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = j->family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  int rc = getaddrinfo(j->host, j->service, &hints, &ai);
  if (rc != 0) {
    j->res.error = map_gai(rc);
  } else {
    for (struct addrinfo *p = ai; p && j->res.count < WEFT_RESOLVE_MAX;
         p = p->ai_next) {
      if (p->ai_addrlen > sizeof j->res.addrs[0])
        continue;
      memcpy(&j->res.addrs[j->res.count], p->ai_addr, p->ai_addrlen);
      j->res.lens[j->res.count] = (socklen_t)p->ai_addrlen;
      j->res.count++;
    }
    freeaddrinfo(ai);
    if (j->res.count == 0)
      j->res.error = WEFT_EDNS;
  }
  job_unref(j);
  return NULL;
}

static void dns_cleanup(void *arg) { job_unref(arg); }

typedef struct dns_state {
  dns_job *job;
  weft_join_handle *h;
} dns_state;

static weft_poll dns_poll(void *p, weft_context *cx, void *out) {
  dns_state *st = p;
  weft_resolve_output *o = out;
  if (!st->h) {
    weft_runtime *rt = weft__context_runtime(cx);
    int rc = rt ? 0 : WEFT_ESHUTDOWN;
    if (rc == 0) {
      /* The job's reference, handed over to the pool on success. */
      atomic_fetch_add_explicit(&st->job->refs, 1, memory_order_relaxed);
      rc = weft_spawn_blocking_with_cleanup(rt, dns_run, st->job, dns_cleanup,
                                            &st->h);
      if (rc < 0)
        atomic_fetch_sub_explicit(&st->job->refs, 1, memory_order_relaxed);
    }
    if (rc < 0) {
      memset(o, 0, sizeof *o);
      o->error = rc;
      return WEFT_READY;
    }
  }
  weft_join_result jr;
  if (weft_join_poll(st->h, cx, &jr) == WEFT_PENDING)
    return WEFT_PENDING;
  if (jr.status == WEFT_JOIN_COMPLETED) {
    *o = st->job->res;
  } else {
    memset(o, 0, sizeof *o);
    o->error = jr.error < 0 ? jr.error : WEFT_ECANCELED;
  }
  weft_join_free(st->h);
  st->h = NULL;
  job_unref(st->job);
  st->job = NULL;
  return WEFT_READY;
}

static void dns_drop(void *p) {
  dns_state *st = p;
  if (st->h) {
    weft_join_abort(st->h);
    weft_join_free(st->h);
  }
  if (st->job)
    job_unref(st->job);
}

static const weft_future_vtable dns_vt = {sizeof(weft_future_vtable),
                                          dns_poll, dns_drop};

int weft_resolve(const char *host, const char *service, int family,
                 weft_future **out) {
  if (!host || !out || (family != AF_UNSPEC && family != AF_INET &&
                        family != AF_INET6))
    return WEFT_EINVAL;
  dns_job *j = calloc(1, sizeof *j);
  if (!j)
    return WEFT_ENOMEM;
  atomic_init(&j->refs, 1);
  j->family = family;
  j->host = strdup(host);
  j->service = service ? strdup(service) : NULL;
  if (!j->host || (service && !j->service)) {
    job_unref(j);
    return WEFT_ENOMEM;
  }
  dns_state st = {j, NULL};
  int rc = weft_future_new(&dns_vt, &st, sizeof st,
                           sizeof(weft_resolve_output), out);
  if (rc < 0)
    job_unref(j);
  return rc;
}
