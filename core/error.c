/* core/error.c: messages and names for the WEFT_E* codes, generated from the
 * single list in weft/error.h so the three can never disagree. */
#include <weft/error.h>

const char *weft_strerror(int err) {
  switch (err) {
#define WEFT__ERR_MSG(name, value, msg)                                      \
  case (value):                                                              \
    return (msg);
    WEFT_ERROR_MAP(WEFT__ERR_MSG)
#undef WEFT__ERR_MSG
  case 0:
    return "success";
  default:
    return "unknown error";
  }
}

const char *weft_err_name(int err) {
  switch (err) {
#define WEFT__ERR_NAME(name, value, msg)                                     \
  case (value):                                                              \
    return "WEFT_" #name;
    WEFT_ERROR_MAP(WEFT__ERR_NAME)
#undef WEFT__ERR_NAME
  case 0:
    return "WEFT_OK";
  default:
    return "WEFT_UNKNOWN";
  }
}
