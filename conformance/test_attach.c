/* conformance/test_attach.c: the attach area (tests land with the API they use). */
#include "conf.h"

const conf_area conf_area_attach = {"attach", NULL, 0};
