/* core/toolkit/tk.c: helpers shared by the toolkit's futures. */
#include <sched.h>

#include "toolkit/tk.h"

int weft__tk_box(const weft_future_vtable *vt, const void *hdr,
                 size_t hdr_size, size_t payload_off, const void *payload,
                 size_t payload_size, size_t output_size, weft_future **out) {
  unsigned char stackbuf[512];
  size_t total = payload_off + payload_size;
  unsigned char *buf = stackbuf;
  if (payload_off < hdr_size || total < payload_off)
    return WEFT_EINVAL;
  if (total > sizeof stackbuf) {
    buf = malloc(total);
    if (!buf)
      return WEFT_ENOMEM;
  }
  memset(buf, 0, payload_off);
  memcpy(buf, hdr, hdr_size);
  if (payload_size)
    memcpy(buf + payload_off, payload, payload_size);
  int rc = weft_future_new(vt, buf, total, output_size, out);
  if (buf != stackbuf)
    free(buf);
  return rc;
}

static void tk_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

void weft__tk_lock_wait(weft__tk_lock *l) {
  for (;;) {
    for (int i = 0; i < 64; i++) {
      /* Relaxed: only a hint that the exchange may succeed now. */
      if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
          atomic_exchange_explicit(&l->v, 1, memory_order_acquire) == 0)
        return;
      tk_cpu_relax();
    }
    /* The holder may have been preempted: let it run. */
    sched_yield();
  }
}
