/* conformance/test_blocking.c: the blocking area (tests land with the API they use). */
#include "conf.h"

const conf_area conf_area_blocking = {"blocking", NULL, 0};
