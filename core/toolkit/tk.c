/* core/toolkit/tk.c: helpers shared by the toolkit's futures. */
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
