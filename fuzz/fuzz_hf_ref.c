/* libFuzzer target: the Hugging Face vendor's reference grammar and the
 * header parsers it applies to hub answers (ETag, Link).  Every accepted
 * reference must have a canonical form that parses again to the same
 * fields.  SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "../vendors/huggingface/hf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), err[256], *canon, *x;
    hfv_ref r, r2;
    int oom = 0;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* the grammar sees C strings: stop at the first NUL */
    memset(&r, 0, sizeof r);
    if (hfv_ref_parse(s, &r, err, sizeof err) == AP_OK) {
        canon = hfv_ref_canonical(&r);
        if (canon) {
            memset(&r2, 0, sizeof r2);
            if (hfv_ref_parse(canon, &r2, err, sizeof err) != AP_OK ||
                r2.type != r.type || !same(r.repo, r2.repo) || !same(r.path, r2.path))
                __builtin_trap();
            hfv_ref_clear(&r2);
            free(canon);
        }
        hfv_ref_clear(&r);
    }
    free(hfv_etag_normalize(s));
    x = hfv_link_next(s, &oom);
    free(x);
    free(hfv_pct_encode(s, 1));
    free(s);
    return 0;
}
