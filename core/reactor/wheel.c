/* core/reactor/wheel.c: the hierarchical timer wheel.
 *
 * Invariants (the wheel is used under the driver's mutex, so there is no
 * concurrency here; these are about the data):
 * - Every entry in the wheel has deadline > now.
 * - An entry sits at the level of the highest 6-bit digit in which its
 *   deadline differs from `now`, in the slot given by the deadline's digit
 *   at that level. Because the deadline is later and the higher digits are
 *   equal, its digit is greater than now's: the slot lies ahead.
 * - Hence every entry of level L is earlier than every entry of level L+1,
 *   and the earliest thing to do is always in the lowest occupied level.
 * - When `now` reaches the start of an occupied slot, the slot's entries
 *   are taken out and inserted again relative to the new `now`: each lands
 *   in a lower level (its deadline is within the slot's span) or is due.
 *   This "cascade" is why a higher-level deadline is only a slot start.
 * - Entries whose deadline differs from now above bit 36 wait in the
 *   overflow list until `now` crosses into their 2^36-tick block. */
#include "wheel.h"

#include <stddef.h>

#define LEVEL_BITS 6u
#define OVERFLOW_SHIFT (LEVEL_BITS * WEFT__WHEEL_LEVELS) /* 36 */

static void list_push(weft__timer_list *l, weft__timer_entry *e) {
  e->prev = NULL;
  e->next = l->head;
  if (l->head)
    l->head->prev = e;
  l->head = e;
}

static void list_unlink(weft__timer_list *l, weft__timer_entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    l->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  e->prev = e->next = NULL;
}

/* The due list is a queue: appended at the tail as entries fall due, in
 * deadline order, and popped from the head. */
static void due_append(weft__wheel *w, weft__timer_entry *e) {
  e->next = NULL;
  e->prev = w->due_tail;
  if (w->due_tail)
    w->due_tail->next = e;
  else
    w->due.head = e;
  w->due_tail = e;
}

static void due_unlink(weft__wheel *w, weft__timer_entry *e) {
  if (w->due_tail == e)
    w->due_tail = e->prev;
  list_unlink(&w->due, e);
}

void weft__wheel_init(weft__wheel *w, uint64_t now) {
  *w = (weft__wheel){0};
  w->now = now;
}

/* The level for `deadline` seen from `now`: the highest differing digit, or
 * WEFT__WHEEL_LEVELS for the overflow list. */
static int level_for(uint64_t now, uint64_t deadline) {
  uint64_t diff = now ^ deadline;
  if (diff >> OVERFLOW_SHIFT)
    return WEFT__WHEEL_LEVELS;
  /* OR-ing 63 makes the top bit at least 5, so a difference within the
   * low digit maps to level 0 and clz never sees 0. */
  int top = 63 - __builtin_clzll(diff | 63u);
  return top / (int)LEVEL_BITS;
}

static void place(weft__wheel *w, weft__timer_entry *e) {
  int level = level_for(w->now, e->deadline);
  e->level = (int8_t)level;
  if (level == WEFT__WHEEL_LEVELS) {
    e->slot = 0;
    list_push(&w->overflow, e);
    return;
  }
  unsigned slot = (unsigned)(e->deadline >> (LEVEL_BITS * (unsigned)level)) &
                  (WEFT__WHEEL_SLOTS - 1);
  e->slot = (uint8_t)slot;
  list_push(&w->slots[level][slot], e);
  w->occupied[level] |= 1ull << slot;
}

int weft__wheel_insert(weft__wheel *w, weft__timer_entry *e) {
  if (e->deadline <= w->now) {
    e->level = -1;
    return 1;
  }
  place(w, e);
  w->count++;
  return 0;
}

void weft__wheel_remove(weft__wheel *w, weft__timer_entry *e) {
  if (e->level < 0)
    return;
  if (e->level == WEFT__WHEEL_DUE) {
    due_unlink(w, e);
    e->level = -1;
    return;
  }
  if (e->level == WEFT__WHEEL_LEVELS) {
    list_unlink(&w->overflow, e);
  } else {
    weft__timer_list *l = &w->slots[e->level][e->slot];
    list_unlink(l, e);
    if (!l->head)
      w->occupied[e->level] &= ~(1ull << e->slot);
  }
  e->level = -1;
  w->count--;
}

/* The next tick at which something must happen, and what: a slot of a
 * level (level 0..5) or the overflow boundary (level == LEVELS). */
static uint64_t next_event(const weft__wheel *w, int *level_out,
                           unsigned *slot_out) {
  for (int level = 0; level < WEFT__WHEEL_LEVELS; level++) {
    uint64_t occ = w->occupied[level];
    if (!occ)
      continue;
    unsigned slot = (unsigned)__builtin_ctzll(occ);
    unsigned shift = LEVEL_BITS * (unsigned)level;
    uint64_t block = w->now & ~((1ull << (shift + LEVEL_BITS)) - 1);
    uint64_t start = block + ((uint64_t)slot << shift);
    *level_out = level;
    *slot_out = slot;
    /* A slot behind `now` cannot exist by the invariant; if it did, doing
     * it at once is the safe reading. */
    return start < w->now ? w->now : start;
  }
  if (w->overflow.head) {
    *level_out = WEFT__WHEEL_LEVELS;
    *slot_out = 0;
    return ((w->now >> OVERFLOW_SHIFT) + 1) << OVERFLOW_SHIFT;
  }
  *level_out = -1;
  return UINT64_MAX;
}

uint64_t weft__wheel_next(const weft__wheel *w) {
  int level;
  unsigned slot;
  return next_event(w, &level, &slot);
}

uint64_t weft__wheel_advance(weft__wheel *w, uint64_t now) {
  uint64_t fired = 0;
  for (;;) {
    int level;
    unsigned slot;
    uint64_t at = next_event(w, &level, &slot);
    if (level < 0 || at > now)
      break;
    w->now = at;
    weft__timer_list taken;
    if (level == WEFT__WHEEL_LEVELS) {
      taken = w->overflow;
      w->overflow.head = NULL;
    } else {
      taken = w->slots[level][slot];
      w->slots[level][slot].head = NULL;
      w->occupied[level] &= ~(1ull << slot);
    }
    weft__timer_entry *e = taken.head;
    while (e) {
      weft__timer_entry *next = e->next;
      if (e->deadline <= w->now) {
        e->level = WEFT__WHEEL_DUE;
        due_append(w, e);
        w->count--;
        fired++;
      } else {
        place(w, e); /* lands in a lower level: the cascade */
      }
      e = next;
    }
  }
  if (now > w->now)
    w->now = now;
  return fired;
}

weft__timer_entry *weft__wheel_pop_due(weft__wheel *w) {
  weft__timer_entry *e = w->due.head;
  if (!e)
    return NULL;
  due_unlink(w, e);
  e->level = -1;
  return e;
}
