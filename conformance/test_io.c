/* conformance/test_io.c: the io area (tests land with the API they use). */
#include "conf.h"

const conf_area conf_area_io = {"io", NULL, 0};
