/* libFuzzer target: the bounded GGUF header parser.  SPDX-License-Identifier: MIT */
#include "../lib/formats.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apx_src src = { data, -1, size };
    apx_model_info info;
    apx_error err;
    if (apx_gguf_parse(&src, &info, &err) == AP_OK) {
        /* Invariants of a successful parse: the counts fit in the input
         * (a key-value takes >= 13 bytes, a tensor info >= 24). */
        if (info.version != 2 && info.version != 3)
            __builtin_trap();
        if (info.header_bytes > size || info.kv_count > APX_GGUF_MAX_KV ||
            info.kv_count > size / 13 || info.tensor_count > size / 24)
            __builtin_trap();
        if (strlen(info.architecture) >= sizeof info.architecture ||
            strlen(info.precision) >= sizeof info.precision)
            __builtin_trap();
    } else if (info.architecture[0] || info.name[0] || info.precision[0] ||
               info.parameters || info.format[0]) {
        /* a failed parse leaves nothing half-read */
        __builtin_trap();
    }
    return 0;
}
