/* libFuzzer target: the bounded GGUF header parser.  SPDX-License-Identifier: MIT */
#include "../lib/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apx_src src = { data, -1, size };
    apx_model_info info;
    apx_error err;
    if (apx_gguf_parse(&src, &info, &err) == AP_OK) {
        /* Invariants of a successful parse. */
        if (info.version != 2 && info.version != 3)
            __builtin_trap();
        if (info.header_bytes > size || info.kv_count > APX_GGUF_MAX_KV)
            __builtin_trap();
    }
    return 0;
}
