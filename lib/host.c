/* libartifactprov — the host table handed to vendors.
 * SPDX-License-Identifier: MIT
 *
 * Everything a vendor passes in is copied; responses are owned here and
 * released through http_free.  Paths are validated on the way in. */
#include "prov.h"
#include "minisign.h"
#include "engine.h"
#include "http_client.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct host_response {
    ap_http_response pub;      /* first: the vendor sees this */
    apx_http_result r;
} host_response;

static int h_http(ap_vendor_call *call, const ap_http_request *req,
                  ap_http_response **out)
{
    ap_http_request q = AP_HTTP_REQUEST_INIT;
    apx_http_opts ho;
    host_response *hr;
    int rc;

    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (!AP_STRUCT_COVERS(req, ap_http_request, bearer))
        return apx_error_set(&call->err, AP_EINVAL, "vendor '%s': bad HTTP request",
                             call->vendor->desc.name);
    memcpy(&q, req, req->struct_size < sizeof q ? req->struct_size : sizeof q);
    if (!q.url)
        return apx_error_set(&call->err, AP_EINVAL, "vendor '%s': HTTP request without URL",
                             call->vendor->desc.name);
    if (ap_cancel_is_set(call->cancel))
        return apx_error_set(&call->err, AP_ECANCELLED, "%s: cancelled", call->ref);
    hr = apx_calloc(1, sizeof *hr);
    if (!hr)
        return apx_error_set(&call->err, AP_ENOMEM, "out of memory");
    memset(&ho, 0, sizeof ho);
    ho.ca_file = call->ca_file;
    ho.min_rate = call->min_rate;
    ho.min_rate_window_ms = call->min_rate_window_ms;
    rc = apx_http_simple(q.method ? q.method : "GET", q.url, q.headers, q.bearer,
                         q.follow_redirects, q.max_body ? q.max_body : 16u << 20,
                         call->cancel, &ho, &hr->r, &call->err);
    if (rc != AP_OK) {
        apx_http_result_clear(&hr->r);
        free(hr);
        return rc;
    }
    hr->pub.struct_size = sizeof hr->pub;
    hr->pub.status = hr->r.status;
    hr->pub.url = hr->r.url;
    hr->pub.body = hr->r.body ? hr->r.body : "";
    hr->pub.body_len = hr->r.body_len;
    *out = &hr->pub;
    return AP_OK;
}

static const char *h_http_header(const ap_http_response *resp, const char *name)
{
    const host_response *hr = (const host_response *)resp;
    return resp ? apx_http_result_header(&hr->r, name) : NULL;
}

static void h_http_free(ap_http_response *resp)
{
    host_response *hr = (host_response *)resp;
    if (!hr)
        return;
    apx_http_result_clear(&hr->r);
    free(hr);
}

/* A signature comes with its trusted key, and both parse: a malformed one is
 * refused when the vendor adds the file, before anything is fetched. */
static int check_signature_form(ap_vendor_call *call, const ap_vendor_file *f)
{
    apx_minisign_key key;
    apx_minisig sig;
    apx_error err;
    if (!f->signature && !f->public_key)
        return AP_OK;
    if (!f->signature || !f->public_key)
        return apx_error_set(&call->err, AP_EINVAL, "%s: file '%s': a %s without a %s",
                             call->ref, f->path, f->signature ? "signature" : "public key",
                             f->signature ? "public key to check it with" : "signature");
    apx_error_clear(&err);
    if (apx_minisign_key_parse(f->public_key, "(trusted key)", &key, &err) != AP_OK ||
        apx_minisig_parse(f->signature, strlen(f->signature), "(signature)", &sig,
                          &err) != AP_OK)
        return apx_error_set(&call->err, err.status, "%s: file '%s': %s", call->ref,
                             f->path, err.msg);
    apx_minisig_clear(&sig);
    return AP_OK;
}

static int h_add_file(ap_vendor_call *call, const ap_vendor_file *file)
{
    ap_vendor_file f = AP_VENDOR_FILE_INIT;
    apx_mfile m;
    size_t i, nh = 0;
    int rc;

    if (!AP_STRUCT_COVERS(file, ap_vendor_file, url))
        return apx_error_set(&call->err, AP_EINVAL, "vendor '%s': bad file record",
                             call->vendor->desc.name);
    memcpy(&f, file, file->struct_size < sizeof f ? file->struct_size : sizeof f);
    if (!f.path || (rc = ap_path_validate(f.path)) != AP_OK)
        return apx_error_set(&call->err, AP_EPATH,
                             "%s: vendor '%s' gave a hostile or invalid file "
                             "name '%s' (refused before touching the disk)",
                             call->ref, call->vendor->desc.name,
                             f.path ? f.path : "(null)");
    if (f.sha256 && !apx_is_lower_hex(f.sha256, 64))
        return apx_error_set(&call->err, AP_EPROTOCOL,
                             "%s: file '%s': malformed sha256 '%s'", call->ref,
                             f.path, f.sha256);
    if (f.git_sha1 && !apx_is_lower_hex(f.git_sha1, 40))
        return apx_error_set(&call->err, AP_EPROTOCOL,
                             "%s: file '%s': malformed git blob id '%s'",
                             call->ref, f.path, f.git_sha1);
    if (!f.url && !call->vendor->desc.download && !call->scan)
        return apx_error_set(&call->err, AP_EINVAL,
                             "%s: file '%s' has no URL", call->ref, f.path);
    if (f.local_root && (f.local_root[0] != '/' || !f.local_path ||
                         ap_path_validate(f.local_path) != AP_OK))
        return apx_error_set(&call->err, AP_EPATH,
                             "%s: file '%s': local_path '%s' is not a valid "
                             "relative path below the absolute local_root '%s'",
                             call->ref, f.path, f.local_path ? f.local_path : "(null)",
                             f.local_root);
    if (call->scan && (!f.local_root || !f.local_path))
        return apx_error_set(&call->err, AP_EINVAL,
                             "%s: file '%s' of a scan has no local_root/local_path",
                             call->ref, f.path);
    if ((rc = check_signature_form(call, &f)) != AP_OK)
        return rc;
    /* A name listed twice is refused by the provisioner after resolve
     * (sorted, O(n log n); a check here per file was O(n^2)). */
    memset(&m, 0, sizeof m);
    m.size = f.size;
    m.flags = f.flags;
    m.path = apx_strdup(f.path);
    m.sha256 = apx_strdup(f.sha256);
    m.git_sha1 = apx_strdup(f.git_sha1);
    m.url = apx_strdup(f.url);
    m.bearer = apx_strdup(f.bearer);
    m.bearer_host = apx_strdup(f.bearer_host);
    m.etag = apx_strdup(f.etag);
    m.signature = apx_strdup(f.signature);
    m.public_key = apx_strdup(f.public_key);
    m.describe = apx_strdup(f.describe);
    if (f.local_root && !call->scan) {
        /* resolve: the joined path, opened with no link in it at all */
        m.local_path = apx_path_join(f.local_root, f.local_path);
    } else {
        m.local_path = apx_strdup(f.local_path);
        m.local_root = apx_strdup(f.local_root);
    }
    while (f.headers && f.headers[nh])
        nh++;
    m.headers = apx_calloc(nh + 1, sizeof *m.headers);
    rc = m.path && m.headers && (!f.url || m.url) && (!f.local_path || m.local_path) &&
         (!f.signature || (m.signature && m.public_key)) &&
         (!f.describe || m.describe) &&
         (!m.local_root == !(f.local_root && call->scan)) ? AP_OK : AP_ENOMEM;
    for (i = 0; rc == AP_OK && i < nh; i++)
        if (!(m.headers[i] = apx_strdup(f.headers[i])))
            rc = AP_ENOMEM;
    if (rc == AP_OK && call->nfiles == call->cap) {
        size_t cap = call->cap ? call->cap * 2 : 16;
        apx_mfile *g = apx_realloc(call->files, cap * sizeof *g);
        if (!g)
            rc = AP_ENOMEM;
        else {
            call->files = g;
            call->cap = cap;
        }
    }
    if (rc != AP_OK) {
        apx_mfile_clear(&m);
        return apx_error_set(&call->err, AP_ENOMEM, "out of memory");
    }
    call->files[call->nfiles++] = m;
    return AP_OK;
}

static int h_set_artifact(ap_vendor_call *call, const ap_vendor_artifact *a)
{
    ap_vendor_artifact v = AP_VENDOR_ARTIFACT_INIT;
    char *name, *rev, *canon;
    if (!a)
        return AP_EINVAL;
    memcpy(&v, a, a->struct_size < sizeof v ? a->struct_size : sizeof v);
    if (v.name && ap_path_validate(v.name) != AP_OK)
        return apx_error_set(&call->err, AP_EPATH,
                             "%s: vendor gave a hostile artifact name '%s'",
                             call->ref, v.name);
    name = apx_strdup(v.name);
    rev = apx_strdup(v.revision);
    canon = apx_strdup(v.canonical);
    if ((v.name && !name) || (v.revision && !rev) || (v.canonical && !canon)) {
        free(name);
        free(rev);
        free(canon);
        return apx_error_set(&call->err, AP_ENOMEM, "out of memory");
    }
    free(call->name);
    free(call->revision);
    free(call->canonical);
    call->name = name;
    call->revision = rev;
    call->canonical = canon;
    return AP_OK;
}

static int h_set_error(ap_vendor_call *call, int status, const char *fmt, ...)
{
    va_list ap;
    if (status >= 0)
        status = AP_EVENDOR;
    va_start(ap, fmt);
    apx_error_vset(&call->err, status, fmt, ap);
    va_end(ap);
    return status;
}

static void h_log(ap_vendor_call *call, int level, const char *fmt, ...)
{
    char msg[APX_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (call->tracker)
        (void)ap_tracker_log(call->tracker, (ap_log_level)level, NULL, AP_OK, msg);
}

/* The value of `key` in the caller's NULL-terminated "key", "value" list
 * (the last pair naming it wins), or NULL. */
static const char *call_option(const ap_vendor_call *call, const char *key)
{
    const char *const *kv = call ? call->options : NULL;
    const char *found = NULL;
    size_t i;
    if (!kv || !key)
        return NULL;
    for (i = 0; kv[i] && kv[i + 1]; i += 2)
        if (strcmp(kv[i], key) == 0)
            found = kv[i + 1];
    return found;
}

/* The caller's "env:NAME" option first, then the process environment. */
static const char *h_getenv(ap_vendor_call *call, const char *name)
{
    char key[256];
    const char *v;
    int n;
    if (!name)
        return NULL;
    n = snprintf(key, sizeof key, "env:%s", name);
    if (n > 0 && (size_t)n < sizeof key && (v = call_option(call, key)))
        return v;
    return getenv(name);
}

static const char *h_option(ap_vendor_call *call, const char *key)
{
    return call_option(call, key);
}

static int h_is_cancelled(ap_vendor_call *call)
{
    return ap_cancel_is_set(call->cancel);
}

static int h_progress(ap_vendor_call *call, uint64_t done, uint64_t total)
{
    ap_progress p;
    if (!call->tracker)
        return ap_cancel_is_set(call->cancel);
    ap_tracker_snapshot(call->tracker, &p);
    if (total && total != p.file_total) {
        /* the vendor knows the current file's total (a download whose
         * size was unknown, a build's `progress DONE/TOTAL`): events show
         * file_done / file_total against it */
        ap_tracker_set_file(call->tracker, p.file, p.file_done, total);
    }
    if (done > p.file_done) {
        if (ap_tracker_advance(call->tracker, done - p.file_done) != 0)
            return 1;
    }
    return ap_cancel_is_set(call->cancel) || ap_tracker_tick(call->tracker) != 0;
}

/* The references this thread is provisioning through host->provision, so
 * that a chain of calls coming back to one of them (a recipe whose input
 * is itself, or a cycle through other vendors) is refused instead of
 * recursing forever.  Thread-local: an ap_jobs worker runs its job's
 * nested provisions on its own thread. */
typedef struct provision_link {
    const char *ref;
    const struct provision_link *up;
} provision_link;

static _Thread_local const provision_link *provision_chain;

#define APX_PROVISION_DEPTH_MAX 8

/* The nested request's events: its files in place become log events of
 * the caller's pull, and every event ticks the caller's tracker, so the
 * caller's heartbeat goes on while an input downloads; a caller's event
 * callback asking to abort aborts the input too. */
static int nested_event(const ap_event *ev, void *user)
{
    ap_vendor_call *call = user;
    if (!call->tracker)
        return 0;
    if (ev->kind == AP_EVENT_FILE_DONE && ev->file) {
        char msg[APX_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "input %s: %s in place", ev->artifact ? ev->artifact : "?",
                 ev->file);
        if (ap_tracker_log(call->tracker, AP_LOG_INFO, NULL, AP_OK, msg))
            return 1;
    }
    return ap_tracker_tick(call->tracker) != 0;
}

static int h_provision(ap_vendor_call *call, const char *ref,
                       int (*each)(void *user, const ap_vendor_entry_file *f),
                       void *user)
{
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    ap_provisioner *p = call->prov;
    const provision_link *l;
    provision_link self;
    ap_entry *e = NULL;
    unsigned depth = 0;
    size_t k;
    int rc;

    if (!ref || !*ref || !each)
        return apx_error_set(&call->err, AP_EINVAL, "%s: provision without a "
                             "reference or a callback", call->ref);
    if (strcmp(ref, call->ref) == 0)
        return apx_error_set(&call->err, AP_EINVAL, "%s: refers to itself as an "
                             "input (a reference cannot be made from itself)",
                             call->ref);
    for (l = provision_chain; l; l = l->up, depth++)
        if (strcmp(l->ref, ref) == 0)
            return apx_error_set(&call->err, AP_EINVAL, "%s: input %s is already "
                                 "being provisioned by this chain of inputs (a "
                                 "cycle)", call->ref, ref);
    if (depth >= APX_PROVISION_DEPTH_MAX)
        return apx_error_set(&call->err, AP_EINVAL, "%s: input %s: inputs nested "
                             "deeper than %d", call->ref, ref,
                             APX_PROVISION_DEPTH_MAX);
    if (ap_cancel_is_set(call->cancel))
        return apx_error_set(&call->err, AP_ECANCELLED, "%s: cancelled", call->ref);
    o.cancel = call->cancel;
    o.vendor_options = call->options;
    o.ca_file = call->ca_file;
    o.min_rate = call->min_rate;
    o.min_rate_window_ms = call->min_rate_window_ms;
    o.flags = call->flags & (AP_PROVISION_REFRESH | AP_PROVISION_REQUIRE_VERIFIED);
    o.on_event = nested_event;
    o.event_user = call;
    self.ref = call->ref;
    self.up = provision_chain;
    provision_chain = &self;
    rc = p->provision(p, ref, &o, &e);
    provision_chain = self.up;
    if (rc != AP_OK) {
        /* the nested message starts with the input's reference already */
        const char *why = p->err.msg[0] ? p->err.msg : ap_strerror(rc);
        size_t rl = strlen(ref);
        if (strncmp(why, ref, rl) == 0 && why[rl] == ':' && why[rl + 1] == ' ')
            why += rl + 2;
        apx_error_set(&call->err, rc, "%s: input %s: %s", call->ref, ref, why);
        apx_error_clear(&p->err); /* the outer request reports it */
        return rc;
    }
    apx_error_clear(&p->err);
    for (k = 0; rc == AP_OK && e && k < e->nfiles; k++) {
        const ap_entry_file *f = &e->files[k];
        ap_vendor_entry_file vf;
        char *blob = NULL;
        if (!f->present || !f->sha256 ||
            ap_store_blob_path(p->store, f->sha256, &blob) != AP_OK) {
            rc = apx_error_set(&call->err, AP_ENOTFOUND, "%s: input %s: file '%s' "
                               "is not in the store", call->ref, ref, f->name);
            break;
        }
        apx_entry_file_for_vendor(e, f, blob, &vf);
        rc = each(user, &vf);
        free(blob);
    }
    ap_entry_free(e);
    return rc;
}

const ap_host apx_host_table = {
    sizeof(ap_host), AP_VENDOR_ABI_VERSION,
    h_http, h_http_header, h_http_free,
    h_add_file, h_set_artifact,
    h_set_error, h_log,
    h_getenv, h_option,
    h_is_cancelled, h_progress,
    apx_host_put_copy, apx_host_put_symlink, apx_host_put_bytes,
    apx_host_read_beneath, apx_host_commit_entry, apx_host_warn,
    apx_host_catalog_files,
    sizeof(ap_vendor_file),
    h_provision,
};
