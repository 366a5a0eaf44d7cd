/* libFuzzer target: the safetensors header parser.  SPDX-License-Identifier: MIT */
#include "../lib/formats.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apx_src src = { data, -1, size };
    apx_model_info info;
    apx_error err;
    if (apx_safetensors_parse(&src, &info, &err) == AP_OK) {
        if (info.header_bytes > size || strlen(info.precision) >= 16)
            __builtin_trap();
    }
    return 0;
}
