/* core/exec/owned.c: the list of every task a runtime owns.
 *
 * Shutdown must drop every unfinished future exactly once, including the
 * futures of idle tasks that sit in no queue (waiting on a timer, a socket,
 * a channel). So every spawned task is linked here until it completes. The
 * list is sharded by task id, each shard under its own mutex, so that
 * spawns and completions on different workers rarely meet on one lock.
 *
 * Invariants: a task's owned_prev/owned_next/in_owned fields are touched
 * only under its shard's lock. The list holds one task reference, released
 * by whoever unlinks the task (its completion, or shutdown). Once a shard
 * is closed, nothing is inserted into it any more.
 */
#include "exec.h"

static weft__owned_shard *shard_of(weft_runtime *rt, const weft__task *t) {
  return &rt->owned[t->id & (WEFT__OWNED_SHARDS - 1)];
}

int weft__owned_insert(weft_runtime *rt, weft__task *t) {
  weft__owned_shard *s = shard_of(rt, t);
  pthread_mutex_lock(&s->mu);
  if (s->closed) {
    pthread_mutex_unlock(&s->mu);
    return WEFT_ESHUTDOWN;
  }
  t->owned_prev = NULL;
  t->owned_next = s->head;
  if (s->head)
    s->head->owned_prev = t;
  s->head = t;
  t->in_owned = 1;
  s->count++;
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static void unlink_locked(weft__owned_shard *s, weft__task *t) {
  if (t->owned_prev)
    t->owned_prev->owned_next = t->owned_next;
  else
    s->head = t->owned_next;
  if (t->owned_next)
    t->owned_next->owned_prev = t->owned_prev;
  t->owned_prev = t->owned_next = NULL;
  t->in_owned = 0;
  s->count--;
}

int weft__owned_remove(weft_runtime *rt, weft__task *t) {
  weft__owned_shard *s = shard_of(rt, t);
  int was = 0;
  pthread_mutex_lock(&s->mu);
  if (t->in_owned) {
    unlink_locked(s, t);
    was = 1;
  }
  pthread_mutex_unlock(&s->mu);
  return was;
}

void weft__owned_close_and_shutdown(weft_runtime *rt) {
  for (unsigned i = 0; i < WEFT__OWNED_SHARDS; i++) {
    pthread_mutex_lock(&rt->owned[i].mu);
    rt->owned[i].closed = 1;
    pthread_mutex_unlock(&rt->owned[i].mu);
  }
  for (unsigned i = 0; i < WEFT__OWNED_SHARDS; i++) {
    weft__owned_shard *s = &rt->owned[i];
    for (;;) {
      pthread_mutex_lock(&s->mu);
      weft__task *t = s->head;
      if (t)
        unlink_locked(s, t);
      pthread_mutex_unlock(&s->mu);
      if (!t)
        break;
      /* The list's reference is handed to the shutdown transition. A drop
       * run from here may spawn (refused: closed) or wake (harmless). */
      weft__task_shutdown(t);
    }
  }
}

uint64_t weft__owned_count(weft_runtime *rt) {
  uint64_t n = 0;
  for (unsigned i = 0; i < WEFT__OWNED_SHARDS; i++) {
    pthread_mutex_lock(&rt->owned[i].mu);
    n += rt->owned[i].count;
    pthread_mutex_unlock(&rt->owned[i].mu);
  }
  return n;
}
