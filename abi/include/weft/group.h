/* weft/group.h: task groups: spawn many tasks, collect them as they finish.
 *
 * A group owns the join handles of the tasks spawned into it. Awaiting the
 * group yields the tasks in the order they finish, each as its join handle,
 * which passes to the caller. Aborting the group aborts every task still in
 * it; freeing the group aborts them too, so no task outlives its group
 * unnoticed. A group is used by one task or thread at a time (spawning,
 * awaiting, aborting and freeing); its tasks run anywhere. */
#ifndef WEFT_GROUP_H
#define WEFT_GROUP_H

#include "common.h"
#include "future.h"
#include "runtime.h"

WEFT_BEGIN_DECLS

typedef struct weft_group weft_group;

/* Make an empty group whose tasks run on `rt`. Returns 0, WEFT_EINVAL or
 * WEFT_ENOMEM. Any thread. Since 0.1. */
WEFT_API int weft_group_new(weft_runtime *rt, weft_group **out);

/* Abort every task still in the group and free it, with their handles.
 * NULL does nothing. Not while a weft_group_next future borrows it.
 * Since 0.1. */
WEFT_API void weft_group_free(weft_group *g);

/* Spawn a task into the group, as weft_spawn does (same ownership rules
 * for `state`). Returns 0, WEFT_EINVAL, WEFT_ENOMEM or WEFT_ESHUTDOWN; on
 * error nothing is spawned. Since 0.1. */
WEFT_API int weft_group_spawn(weft_group *g, const weft_future_vtable *vtable,
                              const void *state, size_t state_size,
                              size_t output_size);

/* Spawn a boxed future into the group; takes `f` on success only.
 * Since 0.1. */
WEFT_API int weft_group_spawn_future(weft_group *g, weft_future *f);

/* Wait for the next task of the group to finish. READY with `*done` set to
 * its join handle (finished; the caller owns it, reads it with
 * weft_join_poll or weft_join_wait, and frees it), or with `*done` NULL when
 * the group is empty. `done` must not be NULL. Since 0.1. */
WEFT_API weft_poll weft_group_poll_next(weft_group *g, weft_context *cx,
                                        weft_join_handle **done);

/* A boxed form of weft_group_poll_next; its output is one
 * weft_join_handle * (NULL when the group was empty). If the future is
 * dropped after finishing, the handle in its output is the caller's to
 * free. It borrows `g`. Since 0.1. */
WEFT_API int weft_group_next(weft_group *g, weft_future **out);

/* Abort every task in the group; they stay in it and are yielded, as
 * cancelled (or completed, if they finished first), by weft_group_next.
 * Returns 0 or WEFT_EINVAL. Since 0.1. */
WEFT_API int weft_group_abort_all(weft_group *g);

/* The number of tasks in the group (spawned and not yet yielded). */
WEFT_API size_t weft_group_len(const weft_group *g);

WEFT_END_DECLS

#endif /* WEFT_GROUP_H */
