/* libartifactprov — the provisioner: reference → vendor → engine → store
 * → catalog.  SPDX-License-Identifier: MIT */
#include "prov_pull.h"
#include "digest.h"
#include "engine.h"
#include "fs.h"
#include "store_internal.h"
#include "fault.h"
#include "progress.h"
#include "minisign.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <dirent.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

AP_EXPORT void ap_provisioner_options_init(ap_provisioner_options *opts)
{
    ap_provisioner_options d = AP_PROVISIONER_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

AP_EXPORT void ap_provision_options_init(ap_provision_options *opts)
{
    ap_provision_options d = AP_PROVISION_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

AP_EXPORT int ap_provisioner_new(ap_provisioner **out,
                                 const ap_provisioner_options *opts)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p;
    int rc;

    apx_error_tls_reset(); /* a failure reports its own cause, no older one */
    if (!out)
        return apx_error_set(NULL, AP_EINVAL, "ap_provisioner_new: no output pointer");
    *out = NULL;
    if (opts) {
        if (opts->struct_size < offsetof(ap_provisioner_options, home) + sizeof(char *))
            return apx_error_set(NULL, AP_EINVAL, "ap_provisioner_new: options "
                                 "struct_size %zu is too small", opts->struct_size);
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    }
    p = apx_calloc(1, sizeof *p);
    if (!p)
        return apx_error_set(NULL, AP_ENOMEM, "ap_provisioner_new: out of memory");
    p->next_job = 1;
    p->flags = o.flags;
    p->host = &apx_host_table;
    p->provision = ap_provision;
    rc = ap_store_open(&p->store, o.home);
    if (rc != AP_OK) {
        /* no handle to carry it: the detail is the thread's last error */
        apx_error_tls_ret(rc);
        apx_error_set(NULL, rc, "cannot open the store: %s", ap_error_last()->message);
        ap_store_close(p->store);
        free(p);
        return rc;
    }
    rc = ap_catalog_open(&p->catalog, p->store);
    if (rc != AP_OK) {
        apx_error_tls_ret(rc);
        apx_error_set(NULL, rc, "cannot open the catalog of the store '%s': %s",
                      ap_store_root(p->store), ap_error_last()->message);
        ap_store_close(p->store);
        free(p);
        return rc;
    }
    if (o.vendors) {
        /* the caller's set: its vendors, each with a state of our own */
        if ((rc = apx_vendors_from_set(p, o.vendors)) != AP_OK) {
            apx_error_set(NULL, rc, "%s", p->err.msg);
            ap_provisioner_free(p);
            return rc;
        }
    } else if (!(o.flags & AP_PROV_NO_PLUGINS)) {
        const char *env = o.vendor_path ? o.vendor_path : getenv("AP_VENDOR_PATH");
        apx_vendor_scan(p, env);
        if (!o.vendor_path)
            apx_vendor_scan(p, AP_VENDORDIR);
    }
    *out = p;
    return AP_OK;
}

/* ---- vendor sets ----------------------------------------------------------- */

AP_EXPORT int ap_vendor_set_new(ap_vendor_set **out)
{
    ap_vendor_set *s;
    if (!out)
        return apx_error_set(NULL, AP_EINVAL, "ap_vendor_set_new: no output pointer");
    if (!(*out = s = apx_calloc(1, sizeof *s)))
        return apx_error_set(NULL, AP_ENOMEM, "ap_vendor_set_new: out of memory");
    s->shell.vendor_shell = 1;
    s->shell.host = &apx_host_table;
    s->shell.provision = ap_provision;
    return AP_OK;
}

AP_EXPORT void ap_vendor_set_free(ap_vendor_set *s)
{
    if (!s)
        return;
    apx_vendors_free(&s->shell);
    free(s);
}

AP_EXPORT int ap_vendor_set_load_path(ap_vendor_set *s, const char *path_list)
{
    if (!s)
        return AP_EINVAL;
    apx_error_clear(&s->shell.err);
    if (path_list) {
        apx_vendor_scan(&s->shell, path_list);
    } else {
        apx_vendor_scan(&s->shell, getenv("AP_VENDOR_PATH"));
        apx_vendor_scan(&s->shell, AP_VENDORDIR);
    }
    return AP_OK;
}

AP_EXPORT int ap_vendor_set_load_file(ap_vendor_set *s, const char *path)
{
    if (!s)
        return AP_EINVAL;
    apx_error_clear(&s->shell.err);
    return apx_vendor_load_file(&s->shell, path);
}

AP_EXPORT int ap_vendor_set_register(ap_vendor_set *s, ap_vendor_init_fn init,
                                     const char *origin)
{
    if (!s)
        return AP_EINVAL;
    apx_error_clear(&s->shell.err);
    return apx_vendor_register(&s->shell, init, origin ? origin : "(static)", NULL);
}

AP_EXPORT size_t ap_vendor_set_count(const ap_vendor_set *s)
{
    return s ? s->shell.nvendors : 0;
}

AP_EXPORT int ap_vendor_set_info(const ap_vendor_set *s, size_t i, ap_vendor_info *out)
{
    return s ? ap_provisioner_vendor_info(&s->shell, i, out) : AP_EINVAL;
}

AP_EXPORT const char *const *ap_vendor_set_refusals(const ap_vendor_set *s)
{
    static const char *const none[] = { NULL };
    return s ? ap_provisioner_refusals(&s->shell) : none;
}

AP_EXPORT const char *ap_vendor_set_errmsg(const ap_vendor_set *s)
{
    return s ? ap_provisioner_errmsg(&s->shell) : "no vendor set";
}

AP_EXPORT void ap_provisioner_free(ap_provisioner *p)
{
    if (!p)
        return;
    apx_vendors_free(p);
    apx_prov_warnings_clear(p);
    ap_catalog_close(p->catalog);
    ap_store_close(p->store);
    free(p);
}

AP_EXPORT const char *ap_provisioner_errmsg(const ap_provisioner *p)
{
    if (!p)
        return "no provisioner";
    return p->err.msg[0] ? p->err.msg : ap_strerror(p->err.status);
}

AP_EXPORT ap_store *ap_provisioner_store(ap_provisioner *p)
{
    return p ? p->store : NULL;
}

AP_EXPORT ap_catalog *ap_provisioner_catalog(ap_provisioner *p)
{
    return p ? p->catalog : NULL;
}

AP_EXPORT int ap_provisioner_load_vendor(ap_provisioner *p, const char *path)
{
    if (!p)
        return AP_EINVAL;
    apx_error_clear(&p->err);
    return apx_vendor_load_file(p, path);
}

AP_EXPORT int ap_provisioner_register_vendor(ap_provisioner *p,
                                             ap_vendor_init_fn init,
                                             const char *origin)
{
    if (!p)
        return AP_EINVAL;
    apx_error_clear(&p->err);
    return apx_vendor_register(p, init, origin ? origin : "(static)", NULL);
}

AP_EXPORT size_t ap_provisioner_vendor_count(const ap_provisioner *p)
{
    return p ? p->nvendors : 0;
}

AP_EXPORT int ap_provisioner_vendor_info(const ap_provisioner *p, size_t i,
                                         ap_vendor_info *out)
{
    const apx_vendor *v;
    if (!p || !out || i >= p->nvendors)
        return AP_EINVAL;
    v = &p->vendors[i];
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->name = v->desc.name;
    out->version = v->desc.version ? v->desc.version : "";
    out->description = v->desc.description ? v->desc.description : "";
    out->schemes = v->desc.schemes;
    out->origin = v->origin;
    out->abi_version = v->desc.abi_version;
    out->usage = v->desc.usage ? v->desc.usage : "";
    return AP_OK;
}

AP_EXPORT const char *const *ap_provisioner_refusals(const ap_provisioner *p)
{
    static const char *const none[] = { NULL };
    if (!p || !p->refusals)
        return none;
    return (const char *const *)p->refusals;
}

/* Resolve failures that mean "the origin could not be reached or could not
 * answer now", for which a ready entry is served from the catalog: no
 * connection, DNS, TLS or a reset (AP_ENETWORK), a timeout (AP_ETIMEDOUT),
 * a server error after the retries (AP_EHTTP: 5xx or another unexpected
 * status), rate limiting after the retries (AP_ERATELIMIT) and offline mode
 * (AP_EOFFLINE).  Never an answer about the artifact itself: not found,
 * auth, gated, a bad reference or a protocol violation. */
static int origin_unreachable(int rc)
{
    return rc == AP_EOFFLINE || rc == AP_ENETWORK || rc == AP_ETIMEDOUT ||
           rc == AP_EHTTP || rc == AP_ERATELIMIT;
}

/* Every file of a ready entry has its blob in the store. */
static int entry_intact(ap_provisioner *p, const ap_entry *e)
{
    size_t i;
    if (e->status != AP_ENTRY_READY)
        return 0;
    for (i = 0; i < e->nfiles; i++)
        if (!e->files[i].sha256 || ap_store_has_blob(p->store, e->files[i].sha256) != 1)
            return 0;
    return 1;
}

/* `ref` names one file of `e` ("R/<file>", R its canonical or requested
 * reference: how ap_catalog_get() found it) and that file's blob is in the
 * store: a file pulled on its own, recorded in its repository's entry,
 * which may be pending (other files never fetched). */
static const ap_entry_file *file_intact(ap_provisioner *p, const ap_entry *e,
                                        const char *ref)
{
    const char *r[2];
    size_t i, k, len;
    r[0] = e->ref;
    r[1] = e->requested;
    for (k = 0; k < 2; k++) {
        if (!r[k] || strncmp(ref, r[k], len = strlen(r[k])) != 0 || ref[len] != '/')
            continue;
        for (i = 0; i < e->nfiles; i++) {
            const ap_entry_file *f = &e->files[i];
            if (f->name && !strcmp(f->name, ref + len + 1))
                return f->present && f->status == AP_FILE_READY && f->sha256 &&
                       ap_store_has_blob(p->store, f->sha256) == 1 ? f : NULL;
        }
    }
    return NULL;
}

/* `ref` is "R/..." with R the canonical or requested reference of `r`: it
 * names something inside the artifact `r` records (a file of a repository). */
static int ref_under(const ap_entry *r, const char *ref)
{
    const char *v[2];
    size_t k, len;
    v[0] = r->ref;
    v[1] = r->requested;
    for (k = 0; ref && k < 2; k++)
        if (v[k] && !strncmp(ref, v[k], len = strlen(v[k])) && ref[len] == '/')
            return 1;
    return 0;
}

/* Whether `r` is the entry of the repository the reference points into,
 * of the same name and revision, listing every file of the manifest by
 * name. */
static int lists_manifest(const ap_entry *r, const pull *j, const ap_vendor_call *call,
                          const char *name)
{
    size_t i, k;
    if (!ref_under(r, j->ref) && !ref_under(r, call->canonical))
        return 0;
    if (!r->name || strcmp(r->name, name) || !r->revision || !call->revision ||
        strcmp(r->revision, call->revision) || r->nfiles < call->nfiles)
        return 0;
    for (i = 0; i < call->nfiles; i++) {
        for (k = 0; k < r->nfiles; k++)
            if (r->files[k].name && !strcmp(r->files[k].name, call->files[i].path))
                break;
        if (k == r->nfiles)
            return 0;
    }
    return 1;
}

/* The catalog entry this pull records into instead of an entry of its own:
 * one of the same vendor, name and revision, other than `id`, whose
 * reference R the pull's is "R/..." of (as typed or canonical), and that
 * lists every file the vendor resolved (a repository recorded by a sync,
 * pending, or a ready snapshot, when one of its files is pulled on its
 * own).  So a
 * repository and its files are one entry whose files change status.  *out
 * is its id, or NULL when there is none (several: the one updated last). */
static int host_entry(pull *j, const ap_vendor_call *call, const char *id, char **out)
{
    ap_catalog_filter flt = AP_CATALOG_FILTER_INIT;
    ap_entry **list = NULL;
    const ap_entry *best = NULL;
    const char *name = call->name ? call->name : j->ref;
    size_t n = 0, i;
    *out = NULL;
    if (!call->revision)
        return AP_OK;
    flt.vendor = call->vendor->desc.name;
    if (ap_catalog_list(j->prov->catalog, &flt, &list, &n) != AP_OK)
        return AP_OK; /* an unreadable catalog: an entry of its own */
    for (i = 0; i < n; i++)
        if (strcmp(list[i]->id, id) != 0 && lists_manifest(list[i], j, call, name) &&
            (!best || list[i]->updated > best->updated))
            best = list[i];
    if (best && !(*out = apx_strdup(best->id))) {
        ap_entry_list_free(list, n);
        return apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    }
    ap_entry_list_free(list, n);
    return AP_OK;
}

/* The manifest becomes the host entry's files, in its order: the vendor's
 * for the files it resolved, the others as the entry records them, marked
 * APX_MFILE_OTHER (never fetched). */
static int host_manifest(pull *j, ap_vendor_call *call, const ap_entry *host)
{
    apx_mfile *v = apx_calloc(host->nfiles ? host->nfiles : 1, sizeof *v);
    unsigned char *used = apx_calloc(call->nfiles ? call->nfiles : 1, 1);
    size_t i, k;
    if (!v || !used)
        goto oom;
    for (k = 0; k < host->nfiles; k++) {
        const ap_entry_file *f = &host->files[k];
        for (i = 0; i < call->nfiles; i++)
            if (!used[i] && !strcmp(call->files[i].path, f->name))
                break;
        if (i < call->nfiles) {
            v[k] = call->files[i];
            used[i] = 1;
            continue;
        }
        v[k].flags = APX_MFILE_OTHER;
        v[k].size = f->size;
        if (!(v[k].path = apx_strdup(f->name)) ||
            (f->sha256 && !(v[k].sha256 = apx_strdup(f->sha256))) ||
            (f->git_sha1 && !(v[k].git_sha1 = apx_strdup(f->git_sha1))))
            goto oom;
    }
    for (i = 0; i < call->nfiles; i++)
        if (!used[i]) /* listed twice by the entry: not taken */
            apx_mfile_clear(&call->files[i]);
    free(call->files);
    free(used);
    call->files = v;
    call->nfiles = call->cap = host->nfiles;
    return AP_OK;
oom:
    for (k = 0; v && k < host->nfiles; k++)
        if (v[k].flags & APX_MFILE_OTHER)
            apx_mfile_clear(&v[k]);
    free(v);
    free(used);
    return apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
}

/* The pull's entry is the host's: its references, and the status, url and
 * verification of the files the pull does not fetch. */
static int host_fields(pull *j, const ap_vendor_call *call, const ap_entry *host)
{
    ap_entry *e = j->entry;
    size_t i;
    free(e->ref);
    free(e->requested);
    e->ref = apx_strdup(host->ref);
    e->requested = host->requested ? apx_strdup(host->requested) : NULL;
    if (!e->ref || (host->requested && !e->requested))
        return apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    for (i = 0; i < e->nfiles && i < host->nfiles; i++) {
        ap_entry_file *f = &e->files[i];
        const ap_entry_file *h = &host->files[i];
        if (!(call->files[i].flags & APX_MFILE_OTHER))
            continue;
        if (f->present)
            f->status = AP_FILE_READY;
        else if (h->status == AP_FILE_FAILED)
            f->status = AP_FILE_FAILED; /* an earlier attempt's, kept */
        free(f->url);
        f->url = h->url ? apx_strdup(h->url) : NULL;
        if (h->verification && !f->verification)
            f->verification = apx_strdup(h->verification);
        if ((h->url && !f->url) || (h->verification && !f->verification))
            return apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    }
    return AP_OK;
}

/* The entry id derives from the vendor and the canonical reference it gave
 * (so a vendor can make equivalent spellings one entry, e.g. a tag and the
 * file it picks);
 * without one, from the reference as typed. */
static int canonical_id(pull *j, const ap_vendor_call *call, char **id)
{
    char *cid = NULL;
    int rc;
    if (!call->canonical || strcmp(call->canonical, j->ref) == 0)
        return AP_OK;
    if ((rc = ap_entry_make_id(call->vendor->desc.name, call->canonical, &cid)) != AP_OK)
        return apx_pull_fail(j, rc, "%s: out of memory", j->ref);
    free(*id);
    *id = cid;
    return AP_OK;
}

/* The reason in a vendor's message, without the "REF: " it starts with. */
static const char *reason_of(const char *why, const char *ref)
{
    size_t rl = strlen(ref);
    if (strncmp(why, ref, rl) == 0 && why[rl] == ':' && why[rl + 1] == ' ')
        why += rl + 2;
    return why;
}

/* The phase "resolve", first step: the vendor that serves the reference's
 * scheme. */
static int find_vendor(pull *j, apx_vendor **out)
{
    ap_provisioner *p = j->prov;
    char known[1024];
    size_t scheme_len;
    apx_vendor *v;

    if (apx_ref_scheme(j->ref, &scheme_len) != 0) {
        apx_vendor_grammar(p, known, sizeof known);
        return apx_pull_fail(j, AP_EINVAL, "'%s': not a reference (want SCHEME:...; the "
                    "vendors loaded accept: %s)", j->ref, known);
    }
    v = apx_vendor_for_scheme(p, j->ref, scheme_len);
    if (!v) {
        if (!p->nvendors) /* said once: no list to give */
            return apx_pull_fail(j, AP_EVENDOR, "%s: no vendor serves the scheme '%.*s:': "
                        "no vendor is loaded (set AP_VENDOR_PATH?)", j->ref,
                        (int)scheme_len, j->ref);
        apx_vendor_grammar(p, known, sizeof known);
        return apx_pull_fail(j, AP_EVENDOR, "%s: no vendor serves the scheme '%.*s:' "
                    "(the vendors loaded accept: %s)", j->ref,
                    (int)scheme_len, j->ref, known);
    }
    *out = v;
    return AP_OK;
}

/* The phase "resolve": the vendor lists the artifact's files.  Returns the
 * vendor's status (its message in call->err). */
static int resolve(pull *j, apx_vendor *v, ap_vendor_call *call)
{
    const ap_provision_options *o = j->o;
    int rc;
    apx_call_init(call, j->prov, v, j->ref, o->cancel);
    call->tracker = j->tracker;
    call->options = o->vendor_options;
    call->flags = o->flags;
    call->ca_file = o->ca_file; /* metadata requests trust the same CAs */
    call->min_rate = o->min_rate; /* and have the same minimum rate */
    call->min_rate_window_ms = o->min_rate_window_ms;
    apx_tracker_phase(j->tracker, "resolving", j->ref);
    rc = v->desc.resolve(v->state, call, j->ref);
    if (rc == AP_OK)
        apx_tracker_phase(j->tracker, "preparing", j->ref);
    APX_FAULT("resolve");
    if (rc == AP_OK && ap_cancel_is_set(o->cancel))
        rc = apx_error_set(&call->err, AP_ECANCELLED, "%s: cancelled", j->ref);
    return rc;
}

/* The origin cannot be reached (the resolve failed with `rc`), but we have
 * it: serve the catalog's ready entry (or the ready file of its
 * repository's entry that the reference names), and say it may be stale.
 * The entry is found by the id of the reference as typed or, when the
 * vendor named it by a canonical form, by the reference it recorded as
 * requested.  Returns 1 when served (*out set as ap_provision() gives it). */
static int serve_from_catalog(pull *j, const ap_vendor_call *call, const char *id, int rc,
                              ap_entry **out)
{
    ap_provisioner *p = j->prov;
    ap_entry *prev = NULL;
    char msg[APX_ERRMSG_MAX + 256];
    const ap_entry_file *one;

    if (!(origin_unreachable(rc) && !(j->o->flags & AP_PROVISION_REFRESH) &&
          (ap_catalog_get(p->catalog, id, &prev) == AP_OK ||
           ap_catalog_get(p->catalog, j->ref, &prev) == AP_OK) &&
          (entry_intact(p, prev) || file_intact(p, prev, j->ref)))) {
        ap_entry_free(prev);
        return 0;
    }
    one = entry_intact(p, prev) ? NULL : file_intact(p, prev, j->ref);
    snprintf(msg, sizeof msg, "%s: the origin could not be reached (%s); using the "
             "ready %s %s from the catalog (revision %s), which may be stale "
             "(AP_PROVISION_REFRESH / apctl pull --refresh demands a fresh check)",
             j->ref, reason_of(call->err.msg[0] ? call->err.msg : ap_strerror(rc), j->ref),
             one ? "file of the entry" : "entry", prev->id,
             prev->revision ? prev->revision : "unknown");
    prev->fetched_bytes = 0; /* this provision transferred nothing */
    /* the whole artifact (or the one file) is in place: 100 % */
    ap_tracker_add_total(j->tracker, one ? one->size : prev->total_size,
                         one ? 1u : (unsigned)prev->nfiles);
    apx_tracker_present(j->tracker, one ? one->size : prev->total_size,
                        one ? 1u : (unsigned)prev->nfiles);
    (void)ap_tracker_log(j->tracker, AP_LOG_WARN, NULL, rc, msg);
    (void)ap_tracker_emit(j->tracker, AP_EVENT_DONE, NULL, 0,
                          "origin unreachable: from the catalog");
    if (out)
        *out = prev;
    else
        ap_entry_free(prev);
    return 1;
}

/* The resolve failed: the provisioner's message names the reference. */
static int resolve_failed(pull *j, const apx_vendor *v, ap_vendor_call *call, int rc)
{
    ap_provisioner *p = j->prov;
    /* messages are redacted: compare with the redacted reference */
    char *shown;
    const char *r;

    if (rc > 0)
        rc = AP_EVENDOR;
    if (!call->err.msg[0])
        apx_error_set(&call->err, rc, "%s: vendor '%s' failed: %s", j->ref,
                      v->desc.name, ap_strerror(rc));
    shown = apx_url_redact(j->ref);
    r = shown ? shown : j->ref;
    if (strncmp(call->err.msg, r, strlen(r)) != 0)
        apx_error_prefix(&call->err, "%s", j->ref);
    free(shown);
    if (origin_unreachable(rc) && (j->o->flags & AP_PROVISION_REFRESH))
        apx_error_set(&p->err, rc, "%s (a fresh check was demanded: the catalog's "
                      "entry is not used)", call->err.msg);
    else
        apx_error_set(&p->err, rc, "%s", call->err.msg);
    return rc;
}

/* The vendor could not reach its origin and served the reference from what
 * the catalog holds (host->catalog_files): say so. */
static void note_from_catalog(pull *j, const ap_vendor_call *call, const char *id)
{
    char msg[APX_ERRMSG_MAX + 256];
    if (!(call->from_catalog && call->err.msg[0] && origin_unreachable(call->err.status)))
        return;
    snprintf(msg, sizeof msg, "%s: the origin could not be reached (%s); using "
             "what the catalog holds (entry %s, revision %s), which may be stale "
             "(AP_PROVISION_REFRESH / apctl pull --refresh demands a fresh check)",
             j->ref, reason_of(call->err.msg, j->ref), id,
             call->revision ? call->revision : "unknown");
    (void)ap_tracker_log(j->tracker, AP_LOG_WARN, NULL, call->err.status, msg);
}

/* The entry's lock, waited for; a lock that cannot be taken (not cancelled,
 * not aborted) is done without: *fd -1. */
static int lock_entry(pull *j, const char *id, int *fd)
{
    int rc = apx_pull_lock_waiting(j, id, j->ref, 0, fd);
    if (rc == AP_ECANCELLED || rc == AP_EUSER)
        return rc;
    if (rc != AP_OK)
        *fd = -1;
    return AP_OK;
}

/* The phase "lock": the entry the pull records into, locked, and its
 * previous document (*prev, or NULL).  A file of a repository the catalog
 * records (a sync, a snapshot) is recorded in that entry, under its lock,
 * not in one of its own: then *id becomes that entry's and *hosted 1. */
static int lock_phase(pull *j, ap_vendor_call *call, char **id, ap_entry **prev,
                      int *entry_lock, int *hosted)
{
    ap_provisioner *p = j->prov;
    char *host_id = NULL;
    const char *name = call->name ? call->name : j->ref;
    int rc;

    if ((rc = host_entry(j, call, *id, &host_id)) != AP_OK ||
        (rc = lock_entry(j, host_id ? host_id : *id, entry_lock)) != AP_OK || !host_id)
        goto out;
    /* read it again under its lock: it may have changed meanwhile */
    if (ap_catalog_get(p->catalog, host_id, prev) == AP_OK &&
        !strcmp((*prev)->id, host_id) && lists_manifest(*prev, j, call, name)) {
        if ((rc = host_manifest(j, call, *prev)) != AP_OK)
            goto out;
        free(*id);
        *id = host_id;
        host_id = NULL;
        *hosted = 1;
        goto out;
    }
    /* gone or changed: an entry of its own after all */
    ap_entry_free(*prev);
    *prev = NULL;
    if (*entry_lock >= 0)
        ap_store_unlock(*entry_lock);
    *entry_lock = -1;
    rc = lock_entry(j, *id, entry_lock);
out:
    free(host_id);
    if (rc == AP_OK && !*hosted)
        (void)ap_catalog_get(p->catalog, *id, prev);
    return rc;
}

/* The phase "plan": the pull's entry from the manifest, the files already in
 * the store marked present, each file's verification. */
static int plan_phase(pull *j, ap_vendor_call *call, const char *id, const ap_entry *prev,
                      int hosted)
{
    int rc;
    /* A re-pull of a ready entry (--force, a moved revision) leaves its
     * document alone until a complete, verified set replaces it. */
    j->keep = prev && prev->status == AP_ENTRY_READY;
    rc = apx_plan_build_entry(j, call, id, prev);
    if (rc == AP_ENOMEM)
        apx_pull_fail(j, rc, "%s: out of memory", j->ref);
    if (rc != AP_OK || (rc = apx_plan_mark_present(j, call)) != AP_OK)
        return rc;
    if (hosted && (rc = host_fields(j, call, prev)) != AP_OK)
        return rc;
    return apx_plan_verifications(j, call);
}

/* The entry is announced and recorded, then the gc lock taken shared:
 * blobs committed from here on are named by no document until the entry is
 * written, and gc waits for that (it takes this lock exclusively). */
static int start_phase(pull *j, const apx_vendor *v, int *gc_lock)
{
    ap_provisioner *p = j->prov;
    int rc;
    if (ap_tracker_emit(j->tracker, AP_EVENT_RESOLVE, NULL, 0, j->entry->revision))
        return apx_pull_fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    apx_plan_note(j->tracker, j->entry, AP_VENDOR_HAS(&v->desc, usage) ? v->desc.usage : NULL);
    if (!j->keep)
        (void)ap_catalog_put(p->catalog, j->entry);
    j->last_put_ms = apx_now_ms();
    if (ap_tracker_emit(j->tracker, AP_EVENT_START, NULL, 0, NULL))
        return apx_pull_fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    rc = apx_pull_lock_waiting(j, APX_GC_LOCK, j->ref, 1, gc_lock);
    if (rc == AP_ECANCELLED || rc == AP_EUSER)
        return rc;
    return AP_OK;
}

/* The phases from the vendor's manifest to the fetched files. */
static int prepare_and_fetch(pull *j, const apx_vendor *v, ap_vendor_call *call, char **id,
                             ap_entry **prev, int *entry_lock, int *gc_lock)
{
    const ap_provision_options *o = j->o;
    int rc, hosted = 0;
    size_t i;

    if ((rc = canonical_id(j, call, id)) != AP_OK)
        return rc;
    for (i = 0; i < call->nfiles; i++)
        call->files[i].flags &= ~APX_MFILE_OTHER;
    note_from_catalog(j, call, *id);
    apx_plan_filter(call, o);
    if (call->nfiles == 0)
        return apx_pull_fail(j, AP_ENOTFOUND, "%s: no file matches%s", j->ref,
                            (o->include || o->exclude) ? " the include/exclude filters" : "");
    /* Checked before any lock is taken or document written. */
    if ((o->flags & AP_PROVISION_REQUIRE_VERIFIED) &&
        (rc = apx_plan_check_verifiable(j, call)) != AP_OK)
        return rc;
    if ((rc = apx_plan_check_manifest(j, call)) != AP_OK ||
        (rc = lock_phase(j, call, id, prev, entry_lock, &hosted)) != AP_OK ||
        (rc = plan_phase(j, call, *id, *prev, hosted)) != AP_OK ||
        (rc = start_phase(j, v, gc_lock)) != AP_OK)
        return rc;
    rc = apx_pull_fetch(j, call);
    if (rc == AP_OK)
        rc = apx_pull_check_stored_signatures(j, call);
    return rc;
}

static int run_pull(pull *j, ap_entry **out)
{
    ap_provisioner *p = j->prov;
    ap_vendor_call call;
    apx_vendor *v = NULL;
    ap_entry *prev = NULL;
    char *id = NULL;
    int rc, entry_lock = -1, gc_lock = -1;

    if ((rc = find_vendor(j, &v)) != AP_OK)
        return rc;
    rc = ap_entry_make_id(v->desc.name, j->ref, &id);
    if (rc != AP_OK)
        return apx_pull_fail(j, rc, "%s: out of memory", j->ref);
    rc = resolve(j, v, &call);
    if (serve_from_catalog(j, &call, id, rc, out)) {
        apx_call_clear(&call);
        free(id);
        return AP_OK;
    }
    if (rc != AP_OK)
        rc = resolve_failed(j, v, &call, rc);
    else
        rc = prepare_and_fetch(j, v, &call, &id, &prev, &entry_lock, &gc_lock);
    apx_tracker_phase(j->tracker, "finishing", j->ref);
    rc = apx_pull_finish(j, &call, prev, rc);
    ap_store_unlock(gc_lock);
    if (entry_lock >= 0)
        ap_store_unlock(entry_lock);
    if (rc == AP_OK)
        (void)ap_tracker_emit(j->tracker, AP_EVENT_DONE, NULL, 0, NULL);
    else
        (void)ap_tracker_emit(j->tracker, rc == AP_ECANCELLED ? AP_EVENT_CANCELLED
                                                              : AP_EVENT_ERROR,
                              NULL, rc, p->err.msg);
    if (rc == AP_OK && out) {
        *out = j->entry;
        j->entry = NULL;
    }
    ap_entry_free(prev);
    apx_call_clear(&call);
    free(id);
    return rc;
}

AP_EXPORT int ap_provision(ap_provisioner *p, const char *ref,
                           const ap_provision_options *opts, ap_entry **out)
{
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    ap_tracker_options to = AP_TRACKER_OPTIONS_INIT;
    pull j;
    int rc;

    if (out)
        *out = NULL;
    if (!p)
        return AP_EINVAL;
    apx_error_clear(&p->err);
    if (!ref || !*ref) {
        char known[1024];
        apx_vendor_grammar(p, known, sizeof known);
        return apx_error_set(&p->err, AP_EINVAL, "empty reference (want SCHEME:...; "
                             "the vendors loaded accept: %s)", known);
    }
    if (opts) {
        if (opts->struct_size < offsetof(ap_provision_options, cancel))
            return apx_error_set(&p->err, AP_EINVAL, "%s: bad options struct", ref);
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    }
    memset(&j, 0, sizeof j);
    j.prov = p;
    j.o = &o;
    j.ref = ref;
    if (!o.job_id)
        o.job_id = p->next_job++;
    to.heartbeat_ms = o.heartbeat_ms;
    to.progress_interval_ms = o.progress_interval_ms;
    to.sink = apx_pull_sink;
    to.sink_user = &j;
    rc = ap_tracker_new(&j.tracker, o.job_id, ref, &to);
    if (rc != AP_OK)
        return apx_error_set(&p->err, rc, "%s: out of memory", ref);
    {
        apx_tick_hook saved;
        apx_tick_push(&saved, apx_pull_tick, &j);
        rc = run_pull(&j, out);
        apx_tick_pop(&saved);
    }
    if (rc != AP_OK && !p->err.msg[0])
        apx_error_set(&p->err, rc, "%s: %s", ref, ap_strerror(rc));
    p->err.status = rc;
    ap_entry_free(j.entry);
    apx_session_free(j.fetch);
    free(j.sig_ok);
    ap_tracker_free(j.tracker);
    return rc;
}
