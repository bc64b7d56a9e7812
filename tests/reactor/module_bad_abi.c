/* tests/reactor/module_bad_abi.c: a backend module with an abi_version
 * from a band this weft does not know, which the registry must reject. */
#include <weft/backend.h>

static const weft_backend bad = {
    .abi_version = (WEFT_BACKEND_MAGIC << 16) | 99u,
    .struct_size = sizeof(weft_backend) + 64,
    .name = "badabi",
};

WEFT_API const weft_backend *weft_backend_module_entry(void) { return &bad; }
