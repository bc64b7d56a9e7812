/* conformance/test_signals.c: the signals area (tests land with the API they use). */
#include "conf.h"

const conf_area conf_area_signals = {"signals", NULL, 0};
