/* apctl — pull and sync: options, one reference, the result.
 * SPDX-License-Identifier: MIT */
#include "apctl.h"

#include <stdlib.h>
#include <string.h>

#define MAX_GLOBS 64
#define MAX_VOPTS 64

/* Vendor options of this run (-o KEY=VALUE, --hf-cache=DIR): "key",
 * "value" pairs, NULL-terminated, as ap_provision_options.vendor_options. */
static char *g_vopts[2 * MAX_VOPTS + 1];
static size_t g_nvopts;

static void vopt_add(const char *cmd, const char *key, size_t keylen, const char *value)
{
    char *k, *v;
    if (g_nvopts == MAX_VOPTS)
        apctl_usage_error(cmd, "more than %d -o options", MAX_VOPTS);
    k = strndup(key, keylen);
    v = strdup(value);
    if (!k || !v) {
        fprintf(stderr, "apctl: out of memory\n");
        exit(APCTL_EXIT_FAILURE);
    }
    g_vopts[2 * g_nvopts] = k;
    g_vopts[2 * g_nvopts + 1] = v;
    g_nvopts++;
    g_vopts[2 * g_nvopts] = NULL;
}

enum {
    O_JSON = 1, O_QUIET, O_EVENTS, O_FORCE, O_REFRESH, O_REQVER, O_MAXFILES,
    O_DROP, O_INCLUDE, O_EXCLUDE, O_CONN, O_MINRATEWIN, O_MINRATE, O_MAXSIZE,
    O_CACERT, O_MAXRATE, O_PERHOST, O_CHUNK, O_HEARTBEAT, O_STALL, O_ATTEMPTS,
    O_OLLAMA, O_HFCACHE, O_OPT, O_JOBS, O_MIRROR
};

static const apctl_opt pull_opts[] = {
    { "--json", NULL, OPT_NONE, O_JSON },
    { "--quiet", "-q", OPT_NONE, O_QUIET },
    { "--events", NULL, OPT_NONE, O_EVENTS },
    { "--force", NULL, OPT_NONE, O_FORCE },
    { "--refresh", NULL, OPT_NONE, O_REFRESH },
    { "--require-verified", NULL, OPT_NONE, O_REQVER },
    { "--max-files", NULL, OPT_REQ, O_MAXFILES },
    { "--drop-partial", NULL, OPT_NONE, O_DROP },
    { "--include", NULL, OPT_REQ, O_INCLUDE },
    { "--exclude", NULL, OPT_REQ, O_EXCLUDE },
    { "--connections", NULL, OPT_REQ, O_CONN },
    { "--min-rate-window", NULL, OPT_REQ, O_MINRATEWIN },
    { "--min-rate", NULL, OPT_REQ, O_MINRATE },
    { "--max-size", NULL, OPT_REQ, O_MAXSIZE },
    { "--cacert", NULL, OPT_REQ, O_CACERT },
    { "--max-rate", NULL, OPT_REQ, O_MAXRATE },
    { "--per-host", NULL, OPT_REQ, O_PERHOST },
    { "--chunk-size", NULL, OPT_REQ, O_CHUNK },
    { "--heartbeat", NULL, OPT_REQ, O_HEARTBEAT },
    { "--stall-timeout", NULL, OPT_REQ, O_STALL },
    { "--max-attempts", NULL, OPT_REQ, O_ATTEMPTS },
    { "--ollama-models", NULL, OPT_OPTIONAL, O_OLLAMA },
    { "--hf-cache", NULL, OPT_REQ, O_HFCACHE },
    { "--option", "-o", OPT_REQ, O_OPT },
    { "--jobs", NULL, OPT_REQ, O_JOBS },
    { "--mirror", NULL, OPT_REQ, O_MIRROR },
    { NULL, NULL, 0, 0 }
};

typedef struct pull_args {
    ap_provision_options o;
    const char *include[MAX_GLOBS + 1], *exclude[MAX_GLOBS + 1];
    const char *mirror[MAX_GLOBS + 1];
    size_t ni, ne, nm;
    char **refs;
    size_t nrefs;
    unsigned njobs;
    int json, quiet, events;
} pull_args;

static unsigned small(const char *cmd, const char *opt, const char *v)
{
    uint64_t n = apctl_num(cmd, opt, v, 0);
    if (n > 0x7fffffffu)
        apctl_usage_error(cmd, "%s %s: too large", opt, v);
    return (unsigned)n;
}

static void parse(pull_args *pa, const char *cmd, int argc, char **argv)
{
    apctl_args a = { cmd, argc, 0, argv, 0 };
    ap_provision_options *o = &pa->o;
    const char *v, *eq;
    int id;
    while ((id = apctl_next(&a, pull_opts, &v)) >= 0) {
        switch (id) {
        case 0:
            if (!(pa->refs = realloc(pa->refs, (pa->nrefs + 1) * sizeof *pa->refs))) {
                fprintf(stderr, "apctl: out of memory\n");
                exit(APCTL_EXIT_FAILURE);
            }
            pa->refs[pa->nrefs++] = (char *)v;
            break;
        case O_JSON: pa->json = 1; break;
        case O_QUIET: pa->quiet = 1; break;
        case O_EVENTS: pa->events = 1; break;
        case O_FORCE: o->flags |= AP_PROVISION_FORCE; break;
        case O_REFRESH: o->flags |= AP_PROVISION_REFRESH; break;
        case O_REQVER: o->flags |= AP_PROVISION_REQUIRE_VERIFIED; break;
        case O_DROP: o->flags |= AP_PROVISION_DROP_PARTIAL; break;
        case O_MAXFILES: o->max_files = (size_t)apctl_num(cmd, "--max-files", v, 0); break;
        case O_INCLUDE:
        case O_EXCLUDE:
            if ((id == O_INCLUDE ? pa->ni : pa->ne) == MAX_GLOBS)
                apctl_usage_error(cmd, "more than %d globs", MAX_GLOBS);
            if (id == O_INCLUDE)
                pa->include[pa->ni++] = v;
            else
                pa->exclude[pa->ne++] = v;
            break;
        case O_MIRROR:  /* tried in order before the origin (docs/fleet.md) */
            if (pa->nm == MAX_GLOBS)
                apctl_usage_error(cmd, "more than %d mirrors", MAX_GLOBS);
            pa->mirror[pa->nm++] = v;
            break;
        case O_CONN:
            o->max_connections = o->connections_per_file = small(cmd, "--connections", v);
            break;
        case O_MINRATEWIN: o->min_rate_window_ms = small(cmd, "--min-rate-window", v); break;
        case O_MINRATE: o->min_rate = apctl_num(cmd, "--min-rate", v, 1); break;
        case O_MAXSIZE: o->max_unknown_size = apctl_num(cmd, "--max-size", v, 1); break;
        case O_CACERT: o->ca_file = v; break;
        case O_MAXRATE: o->max_bytes_per_sec = apctl_num(cmd, "--max-rate", v, 1); break;
        case O_PERHOST: o->max_per_host = small(cmd, "--per-host", v); break;
        case O_CHUNK: o->chunk_size = apctl_num(cmd, "--chunk-size", v, 1); break;
        case O_HEARTBEAT: o->heartbeat_ms = small(cmd, "--heartbeat", v); break;
        case O_STALL: o->stall_timeout_ms = small(cmd, "--stall-timeout", v); break;
        case O_ATTEMPTS: o->max_attempts = small(cmd, "--max-attempts", v); break;
        case O_JOBS: pa->njobs = small(cmd, "--jobs", v); break;
        case O_OLLAMA: /* -o ollama_models=DIR; alone: the default Ollama store */
            vopt_add(cmd, "ollama_models", 13, v ? v : "");
            break;
        case O_HFCACHE: /* a convenience for -o hf_cache_publish=DIR */
            vopt_add(cmd, "hf_cache_publish", 16, v);
            break;
        case O_OPT:
            if (!(eq = strchr(v, '=')) || eq == v)
                apctl_usage_error(cmd, "-o wants KEY=VALUE, not '%s'", v);
            if (eq - v >= 256)
                apctl_usage_error(cmd, "-o key too long");
            vopt_add(cmd, v, (size_t)(eq - v), eq + 1);
            break;
        }
    }
    if (!pa->nrefs)
        apctl_usage_error(cmd, "which reference? (e.g. `apctl %s hf:org/repo`)", cmd);
    if (pa->nrefs > 1 && !strcmp(cmd, "sync"))
        apctl_usage_error(cmd, "one reference at a time");
}

/* Where the files of a pull are, on stdout (the human form). */
static void print_result(pull_ui *ui, const char *ref, const ap_entry *e)
{
    size_t k;
    if (!pull_ui_moved(ui, 0) && e->fetched_bytes == 0 && e->status == AP_ENTRY_READY)
        printf("%s: already present\n", T(ref));
    for (k = 0; k < ap_entry_file_count(e); k++) {
        const ap_entry_file *f = ap_entry_file_at(e, k);
        if (f->present && AP_ENTRY_FILE_HAS(f, verification) && f->verification &&
            strcmp(f->verification, "none") == 0)
            fprintf(stderr, "apctl: %s: '%s' is unverified (the vendor gave no "
                    "digest or signature; --require-verified refuses such "
                    "files)\n", T(ref), T(f->name));
    }
    if (file_named(e, ref))
        print_pulled_paths(e, ref); /* one file of its repository's entry */
    else
        for (k = 0; k < ap_entry_file_count(e); k++)
            if (ap_entry_file_at(e, k)->present)
                printf("%s\n", T(ap_entry_file_at(e, k)->path));
            else
                printf("(recorded, not fetched) %s %llu bytes\n",
                       T(ap_entry_file_at(e, k)->name),
                       (unsigned long long)ap_entry_file_at(e, k)->size);
}

static int pull_one(const char *ref, ap_provision_options *o, pull_ui *ui, int json)
{
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    double t0;
    int rc;
    if (open_prov(&p) != AP_OK)
        return APCTL_EXIT_FAILURE;
    if (signals_catch() != 0) {
        ap_provisioner_free(p);
        return APCTL_EXIT_FAILURE;
    }
    o->cancel = g_cancel;
    o->on_event = pull_ui_event;
    o->event_user = ui;
    t0 = mono_secs();
    rc = ap_provision(p, ref, o, &e);
    pull_ui_clear(ui);
    if (rc == AP_OK) {
        if (pull_ui_moved(ui, 0) && !ui->events)
            pull_ui_summary(ui, ref, ap_entry_file_count(e), mono_secs() - t0);
        if (json)
            rc = print_entry_json(e) ? AP_ERROR : AP_OK;
        else if (!ui->quiet)
            print_result(ui, ref, e);
    } else
        pull_failed(rc, ap_provisioner_errmsg(p));
    ap_entry_free(e);
    ap_provisioner_free(p);
    signals_release();
    return apctl_exit_code(rc);
}

int cmd_pull(int argc, char **argv, unsigned flags)
{
    pull_args pa;
    pull_ui ui;
    int rc;
    memset(&pa, 0, sizeof pa);
    ap_provision_options_init(&pa.o);
    pa.njobs = 4;
    parse(&pa, flags & AP_PROVISION_METADATA_ONLY ? "sync" : "pull", argc, argv);
    pa.o.flags |= flags;
    if (g_nvopts)
        pa.o.vendor_options = (const char *const *)g_vopts;
    if (pa.ni)
        pa.o.include = pa.include;
    if (pa.ne)
        pa.o.exclude = pa.exclude;
    if (pa.nm)
        pa.o.mirrors = pa.mirror;
    pull_ui_init(&ui, pa.quiet, pa.events);
    if (pa.nrefs > 1)
        rc = pull_many(pa.refs, pa.nrefs, &pa.o, pa.njobs, pa.json, &ui);
    else
        rc = pull_one(pa.refs[0], &pa.o, &ui, pa.json);
    pull_ui_done(&ui);
    free(pa.refs);
    while (g_nvopts--) {
        free(g_vopts[2 * g_nvopts]);
        free(g_vopts[2 * g_nvopts + 1]);
    }
    return rc;
}
