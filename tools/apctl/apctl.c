/* apctl — command line front end of libartifactprov.
 * SPDX-License-Identifier: MIT
 *
 *   apctl pull [--json] [--include GLOB]... [--exclude GLOB]... REF
 *   apctl ls [--json] | show REF|ID [--json] | path REF|ID [FILE]
 *   apctl rm REF|ID | verify [--remove] | gc | vendors | version
 *
 * Environment: AP_HOME (store root), AP_VENDOR_PATH, HF_ENDPOINT, HF_TOKEN.
 * Exit status: 0 success, 1 failure, 2 usage, 130 cancelled (Ctrl-C). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <artifactprov.h>
#include <artifactprov/sys/store.h> /* ap_store_trylock: "interrupted" */

#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GLOBS 64

static ap_cancel_token *g_cancel;

/* ---- output ------------------------------------------------------------
 * Text output is terminal-safe: every string that did not come from apctl
 * itself (messages, references, file names, revisions, paths: any of them
 * may carry a server's bytes) goes through T(), which escapes C0 and C1
 * controls, DEL and invalid UTF-8 visibly (\x1b, \n, \t), so no escape
 * sequence from a server reaches the terminal.  Machine-readable output
 * (--json, --events) is built and written by jansson only, never printf. */

#define T_SLOTS 8
#define T_SLOT_SIZE 8192

/* Length of the valid, non-C1 UTF-8 sequence at s, 0 when invalid. */
static size_t utf8_ok(const unsigned char *s)
{
    unsigned cp, need, i;
    if (s[0] < 0xC2)
        return 0;
    if (s[0] < 0xE0)
        cp = s[0] & 0x1Fu, need = 1;
    else if (s[0] < 0xF0)
        cp = s[0] & 0x0Fu, need = 2;
    else if (s[0] < 0xF5)
        cp = s[0] & 0x07u, need = 3;
    else
        return 0;
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
        (cp >= 0x80 && cp <= 0x9F))
        return 0;
    return need + 1;
}

/* Terminal-safe copy of s, valid until T() is called T_SLOTS more times in
 * this thread (event callbacks run on job threads).  NULL → "".  Longer
 * results are cut, marked with "...". */
static const char *T(const char *s)
{
    static _Thread_local char slot[T_SLOTS][T_SLOT_SIZE];
    static _Thread_local unsigned next;
    char *out = slot[next++ % T_SLOTS];
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t o = 0;
    while (*p) {
        char esc[8];
        size_t n = 0, k;
        if (*p >= 0x20 && *p < 0x7F) {
            esc[0] = (char)*p, n = 1, k = 1;
        } else if (*p >= 0x80 && (k = utf8_ok(p)) > 0) {
            memcpy(esc, p, k), n = k;
        } else {
            k = 1;
            n = (size_t)snprintf(esc, sizeof esc, *p == '\n' ? "\\n"
                                 : *p == '\t' ? "\\t" : "\\x%02x", *p);
        }
        if (o + n + 4 > T_SLOT_SIZE) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, esc, n);
        o += n;
        p += k;
    }
    out[o] = '\0';
    return out;
}

/* Write j (stolen) to f as JSON with a newline: compact for event lines,
 * indented otherwise.  0 on success. */
static int put_json(FILE *f, json_t *j, int compact)
{
    int rc;
    if (!j)
        return -1;
    rc = json_dumpf(j, f, (compact ? JSON_COMPACT : JSON_INDENT(2)) |
                    JSON_ENSURE_ASCII);
    json_decref(j);
    if (rc == 0)
        fputc('\n', f);
    return rc;
}

/* An entry as a jansson value (the library's own JSON document). */
static json_t *entry_value(const ap_entry *e)
{
    char *js = NULL;
    json_t *j = NULL;
    if (ap_entry_to_json(e, &js) == AP_OK)
        j = json_loads(js, JSON_REJECT_DUPLICATES, NULL);
    ap_free(js);
    return j;
}

static void on_signal(int sig)
{
    (void)sig;
    ap_cancel(g_cancel); /* async-signal-safe */
}

/* Vendor options of this run (-o KEY=VALUE, --hf-cache=DIR): "key",
 * "value" pairs, NULL-terminated, as ap_provision_options.vendor_options. */
#define MAX_VOPTS 64
static char *g_vopts[2 * MAX_VOPTS + 1];
static size_t g_nvopts;

static int vopt_add(const char *key, const char *value)
{
    char *k, *v;
    if (g_nvopts == MAX_VOPTS) {
        fprintf(stderr, "apctl: more than %d -o options\n", MAX_VOPTS);
        return -1;
    }
    k = strdup(key);
    v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    g_vopts[2 * g_nvopts] = k;
    g_vopts[2 * g_nvopts + 1] = v;
    g_nvopts++;
    g_vopts[2 * g_nvopts] = NULL;
    return 0;
}

/* "KEY=VALUE" with eq pointing at the '='. */
static int vopt_add_kv(const char *kv, const char *eq)
{
    char key[256];
    size_t n = (size_t)(eq - kv);
    if (n >= sizeof key) {
        fprintf(stderr, "apctl: -o key too long\n");
        return -1;
    }
    memcpy(key, kv, n);
    key[n] = '\0';
    return vopt_add(key, eq + 1);
}

/* The reference grammar of the vendors that load ($AP_VENDOR_PATH, the
 * install vendordir): each vendor's usage line. */
static void print_references(FILE *f)
{
    ap_vendor_set *set = NULL;
    size_t i, n = 0;
    if (ap_global_init() == AP_OK && ap_vendor_set_new(&set) == AP_OK) {
        ap_vendor_set_load_path(set, NULL);
        n = ap_vendor_set_count(set);
    }
    fputs("references (vendors loaded):\n", f);
    for (i = 0; i < n; i++) {
        ap_vendor_info vi;
        if (ap_vendor_set_info(set, i, &vi) != AP_OK)
            continue;
        if (vi.usage[0])
            fprintf(f, "  %s\n", vi.usage);
        else
            fprintf(f, "  %s:...  (vendor %s)\n", vi.schemes[0], vi.name);
    }
    if (!n)
        fputs("  none: no vendor loaded (set AP_VENDOR_PATH)\n", f);
    ap_vendor_set_free(set);
}

static void usage(FILE *f)
{
    fputs("usage: apctl [--link] COMMAND [OPTIONS] [ARGS]\n"
          "  --link                import from foreign caches (HF cache, Ollama,\n"
          "                        local copies) by hard link: trusts that cache,\n"
          "                        whose in-place writes then change the store\n"
          "commands:\n"
          "  pull [--json] [--quiet] [--events] [--force] [--include GLOB]...\n"
          "       [--jobs N (several REFs at once)]\n"
          "       [--exclude GLOB]... [--connections N] [--chunk-size BYTES]\n"
          "       [--heartbeat MS] [--stall-timeout MS] [--drop-partial]\n"
          "       [--max-rate BYTES_PER_S] [--per-host N] [--max-attempts N]\n"
           "       [--min-rate BYTES_PER_S] [--min-rate-window MS]\n"
           "       [--max-size BYTES (body of unknown length)] [--cacert FILE]\n"
           "       [--hf-cache=DIR] [--refresh] [--max-files N]\n"
           "       [--ollama-models[=DIR]] [--require-verified]\n"
           "       [-o KEY=VALUE]... REF [REF...]\n"
           "                        provision REF(s), print where they are;\n"
           "                        -o: an option for the vendor (repeatable);\n"
           "                        -o env:NAME=VALUE overrides the variable NAME\n"
           "                        for this request (e.g. env:HF_TOKEN=...);\n"
           "                        --hf-cache=DIR is -o hf_cache_publish=DIR\n"
           "                        --ollama-models[=DIR] is -o ollama_models=DIR\n"
           "                        (no DIR: $OLLAMA_MODELS or ~/.ollama/models)\n"
           "                        --refresh: fail instead of using a ready entry\n"
           "                        when the origin cannot be reached;\n"
           "                        --require-verified: refuse files the vendor\n"
           "                        gives no digest or signature for\n"
          "  sync [--json] REF     record the file list, fetch only small metadata\n"
          "  scan [VENDOR[=DIR]]... [--hf-cache[=DIR]] [--ollama[=DIR]]\n"
          "                        import what foreign caches hold (no download),\n"
          "                        through each vendor's scan (none named: all)\n"
          "  ls [--json]           list catalog entries\n"
          "  show [--json] REF|ID  show one entry\n"
          "  path REF|ID [FILE]    print the local path of a file\n"
          "  rm REF|ID             remove an entry and blobs no one else uses\n"
          "  verify [--remove]     re-hash every blob\n"
          "  gc                    remove unreferenced blobs and stale staging\n"
          "  vendors               list loaded vendors\n"
          "  version               print versions\n"
          "environment: AP_HOME, AP_VENDOR_PATH; each vendor reads its own\n"
          "             (e.g. HF_ENDPOINT, HF_TOKEN), overridable with -o env:NAME=V\n", f);
    print_references(f);
}

static void human(uint64_t n, char *buf, size_t sz)
{
    static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)n;
    int i = 0;
    while (v >= 1024.0 && i < 4) {
        v /= 1024.0;
        i++;
    }
    snprintf(buf, sz, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

typedef struct pull_ui {
    int tty;
    int events;   /* print every event as a JSON line on stderr */
    int quiet;
    int drew;
} pull_ui;

/* An event's level (a library older than the member: the kind's). */
static ap_log_level ev_level(const ap_event *ev)
{
    if (AP_EVENT_HAS(ev, level))
        return ev->level;
    return ev->kind == AP_EVENT_ERROR ? AP_LOG_ERROR
         : ev->kind == AP_EVENT_RETRY ? AP_LOG_WARN : AP_LOG_INFO;
}

static int on_event(const ap_event *ev, void *user)
{
    pull_ui *ui = user;
    const ap_progress *p = ev->progress;
    if (ui->events) {
        /* one JSON format for events, apd's too (ap_event_to_json) */
        char *line = NULL;
        flockfile(stderr);
        if (ap_event_to_json(ev, &line) == AP_OK)
            fprintf(stderr, "%s\n", line);
        else
            fputs("{\"event\":\"unrepresentable\"}\n", stderr);
        funlockfile(stderr);
        ap_free(line);
    }
    if (ui->tty && !ui->quiet &&
        (ev->kind == AP_EVENT_PROGRESS || ev->kind == AP_EVENT_HEARTBEAT ||
         ev->kind == AP_EVENT_FILE_DONE)) {
        char done[32], total[32], rate[32], eta[32], bar[31];
        int fill = p->percent >= 0 ? (int)(p->percent * 30 / 100) : 0, i;
        for (i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        human(p->bytes_done, done, sizeof done);
        human(p->bytes_total, total, sizeof total);
        human((uint64_t)p->rate, rate, sizeof rate);
        if (p->eta >= 0)
            snprintf(eta, sizeof eta, "%.0fs", p->eta);
        else
            snprintf(eta, sizeof eta, "--");
        fprintf(stderr, "\r\033[K[%s] %5.1f%% %s / %s  %s/s  ETA %s%s%s", bar,
                p->percent >= 0 ? p->percent : 0.0, done, total, rate, eta,
                ev->kind == AP_EVENT_HEARTBEAT && p->idle >= 2 ? "  " : "",
                ev->kind == AP_EVENT_HEARTBEAT && p->idle >= 2 && ev->message
                    ? T(ev->message) : "");
        ui->drew = 1;
    }
    if (ev->kind == AP_EVENT_RETRY && !ui->quiet && ev->message)
        fprintf(stderr, "%sretry: %s\n", ui->drew ? "\n" : "", T(ev->message));
    /* log events, by their own level: errors and warnings (the vendor's,
     * or what the library worked around) say so; notes are printed as
     * they are; debug detail is not shown */
    if (ev->kind == AP_EVENT_LOG && !ui->quiet && ev->message &&
        ev_level(ev) <= AP_LOG_INFO)
        fprintf(stderr, "%s%s%s%s%s\n", ui->drew ? "\n" : "",
                ev_level(ev) == AP_LOG_ERROR  ? "error: "
                : ev_level(ev) == AP_LOG_WARN ? "warning: " : "",
                ev->file ? T(ev->file) : "", ev->file ? ": " : "", T(ev->message));
    return 0;
}

/* Global options (before the command). */
static unsigned g_prov_flags;

static int open_prov(ap_provisioner **p)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    int rc;
    po.flags = g_prov_flags;
    rc = ap_provisioner_new(p, &po);
    if (rc != AP_OK) /* no handle: the detail is the thread's last error */
        fprintf(stderr, "apctl: %s\n", T(ap_error_last()->message));
    return rc;
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

static int print_entry_json(const ap_entry *e)
{
    if (put_json(stdout, entry_value(e), 0) != 0) {
        fprintf(stderr, "apctl: %s: cannot represent the entry as JSON\n", T(e->id));
        return 1;
    }
    return 0;
}

static unsigned long long num_arg(const char *s, const char *opt)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s ? s : "", &end, 10);
    if (!s || errno || *end || end == s) {
        fprintf(stderr, "apctl: %s needs a number\n", T(opt));
        exit(2);
    }
    return v;
}

/* Several references: run them as jobs of one registry, `njobs` at a time,
 * and report each in the order given.  Ctrl-C cancels them all. */
/* The file of `e` that `what` names as "REF/FILE" (ap_catalog_get found the
 * entry so), or NULL when `what` names the entry itself. */
static const ap_entry_file *file_named(const ap_entry *e, const char *what)
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
static void print_pulled_paths(const ap_entry *e, const char *ref)
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

static int pull_many(char **refs, size_t n, const ap_provision_options *o,
                     unsigned njobs, int json, int quiet)
{
    ap_jobs_options jo = AP_JOBS_OPTIONS_INIT;
    ap_jobs *jobs = NULL;
    ap_job_id *ids;
    json_t *arr = NULL;
    size_t i, failed = 0;
    int rc, cancelled = 0;
    struct sigaction sa;

    jo.max_running = njobs ? njobs : 1;
    jo.max_queued = (unsigned)n;
    jo.max_finished = (unsigned)n;
    ids = calloc(n, sizeof *ids);
    g_cancel = ap_cancel_token_new();
    if (!ids || !g_cancel) {
        free(ids);
        ap_cancel_token_free(g_cancel);
        return 1;
    }
    rc = ap_jobs_new(&jobs, NULL, &jo);
    if (rc != AP_OK) {
        fprintf(stderr, "apctl: cannot start jobs: %s\n", T(ap_error_last()->message));
        free(ids);
        ap_cancel_token_free(g_cancel);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (i = 0; i < n; i++)
        if (ap_jobs_submit(jobs, refs[i], o, &ids[i]) != AP_OK) {
            fprintf(stderr, "apctl: %s: cannot submit: %s\n", T(refs[i]),
                    T(ap_error_last()->message));
            ids[i] = 0;
            failed++;
        }
    if (json && !(arr = json_array())) {
        ap_jobs_free(jobs);
        free(ids);
        ap_cancel_token_free(g_cancel);
        return 1;
    }
    for (i = 0; i < n; i++) {
        ap_job_info info;
        if (!ids[i])
            continue;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        /* wait in slices, so that Ctrl-C (a flag set by the handler) can
         * cancel every job at once */
        while ((rc = ap_jobs_wait(jobs, ids[i], 100, &info)) == AP_ETIMEDOUT) {
            ap_job_info_clear(&info);
            if (ap_cancel_is_set(g_cancel) && !cancelled) {
                cancelled = 1;
                ap_jobs_shutdown(jobs);
            }
        }
        if (rc == AP_OK && info.state == AP_JOB_DONE) {
            ap_entry *e = NULL;
            if (ap_jobs_entry(jobs, ids[i], &e) == AP_OK) {
                if (json) {
                    if (json_array_append_new(arr, entry_value(e)) != 0) {
                        fprintf(stderr, "apctl: %s: cannot represent the entry "
                                "as JSON: %s\n", T(refs[i]), T(ap_error_last()->message));
                        failed++;
                    }
                } else if (!quiet)
                    print_pulled_paths(e, refs[i]);
                ap_entry_free(e);
            }
        } else {
            failed++;
            if (info.status == AP_ECANCELLED)
                cancelled = 1;
            /* a wait that failed has its detail in the thread's last error */
            fprintf(stderr, "apctl: %s\n", T(rc != AP_OK ? ap_error_last()->message
                                            : info.message ? info.message
                                                           : ap_strerror(info.status)));
        }
        ap_job_info_clear(&info);
    }
    if (json)
        put_json(stdout, arr, 0);
    ap_jobs_free(jobs);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    ap_cancel_token_free(g_cancel);
    g_cancel = NULL;
    free(ids);
    if (cancelled)
        return 130;
    return failed ? 1 : 0;
}

static int cmd_pull(int argc, char **argv, unsigned flags)
{
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    const char *include[MAX_GLOBS + 1] = { 0 }, *exclude[MAX_GLOBS + 1] = { 0 };
    size_t ni = 0, ne = 0;
    const char *ref = NULL;
    char **refs = NULL;
    size_t nrefs = 0;
    unsigned njobs = 4;
    int json = 0, i, rc;
    pull_ui ui = { isatty(2), 0, 0, 0 };
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    struct sigaction sa;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = strchr(a, '=');
#define OPTVAL(name) (val && strncmp(a, name "=", sizeof name) == 0 ? val + 1 \
                      : (strcmp(a, name) == 0 ? argv[++i] : NULL))
        if (strcmp(a, "--json") == 0)
            json = 1;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
            ui.quiet = 1;
        else if (strcmp(a, "--events") == 0)
            ui.events = 1;
        else if (strcmp(a, "--force") == 0)
            o.flags |= AP_PROVISION_FORCE;
        else if (strcmp(a, "--refresh") == 0)
            o.flags |= AP_PROVISION_REFRESH;
        else if (strcmp(a, "--require-verified") == 0)
            o.flags |= AP_PROVISION_REQUIRE_VERIFIED;
        else if (strncmp(a, "--max-files", 11) == 0 && (!a[11] || a[11] == '='))
            o.max_files = (size_t)num_arg(OPTVAL("--max-files"), "--max-files");
        else if (strcmp(a, "--drop-partial") == 0)
            o.flags |= AP_PROVISION_DROP_PARTIAL;
        else if (strncmp(a, "--include", 9) == 0 && (!a[9] || a[9] == '=')) {
            const char *v = OPTVAL("--include");
            if (!v || ni == MAX_GLOBS) { usage(stderr); return 2; }
            include[ni++] = v;
        } else if (strncmp(a, "--mirror", 8) == 0 && (!a[8] || a[8] == '=')) {
            /* repeatable, tried in order before the origin (docs/fleet.md) */
            static const char *mirrors[MAX_GLOBS + 1];
            static size_t nm;
            const char *v = OPTVAL("--mirror");
            if (!v || nm == MAX_GLOBS) { usage(stderr); return 2; }
            mirrors[nm++] = v;
            o.mirrors = mirrors;
        } else if (strncmp(a, "--exclude", 9) == 0 && (!a[9] || a[9] == '=')) {
            const char *v = OPTVAL("--exclude");
            if (!v || ne == MAX_GLOBS) { usage(stderr); return 2; }
            exclude[ne++] = v;
        } else if (strncmp(a, "--connections", 13) == 0)
            o.max_connections = o.connections_per_file =
                (unsigned)num_arg(OPTVAL("--connections"), "--connections");
        else if (strncmp(a, "--min-rate-window", 17) == 0)
            o.min_rate_window_ms = (unsigned)num_arg(OPTVAL("--min-rate-window"),
                                                     "--min-rate-window");
        else if (strncmp(a, "--min-rate", 10) == 0)
            o.min_rate = num_arg(OPTVAL("--min-rate"), "--min-rate");
        else if (strncmp(a, "--max-size", 10) == 0)
            o.max_unknown_size = num_arg(OPTVAL("--max-size"), "--max-size");
        else if (strncmp(a, "--cacert", 8) == 0) {
            o.ca_file = OPTVAL("--cacert");
            if (!o.ca_file) { usage(stderr); return 2; }
        } else if (strncmp(a, "--max-rate", 10) == 0)
            o.max_bytes_per_sec = num_arg(OPTVAL("--max-rate"), "--max-rate");
        else if (strncmp(a, "--per-host", 10) == 0)
            o.max_per_host = (unsigned)num_arg(OPTVAL("--per-host"), "--per-host");
        else if (strncmp(a, "--chunk-size", 12) == 0)
            o.chunk_size = num_arg(OPTVAL("--chunk-size"), "--chunk-size");
        else if (strncmp(a, "--heartbeat", 11) == 0)
            o.heartbeat_ms = (unsigned)num_arg(OPTVAL("--heartbeat"), "--heartbeat");
        else if (strncmp(a, "--stall-timeout", 15) == 0)
            o.stall_timeout_ms = (unsigned)num_arg(OPTVAL("--stall-timeout"), "--stall-timeout");
        else if (strncmp(a, "--max-attempts", 14) == 0)
            o.max_attempts = (unsigned)num_arg(OPTVAL("--max-attempts"), "--max-attempts");
        else if (strncmp(a, "--ollama-models", 15) == 0 && (!a[15] || a[15] == '=')) {
            /* -o ollama_models=DIR; alone: the default Ollama store */
            if (vopt_add("ollama_models", a[15] == '=' ? a + 16 : "") != 0) {
                usage(stderr);
                return 2;
            }
        } else if (strncmp(a, "--hf-cache", 10) == 0) {
            /* a convenience for -o hf_cache_publish=DIR (the vendor's option) */
            const char *v = OPTVAL("--hf-cache");
            if (!v || vopt_add("hf_cache_publish", v) != 0) { usage(stderr); return 2; }
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--option") == 0 ||
                   (strncmp(a, "-o", 2) == 0 && a[2])) {
            const char *kv = a[2] && a[1] == 'o' ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            const char *eq = kv ? strchr(kv, '=') : NULL;
            if (!eq || eq == kv) {
                fprintf(stderr, "apctl: -o wants KEY=VALUE\n");
                free(refs);
                return 2;
            }
            if (vopt_add_kv(kv, eq) != 0) { usage(stderr); free(refs); return 2; }
        } else if (strncmp(a, "--jobs", 6) == 0) {
            njobs = (unsigned)num_arg(OPTVAL("--jobs"), "--jobs");
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "apctl pull: unknown option %s\n", T(a));
            free(refs);
            return 2;
        } else {
            char **g = realloc(refs, (nrefs + 1) * sizeof *refs);
            if (!g) {
                free(refs);
                return 1;
            }
            refs = g;
            refs[nrefs++] = argv[i];
        }
#undef OPTVAL
    }
    if (!nrefs) {
        usage(stderr);
        return 2;
    }
    ref = refs[0];
    o.flags |= flags;
    if (g_nvopts)
        o.vendor_options = (const char *const *)g_vopts;
    if (ni)
        o.include = include;
    if (ne)
        o.exclude = exclude;
    if (nrefs > 1) {
        rc = pull_many(refs, nrefs, &o, njobs, json, ui.quiet);
        free(refs);
        return rc;
    }
    free(refs);
    if (open_prov(&p) != AP_OK)
        return 1;
    g_cancel = ap_cancel_token_new();
    if (!g_cancel) {
        ap_provisioner_free(p);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.cancel = g_cancel;
    o.on_event = on_event;
    o.event_user = &ui;
    rc = ap_provision(p, ref, &o, &e);
    if (ui.drew)
        fputs("\r\033[K", stderr);
    if (rc == AP_OK) {
        if (json)
            print_entry_json(e);
        else if (!ui.quiet) {
            size_t k;
            if (e->fetched_bytes == 0 && e->status == AP_ENTRY_READY)
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
    } else {
        fprintf(stderr, "apctl: %s\n", T(ap_provisioner_errmsg(p)));
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    ap_cancel_token_free(g_cancel);
    g_cancel = NULL;
    if (rc == AP_ECANCELLED)
        return 130;
    return rc == AP_OK ? 0 : 1;
}

/* The warnings of the scan just run: what was skipped, and why. */
static void print_scan_warnings(const ap_provisioner *p)
{
    size_t i, n = ap_provisioner_warning_count(p);
    for (i = 0; i < n; i++)
        fprintf(stderr, "apctl: scan: warning: %s\n", T(ap_provisioner_warning(p, i)));
}

static int scan_one(ap_provisioner *p, const char *vendor, const char *dir, int quiet_unsupported)
{
    ap_scan_stats st = { sizeof st, 0, 0, 0, 0 };
    char sz[32];
    int rc = ap_provisioner_scan(p, vendor, dir, &st);
    if (rc == AP_EUNSUPPORTED && quiet_unsupported)
        return AP_OK;
    print_scan_warnings(p);
    human(st.bytes, sz, sizeof sz);
    if (rc == AP_OK)
        printf("%s: %zu entr%s, %zu file%s (%s) imported, %zu skipped\n", T(vendor),
               st.entries, st.entries == 1 ? "y" : "ies", st.files,
               st.files == 1 ? "" : "s", sz, st.skipped);
    else
        fprintf(stderr, "apctl: scan: %s\n", T(ap_provisioner_errmsg(p)));
    return rc;
}

/* apctl scan [VENDOR[=DIR]]... : each vendor's `scan` (no argument: every
 * loaded vendor that can).  --hf-cache[=DIR] and --ollama[=DIR] name the
 * huggingface and ollama vendors. */
static int cmd_scan(int argc, char **argv)
{
    ap_provisioner *p = NULL;
    int i, rc = AP_OK, any = 0;
    if (open_prov(&p) != AP_OK)
        return 1;
    for (i = 1; rc == AP_OK && i < argc; i++) {
        const char *a = argv[i], *vendor = a, *dir = NULL, *eq;
        char name[128];
        if (strncmp(a, "--hf-cache", 10) == 0 && (!a[10] || a[10] == '=')) {
            vendor = "huggingface";
            dir = a[10] == '=' ? a + 11 : NULL;
        } else if (strncmp(a, "--ollama", 8) == 0 && (!a[8] || a[8] == '=')) {
            vendor = "ollama";
            dir = a[8] == '=' ? a + 9 : NULL;
        } else if (a[0] == '-') {
            usage(stderr);
            ap_provisioner_free(p);
            return 2;
        } else if ((eq = strchr(a, '=')) && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            vendor = name;
            dir = eq + 1;
        }
        any = 1;
        rc = scan_one(p, vendor, dir, 0);
    }
    if (!any) {
        size_t k, n = ap_provisioner_vendor_count(p);
        for (k = 0; rc == AP_OK && k < n; k++) {
            ap_vendor_info vi;
            if (ap_provisioner_vendor_info(p, k, &vi) == AP_OK)
                rc = scan_one(p, vi.name, NULL, 1);
        }
    }
    ap_provisioner_free(p);
    return rc == AP_OK ? 0 : 1;
}

static int cmd_vendors(void)
{
    ap_provisioner *p = NULL;
    const char *const *ref;
    size_t i, n;
    if (open_prov(&p) != AP_OK)
        return 1;
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
        fprintf(stderr, "apctl: no vendor loaded (set AP_VENDOR_PATH)\n");
    ap_provisioner_free(p);
    return n ? 0 : 1;
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

static int cmd_ls(int argc, char **argv)
{
    ap_provisioner *p = NULL;
    ap_entry **list = NULL;
    size_t n = 0, i;
    int json = argc > 1 && strcmp(argv[1], "--json") == 0, rc;
    if (open_prov(&p) != AP_OK)
        return 1;
    rc = ap_catalog_list(ap_provisioner_catalog(p), NULL, &list, &n);
    if (rc != AP_OK) {
        fprintf(stderr, "apctl: %s\n", T(ap_catalog_errmsg(ap_provisioner_catalog(p))));
        ap_provisioner_free(p);
        return 1;
    }
    if (json) {
        json_t *arr = json_array();
        for (i = 0; arr && i < n; i++)
            if (json_array_append_new(arr, entry_value(list[i])) != 0) {
                fprintf(stderr, "apctl: %s: cannot represent the entry as JSON\n",
                        T(list[i]->id));
                rc = AP_ERROR;
            }
        if (put_json(stdout, arr, 0) != 0)
            rc = AP_ERROR;
    } else {
        for (i = 0; i < n; i++)
            print_entry_text(ap_provisioner_store(p), list[i]);
    }
    /* Damaged documents are shown, by id and why, never hidden: */
    for (i = 0; i < ap_catalog_warning_count(ap_provisioner_catalog(p)); i++) {
        ap_catalog *cat = ap_provisioner_catalog(p);
        const char *id = ap_catalog_warning_id(cat, i);
        FILE *f = json ? stderr : stdout;
        fprintf(f, "%s  damaged  %s\n", id ? T(id) : "-", T(ap_catalog_warning(cat, i)));
        if (id)
            fprintf(f, "  `apctl rm %s` removes the document (its blobs go at the next gc)\n",
                    T(id));
    }
    ap_entry_list_free(list, n);
    ap_provisioner_free(p);
    return rc == AP_OK ? 0 : 1;
}

static int cmd_show(int argc, char **argv)
{
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    const char *what = NULL;
    int json = 0, i, rc;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            what = argv[i];
    }
    if (!what) {
        usage(stderr);
        return 2;
    }
    if (open_prov(&p) != AP_OK)
        return 1;
    rc = get_entry(p, what, &e);
    if (rc == AP_OK) {
        if (json)
            print_entry_json(e);
        else
            print_entry_text(ap_provisioner_store(p), e);
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
    return rc == AP_OK ? 0 : 1;
}

static int cmd_path(int argc, char **argv)
{
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    const ap_entry_file *file;
    size_t i;
    int rc, found = 0;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (open_prov(&p) != AP_OK)
        return 1;
    rc = get_entry(p, argv[1], &e);
    if (rc == AP_OK && argc <= 2 && (file = file_named(e, argv[1]))) {
        /* REF/FILE: the entry of its repository lists it; that file's path
         * once it is in place, whatever the other files' status */
        if (file->status != AP_FILE_READY || !file->path) {
            fprintf(stderr, "apctl: %s: file is %s, not ready\n", T(argv[1]),
                    ap_file_status_name(file->status));
            rc = AP_EBUSY;
        } else
            printf("%s\n", T(file->path));
        ap_entry_free(e);
        ap_provisioner_free(p);
        return rc == AP_OK ? 0 : 1;
    }
    if (rc == AP_OK && e->status != AP_ENTRY_READY) {
        fprintf(stderr, "apctl: %s: entry is %s, not ready\n", T(argv[1]),
                ap_entry_status_name(e->status));
        rc = AP_EBUSY;
    }
    for (i = 0; rc == AP_OK && i < ap_entry_file_count(e); i++) {
        const ap_entry_file *f = ap_entry_file_at(e, i);
        if (argc > 2 && strcmp(f->name, argv[2]) != 0)
            continue;
        printf("%s\n", T(f->path));
        found = 1;
        if (argc <= 2 && ap_entry_file_count(e) > 1)
            continue;
    }
    if (rc == AP_OK && !found) {
        fprintf(stderr, "apctl: %s: no file '%s'\n", T(argv[1]), T(argc > 2 ? argv[2] : ""));
        rc = AP_ENOTFOUND;
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
    return rc == AP_OK ? 0 : 1;
}

static int cmd_rm(int argc, char **argv)
{
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    int rc;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (open_prov(&p) != AP_OK)
        return 1;
    rc = ap_catalog_get(ap_provisioner_catalog(p), argv[1], &e);
    if (rc == AP_ECORRUPT) {
        /* a damaged document: removed by its id (its blobs go at gc) */
        rc = ap_catalog_remove(ap_provisioner_catalog(p), argv[1]);
        if (rc != AP_OK)
            fprintf(stderr, "apctl: %s: %s\n", T(argv[1]),
                    T(ap_catalog_errmsg(ap_provisioner_catalog(p))));
        else
            printf("removed damaged catalog document %s\n", T(argv[1]));
    } else if (rc != AP_OK)
        fprintf(stderr, "apctl: %s: %s\n", T(argv[1]),
                rc == AP_ENOTFOUND ? "no such entry in the catalog"
                                   : T(ap_catalog_errmsg(ap_provisioner_catalog(p))));
    else {
        rc = ap_catalog_remove(ap_provisioner_catalog(p), e->id);
        if (rc != AP_OK)
            fprintf(stderr, "apctl: %s: %s\n", T(argv[1]),
                    T(ap_catalog_errmsg(ap_provisioner_catalog(p))));
        else
            printf("removed %s (%s)\n", T(e->id), T(e->ref));
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
    return rc == AP_OK ? 0 : 1;
}

static int report(const char *what, const char *path, uint64_t bytes, void *user)
{
    char sz[32];
    (void)user;
    human(bytes, sz, sizeof sz);
    printf("%s %s (%s)\n", T(what), T(path), sz);
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    ap_provisioner *p = NULL;
    size_t checked = 0, bad = 0;
    unsigned flags = argc > 1 && strcmp(argv[1], "--remove") == 0 ? AP_VERIFY_REMOVE : 0;
    int rc;
    if (open_prov(&p) != AP_OK)
        return 1;
    rc = ap_store_verify(ap_provisioner_store(p), flags, report, NULL, &checked, &bad);
    if (rc != AP_OK)
        fprintf(stderr, "apctl: verify: %s\n", T(ap_store_errmsg(ap_provisioner_store(p))));
    else
        printf("%zu blob%s checked, %zu corrupt%s\n", checked, checked == 1 ? "" : "s",
               bad, bad && (flags & AP_VERIFY_REMOVE) ? " (removed)" : "");
    ap_provisioner_free(p);
    return rc == AP_OK && bad == 0 ? 0 : 1;
}

static int cmd_gc(void)
{
    ap_provisioner *p = NULL;
    ap_catalog *cat;
    uint64_t freed = 0;
    char sz[32];
    size_t i;
    int rc;
    if (open_prov(&p) != AP_OK)
        return 1;
    cat = ap_provisioner_catalog(p);
    /* Against the catalog: refuses (removing nothing) while a document is
     * unreadable, since the blobs it names are unknown. */
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
    return rc == AP_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *cmd;
    int rc;
    while (argc > 1 && strcmp(argv[1], "--link") == 0) {
        g_prov_flags |= AP_PROV_LINK_IMPORTS;
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(cmd ? stdout : stderr);
        return cmd ? 0 : 2;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("apctl %s (libartifactprov %s, vendor ABI %d)\n", AP_VERSION_STRING,
               ap_version(), AP_VENDOR_ABI_VERSION);
        return 0;
    }
    if (ap_global_init() != AP_OK) {
        fprintf(stderr, "apctl: library initialisation failed: %s\n",
                T(ap_error_last()->message));
        return 1;
    }
    if (strcmp(cmd, "pull") == 0)
        rc = cmd_pull(argc - 1, argv + 1, 0);
    else if (strcmp(cmd, "sync") == 0)
        rc = cmd_pull(argc - 1, argv + 1, AP_PROVISION_METADATA_ONLY);
    else if (strcmp(cmd, "scan") == 0)
        rc = cmd_scan(argc - 1, argv + 1);
    else if (strcmp(cmd, "vendors") == 0)
        rc = cmd_vendors();
    else if (strcmp(cmd, "ls") == 0)
        rc = cmd_ls(argc - 1, argv + 1);
    else if (strcmp(cmd, "show") == 0)
        rc = cmd_show(argc - 1, argv + 1);
    else if (strcmp(cmd, "path") == 0)
        rc = cmd_path(argc - 1, argv + 1);
    else if (strcmp(cmd, "rm") == 0)
        rc = cmd_rm(argc - 1, argv + 1);
    else if (strcmp(cmd, "verify") == 0)
        rc = cmd_verify(argc - 1, argv + 1);
    else if (strcmp(cmd, "gc") == 0)
        rc = cmd_gc();
    else {
        fprintf(stderr, "apctl: unknown command '%s'\n", T(cmd));
        usage(stderr);
        rc = 2;
    }
    ap_global_cleanup();
    return rc;
}
