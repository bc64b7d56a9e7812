/* core/reactor/wheel.h: the hierarchical timer wheel (no locking, no clock).
 *
 * Six levels of 64 slots; a slot of level L spans 64^L ticks of 1 ms, so the
 * wheel covers 64^6 ms (about 795 days) ahead of its current tick; later
 * deadlines wait in an overflow list. Insert and cancel are O(1): an entry
 * is a node of an intrusive doubly linked list, and each level keeps a
 * 64-bit mask of its occupied slots.
 *
 * The wheel knows nothing about real time: its owner advances it to a tick
 * (weft__wheel_advance) and the wheel hands back every entry whose deadline
 * is at or before that tick. The driver converts nanoseconds to ticks by
 * rounding deadlines UP and the current time DOWN, which is what makes a
 * timer never fire early. Tests drive it with a fake tick counter. */
#ifndef WEFT_REACTOR_WHEEL_H
#define WEFT_REACTOR_WHEEL_H

#include <stdint.h>

#define WEFT__WHEEL_LEVELS 6
#define WEFT__WHEEL_SLOTS 64
#define WEFT__WHEEL_DUE (WEFT__WHEEL_LEVELS + 1)

typedef struct weft__timer_entry weft__timer_entry;
struct weft__timer_entry {
  weft__timer_entry *prev, *next;
  uint64_t deadline; /* tick at or after which the entry fires */
  /* Where the entry sits: level 0..5, WEFT__WHEEL_LEVELS for the overflow
   * list, WEFT__WHEEL_DUE for the due list, -1 when it is not in the
   * wheel. */
  int8_t level;
  uint8_t slot;
};

typedef struct weft__timer_list {
  weft__timer_entry *head;
} weft__timer_list;

typedef struct weft__wheel {
  uint64_t now; /* every entry in the wheel has deadline > now */
  uint64_t occupied[WEFT__WHEEL_LEVELS];
  weft__timer_list slots[WEFT__WHEEL_LEVELS][WEFT__WHEEL_SLOTS];
  weft__timer_list overflow;
  /* Entries that became due and were not yet handed out: their owner may
   * still cancel them, which is why they stay linked here (doubly) instead
   * of in a private list of the caller. */
  weft__timer_list due;
  /* The due list's last entry: entries are appended, so that they are
   * handed out in deadline order (a stack handed the latest first). */
  weft__timer_entry *due_tail;
  uint64_t count; /* entries waiting, the due list excluded */
} weft__wheel;

void weft__wheel_init(weft__wheel *w, uint64_t now);

/* Insert `e` (not in the wheel) with e->deadline set. Returns 1 if the
 * deadline is already due (deadline <= now): the entry is then NOT inserted
 * and the caller fires it. Returns 0 otherwise. */
int weft__wheel_insert(weft__wheel *w, weft__timer_entry *e);

/* Remove `e` if it is in the wheel; nothing otherwise. */
void weft__wheel_remove(weft__wheel *w, weft__timer_entry *e);

/* Move the wheel to tick `now` (ignored if earlier than its current tick)
 * and move every entry that became due to the due list. Returns how many. */
uint64_t weft__wheel_advance(weft__wheel *w, uint64_t now);

/* Unlink and return one entry of the due list (NULL when empty); the entry
 * is then out of the wheel (level -1). */
weft__timer_entry *weft__wheel_pop_due(weft__wheel *w);

/* The earliest tick at which advancing may fire or cascade something:
 * exact for level 0, a slot's start for higher levels (the caller then
 * advances there and asks again). UINT64_MAX when the wheel is empty. */
uint64_t weft__wheel_next(const weft__wheel *w);

#endif /* WEFT_REACTOR_WHEEL_H */
