/* apctl — scan: import what foreign caches hold, without a transfer.
 * SPDX-License-Identifier: MIT
 *
 * apctl scan [VENDOR[=DIR]]... : each vendor's `scan` (no argument: every
 * loaded vendor that can).  --hf-cache[=DIR] and --ollama[=DIR] name the
 * huggingface and ollama vendors.  Every vendor scanned says so on stdout,
 * with what it imported, or that its cache does not exist (not an error:
 * nothing to import).  --dry-run: what each would import, nothing stored. */
#include "apctl.h"

#include <string.h>

/* The warnings of the scan just run: what was skipped, and why. */
static void print_scan_warnings(const ap_provisioner *p)
{
    size_t i, n = ap_provisioner_warning_count(p);
    for (i = 0; i < n; i++)
        fprintf(stderr, "apctl: scan: warning: %s\n", T(ap_provisioner_warning(p, i)));
}

/* One line per entry a dry run would write. */
static void would_import(void *user, const char *ref, size_t files, uint64_t bytes)
{
    char sz[32];
    human(bytes, sz, sizeof sz);
    printf("  would import %s: %zu file%s (%s)\n", T(ref), files, files == 1 ? "" : "s", sz);
}

static int scan_one(ap_provisioner *p, const char *vendor, const char *dir,
                    int quiet_unsupported, int dry)
{
    ap_scan_stats st = { sizeof st, 0, 0, 0, 0 };
    ap_scan_options so;
    char sz[32];
    int rc;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.cancel = g_cancel;
    if (dry) {
        so.flags = AP_SCAN_DRY_RUN;
        so.on_entry = would_import;
    }
    rc = ap_provisioner_scan_opts(p, vendor, dir, &so, &st);
    if (rc == AP_EUNSUPPORTED && quiet_unsupported)
        return AP_OK;
    print_scan_warnings(p);
    human(st.bytes, sz, sizeof sz);
    if (rc == AP_OK)
        printf("%s: %zu entr%s, %zu file%s (%s) %s, %zu skipped\n", T(vendor),
               st.entries, st.entries == 1 ? "y" : "ies", st.files,
               st.files == 1 ? "" : "s", sz, dry ? "would be imported (dry run)"
                                                 : "imported", st.skipped);
    else if (rc == AP_ENOTFOUND) {
        /* the cache is not there: nothing to import */
        printf("%s: no cache, nothing imported (%s)\n", T(vendor),
               T(ap_provisioner_errmsg(p)));
        rc = AP_OK;
    } else
        fprintf(stderr, "apctl: scan: %s\n", T(ap_provisioner_errmsg(p)));
    return rc;
}

int cmd_scan(int argc, char **argv)
{
    static const apctl_opt opts[] = {
        { "--hf-cache", NULL, OPT_OPTIONAL, 1 }, { "--ollama", NULL, OPT_OPTIONAL, 2 },
        { "--dry-run", "-n", OPT_NONE, 3 }, { 0 }
    };
    apctl_args a = { "scan", argc, 0, argv, 0 };
    const char *vendors[64], *dirs[64], *v;
    char names[64][128];
    size_t nv = 0, k;
    ap_provisioner *p = NULL;
    int id, rc = AP_OK, dry = 0;
    while ((id = apctl_next(&a, opts, &v)) >= 0) {
        const char *eq;
        if (id == 3) {
            dry = 1;
            continue;
        }
        if (nv == 64)
            apctl_usage_error("scan", "more than 64 caches named");
        dirs[nv] = v;
        if (id == 1)
            vendors[nv] = "huggingface";
        else if (id == 2)
            vendors[nv] = "ollama";
        else if ((eq = strchr(v, '=')) != NULL) {
            if ((size_t)(eq - v) >= sizeof names[0] || eq == v)
                apctl_usage_error("scan", "'%s': want VENDOR or VENDOR=DIR", v);
            memcpy(names[nv], v, (size_t)(eq - v));
            names[nv][eq - v] = '\0';
            vendors[nv] = names[nv];
            dirs[nv] = eq + 1;
        } else {
            vendors[nv] = v;
            dirs[nv] = NULL;
        }
        nv++;
    }
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    for (k = 0; rc == AP_OK && k < nv; k++)
        rc = scan_one(p, vendors[k], dirs[k], 0, dry);
    if (!nv) {
        size_t n = ap_provisioner_vendor_count(p);
        for (k = 0; rc == AP_OK && k < n; k++) {
            ap_vendor_info vi;
            if (ap_provisioner_vendor_info(p, k, &vi) == AP_OK)
                rc = scan_one(p, vi.name, NULL, 1, dry);
        }
    }
    ap_provisioner_free(p);
    return apctl_exit_code(rc);
}
