/* apctl — the catalog commands: ls, show, path, rm.
 * SPDX-License-Identifier: MIT */
#include "apctl.h"
#include <artifactprov/sys/store.h> /* ap_store_trylock: "interrupted" */

#include <string.h>

/* The file of `e` that `what` names as "REF/FILE" (ap_catalog_get found the
 * entry so), or NULL when `what` names the entry itself. */
const ap_entry_file *file_named(const ap_entry *e, const char *what)
{
    const char *refs[2];
    size_t i, k;
    if (!strcmp(what, e->id) || (e->ref && !strcmp(what, e->ref)) ||
        (e->requested && !strcmp(what, e->requested)))
        return NULL;
    refs[0] = e->ref;
    refs[1] = e->requested;
    for (k = 0; k < 2; k++) {
        size_t len = refs[k] ? strlen(refs[k]) : 0;
        if (!refs[k] || strncmp(what, refs[k], len) != 0 || what[len] != '/')
            continue;
        for (i = 0; i < ap_entry_file_count(e); i++)
            if (!strcmp(ap_entry_file_at(e, i)->name, what + len + 1))
                return ap_entry_file_at(e, i);
    }
    return NULL;
}

/* The paths a pull of `ref` provided: the file it names when the entry is
 * its repository's (REF/FILE), else every file present. */
void print_pulled_paths(const ap_entry *e, const char *ref)
{
    const ap_entry_file *one = file_named(e, ref);
    size_t k;
    if (one) {
        if (one->present)
            printf("%s\n", T(one->path));
        return;
    }
    for (k = 0; k < ap_entry_file_count(e); k++)
        if (ap_entry_file_at(e, k)->present)
            printf("%s\n", T(ap_entry_file_at(e, k)->path));
}

/* "downloading" with nobody holding the entry's lock: a pull that died
 * (kill -9, power loss); the next pull of the reference resumes it. */
static const char *status_text(ap_store *store, const ap_entry *e)
{
    int fd;
    if (e->status == AP_ENTRY_DOWNLOADING && store &&
        ap_store_trylock(store, e->id, &fd) == AP_OK) {
        ap_store_unlock(fd);
        return "interrupted";
    }
    return ap_entry_status_name(e->status);
}

static void print_entry_text(ap_store *store, const ap_entry *e)
{
    size_t i;
    char sz[32];
    human(e->total_size, sz, sizeof sz);
    printf("%s  %s  %s  %s  (%zu file%s, %s)\n", T(e->id), status_text(store, e),
           T(e->vendor), T(e->ref), ap_entry_file_count(e),
           ap_entry_file_count(e) == 1 ? "" : "s", sz);
    if (strcmp(status_text(store, e), "interrupted") == 0)
        printf("  interrupted: `apctl pull %s` resumes it\n", T(e->ref));
    if (e->revision)
        printf("  revision %s\n", T(e->revision));
    if (e->error)
        printf("  error: %s\n", T(e->error));
    for (i = 0; i < ap_entry_file_count(e); i++) {
        const ap_entry_file *f = ap_entry_file_at(e, i);
        human(f->size, sz, sizeof sz);
        printf("  %-40s %10s  %s %s %s", T(f->name), sz,
               f->kind ? T(f->kind) : "-", f->format ? T(f->format) : "-",
               f->precision ? T(f->precision) : "-");
        /* from the file header (GGUF, safetensors) when it told */
        if (f->architecture)
            printf(" %s", T(f->architecture));
        if (f->parameters)
            printf(" %llu params", (unsigned long long)f->parameters);
        if (AP_ENTRY_FILE_HAS(f, verification) && f->verification)
        {
            if (strcmp(f->verification, "none") == 0)
                printf(" UNVERIFIED");
            else
                printf(" verified:%s", T(f->verification));
        }
        if (f->path)
            printf("\n    %s\n", T(f->path));
        else /* its own status: pending (a sync), failed, ... */
            printf("\n    (not present: %s)\n", ap_file_status_name(f->status));
    }
}

/* `show --json`, `ls --json`: the entry's own JSON document as the
 * library writes it (no jansson tree, which takes seconds for an entry of
 * 100,000 files), made ASCII, after `sep`.  0 on success. */
static int put_entry_json(const ap_entry *e, const char *sep)
{
    char *js = NULL;
    int rc;
    if (ap_entry_to_json(e, &js) != AP_OK) {
        fprintf(stderr, "apctl: %s: cannot represent the entry as JSON\n", T(e->id));
        return 1;
    }
    fputs(sep, stdout);
    rc = put_json_ascii(stdout, js);
    ap_free(js);
    return rc ? 1 : 0;
}

/* `pull --json`, `show --json`: one entry's document and a newline. */
int print_entry_json(const ap_entry *e)
{
    if (put_entry_json(e, "") != 0)
        return 1;
    fputc('\n', stdout);
    return 0;
}

/* `ls --json`, `pull --json` of several references: a JSON array of the
 * entries' documents, one after the other.  0 on success. */
int print_entries_json(ap_entry *const *list, size_t n)
{
    const char *sep = "\n";
    size_t i;
    int bad = 0;
    fputc('[', stdout);
    for (i = 0; i < n; i++)
        if (put_entry_json(list[i], sep) != 0)
            bad = 1;
        else
            sep = ",\n";
    fputs(n ? "\n]\n" : "]\n", stdout);
    return bad;
}

static int get_entry(ap_provisioner *p, const char *what, ap_entry **e)
{
    int rc = ap_catalog_get(ap_provisioner_catalog(p), what, e);
    if (rc != AP_OK)
        fprintf(stderr, "apctl: %s: %s\n", T(what),
                rc == AP_ENOTFOUND ? "no such entry in the catalog"
                                   : T(ap_catalog_errmsg(ap_provisioner_catalog(p))));
    return rc;
}

/* One operand REF|ID (and an optional second) after the options. */
static void operands(apctl_args *a, const apctl_opt *opts, int *json,
                     const char **one, const char **two, int max)
{
    const char *v;
    int id, n = 0;
    while ((id = apctl_next(a, opts, &v)) >= 0) {
        if (id == 1) {
            *json = 1;
            continue;
        }
        if (n >= max)
            apctl_usage_error(a->cmd, "unexpected argument '%s'", v);
        if (n++ == 0)
            *one = v;
        else
            *two = v;
    }
    if (!*one)
        apctl_usage_error(a->cmd, "which entry? (REF or ID)");
}

static const struct {
    const char *name;
    ap_entry_status status;
} statuses[] = {
    { "pending", AP_ENTRY_PENDING }, { "downloading", AP_ENTRY_DOWNLOADING },
    { "ready", AP_ENTRY_READY }, { "failed", AP_ENTRY_FAILED },
    { "cancelled", AP_ENTRY_CANCELLED },
};

int cmd_ls(int argc, char **argv)
{
    static const apctl_opt opts[] = {
        { "--json", NULL, OPT_NONE, 1 }, { "--status", NULL, OPT_REQ, 2 }, { 0 }
    };
    apctl_args a = { "ls", argc, 0, argv, 0 };
    ap_catalog_filter filter = AP_CATALOG_FILTER_INIT;
    ap_provisioner *p = NULL;
    ap_entry **list = NULL;
    size_t n = 0, i, k;
    const char *v;
    int json = 0, rc, id;
    while ((id = apctl_next(&a, opts, &v)) >= 0) {
        if (id == 1)
            json = 1;
        else if (id == 2) {
            for (k = 0; k < sizeof statuses / sizeof statuses[0]; k++)
                if (strcmp(v, statuses[k].name) == 0)
                    break;
            if (k == sizeof statuses / sizeof statuses[0])
                apctl_usage_error("ls", "--status: '%s' is not one of ready, pending, "
                                  "downloading, failed, cancelled", v);
            filter.status = (int)statuses[k].status;
        } else
            apctl_usage_error("ls", "unexpected argument '%s'", v);
    }
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    rc = ap_catalog_list(ap_provisioner_catalog(p), &filter, &list, &n);
    if (rc != AP_OK) {
        fprintf(stderr, "apctl: %s\n", T(ap_catalog_errmsg(ap_provisioner_catalog(p))));
        ap_provisioner_free(p);
        return apctl_exit_code(rc);
    }
    if (json) {
        if (print_entries_json(list, n) != 0)
            rc = AP_ERROR;
    } else {
        for (i = 0; i < n; i++)
            print_entry_text(ap_provisioner_store(p), list[i]);
    }
    /* Damaged documents are shown, by id and why, never hidden: */
    for (i = 0; i < ap_catalog_warning_count(ap_provisioner_catalog(p)); i++) {
        ap_catalog *cat = ap_provisioner_catalog(p);
        const char *wid = ap_catalog_warning_id(cat, i);
        FILE *f = json ? stderr : stdout;
        fprintf(f, "%s  damaged  %s\n", wid ? T(wid) : "-", T(ap_catalog_warning(cat, i)));
        if (wid)
            fprintf(f, "  `apctl rm %s` removes the document (its blobs go at the next gc)\n",
                    T(wid));
    }
    ap_entry_list_free(list, n);
    ap_provisioner_free(p);
    return apctl_exit_code(rc);
}

int cmd_show(int argc, char **argv)
{
    static const apctl_opt opts[] = { { "--json", NULL, OPT_NONE, 1 }, { 0 } };
    apctl_args a = { "show", argc, 0, argv, 0 };
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    const char *what = NULL, *unused = NULL;
    int json = 0, rc;
    operands(&a, opts, &json, &what, &unused, 1);
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    rc = get_entry(p, what, &e);
    if (rc == AP_OK) {
        if (json)
            rc = print_entry_json(e) ? AP_ERROR : AP_OK;
        else
            print_entry_text(ap_provisioner_store(p), e);
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
    return apctl_exit_code(rc);
}

/* A file that is not in place: still coming (busy), or not there. */
static int not_ready(int status_downloading)
{
    return status_downloading ? AP_EBUSY : AP_ENOTFOUND;
}

int cmd_path(int argc, char **argv)
{
    apctl_args a = { "path", argc, 0, argv, 0 };
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    const ap_entry_file *file;
    const char *what = NULL, *fname = NULL;
    size_t i;
    int rc, found = 0, json = 0;
    operands(&a, NULL, &json, &what, &fname, 2);
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    rc = get_entry(p, what, &e);
    if (rc == AP_OK && !fname && (file = file_named(e, what))) {
        /* REF/FILE: the entry of its repository lists it; that file's path
         * once it is in place, whatever the other files' status */
        if (file->status != AP_FILE_READY || !file->path) {
            fprintf(stderr, "apctl: %s: file is %s, not ready\n", T(what),
                    ap_file_status_name(file->status));
            rc = not_ready(file->status == AP_FILE_DOWNLOADING);
        } else
            printf("%s\n", T(file->path));
        ap_entry_free(e);
        ap_provisioner_free(p);
        return apctl_exit_code(rc);
    }
    if (rc == AP_OK && e->status != AP_ENTRY_READY) {
        fprintf(stderr, "apctl: %s: entry is %s, not ready\n", T(what),
                ap_entry_status_name(e->status));
        rc = not_ready(e->status == AP_ENTRY_DOWNLOADING);
    }
    for (i = 0; rc == AP_OK && i < ap_entry_file_count(e); i++) {
        const ap_entry_file *f = ap_entry_file_at(e, i);
        if (fname && strcmp(f->name, fname) != 0)
            continue;
        printf("%s\n", T(f->path));
        found = 1;
    }
    if (rc == AP_OK && !found) {
        fprintf(stderr, "apctl: %s: no file '%s'\n", T(what), T(fname ? fname : ""));
        rc = AP_ENOTFOUND;
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
    return apctl_exit_code(rc);
}

int cmd_rm(int argc, char **argv)
{
    apctl_args a = { "rm", argc, 0, argv, 0 };
    ap_provisioner *p = NULL;
    ap_catalog *cat;
    ap_entry *e = NULL;
    const char *what = NULL, *unused = NULL;
    int rc, json = 0;
    operands(&a, NULL, &json, &what, &unused, 1);
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    cat = ap_provisioner_catalog(p);
    rc = ap_catalog_get(cat, what, &e);
    if (rc == AP_ECORRUPT) {
        /* a damaged document: removed by its id (its blobs go at gc) */
        rc = ap_catalog_remove(cat, what);
        if (rc != AP_OK)
            fprintf(stderr, "apctl: %s: %s\n", T(what), T(ap_catalog_errmsg(cat)));
        else
            printf("removed damaged catalog document %s\n", T(what));
    } else if (rc != AP_OK)
        fprintf(stderr, "apctl: %s: %s\n", T(what),
                rc == AP_ENOTFOUND ? "no such entry in the catalog"
                                   : T(ap_catalog_errmsg(cat)));
    else {
        rc = ap_catalog_remove(cat, e->id);
        if (rc != AP_OK)
            fprintf(stderr, "apctl: %s: %s\n", T(what), T(ap_catalog_errmsg(cat)));
        else
            printf("removed %s (%s)\n", T(e->id), T(e->ref));
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
    return apctl_exit_code(rc);
}
