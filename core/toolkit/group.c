/* core/toolkit/group.c: task groups.
 *
 * Each task in a group has an entry holding its join handle. The group
 * registers with every handle a waker of its own whose data is the entry,
 * so a finishing task tells the group *which* entry is ready: awaiting the
 * group costs O(ready tasks), not O(tasks).
 *
 * Invariants:
 * - The member list (`all`, links `aprev`/`anext`), `len`, and `h` are
 *   touched only by the group's user (one thread at a time): spawn, next,
 *   abort_all and free. Nothing else walks them, so abort_all can call into
 *   the executor without holding the group lock.
 * - Under `lock`: the ready queue (`ready_head`, links `rnext`, flag
 *   `queued`), `polling`/`rewake`, the waiter's waker, and every reference
 *   count. An entry is in the ready queue at most once.
 * - An entry's `refs` counts its membership (1 while in the group), each
 *   clone of its waker held by the executor, and the poll in progress. It
 *   is freed at 0. Each live entry holds a reference on the core, and the
 *   group handle holds one; the core is freed at 0. So a waker fired by a
 *   task after the group was freed still finds valid memory, and does
 *   nothing but drop its reference.
 * - A wake while the entry is being polled sets `rewake`, so the entry is
 *   queued again after the poll: no wake is lost. */
#include "toolkit/tk.h"

typedef struct group_core group_core;

typedef struct entry {
  group_core *c;
  weft_join_handle *h;
  struct entry *aprev, *anext; /* member list, user-only */
  struct entry *rnext;         /* ready queue, under lock */
  size_t refs;
  int queued, polling, rewake, member;
} entry;

struct group_core {
  pthread_mutex_t lock;
  size_t refs;
  entry *ready_head, *ready_tail;
  weft_waker waiter;
};

struct weft_group {
  group_core *c;
  weft_runtime *rt;
  entry *all;
  size_t len;
};

static void core_unref_locked_then_unlock(group_core *c) {
  int dead = --c->refs == 0;
  pthread_mutex_unlock(&c->lock);
  if (dead) {
    weft_waker_drop(&c->waiter);
    pthread_mutex_destroy(&c->lock);
    free(c);
  }
}

/* Drop one entry reference; called with the lock held, returns unlocked. */
static void entry_unref_and_unlock(entry *e) {
  group_core *c = e->c;
  if (--e->refs > 0) {
    pthread_mutex_unlock(&c->lock);
    return;
  }
  free(e);
  core_unref_locked_then_unlock(c);
}

static void ready_push(group_core *c, entry *e) {
  e->rnext = NULL;
  if (c->ready_tail)
    c->ready_tail->rnext = e;
  else
    c->ready_head = e;
  c->ready_tail = e;
  e->queued = 1;
}

static entry *ready_pop(group_core *c) {
  entry *e = c->ready_head;
  if (e) {
    c->ready_head = e->rnext;
    if (!c->ready_head)
      c->ready_tail = NULL;
    e->queued = 0;
  }
  return e;
}

/* ---- the entry waker ------------------------------------------------------ */

static weft_waker entry_clone(const void *data);
static void entry_wake(const void *data);
static void entry_wake_by_ref(const void *data);
static void entry_drop(const void *data);
static const weft_waker_vtable entry_vt = {entry_clone, entry_wake,
                                           entry_wake_by_ref, entry_drop};

static weft_waker entry_clone(const void *data) {
  entry *e = (entry *)data;
  pthread_mutex_lock(&e->c->lock);
  e->refs++;
  pthread_mutex_unlock(&e->c->lock);
  weft_waker w = {data, &entry_vt};
  return w;
}

static void entry_wake_by_ref(const void *data) {
  entry *e = (entry *)data;
  group_core *c = e->c;
  weft_waker w = {0};
  pthread_mutex_lock(&c->lock);
  if (e->polling) {
    e->rewake = 1;
  } else if (e->member && !e->queued) {
    ready_push(c, e);
    w = weft__waker_take(&c->waiter);
  }
  pthread_mutex_unlock(&c->lock);
  weft_waker_wake(&w);
}

static void entry_drop(const void *data) {
  entry *e = (entry *)data;
  pthread_mutex_lock(&e->c->lock);
  entry_unref_and_unlock(e);
}

static void entry_wake(const void *data) {
  entry_wake_by_ref(data);
  entry_drop(data);
}

/* ---- the group -------------------------------------------------------------- */

int weft_group_new(weft_runtime *rt, weft_group **out) {
  if (!rt || !out)
    return WEFT_EINVAL;
  weft_group *g = calloc(1, sizeof *g);
  group_core *c = calloc(1, sizeof *c);
  if (!g || !c || pthread_mutex_init(&c->lock, NULL) != 0) {
    free(g);
    free(c);
    return WEFT_ENOMEM;
  }
  c->refs = 1;
  g->c = c;
  g->rt = rt;
  *out = g;
  return 0;
}

/* Make an entry for handle `h` (already spawned) and queue it, so the next
 * await polls it once and thereby registers the entry's waker. */
static void member_add(weft_group *g, entry *e, weft_join_handle *h) {
  e->c = g->c;
  e->h = h;
  e->refs = 1;
  e->member = 1;
  e->anext = g->all;
  if (g->all)
    g->all->aprev = e;
  g->all = e;
  g->len++;
  weft_waker w;
  pthread_mutex_lock(&g->c->lock);
  g->c->refs++;
  ready_push(g->c, e);
  w = weft__waker_take(&g->c->waiter);
  pthread_mutex_unlock(&g->c->lock);
  weft_waker_wake(&w);
}

static void member_remove(weft_group *g, entry *e) {
  if (e->aprev)
    e->aprev->anext = e->anext;
  else
    g->all = e->anext;
  if (e->anext)
    e->anext->aprev = e->aprev;
  g->len--;
}

int weft_group_spawn(weft_group *g, const weft_future_vtable *vtable,
                     const void *state, size_t state_size,
                     size_t output_size) {
  if (!g || !vtable)
    return WEFT_EINVAL;
  entry *e = calloc(1, sizeof *e);
  if (!e)
    return WEFT_ENOMEM;
  weft_join_handle *h = NULL;
  int rc = weft_spawn(g->rt, vtable, state, state_size, output_size, &h);
  if (rc != 0) {
    free(e);
    return rc;
  }
  member_add(g, e, h);
  return 0;
}

int weft_group_spawn_future(weft_group *g, weft_future *f) {
  if (!g || !f)
    return WEFT_EINVAL;
  entry *e = calloc(1, sizeof *e);
  if (!e)
    return WEFT_ENOMEM;
  weft_join_handle *h = NULL;
  int rc = weft_spawn_future(g->rt, f, &h);
  if (rc != 0) {
    free(e);
    return rc;
  }
  member_add(g, e, h);
  return 0;
}

weft_poll weft_group_poll_next(weft_group *g, weft_context *cx,
                               weft_join_handle **done) {
  if (!g || !cx || !done) {
    if (done)
      *done = NULL;
    return WEFT_READY;
  }
  group_core *c = g->c;
  if (g->len == 0) {
    *done = NULL;
    return WEFT_READY;
  }
  /* Look at each queued entry at most once per call, so entries that keep
   * waking themselves cannot hold us here forever. */
  size_t budget = g->len;
  pthread_mutex_lock(&c->lock);
  weft__waker_store(&c->waiter, cx);
  while (budget-- > 0) {
    entry *e = ready_pop(c);
    if (!e)
      break;
    e->polling = 1;
    e->rewake = 0;
    e->refs++;
    pthread_mutex_unlock(&c->lock);

    /* Poll the handle with the entry's waker, so its wake names it. */
    struct weft_context sub = *cx;
    sub.waker.data = e;
    sub.waker.vtable = &entry_vt;
    weft_poll p = weft_join_poll(e->h, &sub, NULL);

    pthread_mutex_lock(&c->lock);
    e->polling = 0;
    if (p == WEFT_READY) {
      e->member = 0;
      e->refs--; /* membership; the poll reference is dropped below */
      weft_join_handle *h = e->h;
      e->h = NULL;
      member_remove(g, e);
      entry_unref_and_unlock(e);
      *done = h;
      return WEFT_READY;
    }
    if (e->rewake)
      ready_push(c, e);
    e->refs--; /* never the last: membership still holds one */
  }
  int more = c->ready_head != NULL;
  pthread_mutex_unlock(&c->lock);
  if (more)
    weft_waker_wake_by_ref(weft_context_waker(cx));
  return WEFT_PENDING;
}

typedef struct next_fut {
  weft_group *g;
} next_fut;

static weft_poll next_poll(void *state, weft_context *cx, void *out) {
  next_fut *n = state;
  weft_join_handle *h = NULL;
  if (weft_group_poll_next(n->g, cx, &h) != WEFT_READY)
    return WEFT_PENDING;
  memcpy(out, &h, sizeof h);
  return WEFT_READY;
}

static const weft_future_vtable next_vt = {sizeof(weft_future_vtable),
                                           next_poll, NULL};

int weft_group_next(weft_group *g, weft_future **out) {
  if (!g || !out)
    return WEFT_EINVAL;
  next_fut n = {g};
  return weft_future_new(&next_vt, &n, sizeof n, sizeof(weft_join_handle *),
                         out);
}

int weft_group_abort_all(weft_group *g) {
  if (!g)
    return WEFT_EINVAL;
  for (entry *e = g->all; e; e = e->anext)
    weft_join_abort(e->h);
  return 0;
}

size_t weft_group_len(const weft_group *g) { return g ? g->len : 0; }

void weft_group_free(weft_group *g) {
  if (!g)
    return;
  group_core *c = g->c;
  /* First, under the lock, make every entry a non-member and empty the
   * ready queue: from then on no wake queues an entry, so none that is
   * freed below stays reachable from the queue. */
  pthread_mutex_lock(&c->lock);
  for (entry *e = g->all; e; e = e->anext)
    e->member = 0;
  while (ready_pop(c))
    ;
  weft_waker w = weft__waker_take(&c->waiter);
  pthread_mutex_unlock(&c->lock);
  weft_waker_drop(&w);

  entry *e = g->all;
  while (e) {
    entry *next = e->anext;
    /* Abort, then let go of the handle: the executor drops the task; a
     * waker of ours that it still holds keeps the entry alive until then.
     */
    weft_join_abort(e->h);
    weft_join_free(e->h);
    e->h = NULL;
    pthread_mutex_lock(&c->lock);
    entry_unref_and_unlock(e);
    e = next;
  }
  pthread_mutex_lock(&c->lock);
  core_unref_locked_then_unlock(c);
  free(g);
}
