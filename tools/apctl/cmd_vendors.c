/* apctl — vendors: the loaded vendor plugins, and where they were looked for.
 * SPDX-License-Identifier: MIT */
#include "apctl.h"

int cmd_vendors(int argc, char **argv)
{
    apctl_args a = { "vendors", argc, 0, argv, 0 };
    ap_provisioner *p = NULL;
    const char *const *ref;
    const char *v;
    size_t i, n;
    if (apctl_next(&a, NULL, &v) == 0)
        apctl_usage_error("vendors", "unexpected argument '%s'", v);
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    n = ap_provisioner_vendor_count(p);
    for (i = 0; i < n; i++) {
        ap_vendor_info vi;
        size_t k;
        ap_provisioner_vendor_info(p, i, &vi);
        printf("%-12s %-8s abi %u  schemes:", T(vi.name), T(vi.version),
               vi.abi_version);
        for (k = 0; vi.schemes[k]; k++)
            printf(" %s:", T(vi.schemes[k]));
        printf("  (%s)\n", T(vi.origin));
        if (vi.usage[0])
            printf("    %s\n", T(vi.usage));
    }
    for (ref = ap_provisioner_refusals(p); *ref; ref++)
        fprintf(stderr, "refused: %s\n", T(*ref));
    if (n == 0)
        fprintf(stderr, "apctl: no vendor loaded (searched %s; set AP_VENDOR_PATH)\n",
                T(apctl_vendor_dirs_text()));
    ap_provisioner_free(p);
    return n ? 0 : APCTL_EXIT_REFUSED;
}
