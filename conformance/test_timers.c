/* conformance/test_timers.c: the timers area (tests land with the API they use). */
#include "conf.h"

const conf_area conf_area_timers = {"timers", NULL, 0};
