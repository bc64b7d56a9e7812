/* core/exec/owned.c: the list of every task a runtime owns.
 *
 * Shutdown must drop every unfinished future exactly once, including the
 * futures of idle tasks that sit in no queue (waiting on a timer, a socket,
 * a channel). So every spawned task is linked here until it completes. The
 * list is sharded by task id, each shard under its own mutex, so that
 * spawns and completions on different workers rarely meet on one lock.
 *
 * A task joins the list only when it first returns PENDING, not when it is
 * spawned: until then it is in a queue (or being run), where shutdown finds
 * it anyway (sched.c drains the queues after the workers stopped), and most
 * tasks of a busy program complete in their first poll. So those never
 * take a shard's lock, which also spares a spawn from a plain thread and
 * the completion on a worker a cache line that the two threads passed back
 * and forth for every task.
 *
 * Invariants:
 *  - a task's owned_prev/owned_next fields are touched only under its
 *    shard's lock;
 *  - `in_owned` (WEFT__OWNED_*, exec.h) goes NEVER -> LISTED (insert, by
 *    the thread holding RUNNING, before the task goes idle), then LISTED ->
 *    REMOVED (its completion) or LISTED -> TAKEN (shutdown), both under the
 *    lock; or NEVER -> REMOVED at a completion without a first PENDING. Only
 *    the holder of RUNNING (or of the shutdown transition) may see NEVER, and
 *    nobody else writes the field then, so it reads NEVER without the lock;
 *  - a spawned owned task counts one reference for the list from the
 *    start: the list holds it while LISTED, shutdown takes it over when it
 *    unlinks the task (TAKEN), and the completion drops it in every other
 *    case;
 *  - once a shard is closed, nothing is inserted into it any more (a task
 *    whose insert is refused is cancelled by its runner instead).
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
  t->in_owned = WEFT__OWNED_LISTED;
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static void unlink_locked(weft__owned_shard *s, weft__task *t,
                          unsigned char to) {
  if (t->owned_prev)
    t->owned_prev->owned_next = t->owned_next;
  else
    s->head = t->owned_next;
  if (t->owned_next)
    t->owned_next->owned_prev = t->owned_prev;
  t->owned_prev = t->owned_next = NULL;
  t->in_owned = to;
}

int weft__owned_remove(weft_runtime *rt, weft__task *t) {
  if (t->in_owned == WEFT__OWNED_NEVER) {
    /* Never listed: the list's reference is still the task's own. */
    t->in_owned = WEFT__OWNED_REMOVED;
    return 1;
  }
  weft__owned_shard *s = shard_of(rt, t);
  int was = 0;
  pthread_mutex_lock(&s->mu);
  if (t->in_owned == WEFT__OWNED_LISTED) {
    unlink_locked(s, t, WEFT__OWNED_REMOVED);
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
        unlink_locked(s, t, WEFT__OWNED_TAKEN);
      pthread_mutex_unlock(&s->mu);
      if (!t)
        break;
      /* The list's reference is handed to the shutdown transition. A drop
       * run from here may spawn (refused: closed) or wake (harmless). */
      weft__task_shutdown(t);
    }
  }
}
