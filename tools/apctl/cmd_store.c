/* apctl — the store commands: verify, gc.
 * SPDX-License-Identifier: MIT */
#include "apctl.h"

#include <time.h>

static int report(const char *what, const char *path, uint64_t bytes, void *user)
{
    char sz[32];
    (void)user;
    human(bytes, sz, sizeof sz);
    printf("%s %s (%s)\n", T(what), T(path), sz);
    return 0;
}

int cmd_verify(int argc, char **argv)
{
    static const apctl_opt opts[] = { { "--remove", NULL, OPT_NONE, 1 }, { 0 } };
    apctl_args a = { "verify", argc, 0, argv, 0 };
    ap_provisioner *p = NULL;
    size_t checked = 0, bad = 0;
    unsigned flags = 0;
    const char *v;
    int rc, id;
    while ((id = apctl_next(&a, opts, &v)) >= 0)
        if (id == 1)
            flags |= AP_VERIFY_REMOVE;
        else
            apctl_usage_error("verify", "unexpected argument '%s'", v);
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    rc = ap_store_verify(ap_provisioner_store(p), flags, report, NULL, &checked, &bad);
    if (rc != AP_OK)
        fprintf(stderr, "apctl: verify: %s\n", T(ap_store_errmsg(ap_provisioner_store(p))));
    else
        printf("%zu blob%s checked, %zu corrupt%s\n", checked, checked == 1 ? "" : "s",
               bad, bad && (flags & AP_VERIFY_REMOVE) ? " (removed)" : "");
    ap_provisioner_free(p);
    if (rc == AP_OK && bad)
        return APCTL_EXIT_INTEGRITY;
    return apctl_exit_code(rc);
}

/* Entries of pulls that failed or were cancelled, last updated more than
 * max_age seconds ago, leave the catalog (so `ls` does not fill up with
 * them); the blobs only they used go with the gc that follows. */
static int drop_failed(ap_catalog *cat, int64_t max_age, size_t *dropped)
{
    static const ap_entry_status which[] = { AP_ENTRY_FAILED, AP_ENTRY_CANCELLED };
    int64_t now = (int64_t)time(NULL);
    size_t w, i;
    for (w = 0; w < 2; w++) {
        ap_catalog_filter f = AP_CATALOG_FILTER_INIT;
        ap_entry **list = NULL;
        size_t n = 0;
        int rc;
        f.status = (int)which[w];
        if ((rc = ap_catalog_list(cat, &f, &list, &n)) != AP_OK)
            return rc;
        for (i = 0; i < n; i++) {
            if (now - list[i]->updated < max_age)
                continue;
            if (ap_catalog_remove(cat, list[i]->id) == AP_OK) {
                printf("removed %s entry %s (%s)\n",
                       ap_entry_status_name(list[i]->status), T(list[i]->id),
                       T(list[i]->ref));
                ++*dropped;
            } else
                fprintf(stderr, "apctl: gc: %s: %s\n", T(list[i]->id),
                        T(ap_catalog_errmsg(cat)));
        }
        ap_entry_list_free(list, n);
    }
    return AP_OK;
}

int cmd_gc(int argc, char **argv)
{
    static const apctl_opt opts[] = { { "--failed-age", NULL, OPT_REQ, 1 }, { 0 } };
    apctl_args a = { "gc", argc, 0, argv, 0 };
    ap_provisioner *p = NULL;
    ap_catalog *cat;
    uint64_t freed = 0, days = 7;
    size_t i, dropped = 0;
    const char *v;
    char sz[32];
    int rc, id;
    while ((id = apctl_next(&a, opts, &v)) >= 0)
        if (id == 1)
            days = apctl_num("gc", "--failed-age", v, 0);
        else
            apctl_usage_error("gc", "unexpected argument '%s'", v);
    if (days > 100000)
        apctl_usage_error("gc", "--failed-age %llu: more than 100000 days",
                          (unsigned long long)days);
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    cat = ap_provisioner_catalog(p);
    rc = drop_failed(cat, (int64_t)days * 86400, &dropped);
    /* Against the catalog: refuses (removing nothing) while a document is
     * unreadable, since the blobs it names are unknown. */
    if (rc == AP_OK)
        rc = ap_catalog_gc(cat, 24 * 3600, report, NULL, &freed);
    if (rc != AP_OK) {
        fprintf(stderr, "apctl: gc: %s\n", T(ap_catalog_errmsg(cat)));
        for (i = 0; i < ap_catalog_warning_count(cat); i++)
            fprintf(stderr, "apctl: gc: %s\n", T(ap_catalog_warning(cat, i)));
    } else {
        human(freed, sz, sizeof sz);
        printf("freed %s\n", sz);
    }
    ap_provisioner_free(p);
    /* a damaged document stops gc: exit 1 (catalog_damaged.t), not 5 */
    return rc == AP_OK ? 0 : APCTL_EXIT_FAILURE;
}
