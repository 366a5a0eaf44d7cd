/* libFuzzer target: catalog documents (ap_entry_from_json), checking that
 * whatever parses also survives a to_json/from_json round trip.
 * SPDX-License-Identifier: MIT */
#include "../lib/internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ap_entry *e = NULL, *back = NULL;
    char *js = NULL;
    if (ap_entry_from_json((const char *)data, size, &e) != AP_OK)
        return 0;
    if (ap_entry_to_json(e, &js) != AP_OK)
        __builtin_trap();
    if (ap_entry_from_json(js, strlen(js), &back) != AP_OK)
        __builtin_trap();
    if (strcmp(e->id, back->id) != 0 || e->nfiles != back->nfiles ||
        e->status != back->status)
        __builtin_trap();
    ap_entry_free(back);
    ap_entry_free(e);
    ap_free(js);
    return 0;
}
