/* libartifactprov — the provisioner: reference → vendor → engine → store
 * → catalog.  SPDX-License-Identifier: MIT */
#include "prov.h"
#include "digest.h"
#include "engine.h"
#include "hfcache.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (opts) {
        if (opts->struct_size < offsetof(ap_provisioner_options, home) + sizeof(char *))
            return AP_EINVAL;
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    }
    p = apx_calloc(1, sizeof *p);
    if (!p)
        return AP_ENOMEM;
    p->next_job = 1;
    rc = ap_store_open(&p->store, o.home);
    if (rc != AP_OK) {
        apx_error_set(&p->err, rc, "store: %s", p->store ? ap_store_errmsg(p->store)
                                                        : ap_strerror(rc));
        ap_store_close(p->store);
        free(p);
        return rc;
    }
    rc = ap_catalog_open(&p->catalog, p->store);
    if (rc != AP_OK) {
        ap_store_close(p->store);
        free(p);
        return rc;
    }
    if (!(o.flags & AP_PROV_NO_PLUGINS)) {
        const char *env = o.vendor_path ? o.vendor_path : getenv("AP_VENDOR_PATH");
        apx_vendor_scan(p, env);
        if (!o.vendor_path)
            apx_vendor_scan(p, AP_VENDORDIR);
    }
    *out = p;
    return AP_OK;
}

AP_EXPORT void ap_provisioner_free(ap_provisioner *p)
{
    if (!p)
        return;
    apx_vendors_free(p);
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
    out->abi_major = v->desc.abi_major;
    out->abi_minor = v->desc.abi_minor;
    return AP_OK;
}

AP_EXPORT const char *const *ap_provisioner_refusals(const ap_provisioner *p)
{
    static const char *const none[] = { NULL };
    if (!p || !p->refusals)
        return none;
    return (const char *const *)p->refusals;
}

/* ---- provisioning ------------------------------------------------------ */

typedef struct job {
    ap_provisioner *prov;
    const ap_provision_options *o;
    const char *ref;
    ap_tracker *tracker;
    ap_entry *entry;
    uint64_t last_put_ms;
} job;

/* The tracker's sink: forward to the user, and keep the catalog's view of
 * the download current without writing a document per chunk. */
static int job_sink(const ap_event *ev, void *user)
{
    job *j = user;
    int rc = 0;
    if (j->o->on_event)
        rc = j->o->on_event(ev, j->o->event_user);
    if (j->entry && (ev->kind == AP_EVENT_PROGRESS || ev->kind == AP_EVENT_HEARTBEAT)) {
        uint64_t now = apx_now_ms();
        j->entry->done_bytes = ev->progress->bytes_done;
        if (now - j->last_put_ms >= 1000) {
            j->last_put_ms = now;
            j->entry->updated = apx_wall_s();
            (void)ap_catalog_put(j->prov->catalog, j->entry);
        }
    }
    return rc;
}

static int fail(job *j, int status, const char *fmt, ...) AP_PRINTF(3, 4);

static int fail(job *j, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    apx_error_vset(&j->prov->err, status, fmt, ap);
    va_end(ap);
    return status;
}

/* Take a store lock, waiting as long as another job or process holds it,
 * but stay cancellable and keep the heartbeat going meanwhile. */
static int lock_waiting(job *j, const char *name, const char *what, int *fd)
{
    int rc, said = 0, cfd = ap_cancel_token_fd(j->o->cancel);
    while ((rc = ap_store_trylock(j->prov->store, name, fd)) == AP_EBUSY) {
        struct pollfd pfd = { cfd, POLLIN, 0 };
        if (!said++) {
            char msg[256];
            snprintf(msg, sizeof msg, "waiting for another download of %s", what);
            if (ap_tracker_emit(j->tracker, AP_EVENT_LOG, NULL, 0, msg))
                return fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        }
        if (cfd >= 0)
            (void)poll(&pfd, 1, 50);
        else {
            struct timespec ts = { 0, 50 * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (ap_cancel_is_set(j->o->cancel))
            return fail(j, AP_ECANCELLED, "%s: cancelled", j->ref);
        if (ap_tracker_tick(j->tracker))
            return fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    }
    return rc;
}

static int glob_any(const char *const *globs, const char *path)
{
    size_t i;
    for (i = 0; globs && globs[i]; i++)
        if (fnmatch(globs[i], path, 0) == 0)
            return 1;
    return 0;
}

/* Apply include/exclude globs to the manifest, in place. */
static void filter_manifest(ap_vendor_call *call, const ap_provision_options *o)
{
    size_t i, k = 0;
    for (i = 0; i < call->nfiles; i++) {
        const char *p = call->files[i].path;
        int keep = (!o->include || !o->include[0] || glob_any(o->include, p)) &&
                   !glob_any(o->exclude, p);
        if (keep)
            call->files[k++] = call->files[i];
        else
            apx_mfile_clear(&call->files[i]);
    }
    call->nfiles = k;
}

/* sha256 of a file the previous entry had with the same git blob id. */
static const char *previous_sha256(const ap_entry *prev, const apx_mfile *m)
{
    size_t i;
    if (!prev || !m->git_sha1)
        return NULL;
    for (i = 0; i < prev->nfiles; i++) {
        const ap_entry_file *f = &prev->files[i];
        if (f->git_sha1 && f->sha256 && strcmp(f->git_sha1, m->git_sha1) == 0)
            return f->sha256;
    }
    return NULL;
}

static int build_entry(job *j, ap_vendor_call *call, const char *id,
                       const ap_entry *prev)
{
    ap_entry *e = apx_calloc(1, sizeof *e);
    size_t i;
    if (!e)
        return AP_ENOMEM;
    e->struct_size = sizeof *e;
    e->id = apx_strdup(id);
    e->vendor = apx_strdup(call->vendor->desc.name);
    e->ref = apx_strdup(j->ref);
    e->name = apx_strdup(call->name ? call->name : j->ref);
    e->revision = apx_strdup(call->revision);
    e->status = AP_ENTRY_DOWNLOADING;
    e->created = prev ? prev->created : apx_wall_s();
    e->updated = apx_wall_s();
    e->files = apx_calloc(call->nfiles ? call->nfiles : 1, sizeof *e->files);
    j->entry = e;
    if (!e->id || !e->vendor || !e->ref || !e->name || !e->files)
        return AP_ENOMEM;
    e->nfiles = call->nfiles;
    for (i = 0; i < call->nfiles; i++) {
        const apx_mfile *m = &call->files[i];
        ap_entry_file *f = &e->files[i];
        char known[AP_SHA256_HEX_LEN + 1];
        const char *sha = m->sha256 ? m->sha256 : previous_sha256(prev, m);
        if (!sha && m->git_sha1 && apx_gitsha1_lookup(j->prov, m->git_sha1, known) == AP_OK)
            sha = known;
        f->name = apx_strdup(m->path);
        f->sha256 = apx_strdup(sha);
        f->git_sha1 = apx_strdup(m->git_sha1);
        f->url = apx_strdup(m->url);
        f->size = m->size == AP_SIZE_UNKNOWN ? 0 : m->size;
        if (!f->name || (sha && !f->sha256))
            return AP_ENOMEM;
        e->total_size += f->size;
    }
    return AP_OK;
}

/* git's blob id of a file: sha1("blob <size>\0" + bytes). */
static int git_blob_sha1(const char *path, char hex[41])
{
    char head[48];
    apx_digest *d = NULL;
    struct stat st;
    int n, fd = open(path, O_RDONLY | O_CLOEXEC), rc = AP_EIO;
    if (fd >= 0 && fstat(fd, &st) == 0 && (d = apx_digest_new(APX_SHA1))) {
        n = snprintf(head, sizeof head, "blob %llu", (unsigned long long)st.st_size);
        apx_digest_update(d, head, (size_t)n + 1); /* with its NUL */
        rc = apx_digest_fd(d, fd, NULL);
        if (rc == AP_OK)
            rc = apx_digest_final_hex(d, hex);
    }
    apx_digest_free(d);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Import a local file as a blob (hard link when possible); a file known by
 * its git blob id is checked against it first, one known by its sha256 by
 * the store's import. */
static int import_path(job *j, const apx_mfile *m, ap_entry_file *f, const char *path)
{
    char hex[AP_SHA256_HEX_LEN + 1];
    int rc;
    if (m->git_sha1 && !m->sha256) {
        char git[41];
        rc = git_blob_sha1(path, git);
        if (rc == AP_OK && strcmp(git, m->git_sha1) != 0)
            rc = fail(j, AP_EDIGEST, "%s: file '%s': %s: git blob id mismatch (want %s, "
                      "got %s)", j->ref, m->path, path, m->git_sha1, git);
        else if (rc != AP_OK)
            rc = fail(j, rc, "%s: file '%s': cannot read %s: %s", j->ref, m->path, path,
                      strerror(errno));
        if (rc != AP_OK)
            return rc;
    }
    rc = ap_store_import(j->prov->store, path, m->sha256, AP_IMPORT_LINK, hex);
    if (rc != AP_OK)
        return fail(j, rc, "%s: file '%s': cannot import %s: %s", j->ref, m->path,
                    path, ap_store_errmsg(j->prov->store));
    free(f->sha256);
    f->sha256 = apx_strdup(hex);
    f->present = f->sha256 != NULL;
    return f->sha256 ? AP_OK : AP_ENOMEM; /* imported: nothing fetched */
}

/* A file:// URL is the file's only source: import it or fail. */
static int import_local(job *j, const apx_mfile *m, ap_entry_file *f)
{
    char *path = apx_file_url_path(m->url);
    int rc;
    if (!path)
        return fail(j, AP_EINVAL, "%s: file '%s': bad local URL %s", j->ref, m->path, m->url);
    rc = import_path(j, m, f, path);
    free(path);
    return rc;
}

/* A local copy offered beside a URL (ap_vendor_file.local_path): import it
 * when it is right; when it is not, say so and let the URL serve. */
static int try_local_copy(job *j, const apx_mfile *m, ap_entry_file *f)
{
    int rc = import_path(j, m, f, m->local_path);
    if (rc == AP_EDIGEST || rc == AP_ENOTFOUND || rc == AP_EIO || rc == AP_EINVAL) {
        char msg[APX_ERRMSG_MAX + 64];
        snprintf(msg, sizeof msg, "local copy not used, downloading: %s", j->prov->err.msg);
        apx_error_clear(&j->prov->err);
        if (ap_tracker_emit(j->tracker, AP_EVENT_LOG, m->path, rc, msg))
            return fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        return AP_ENOTFOUND; /* not imported: fetch */
    }
    return rc;
}

/* Run a vendor's own download() into a staging file, then hash it. */
static int vendor_download(job *j, ap_vendor_call *call, const apx_mfile *m,
                           ap_entry_file *f)
{
    ap_vendor_file vf = AP_VENDOR_FILE_INIT;
    char *staging = NULL, hex[65];
    uint64_t size = 0;
    int fd, rc;

    rc = ap_store_staging_path(j->prov->store, m->url ? m->url : m->path, &staging);
    if (rc != AP_OK)
        return fail(j, rc, "%s: file '%s': %s", j->ref, m->path,
                    ap_store_errmsg(j->prov->store));
    fd = open(staging, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        rc = fail(j, AP_EIO, "%s: file '%s': cannot create %s: %s", j->ref,
                  m->path, staging, strerror(errno));
        free(staging);
        return rc;
    }
    vf.path = m->path;
    vf.size = m->size;
    vf.sha256 = m->sha256;
    vf.git_sha1 = m->git_sha1;
    vf.url = m->url;
    vf.etag = m->etag;
    vf.flags = m->flags;
    ap_tracker_set_file(j->tracker, m->path, 0, m->size == AP_SIZE_UNKNOWN ? 0 : m->size);
    apx_error_clear(&call->err);
    rc = call->vendor->desc.download(call->vendor->state, call, &vf, fd);
    if (rc == AP_OK && fsync(fd) != 0)
        rc = apx_error_set(&call->err, AP_EIO, "fsync: %s", strerror(errno));
    close(fd);
    if (rc == AP_OK && ap_cancel_is_set(call->cancel))
        rc = AP_ECANCELLED;
    if (rc == AP_OK && (rc = apx_sha256_file(staging, hex, &size)) != AP_OK)
        apx_error_set(&call->err, rc, "cannot hash %s", staging);
    if (rc == AP_OK && m->size != AP_SIZE_UNKNOWN && size != m->size)
        rc = apx_error_set(&call->err, AP_ESIZE, "size mismatch (want %llu, got %llu)",
                           (unsigned long long)m->size, (unsigned long long)size);
    if (rc == AP_OK && m->sha256 && strcmp(m->sha256, hex) != 0)
        rc = apx_error_set(&call->err, AP_EDIGEST, "sha256 mismatch (want %s, got %s)",
                           m->sha256, hex);
    if (rc == AP_OK)
        rc = ap_store_commit(j->prov->store, staging, hex, 1);
    if (rc != AP_OK) {
        unlink(staging);
        rc = fail(j, rc, "%s: file '%s': %s", j->ref, m->path,
                  call->err.msg[0] ? call->err.msg : ap_strerror(rc));
    } else {
        free(f->sha256);
        f->sha256 = apx_strdup(hex);
        f->size = size;
        j->entry->fetched_bytes += size;
    }
    free(staging);
    return rc;
}

/* Whether this provision fetches the file: all of them, except for a
 * metadata-only one (sync), which takes the small files only. */
static int wanted(const job *j, const apx_mfile *m)
{
    return !(j->o->flags & AP_PROVISION_METADATA_ONLY) || (m->flags & AP_VFILE_METADATA) ||
           (m->size != AP_SIZE_UNKNOWN && m->size < AP_METADATA_MAX);
}

typedef struct fetch_set {
    apx_fetch_file *ff;
    size_t *idx;      /* ff[k] fetches entry file idx[k] */
    char **staging;
    size_t n;
} fetch_set;

static void fetch_set_free(fetch_set *s)
{
    size_t k;
    for (k = 0; k < s->n; k++)
        free(s->staging[k]);
    free(s->ff);
    free(s->idx);
    free(s->staging);
}

/* Fetch every file the store lacks with the engine, then commit them. */
static int engine_fetch(job *j, ap_vendor_call *call, int *lock_fds, size_t *nlocks)
{
    const ap_provision_options *o = j->o;
    ap_entry *e = j->entry;
    fetch_set s;
    apx_fetch_opts fo;
    apx_error err;
    size_t i, k;
    int rc = AP_OK;

    memset(&s, 0, sizeof s);
    s.ff = apx_calloc(e->nfiles, sizeof *s.ff);
    s.idx = apx_calloc(e->nfiles, sizeof *s.idx);
    s.staging = apx_calloc(e->nfiles, sizeof *s.staging);
    if (!s.ff || !s.idx || !s.staging) {
        fetch_set_free(&s);
        return fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    }
    for (i = 0; i < e->nfiles && rc == AP_OK; i++) {
        const apx_mfile *m = &call->files[i];
        ap_entry_file *f = &e->files[i];
        apx_fetch_file *x;
        if (f->present)
            continue;
        if (!wanted(j, m))
            continue;
        if (f->sha256) {
            /* One download per blob across jobs and processes: take the
             * blob's lock, then look again. */
            int fd;
            char name[80];
            snprintf(name, sizeof name, "blob-%s", f->sha256);
            rc = lock_waiting(j, name, f->name, &fd);
            if (rc == AP_OK)
                lock_fds[(*nlocks)++] = fd;
            else if (rc == AP_ECANCELLED || rc == AP_EUSER)
                break;
            rc = AP_OK; /* no lock (e.g. read-only locks/): go on unlocked */
            if (!(o->flags & AP_PROVISION_FORCE) &&
                ap_store_has_blob(j->prov->store, f->sha256) == 1) {
                f->present = 1;
                continue;
            }
        }
        if (m->url && strncmp(m->url, "file://", 7) == 0) {
            rc = import_local(j, m, f);
            f->present = rc == AP_OK;
            continue;
        }
        if (m->local_path && !(o->flags & AP_PROVISION_FORCE)) {
            rc = try_local_copy(j, m, f);
            if (rc == AP_OK)
                continue;
            if (rc != AP_ENOTFOUND)
                break;
            rc = AP_OK;
        }
        if (call->vendor->desc.download) {
            rc = vendor_download(j, call, m, f);
            f->present = rc == AP_OK;
            if (rc == AP_OK)
                rc = ap_tracker_file_done(j->tracker, m->path) ? AP_EUSER : AP_OK;
            continue;
        }
        k = s.n;
        {
            char *key = apx_asprintf("%s\n%s", f->sha256 ? f->sha256 : "",
                                     m->etag ? m->etag : m->url);
            if (!key)
                rc = AP_ENOMEM;
            else
                rc = ap_store_staging_path(j->prov->store, key, &s.staging[k]);
            free(key);
        }
        if (rc != AP_OK) {
            rc = fail(j, rc, "%s: file '%s': %s", j->ref, m->path,
                      ap_store_errmsg(j->prov->store));
            break;
        }
        x = &s.ff[k];
        x->label = m->path;
        x->url = m->url;
        x->headers = (const char *const *)m->headers;
        x->bearer = m->bearer;
        x->bearer_host = m->bearer_host;
        x->size = m->size;
        x->sha256 = f->sha256;
        x->git_sha1 = m->git_sha1;
        x->validator = m->etag ? m->etag : (f->sha256 ? f->sha256 : m->git_sha1);
        x->staging_path = s.staging[k];
        s.idx[k] = i;
        s.n++;
    }
    if (rc == AP_OK && s.n) {
        memset(&fo, 0, sizeof fo);
        fo.cancel = o->cancel;
        fo.tracker = j->tracker;
        fo.max_connections = o->max_connections;
        fo.max_per_host = o->max_per_host;
        fo.connections_per_file = o->connections_per_file;
        fo.chunk_size = o->chunk_size;
        fo.max_attempts = o->max_attempts;
        fo.stall_timeout_ms = o->stall_timeout_ms;
        fo.max_bytes_per_sec = o->max_bytes_per_sec;
        fo.drop_partial = (o->flags & AP_PROVISION_DROP_PARTIAL) != 0;
        apx_error_clear(&err);
        rc = apx_fetch(&fo, s.ff, s.n, &err);
        for (k = 0; k < s.n; k++)
            e->fetched_bytes += s.ff[k].bytes_fetched;
        if (rc != AP_OK) {
            if (rc == AP_ECANCELLED)
                rc = fail(j, rc, "%s: cancelled", j->ref);
            else
                rc = fail(j, rc, "%s: %s", j->ref, err.msg[0] ? err.msg : ap_strerror(rc));
        }
        /* Commit every file that made it, even when another failed: what
         * is verified is kept (the next run needs not fetch it again). */
        for (k = 0; k < s.n; k++) {
            ap_entry_file *f = &e->files[s.idx[k]];
            int crc;
            if (s.ff[k].status != AP_OK)
                continue;
            if (!s.ff[k].sha256) {
                /* Its digest is known only now: hold the blob's lock from
                 * the commit until the entry naming it is written, so a
                 * concurrent gc cannot take it in between. */
                char name[80];
                int fd;
                snprintf(name, sizeof name, "blob-%s", s.ff[k].sha256_out);
                if (*nlocks < AP_MAX_JOB_LOCKS &&
                    ap_store_trylock(j->prov->store, name, &fd) == AP_OK)
                    lock_fds[(*nlocks)++] = fd;
            }
            crc = ap_store_commit(j->prov->store, s.staging[k], s.ff[k].sha256_out, 1);
            if (crc != AP_OK) {
                if (rc == AP_OK)
                    rc = fail(j, crc, "%s: file '%s': %s", j->ref, f->name,
                              ap_store_errmsg(j->prov->store));
                continue;
            }
            free(f->sha256);
            f->sha256 = apx_strdup(s.ff[k].sha256_out);
            f->size = s.ff[k].size_out;
            f->present = f->sha256 != NULL;
            if (!f->present && rc == AP_OK)
                rc = fail(j, AP_ENOMEM, "%s: file '%s': out of memory", j->ref, f->name);
            if (ap_tracker_file_done(j->tracker, f->name) && rc == AP_OK)
                rc = fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        }
    }
    fetch_set_free(&s);
    return rc;
}

/* Classify and link every present file; fill paths and the total. */
int apx_entry_finish(ap_provisioner *p, ap_entry *e)
{
    size_t i;
    e->total_size = 0;
    for (i = 0; i < e->nfiles; i++) {
        ap_entry_file *f = &e->files[i];
        char *blob = NULL, *view = NULL;
        int rc;
        if (!f->present || !f->sha256) {
            e->total_size += f->size;
            continue;
        }
        rc = ap_store_blob_path(p->store, f->sha256, &blob);
        if (rc != AP_OK)
            return apx_error_set(&p->err, rc, "%s: %s", e->ref, ap_store_errmsg(p->store));
        {
            /* The blob is the truth about the size (a URL gives none). */
            struct stat st;
            if (stat(blob, &st) == 0)
                f->size = (uint64_t)st.st_size;
        }
        e->total_size += f->size;
        free(f->kind);
        free(f->format);
        free(f->precision);
        f->kind = f->format = f->precision = NULL;
        (void)ap_classify_file(blob, f->name, &f->kind, &f->format, &f->precision);
        rc = ap_store_link_view(p->store, e->vendor, e->name, f->name, f->sha256, &view);
        free(f->path);
        if (rc == AP_OK) {
            f->path = view;
            free(blob);
        } else {
            f->path = blob; /* the blob itself is still a valid path */
        }
        if (f->git_sha1)
            apx_gitsha1_remember(p, f->git_sha1, f->sha256);
    }
    return AP_OK;
}

static int mark_present(job *j, const ap_vendor_call *call)
{
    ap_entry *e = j->entry;
    size_t i;
    for (i = 0; i < e->nfiles; i++) {
        ap_entry_file *f = &e->files[i];
        f->present = !(j->o->flags & AP_PROVISION_FORCE) && f->sha256 &&
                     ap_store_has_blob(j->prov->store, f->sha256) == 1;
        if (!f->present && wanted(j, &call->files[i]))
            ap_tracker_add_total(j->tracker, f->size, 1);
    }
    return AP_OK;
}

/* The revision the user named in an hf: reference ("main" when none). */
static char *hf_revision_name(const char *ref)
{
    const char *at = strchr(ref, '@'), *end;
    if (!at)
        return apx_strdup("main");
    at++;
    if (strncmp(at, "refs/", 5) == 0) {
        end = strchr(at + 5, '/');
        end = end ? strchr(end + 1, '/') : NULL;
    } else
        end = at + strcspn(at, "/:");
    if (!end)
        end = at + strcspn(at, ":");
    return apx_strndup(at, (size_t)(end - at));
}

/* Publish what an hf: job pulled into a Hugging Face cache directory, so
 * Python and JS tools find it offline (DESIGN.md §6 layout). */
static int publish_hf(job *j, const ap_vendor_call *call)
{
    ap_entry *e = j->entry;
    const char *type = "model", *repo = e->name;
    char *rev;
    size_t i;
    int rc = AP_OK;
    apx_error err;

    if (strcmp(e->vendor, "huggingface") != 0)
        return fail(j, AP_EUNSUPPORTED, "%s: publishing into an HF cache is only "
                    "for hf: references", j->ref);
    if (!e->revision)
        return fail(j, AP_EPROTOCOL, "%s: no resolved commit to publish", j->ref);
    if (strncmp(repo, "datasets/", 9) == 0) {
        type = "dataset";
        repo += 9;
    } else if (strncmp(repo, "spaces/", 7) == 0) {
        type = "space";
        repo += 7;
    }
    rev = hf_revision_name(j->ref);
    if (!rev)
        return fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    for (i = 0; rc == AP_OK && i < e->nfiles; i++) {
        const ap_entry_file *f = &e->files[i];
        const apx_mfile *m = &call->files[i];
        const char *etag = m->sha256 ? m->sha256 : m->git_sha1;
        char *blob = NULL;
        if (!f->present || !etag)
            continue;
        apx_error_clear(&err);
        rc = ap_store_blob_path(j->prov->store, f->sha256, &blob);
        if (rc == AP_OK)
            rc = apx_hf_publish(j->o->hf_cache_publish, type, repo, e->revision,
                                rev, f->name, etag, blob, NULL, &err);
        free(blob);
        if (rc != AP_OK)
            rc = fail(j, rc, "%s: publishing '%s' into the HF cache %s: %s", j->ref,
                      f->name, j->o->hf_cache_publish, err.msg);
    }
    free(rev);
    return rc;
}

static int parse_scheme(const char *ref, size_t *len)
{
    size_t i;
    for (i = 0; ref[i] && ref[i] != ':'; i++) {
        char c = ref[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
            return -1;
    }
    if (!ref[i] || i == 0)
        return -1;
    *len = i;
    return 0;
}

static void schemes_list(ap_provisioner *p, char *buf, size_t sz)
{
    size_t i, j, used = 0;
    buf[0] = '\0';
    for (i = 0; i < p->nvendors; i++)
        for (j = 0; p->vendors[i].desc.schemes[j]; j++) {
            int n = snprintf(buf + used, sz - used, "%s%s:", used ? ", " : "",
                             p->vendors[i].desc.schemes[j]);
            if (n < 0 || (size_t)n >= sz - used)
                return;
            used += (size_t)n;
        }
}

#define GRAMMAR \
    "hf:ORG/REPO[@REV][:QUANT|/PATH], gh:OWNER/REPO[@TAG]/GLOB, " \
    "ollama:[HOST/][NS/]MODEL[:TAG], https://HOST/PATH[#sha256=HEX]"

static int run_job(job *j, ap_entry **out)
{
    ap_provisioner *p = j->prov;
    const ap_provision_options *o = j->o;
    ap_vendor_call call;
    apx_vendor *v;
    ap_entry *prev = NULL;
    char *id = NULL, known[512];
    int rc, entry_lock = -1, lock_fds[AP_MAX_JOB_LOCKS];
    size_t scheme_len, nlocks = 0, i;

    if (parse_scheme(j->ref, &scheme_len) != 0) {
        schemes_list(p, known, sizeof known);
        return fail(j, AP_EINVAL, "'%s': not a reference (want SCHEME:..., e.g. %s; "
                    "loaded schemes: %s)", j->ref, GRAMMAR, known[0] ? known : "none");
    }
    v = apx_vendor_for_scheme(p, j->ref, scheme_len);
    if (!v) {
        schemes_list(p, known, sizeof known);
        return fail(j, AP_EVENDOR, "%s: no vendor serves the scheme '%.*s:' "
                    "(loaded: %s; set AP_VENDOR_PATH?)", j->ref, (int)scheme_len,
                    j->ref, known[0] ? known : "none");
    }
    rc = ap_entry_make_id(v->desc.name, j->ref, &id);
    if (rc != AP_OK)
        return fail(j, rc, "%s: out of memory", j->ref);

    apx_call_init(&call, p, v, j->ref, o->cancel);
    call.tracker = j->tracker;
    rc = v->desc.resolve(v->state, &call, j->ref);
    APX_FAULT("resolve");
    if (rc == AP_OK && ap_cancel_is_set(o->cancel))
        rc = apx_error_set(&call.err, AP_ECANCELLED, "%s: cancelled", j->ref);
    if (rc == AP_EOFFLINE &&
        ap_catalog_get(p->catalog, id, &prev) == AP_OK && prev->status == AP_ENTRY_READY) {
        /* Offline, but we have it: serve the catalog's entry if intact. */
        for (i = 0; i < prev->nfiles; i++)
            if (!prev->files[i].sha256 ||
                ap_store_has_blob(p->store, prev->files[i].sha256) != 1)
                break;
        if (i == prev->nfiles) {
            apx_call_clear(&call);
            free(id);
            prev->fetched_bytes = 0; /* this provision transferred nothing */
            (void)ap_tracker_emit(j->tracker, AP_EVENT_DONE, NULL, 0, "offline: from the catalog");
            if (out)
                *out = prev;
            else
                ap_entry_free(prev);
            return AP_OK;
        }
    }
    if (rc != AP_OK) {
        if (rc > 0)
            rc = AP_EVENDOR;
        if (!call.err.msg[0])
            apx_error_set(&call.err, rc, "%s: vendor '%s' failed: %s", j->ref,
                          v->desc.name, ap_strerror(rc));
        if (strncmp(call.err.msg, j->ref, strlen(j->ref)) != 0)
            apx_error_prefix(&call.err, "%s", j->ref);
        apx_error_set(&p->err, rc, "%s", call.err.msg);
        goto out;
    }
    filter_manifest(&call, o);
    if (call.nfiles == 0) {
        rc = fail(j, AP_ENOTFOUND, "%s: no file matches%s", j->ref,
                  (o->include || o->exclude) ? " the include/exclude filters" : "");
        goto out;
    }
    rc = lock_waiting(j, id, j->ref, &entry_lock);
    if (rc == AP_ECANCELLED || rc == AP_EUSER)
        goto out;
    if (rc != AP_OK)
        entry_lock = -1;
    rc = AP_OK;
    ap_entry_free(prev);
    prev = NULL;
    (void)ap_catalog_get(p->catalog, id, &prev);
    rc = build_entry(j, &call, id, prev);
    if (rc != AP_OK) {
        fail(j, rc, "%s: out of memory", j->ref);
        goto out;
    }
    mark_present(j, &call);
    if (ap_tracker_emit(j->tracker, AP_EVENT_RESOLVE, NULL, 0, j->entry->revision)) {
        rc = fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        goto out;
    }
    (void)ap_catalog_put(p->catalog, j->entry);
    j->last_put_ms = apx_now_ms();
    if (ap_tracker_emit(j->tracker, AP_EVENT_START, NULL, 0, NULL)) {
        rc = fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        goto out;
    }
    if (call.nfiles > AP_MAX_JOB_LOCKS / 2) {
        rc = fail(j, AP_EUNSUPPORTED, "%s: %zu files is more than one job handles",
                  j->ref, call.nfiles);
        goto out;
    }
    rc = engine_fetch(j, &call, lock_fds, &nlocks);
    if (apx_entry_finish(p, j->entry) != AP_OK && rc == AP_OK)
        rc = p->err.status;
    if (rc == AP_OK && o->hf_cache_publish)
        rc = publish_hf(j, &call);
out:
    if (j->entry) {
        j->entry->updated = apx_wall_s();
        free(j->entry->error);
        j->entry->error = NULL;
        if (rc == AP_OK) {
            size_t k, missing = 0;
            for (k = 0; k < j->entry->nfiles; k++)
                missing += !j->entry->files[k].present;
            j->entry->status = missing ? AP_ENTRY_PENDING : AP_ENTRY_READY;
            j->entry->done_bytes = j->entry->total_size;
        } else {
            j->entry->status = rc == AP_ECANCELLED ? AP_ENTRY_CANCELLED : AP_ENTRY_FAILED;
            j->entry->error = apx_strdup(p->err.msg);
        }
        {   /* what is returned as ready must be what the catalog says */
            int crc = ap_catalog_put(p->catalog, j->entry);
            if (crc != AP_OK && rc == AP_OK)
                rc = fail(j, crc, "%s: recording the entry in the catalog: %s", j->ref,
                          ap_catalog_errmsg(p->catalog));
        }
    }
    for (i = 0; i < nlocks; i++)
        ap_store_unlock(lock_fds[i]);
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
    job j;
    int rc;

    if (out)
        *out = NULL;
    if (!p)
        return AP_EINVAL;
    apx_error_clear(&p->err);
    if (!ref || !*ref)
        return apx_error_set(&p->err, AP_EINVAL, "empty reference (want %s)", GRAMMAR);
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
    to.sink = job_sink;
    to.sink_user = &j;
    rc = ap_tracker_new(&j.tracker, o.job_id, ref, &to);
    if (rc != AP_OK)
        return apx_error_set(&p->err, rc, "%s: out of memory", ref);
    rc = run_job(&j, out);
    if (rc != AP_OK && !p->err.msg[0])
        apx_error_set(&p->err, rc, "%s: %s", ref, ap_strerror(rc));
    p->err.status = rc;
    ap_entry_free(j.entry);
    ap_tracker_free(j.tracker);
    return rc;
}
