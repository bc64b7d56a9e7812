/* weft/version.h: compile-time and run-time version of weft. */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#include "common.h"

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

/* The version as one number, (major << 16) | (minor << 8) | patch, so that
 * version checks are plain integer comparisons. */
#define WEFT_VERSION_HEX                                                     \
  ((WEFT_VERSION_MAJOR << 16) | (WEFT_VERSION_MINOR << 8) | WEFT_VERSION_PATCH)

WEFT_BEGIN_DECLS

/* The version of the library loaded at run time, in WEFT_VERSION_HEX form.
 * It may be newer than the headers a program was built with.
 * Any thread. Since 0.1. */
WEFT_API unsigned weft_version(void);

/* The same version as a static string, "major.minor.patch". Never NULL; the
 * caller must not free it. Any thread. Since 0.1. */
WEFT_API const char *weft_version_string(void);

WEFT_END_DECLS

#endif /* WEFT_VERSION_H */
