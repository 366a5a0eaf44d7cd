/* libartifactprov — in-tree vendors' shared code: the environment, read
 * through the host (ap_host.getenv, so a request's env: options apply),
 * and a directory chosen by the first variable that is set.
 * SPDX-License-Identifier: MIT */
#include "apv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *apv_env(const ap_host *h, ap_vendor_call *call, const char *name)
{
    const char *v = h->getenv(call, name);
    return v && *v ? v : NULL;
}

char *apv_dir_from_env(const ap_host *h, ap_vendor_call *call,
                       const apv_env_dir *rules, size_t n, int *oom)
{
    size_t i, len;
    const char *v;
    char *out;
    *oom = 0;
    for (i = 0; i < n; i++) {
        if (!(v = apv_env(h, call, rules[i].var)))
            continue;
        len = strlen(v) + strlen(rules[i].suffix) + 1;
        if ((out = malloc(len)) != NULL)
            snprintf(out, len, "%s%s", v, rules[i].suffix);
        else
            *oom = 1;
        return out;
    }
    return NULL;
}
