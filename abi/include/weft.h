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
#include "weft/blocking.h"
#include "weft/attach.h"
#include "weft/time.h"
#include "weft/io.h"
#include "weft/net.h"
#include "weft/signal.h"
#include "weft/channel.h"
#include "weft/sync.h"
#include "weft/combinators.h"
#include "weft/group.h"
#include "weft/cancel.h"

#endif /* WEFT_H */
