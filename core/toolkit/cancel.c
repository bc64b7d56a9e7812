/* core/toolkit/cancel.c: cancellation tokens in trees.
 *
 * One mutex per tree (shared by every token made from one root) guards all
 * tree links, flags, reference counts and waiter lists, so cancelling a
 * subtree and freeing a token in it never race. Invariants (under the
 * tree's lock):
 * - `cancelled` of a node implies `cancelled` of all its descendants;
 *   a child made from a cancelled parent starts cancelled.
 * - `refs` counts handles (new/child/clone) plus pending cancelled()
 *   futures; at 0 the node leaves the tree and its children move to its
 *   parent (or become roots of the same tree).
 * - Waiting futures are linked in their node's `waiting`; cancel unlinks
 *   and wakes them all. Cancellation hands nothing over, so a dropped
 *   future only unlinks itself.
 * - The tree's memory goes with its last node (`nodes` == 0). */
#include "toolkit/tk.h"

typedef struct cancel_tree {
  pthread_mutex_t lock;
  size_t nodes;
} cancel_tree;

struct weft_cancellation_token {
  cancel_tree *tree;
  struct weft_cancellation_token *parent, *child, *prev, *next;
  size_t refs;
  int cancelled;
  weft__wlist waiting;
};

typedef struct weft_cancellation_token node;

static void link_child(node *parent, node *c) {
  c->parent = parent;
  c->prev = NULL;
  c->next = parent ? parent->child : NULL;
  if (c->next)
    c->next->prev = c;
  if (parent)
    parent->child = c;
}

static void unlink_node(node *c) {
  if (c->prev)
    c->prev->next = c->next;
  else if (c->parent)
    c->parent->child = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->parent = NULL;
}

int weft_cancellation_token_new(weft_cancellation_token **out) {
  if (!out)
    return WEFT_EINVAL;
  cancel_tree *t = calloc(1, sizeof *t);
  node *n = calloc(1, sizeof *n);
  if (!t || !n || pthread_mutex_init(&t->lock, NULL) != 0) {
    free(t);
    free(n);
    return WEFT_ENOMEM;
  }
  t->nodes = 1;
  n->tree = t;
  n->refs = 1;
  *out = n;
  return 0;
}

int weft_cancellation_token_child(weft_cancellation_token *parent,
                                  weft_cancellation_token **out) {
  if (!parent || !out)
    return WEFT_EINVAL;
  node *n = calloc(1, sizeof *n);
  if (!n)
    return WEFT_ENOMEM;
  cancel_tree *t = parent->tree;
  n->tree = t;
  n->refs = 1;
  pthread_mutex_lock(&t->lock);
  t->nodes++;
  n->cancelled = parent->cancelled;
  link_child(parent, n);
  pthread_mutex_unlock(&t->lock);
  *out = n;
  return 0;
}

int weft_cancellation_token_clone(weft_cancellation_token *tok,
                                  weft_cancellation_token **out) {
  if (!tok || !out)
    return WEFT_EINVAL;
  pthread_mutex_lock(&tok->tree->lock);
  tok->refs++;
  pthread_mutex_unlock(&tok->tree->lock);
  *out = tok;
  return 0;
}

/* Drop one reference under the lock; returns 1 if the tree must be freed
 * (after unlocking). */
static int unref_locked(node *n) {
  cancel_tree *t = n->tree;
  if (--n->refs > 0)
    return 0;
  node *parent = n->parent;
  unlink_node(n);
  while (n->child) {
    node *c = n->child;
    unlink_node(c);
    link_child(parent, c); /* parent NULL: c becomes a root of the tree */
  }
  free(n);
  return --t->nodes == 0;
}

static void tree_free(cancel_tree *t) {
  pthread_mutex_destroy(&t->lock);
  free(t);
}

void weft_cancellation_token_free(weft_cancellation_token *tok) {
  if (!tok)
    return;
  cancel_tree *t = tok->tree;
  pthread_mutex_lock(&t->lock);
  int dead = unref_locked(tok);
  pthread_mutex_unlock(&t->lock);
  if (dead)
    tree_free(t);
}

int weft_cancellation_token_cancel(weft_cancellation_token *tok) {
  if (!tok)
    return WEFT_EINVAL;
  weft__wakebatch b;
  weft__wakebatch_init(&b);
  pthread_mutex_lock(&tok->tree->lock);
  /* Pre-order walk of the subtree rooted at tok, without recursion, so a
   * deep tree cannot overflow the stack. A cancelled node's subtree is
   * already cancelled, so the walk skips it. */
  node *n = tok;
  while (n) {
    int descend = !n->cancelled;
    if (descend) {
      n->cancelled = 1;
      weft__waiter *w;
      while ((w = n->waiting.head) != NULL) {
        weft__wlist_remove(&n->waiting, w);
        w->state = WEFT__W_ALL;
        weft__wakebatch_add(&b, weft__waker_take(&w->waker));
      }
    }
    if (descend && n->child) {
      n = n->child;
      continue;
    }
    while (n != tok && !n->next)
      n = n->parent;
    n = n == tok ? NULL : n->next;
  }
  pthread_mutex_unlock(&tok->tree->lock);
  weft__wakebatch_run(&b);
  return 0;
}

int weft_cancellation_token_is_cancelled(weft_cancellation_token *tok) {
  if (!tok)
    return 0;
  pthread_mutex_lock(&tok->tree->lock);
  int c = tok->cancelled;
  pthread_mutex_unlock(&tok->tree->lock);
  return c;
}

typedef struct cancelled_fut {
  node *n;
  weft__waiter w;
} cancelled_fut;

static weft_poll cancelled_poll(void *state, weft_context *cx, void *out) {
  cancelled_fut *f = state;
  if (!weft__tk_proceed(cx))
    return WEFT_PENDING;
  pthread_mutex_lock(&f->n->tree->lock);
  if (!f->n->cancelled) {
    weft__waker_store(&f->w.waker, cx);
    if (!f->w.linked)
      weft__wlist_push(&f->n->waiting, &f->w);
    pthread_mutex_unlock(&f->n->tree->lock);
    return WEFT_PENDING;
  }
  if (f->w.linked)
    weft__wlist_remove(&f->n->waiting, &f->w);
  weft_waker ww = weft__waker_take(&f->w.waker);
  pthread_mutex_unlock(&f->n->tree->lock);
  weft_waker_drop(&ww);
  int rc = 0;
  memcpy(out, &rc, sizeof rc);
  return WEFT_READY;
}

static void cancelled_drop(void *state) {
  cancelled_fut *f = state;
  cancel_tree *t = f->n->tree;
  pthread_mutex_lock(&t->lock);
  if (f->w.linked)
    weft__wlist_remove(&f->n->waiting, &f->w);
  weft_waker ww = weft__waker_take(&f->w.waker);
  int dead = unref_locked(f->n);
  pthread_mutex_unlock(&t->lock);
  weft_waker_drop(&ww);
  if (dead)
    tree_free(t);
}

static const weft_future_vtable cancelled_vt = {
    sizeof(weft_future_vtable), cancelled_poll, cancelled_drop};

int weft_cancellation_token_cancelled(weft_cancellation_token *tok,
                                      weft_future **out) {
  if (!tok || !out)
    return WEFT_EINVAL;
  cancelled_fut f = {.n = tok};
  weft_cancellation_token *ref;
  weft_cancellation_token_clone(tok, &ref);
  int rc = weft_future_new(&cancelled_vt, &f, sizeof f, sizeof(int), out);
  if (rc != 0)
    weft_cancellation_token_free(ref);
  return rc;
}
