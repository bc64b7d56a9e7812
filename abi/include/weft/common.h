/* weft/common.h: the export macro and the few definitions every header needs.
 *
 * Every public symbol is declared with WEFT_API. The library is built with
 * -fvisibility=hidden and the version script abi/weft.map, so a symbol is
 * exported only when both the macro and the map say so; the ABI test checks
 * that the two agree. */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#ifdef __cplusplus
#define WEFT_BEGIN_DECLS extern "C" {
#define WEFT_END_DECLS }
#else
#define WEFT_BEGIN_DECLS
#define WEFT_END_DECLS
#endif

#endif /* WEFT_COMMON_H */
