/* weft.h: everything public in weft. Include only this. */
#ifndef WEFT_H
#define WEFT_H

#include "weft/common.h"
#include "weft/error.h"
#include "weft/version.h"
#include "weft/future.h"
#include "weft/coro.h"
#include "weft/runtime.h"
#include "weft/backend.h"

#endif /* WEFT_H */
