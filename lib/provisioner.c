/* libartifactprov — the provisioner: reference → vendor → engine → store
 * → catalog.  SPDX-License-Identifier: MIT */
#include "prov.h"
#include "digest.h"
#include "engine.h"
#include "mirrors.h"
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

/* ---- provisioning ------------------------------------------------------ */

/* A manifest file the vendor did not list for this request: another file
 * of the catalog entry the job records into (a repository recorded by a
 * sync or a snapshot, see host_entry()).  It is never fetched; its status
 * in the entry stays what it was.  (Vendor flags never carry this bit: it
 * is cleared after `resolve`.) */
#define APX_MFILE_OTHER 0x80000000u

typedef struct job {
    ap_provisioner *prov;
    const ap_provision_options *o;
    const char *ref;
    ap_tracker *tracker;
    ap_entry *entry;
    uint64_t last_put_ms;
    uint64_t put_cost_ms;   /* how long the last progress document took */
    int keep;         /* re-pull of a ready entry: its document stays until
                         a complete set replaces it */
    int count_io;     /* the bytes the thread's blocking loops report are
                         the artifact's (an import), not a re-read (hashing) */
    uint64_t io_counted; /* bytes counted so while count_io */
    unsigned char *sig_ok; /* per entry file: its signature was checked */
} job;

static int sig_cancelled(void *user);

/* Check the bytes at `path` (a staging file or a blob) against the file's
 * minisign signature and trusted key (ap_vendor_file.signature), with
 * heartbeats and cancel.  AP_OK when the file carries no signature. */
static int check_signature(job *j, const apx_mfile *m, const char *path, apx_error *err)
{
    apx_minisign_key key;
    apx_minisig sig;
    int fd, rc;
    if (!m->signature)
        return AP_OK;
    apx_tracker_phase(j->tracker, "verifying", m->path);
    if ((rc = apx_minisign_key_parse(m->public_key, "(trusted key)", &key, err)) != AP_OK)
        return rc;
    if ((rc = apx_minisig_parse(m->signature, strlen(m->signature), m->path, &sig,
                                err)) != AP_OK)
        return rc;
    if ((fd = apx_fs_open_regular(path, NULL, err)) < 0) {
        apx_minisig_clear(&sig);
        return fd;
    }
    rc = apx_minisign_verify_fd(&key, &sig, fd, m->path, sig_cancelled, j, err);
    close(fd);
    apx_minisig_clear(&sig);
    return rc;
}

/* What the bytes of a file were checked against, beyond the digest the
 * library computes itself: "sha256" (a digest the vendor gave),
 * "git-sha1" (a git blob id), "minisign" (a signature by a trusted key),
 * joined by '+'; "local" for a file made on this machine (AP_VFILE_LOCAL);
 * "none" when nothing (ap_entry_file.verification). */
static char *verification_of(const apx_mfile *m)
{
    char buf[40] = "";
    if (m->sha256)
        strcat(buf, "sha256");
    if (m->git_sha1)
        strcat(strcat(buf, buf[0] ? "+" : ""), "git-sha1");
    if (m->signature)
        strcat(strcat(buf, buf[0] ? "+" : ""), "minisign");
    if (m->flags & AP_VFILE_LOCAL)
        return apx_strdup("local");
    return apx_strdup(buf[0] ? buf : "none");
}

/* The thread's activity hook while the job runs (progress.h): every
 * blocking loop -- the vendor's HTTP calls and their retry waits, imports
 * and copies, hashing -- keeps the heartbeat going and stops on a cancel. */
static int job_tick(void *user, uint64_t bytes)
{
    job *j = user;
    if (ap_cancel_is_set(j->o->cancel))
        return AP_ECANCELLED;
    if (bytes && j->count_io) {
        apx_tracker_present(j->tracker, bytes, 0);
        j->io_counted += bytes;
    }
    if (ap_tracker_tick(j->tracker))
        return AP_EUSER;
    return 0;
}

static int sig_cancelled(void *user)
{
    return job_tick(user, 0) != 0;
}

/* Done bytes of the job now. */
static uint64_t done_now(const job *j)
{
    ap_progress p;
    ap_tracker_snapshot(j->tracker, &p);
    return p.bytes_done;
}

/* A file is in place (imported, downloaded by the vendor): its bytes count
 * as done, whatever the loop that placed it reported since `before` (the
 * done bytes then).  `known`: its size was in the total from the start. */
static void settle_file(job *j, uint64_t before, uint64_t size, int known)
{
    uint64_t d = done_now(j) - before;
    if (!known)
        apx_tracker_adjust(j->tracker, 0, (int64_t)size);
    apx_tracker_adjust(j->tracker, (int64_t)size - (int64_t)d, 0);
}

/* The tracker's sink: forward to the user, and keep the catalog's view of
 * the download current without writing a document per chunk. */
static int job_sink(const ap_event *ev, void *user)
{
    job *j = user;
    int rc = 0;
    if (j->o->on_event)
        rc = j->o->on_event(ev, j->o->event_user);
    if (j->entry && !j->keep &&
        (ev->kind == AP_EVENT_PROGRESS || ev->kind == AP_EVENT_HEARTBEAT)) {
        uint64_t now = apx_now_ms();
        j->entry->done_bytes = ev->progress->bytes_done;
        if (ev->progress->bytes_total > j->entry->total_size)
            j->entry->total_size = ev->progress->bytes_total; /* learnt from the server */
        /* at most once a second, and never more than a tenth of the time:
         * the document of a 100,000-file entry takes a while to write */
        if (now - j->last_put_ms >= 1000 && now - j->last_put_ms >= 10 * j->put_cost_ms) {
            j->entry->updated = apx_wall_s();
            (void)ap_catalog_put(j->prov->catalog, j->entry);
            j->last_put_ms = apx_now_ms();
            j->put_cost_ms = j->last_put_ms - now;
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

/* Every loop over the files of a job calls this once per file: a cancel
 * (AP_ECANCELLED) or an event callback's abort (AP_EUSER) stops it with
 * the job's message, and the heartbeat goes on meanwhile (job_tick). */
static int job_stopped(job *j)
{
    int rc = apx_tick(0);
    if (rc == AP_ECANCELLED)
        return fail(j, rc, "%s: cancelled", j->ref);
    if (rc != 0)
        return fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    return AP_OK;
}

/* Take a store lock (exclusive, or shared), waiting as long as another job
 * or process holds it, but stay cancellable and keep the heartbeat going
 * meanwhile. */
static int lock_waiting(job *j, const char *name, const char *what, int shared,
                        int *fd)
{
    int rc, said = 0, cfd = ap_cancel_token_fd(j->o->cancel);
    while ((rc = shared ? apx_store_lock_shared(j->prov->store, name, 1, fd)
                        : ap_store_trylock(j->prov->store, name, fd)) == AP_EBUSY) {
        struct pollfd pfd = { cfd, POLLIN, 0 };
        if (!said++) {
            char msg[256];
            apx_tracker_phase(j->tracker, "waiting", what);
            snprintf(msg, sizeof msg, "waiting for another download of %s", what);
            if (ap_tracker_log(j->tracker, AP_LOG_INFO, NULL, AP_OK, msg))
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
    if (said)
        apx_tracker_phase(j->tracker, "preparing", j->ref); /* the wait is over */
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

static int cmp_file_git(const void *a, const void *b)
{
    return strcmp((*(const ap_entry_file *const *)a)->git_sha1,
                  (*(const ap_entry_file *const *)b)->git_sha1);
}

/* The previous entry's files known by git blob id and sha256, sorted by git
 * id (NULL when none, or out of memory: then nothing is reused). */
static const ap_entry_file **previous_index(const ap_entry *prev, size_t *n)
{
    const ap_entry_file **v;
    size_t i;
    *n = 0;
    if (!prev || !prev->nfiles || !(v = apx_calloc(prev->nfiles, sizeof *v)))
        return NULL;
    for (i = 0; i < prev->nfiles; i++)
        if (prev->files[i].git_sha1 && prev->files[i].sha256)
            v[(*n)++] = &prev->files[i];
    if (*n > 1)
        qsort(v, *n, sizeof *v, cmp_file_git);
    return v;
}

/* sha256 of a file the previous entry had with the same git blob id. */
static const char *previous_sha256(const ap_entry_file **idx, size_t n, const apx_mfile *m)
{
    ap_entry_file key;
    const ap_entry_file *kp = &key, **hit;
    if (!idx || !m->git_sha1)
        return NULL;
    memset(&key, 0, sizeof key);
    key.git_sha1 = m->git_sha1;
    hit = bsearch(&kp, idx, n, sizeof *idx, cmp_file_git);
    return hit ? (*hit)->sha256 : NULL;
}

static int build_entry(job *j, ap_vendor_call *call, const char *id,
                       const ap_entry *prev)
{
    ap_entry *e = apx_calloc(1, sizeof *e);
    const ap_entry_file **pidx;
    size_t i, npidx = 0;
    if (!e)
        return AP_ENOMEM;
    e->struct_size = sizeof *e;
    e->id = apx_strdup(id);
    e->vendor = apx_strdup(call->vendor->desc.name);
    /* the vendor's canonical reference names the entry; what the caller
     * typed is kept beside it when it differs */
    e->ref = apx_strdup(call->canonical ? call->canonical : j->ref);
    if (call->canonical && strcmp(call->canonical, j->ref) != 0 &&
        !(e->requested = apx_strdup(j->ref)))
        return AP_ENOMEM;
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
    pidx = previous_index(prev, &npidx);
    for (i = 0; i < call->nfiles; i++) {
        const apx_mfile *m = &call->files[i];
        ap_entry_file *f = &e->files[i];
        char known[AP_SHA256_HEX_LEN + 1];
        const char *sha = m->sha256 ? m->sha256 : previous_sha256(pidx, npidx, m);
        int rc = job_stopped(j);
        if (rc != AP_OK) {
            free(pidx);
            return rc;
        }
        if (!sha && m->git_sha1 && apx_gitsha1_lookup(j->prov->store, m->git_sha1, known) == AP_OK)
            sha = known;
        f->struct_size = sizeof *f;
        f->status = AP_FILE_PENDING;
        f->name = apx_strdup(m->path);
        f->sha256 = apx_strdup(sha);
        f->git_sha1 = apx_strdup(m->git_sha1);
        f->url = apx_url_redact(m->url); /* never store credentials */
        f->size = m->size == AP_SIZE_UNKNOWN ? 0 : m->size;
        if (!f->name || (sha && !f->sha256)) {
            free(pidx);
            return AP_ENOMEM;
        }
        e->total_size += f->size;
    }
    free(pidx);
    return AP_OK;
}

/* Open a local file to import, never blocking on a FIFO, socket or
 * device.  strict: the path was resolved by the vendor inside its cache
 * (ap_vendor_file.local_path), so no component may be a symlink — one
 * planted since is refused instead of followed out of the cache. */
static int open_local(const char *path, int strict, apx_error *err)
{
    const char *slash;
    char *dir;
    int root, dfd, fd;

    if (!strict)
        return apx_fs_open_regular(path, NULL, err);
    if (path[0] != '/' || !(slash = strrchr(path, '/')) || !slash[1])
        return apx_error_set(err, AP_EINVAL, "'%s' is not an absolute file path", path);
    if ((root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return apx_error_set(err, AP_EIO, "open /: %s", strerror(errno));
    if (!(dir = apx_strndup(path + 1, (size_t)(slash - path - 1)))) {
        close(root);
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    }
    dfd = apx_fs_opendir_at(root, dir, 0, err);
    close(root);
    free(dir);
    if (dfd < 0) {
        apx_error_prefix(err, "'%s'", path);
        return dfd;
    }
    fd = apx_fs_open_regular_at(dfd, slash + 1, path, NULL, err);
    close(dfd);
    return fd;
}

static int wanted(const struct job *j, const apx_mfile *m);

/* Import a local file as a blob: by reflink or copy, hashed on the way
 * (by hard link only with AP_PROV_LINK_IMPORTS).  The bytes are checked
 * against the sha256 the vendor gave, else against its git blob id. */
static int import_path(job *j, const apx_mfile *m, ap_entry_file *f, const char *path,
                       int strict)
{
    char hex[AP_SHA256_HEX_LEN + 1];
    unsigned flags = j->prov->flags & AP_PROV_LINK_IMPORTS ? AP_IMPORT_LINK : 0;
    apx_error err;
    int fd, rc;

    uint64_t before;
    struct stat st;

    apx_error_clear(&err);
    if ((fd = open_local(path, strict, &err)) < 0)
        return fail(j, fd, "%s: file '%s': cannot import: %s", j->ref, m->path, err.msg);
    apx_tracker_phase(j->tracker, "importing", m->path);
    f->status = AP_FILE_DOWNLOADING;
    ap_tracker_set_file(j->tracker, m->path, 0,
                        m->size != AP_SIZE_UNKNOWN ? m->size
                        : fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0);
    before = done_now(j);
    j->count_io = 1; /* the copy's bytes are the import's progress */
    j->io_counted = 0;
    rc = apx_store_import_fd(j->prov->store, fd, path, m->sha256,
                             m->sha256 ? NULL : m->git_sha1, flags, hex, NULL);
    j->count_io = 0;
    close(fd);
    if (rc != AP_OK) {
        apx_tracker_adjust(j->tracker, -(int64_t)j->io_counted, 0); /* not in place */
        if (rc == AP_ECANCELLED)
            return fail(j, rc, "%s: file '%s': import cancelled", j->ref, m->path);
        return fail(j, rc, "%s: file '%s': cannot import %s", j->ref, m->path,
                    ap_store_errmsg(j->prov->store));
    }
    free(f->sha256);
    f->sha256 = apx_strdup(hex);
    f->present = f->sha256 != NULL;
    if (!f->present)
        return AP_ENOMEM;
    {
        char *blob = NULL;
        uint64_t size = m->size != AP_SIZE_UNKNOWN ? m->size : 0;
        if (m->size == AP_SIZE_UNKNOWN &&
            ap_store_blob_path(j->prov->store, hex, &blob) == AP_OK &&
            stat(blob, &st) == 0)
            size = (uint64_t)st.st_size;
        free(blob);
        settle_file(j, before, size, m->size != AP_SIZE_UNKNOWN);
    }
    if (ap_tracker_file_done(j->tracker, m->path))
        return fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    return AP_OK; /* imported: nothing fetched */
}

/* A file:// URL is the file's only source: import it or fail. */
static int import_local(job *j, const apx_mfile *m, ap_entry_file *f)
{
    char *path = apx_file_url_path(m->url);
    int rc;
    if (!path)
        return fail(j, AP_EINVAL, "%s: file '%s': bad local URL %s", j->ref, m->path, m->url);
    rc = import_path(j, m, f, path, 0);
    free(path);
    return rc;
}

/* A local copy offered beside a URL (ap_vendor_file.local_path): import it
 * when it is right; when it is not, say so and let the URL serve. */
static int try_local_copy(job *j, const apx_mfile *m, ap_entry_file *f)
{
    int rc = import_path(j, m, f, m->local_path, 1);
    if (rc == AP_EDIGEST || rc == AP_ENOTFOUND || rc == AP_EIO || rc == AP_EINVAL ||
        rc == AP_EPATH || rc == AP_ECORRUPT) {
        char msg[APX_ERRMSG_MAX + 64];
        snprintf(msg, sizeof msg, "local copy not used, downloading: %s", j->prov->err.msg);
        apx_error_clear(&j->prov->err);
        if (ap_tracker_log(j->tracker, AP_LOG_WARN, m->path, rc, msg))
            return fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        return AP_ENOTFOUND; /* not imported: fetch */
    }
    return rc;
}

/* Create (truncate) a staging file for writing and reading back: never
 * follows a symlink, never blocks on a FIFO; anything but a regular file
 * at that path is removed and the file created afresh (O_EXCL). */
static int open_staging(const char *path)
{
    struct stat st;
    int fd, fl, e;
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
                    O_NOCTTY, 0644);
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EINVAL;
    }
    if (fd < 0) {
        e = errno;
        if (e != ELOOP && e != EINVAL && e != ENXIO && e != EISDIR && e != EWOULDBLOCK)
            return -1;
        if (unlink(path) != 0) {
            errno = e;
            return -1;
        }
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
            return -1;
    }
    if ((fl = fcntl(fd, F_GETFL)) >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/* Run a vendor's own download() into a staging file, then hash it. */
static int vendor_download(job *j, ap_vendor_call *call, const apx_mfile *m,
                           ap_entry_file *f, const char *staging)
{
    ap_vendor_file vf = AP_VENDOR_FILE_INIT;
    char hex[65];
    uint64_t size = 0;
    int fd, rc;

    /* The caller holds the staging file's lock.  Whatever sits at the
     * staging path that is not a regular file (a planted symlink, FIFO,
     * socket or device) is replaced, never followed or blocked on. */
    fd = open_staging(staging);
    if (fd < 0)
        return fail(j, AP_EIO, "%s: file '%s': cannot create %s: %s", j->ref,
                    m->path, staging, strerror(errno));
    vf.path = m->path;
    vf.size = m->size;
    vf.sha256 = m->sha256;
    vf.git_sha1 = m->git_sha1;
    vf.url = m->url;
    vf.etag = m->etag;
    vf.flags = m->flags;
    uint64_t before = done_now(j);
    ap_tracker_set_file(j->tracker, m->path, 0, m->size == AP_SIZE_UNKNOWN ? 0 : m->size);
    apx_tracker_phase(j->tracker, "downloading", m->path);
    f->status = AP_FILE_DOWNLOADING;
    apx_error_clear(&call->err);
    rc = call->vendor->desc.download(call->vendor->state, call, &vf, fd);
    if (rc == AP_OK && fsync(fd) != 0)
        rc = apx_error_set(&call->err, AP_EIO, "fsync: %s", strerror(errno));
    if (rc == AP_OK && ap_cancel_is_set(call->cancel))
        rc = AP_ECANCELLED;
    /* Hash what the file holds, through the descriptor we wrote it with. */
    apx_tracker_phase(j->tracker, "verifying", m->path);
    if (rc == AP_OK && (rc = apx_fs_hash_fd(fd, hex, &size, &call->err)) != AP_OK)
        apx_error_prefix(&call->err, "cannot hash %s", staging);
    close(fd);
    if (rc == AP_OK && m->size != AP_SIZE_UNKNOWN && size != m->size)
        rc = apx_error_set(&call->err, AP_ESIZE, "size mismatch (want %llu, got %llu)",
                           (unsigned long long)m->size, (unsigned long long)size);
    if (rc == AP_OK && m->sha256 && strcmp(m->sha256, hex) != 0)
        rc = apx_error_set(&call->err, AP_EDIGEST, "sha256 mismatch (want %s, got %s)",
                           m->sha256, hex);
    if (rc == AP_OK && (rc = check_signature(j, m, staging, &call->err)) == AP_OK &&
        j->sig_ok)
        j->sig_ok[m - call->files] = 1;
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
        /* whatever the vendor reported through ap_host.progress(), the
         * file is in place now */
        settle_file(j, before, size, m->size != AP_SIZE_UNKNOWN);
    }
    return rc;
}

/* Whether this provision fetches the file: all of them, except for a
 * metadata-only one (sync), which takes the small files only. */
static int wanted(const job *j, const apx_mfile *m)
{
    if (m->flags & APX_MFILE_OTHER)
        return 0; /* a file of the repository entry nobody asked for */
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

/* The lock that makes one job or process the only writer of a staging
 * file: "stage-<the hex of its name>" (its name is sha256(key).part). */
static int stage_lock_name(const char *staging, char name[80])
{
    const char *b = strrchr(staging, '/');
    size_t n;
    b = b ? b + 1 : staging;
    n = strcspn(b, ".");
    if (n == 0 || n > 64)
        return AP_EINVAL;
    snprintf(name, 80, "stage-%.*s", (int)n, b);
    return AP_OK;
}

typedef struct path_idx {
    const char *path;
    size_t idx;
} path_idx;

static int cmp_path_idx(const void *a, const void *b)
{
    const path_idx *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* leader[i] = the first file with the same staging path as file i; the
 * followers' paths are dropped.  Sorted, O(n log n). */
static int follow_same_staging(char **path, size_t *leader, size_t n)
{
    path_idx *v;
    size_t m = 0, i;
    if (!(v = apx_calloc(n ? n : 1, sizeof *v)))
        return AP_ENOMEM;
    for (i = 0; i < n; i++)
        if (path[i]) {
            v[m].path = path[i];
            v[m++].idx = i;
        }
    if (m > 1)
        qsort(v, m, sizeof *v, cmp_path_idx);
    for (i = 1; i < m; i++)
        if (strcmp(v[i].path, v[i - 1].path) == 0)
            leader[v[i].idx] = leader[v[i - 1].idx];
    for (i = 0; i < m; i++)
        if (leader[v[i].idx] != v[i].idx) {
            free(path[v[i].idx]);
            path[v[i].idx] = NULL;
        }
    free(v);
    return AP_OK;
}

typedef struct lock_want {
    char name[80];
    size_t file;      /* entry file index, for messages */
    int stage;        /* a staging lock (never go on without it) */
    int fd;           /* held, or -1 */
} lock_want;

static int cmp_lock_want(const void *a, const void *b)
{
    return strcmp(((const lock_want *)a)->name, ((const lock_want *)b)->name);
}

/* Descriptors this process has open (/proc/self/fd), or `dflt`. */
static size_t open_fds(size_t dflt)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    size_t n = 0;
    if (!d)
        return dflt;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* How many files are locked and fetched together.  Each costs four
 * descriptors while its batch runs (staging and blob locks, the engine's
 * data file and its syncer's copy); the connections, the commit and a
 * reserve come on top.  Bounded by what RLIMIT_NOFILE leaves, so the
 * number of files of an entry is not (the batches run one after another). */
#define BATCH_MAX 256
static size_t batch_size(const ap_provision_options *o)
{
    struct rlimit rl;
    size_t conns = o->max_connections ? o->max_connections : 8, used, lim;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return BATCH_MAX;
    lim = rl.rlim_cur > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)rl.rlim_cur;
    used = open_fds(64) + 2 * conns + 32;
    if (lim <= used + 4)
        return 1;
    lim = (lim - used) / 4;
    return lim > BATCH_MAX ? BATCH_MAX : lim;
}

/* One batch of files to fetch: their staging paths, locks and engine set. */
typedef struct batch {
    const size_t *files;  /* entry file indexes (leaders with a staging path) */
    size_t n;
    lock_want *want;      /* 2 n */
    size_t nwant;
    fetch_set s;          /* room for n */
} batch;

static void batch_unlock(job *j, batch *b)
{
    size_t k;
    for (k = 0; k < b->nwant; k++)
        if (b->want[k].fd >= 0) {
            apx_store_unlock_remove(j->prov->store, b->want[k].name, b->want[k].fd);
            b->want[k].fd = -1;
        }
    b->nwant = 0;
}

/* Take the batch's staging and blob locks in name order (skipping repeats:
 * two files with one sha256 but different sources).  A job holds no other
 * file lock meanwhile (the previous batch's are released), so two jobs
 * sharing files in any order never deadlock. */
static int batch_lock(job *j, batch *b, char **path)
{
    ap_entry *e = j->entry;
    size_t k;
    int rc = AP_OK;
    b->nwant = 0;
    for (k = 0; k < b->n; k++) {
        size_t i = b->files[k];
        lock_want *w = &b->want[b->nwant];
        if (stage_lock_name(path[i], w->name) != AP_OK)
            return fail(j, AP_EINVAL, "%s: file '%s': unexpected staging path %s",
                        j->ref, e->files[i].name, path[i]);
        w->file = i;
        w->stage = 1;
        w->fd = -1;
        b->nwant++;
        if (e->files[i].sha256) {
            w = &b->want[b->nwant++];
            snprintf(w->name, sizeof w->name, "blob-%s", e->files[i].sha256);
            w->file = i;
            w->stage = 0;
            w->fd = -1;
        }
    }
    if (b->nwant > 1)
        qsort(b->want, b->nwant, sizeof *b->want, cmp_lock_want);
    for (k = 0; rc == AP_OK && k < b->nwant; k++) {
        lock_want *w = &b->want[k];
        int lrc;
        if (k > 0 && strcmp(w->name, b->want[k - 1].name) == 0)
            continue;
        lrc = lock_waiting(j, w->name, e->files[w->file].name, 0, &w->fd);
        if (lrc == AP_ECANCELLED || lrc == AP_EUSER)
            rc = lrc;
        else if (lrc != AP_OK && w->stage)
            rc = fail(j, lrc, "%s: file '%s': cannot lock its staging file (%s), so "
                      "another download could write it too: %s", j->ref,
                      e->files[w->file].name, w->name, ap_store_errmsg(j->prov->store));
        /* a blob lock that cannot be had (e.g. read-only locks/): the
         * staging lock still makes this job the only writer */
    }
    return rc;
}

/* Now the only writer of the batch's files: look at the store again
 * (another job may just have committed a file), then import, download or
 * queue each for the engine. */
static int batch_queue(job *j, ap_vendor_call *call, batch *b, char **path)
{
    const ap_provision_options *o = j->o;
    ap_entry *e = j->entry;
    size_t t;
    int rc = AP_OK;
    for (t = 0; t < b->n && rc == AP_OK; t++) {
        size_t i = b->files[t], k;
        const apx_mfile *m = &call->files[i];
        ap_entry_file *f = &e->files[i];
        apx_fetch_file *x;
        if ((rc = job_stopped(j)) != AP_OK)
            break;
        if (!f->sha256 && m->git_sha1 && !(o->flags & AP_PROVISION_FORCE)) {
            char known[AP_SHA256_HEX_LEN + 1];
            if (apx_gitsha1_lookup(j->prov->store, m->git_sha1, known) == AP_OK &&
                ap_store_has_blob(j->prov->store, known) == 1) {
                /* another job fetched it while we waited: the index
                 * entry was written from the bytes it committed */
                if (!(f->sha256 = apx_strdup(known)))
                    rc = fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
                f->present = rc == AP_OK;
                if (f->present)
                    apx_tracker_present(j->tracker, f->size, 1);
                continue;
            }
        }
        if (f->sha256 && !(o->flags & AP_PROVISION_FORCE) &&
            ap_store_has_blob(j->prov->store, f->sha256) == 1) {
            f->present = 1; /* another job committed it while we waited */
            apx_tracker_present(j->tracker, f->size, 1);
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
            rc = vendor_download(j, call, m, f, path[i]);
            f->present = rc == AP_OK;
            if (rc == AP_OK)
                rc = ap_tracker_file_done(j->tracker, m->path) ? AP_EUSER : AP_OK;
            continue;
        }
        k = b->s.n;
        b->s.staging[k] = path[i];
        path[i] = NULL;
        x = &b->s.ff[k];
        memset(x, 0, sizeof *x);
        x->label = m->path;
        x->url = m->url;
        x->headers = (const char *const *)m->headers;
        x->bearer = m->bearer;
        x->bearer_host = m->bearer_host;
        x->size = m->size;
        x->sha256 = f->sha256;
        x->git_sha1 = m->git_sha1;
        /* known digest: the engine's "sha256:<hex>", whatever the URL */
        x->validator = f->sha256 ? NULL : m->etag ? m->etag : m->git_sha1;
        x->staging_path = b->s.staging[k];
        b->s.idx[k] = i;
        b->s.n++;
        f->status = AP_FILE_DOWNLOADING;
    }
    return rc;
}

static void fetch_opts_of(const job *j, apx_fetch_opts *fo)
{
    const ap_provision_options *o = j->o;
    memset(fo, 0, sizeof *fo);
    fo->cancel = o->cancel;
    fo->tracker = j->tracker;
    fo->max_connections = o->max_connections;
    fo->max_per_host = o->max_per_host;
    fo->connections_per_file = o->connections_per_file;
    fo->chunk_size = o->chunk_size;
    fo->max_attempts = o->max_attempts;
    fo->stall_timeout_ms = o->stall_timeout_ms;
    fo->max_bytes_per_sec = o->max_bytes_per_sec;
    fo->ca_file = o->ca_file;
    fo->min_rate = o->min_rate;
    fo->min_rate_window_ms = o->min_rate_window_ms;
    fo->max_unknown_size = o->max_unknown_size;
    fo->drop_partial = (o->flags & AP_PROVISION_DROP_PARTIAL) != 0;
    fo->adaptive_max = o->adaptive_connections ? o->adaptive_connections
                       : o->max_connections ? 0 : 16;
}

/* Commit one fetched file (its signature first, when it has one). */
static int commit_fetched(job *j, ap_vendor_call *call, fetch_set *s, size_t k,
                          int synced)
{
    ap_entry_file *f = &j->entry->files[s->idx[k]];
    int crc;
    if (call->files[s->idx[k]].signature) {
        /* the signature, before the bytes become a blob */
        apx_error serr;
        apx_error_clear(&serr);
        crc = check_signature(j, &call->files[s->idx[k]], s->staging[k], &serr);
        if (crc != AP_OK) {
            apx_staging_discard(s->staging[k]);
            return fail(j, crc, "%s: %s", j->ref, serr.msg);
        }
        if (j->sig_ok)
            j->sig_ok[s->idx[k]] = 1;
    }
    /* A digest learnt from the bytes as they came is checked against the
     * bytes in the file before they are committed under it.  The blob is
     * safe from gc until the entry names it: the job holds APX_GC_LOCK. */
    crc = (synced ? apx_store_commit_nosync : ap_store_commit)(
        j->prov->store, s->staging[k], s->ff[k].sha256_out, s->ff[k].sha256 != NULL);
    if (crc != AP_OK)
        return fail(j, crc, "%s: file '%s': %s", j->ref, f->name,
                    ap_store_errmsg(j->prov->store));
    free(f->sha256);
    f->sha256 = apx_strdup(s->ff[k].sha256_out);
    f->size = s->ff[k].size_out;
    f->present = f->sha256 != NULL;
    if (!f->present)
        return fail(j, AP_ENOMEM, "%s: file '%s': out of memory", j->ref, f->name);
    /* before the file's locks go: another job waiting for them finds the
     * blob by its git blob id (index/git-sha1) */
    if (call->files[s->idx[k]].git_sha1)
        apx_gitsha1_remember(j->prov->store, call->files[s->idx[k]].git_sha1, f->sha256);
    if (ap_tracker_file_done(j->tracker, f->name))
        return fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    return AP_OK;
}

/* Fetch the queued files of a batch with the engine, then commit every
 * file that made it, even when another failed: what is verified is kept
 * (the next run needs not fetch it again).  The first failure's status
 * and message are the batch's. */
static int batch_fetch(job *j, ap_vendor_call *call, fetch_set *s)
{
    apx_fetch_opts fo;
    apx_error err;
    apx_mirrors *mirrors = NULL;
    size_t k;
    int rc, synced;
    fetch_opts_of(j, &fo);
    apx_error_clear(&err);
    rc = apx_mirrors_parse(j->o->mirrors, j->o->mirrors ? NULL : getenv("AP_MIRRORS"),
                           &mirrors, &err);
    if (rc == AP_OK)
        rc = apx_fetch_mirrored(&fo, mirrors, s->ff, s->n, &err);
    apx_mirrors_free(mirrors);
    for (k = 0; k < s->n; k++)
        j->entry->fetched_bytes += s->ff[k].bytes_fetched;
    if (rc == AP_ECANCELLED)
        rc = fail(j, rc, "%s: cancelled", j->ref);
    else if (rc != AP_OK) {
        /* a file the vendor describes (e.g. "layer <media type> <digest>"):
         * the message says what it is */
        const char *what = NULL;
        for (k = 0; k < s->n && !what; k++)
            if (s->ff[k].status == rc)
                what = call->files[s->idx[k]].describe;
        rc = fail(j, rc, "%s: %s%s%s%s", j->ref, err.msg[0] ? err.msg : ap_strerror(rc),
                  what ? " (" : "", what ? what : "", what ? ")" : "");
    }
    apx_tracker_phase(j->tracker, "verifying", j->ref);
    /* Durability in two steps for the whole batch rather than two fsync
     * calls per file: the staging files' bytes before any rename (a blob
     * under its name always has all its bytes), the renames before the
     * locks go (another job may then name the blobs). */
    for (k = 0; k < s->n && s->ff[k].status != AP_OK; k++)
        ;
    synced = k < s->n && apx_store_sync(j->prov->store) == AP_OK;
    for (k = 0; k < s->n; k++) {
        apx_error keep = j->prov->err;
        int crc, stop;
        if (s->ff[k].status != AP_OK)
            continue;
        /* a cancel leaves the rest in staging, as any interrupted pull */
        stop = job_stopped(j);
        crc = stop != AP_OK ? stop : commit_fetched(j, call, s, k, synced);
        if (crc != AP_OK && rc != AP_OK)
            j->prov->err = keep;    /* the first failure's message stays */
        else if (crc != AP_OK)
            rc = crc;
        if (stop != AP_OK)
            break;
    }
    if (synced && apx_store_sync(j->prov->store) != AP_OK && rc == AP_OK)
        rc = fail(j, AP_EIO, "%s: the files committed cannot be made durable: %s",
                  j->ref, ap_store_errmsg(j->prov->store));
    return rc;
}

/* A failure after which the next batch is not tried. */
static int stops_all(int rc)
{
    return rc == AP_ECANCELLED || rc == AP_EUSER || rc == AP_ENOSPC || rc == AP_ENOMEM;
}

static int batch_alloc(batch *b, size_t n)
{
    memset(b, 0, sizeof *b);
    b->want = apx_calloc(2 * n + 1, sizeof *b->want);
    b->s.ff = apx_calloc(n, sizeof *b->s.ff);
    b->s.idx = apx_calloc(n, sizeof *b->s.idx);
    b->s.staging = apx_calloc(n, sizeof *b->s.staging);
    return b->want && b->s.ff && b->s.idx && b->s.staging ? AP_OK : AP_ENOMEM;
}

/* Run one batch: lock, look again and queue, fetch and commit, unlock. */
static int batch_run(job *j, ap_vendor_call *call, batch *b, char **path,
                     int *go_on)
{
    size_t k;
    int rc = batch_lock(j, b, path);
    if (rc == AP_OK)
        rc = batch_queue(j, call, b, path);
    if (rc == AP_OK && b->s.n) {
        rc = batch_fetch(j, call, &b->s);
        *go_on = 1;  /* a download or commit failed: the other batches go on */
    }
    batch_unlock(j, b);
    for (k = 0; k < b->s.n; k++) {
        free(b->s.staging[k]);
        b->s.staging[k] = NULL;
    }
    b->s.n = 0;
    return rc;
}

/* Fetch every file the store lacks with the engine, then commit them.
 *
 * One writer per staging file: every file fetched here (by the engine or a
 * vendor's download) has its staging lock, and a file whose sha256 is known
 * its blob lock, taken before its staging file is opened and released once
 * it is committed.  The files go in batches (batch_size): a batch's locks
 * are taken in one global order (sorted by name) while the job holds no
 * other, so two jobs sharing files in any order never deadlock, and the
 * descriptors held grow with the batch, never with the entry. */
static int engine_fetch(job *j, ap_vendor_call *call)
{
    ap_entry *e = j->entry;
    batch b;
    size_t i, nb, norder = 0, *leader = NULL, *order = NULL;
    char **path = NULL;    /* staging path of entry file i, or NULL */
    int rc = AP_OK, stop;

    nb = batch_size(j->o);
    path = apx_calloc(e->nfiles, sizeof *path);
    leader = apx_calloc(e->nfiles, sizeof *leader);
    order = apx_calloc(e->nfiles, sizeof *order);
    if (batch_alloc(&b, nb) != AP_OK || !path || !leader || !order) {
        rc = fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
        goto out;
    }
    /* 1. Which files to fetch, their staging paths; local file:// files
     * are imported. */
    for (i = 0; i < e->nfiles; i++)
        leader[i] = i;
    for (i = 0; i < e->nfiles && rc == AP_OK; i++) {
        const apx_mfile *m = &call->files[i];
        ap_entry_file *f = &e->files[i];
        char *key;
        if (f->present || !wanted(j, m))
            continue;
        if ((rc = job_stopped(j)) != AP_OK)
            break;
        if (m->url && strncmp(m->url, "file://", 7) == 0) {
            rc = import_local(j, m, f);
            f->present = rc == AP_OK;
            continue;
        }
        if (call->vendor->desc.download)
            key = apx_strdup(m->url ? m->url : m->path);
        else if (f->sha256) /* keyed by content: resumes from any URL */
            key = apx_asprintf("sha256:%s", f->sha256);
        else
            key = apx_asprintf("\n%s", m->etag ? m->etag : m->url);
        rc = key ? ap_store_staging_path(j->prov->store, key, &path[i]) : AP_ENOMEM;
        free(key);
        if (rc != AP_OK)
            rc = fail(j, rc, "%s: file '%s': %s", j->ref, m->path,
                      ap_store_errmsg(j->prov->store));
    }
    /* Two files of this entry with one staging file (the same bytes under
     * two names): fetch it once, the others follow the first (sorted by
     * path, O(n log n)). */
    if (rc == AP_OK && (rc = follow_same_staging(path, leader, e->nfiles)) != AP_OK)
        rc = fail(j, rc, "%s: out of memory", j->ref);
    for (i = 0; i < e->nfiles && rc == AP_OK; i++)
        if (path[i])
            order[norder++] = i;
    /* 2. Batch after batch; a file that failed to download does not stop
     * the others (what is verified is kept), the first failure is the
     * job's status and message. */
    for (i = 0, stop = rc != AP_OK; i < norder && !stop; i += nb) {
        apx_error first = j->prov->err;
        int brc, go_on = 0;
        if ((brc = job_stopped(j)) != AP_OK) {
            if (rc != AP_OK)
                j->prov->err = first;
            else
                rc = brc;
            break;
        }
        b.files = order + i;
        b.n = norder - i < nb ? norder - i : nb;
        brc = batch_run(j, call, &b, path, &go_on);
        if (brc == AP_OK)
            continue;
        if (rc != AP_OK)
            j->prov->err = first;
        else
            rc = brc;
        stop = !go_on || stops_all(brc);
    }
    /* Files that shared a staging file with an earlier one get its blob. */
    for (i = 0; i < e->nfiles; i++) {
        ap_entry_file *f = &e->files[i], *l = &e->files[leader[i]];
        if (leader[i] == i || f->present || !l->present || !l->sha256)
            continue;
        free(f->sha256);
        f->sha256 = apx_strdup(l->sha256);
        f->size = l->size;
        f->present = f->sha256 != NULL;
        if (f->present && wanted(j, &call->files[i])) /* in place with its leader */
            settle_file(j, done_now(j), f->size, call->files[i].size != AP_SIZE_UNKNOWN);
    }
out:
    for (i = 0; path && i < e->nfiles; i++)
        free(path[i]);
    free(path);
    free(leader);
    free(order);
    free(b.want);
    fetch_set_free(&b.s);
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
        /* a job's cancel or abort (its tick hook; none for a scan) */
        if ((rc = apx_tick(0)) != 0)
            return apx_error_set(&p->err, rc == AP_ECANCELLED ? rc : AP_EUSER, "%s: %s",
                                 e->ref, rc == AP_ECANCELLED ? "cancelled"
                                                             : "aborted by the event callback");
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
        free(f->architecture);
        f->kind = f->format = f->precision = f->architecture = NULL;
        f->parameters = 0;
        {
            /* Kind, format, precision from the name (the header wins);
             * architecture and parameters from a header that parsed.  A
             * corrupt header leaves the name-based answers (ap_classify). */
            ap_classify_info ci = AP_CLASSIFY_INFO_INIT;
            rc = ap_classify(blob, f->name, &ci);
            if (rc == AP_OK || rc == AP_ECORRUPT) {
                f->kind = ci.kind;
                f->format = ci.format;
                f->precision = ci.precision;
                f->architecture = ci.architecture;
                f->parameters = ci.parameters;
            }
        }
        rc = apx_store_link_view_nosync(p->store, e->vendor, e->name, f->name,
                                        f->sha256, &view);
        free(f->path);
        if (rc == AP_OK) {
            f->path = view;
            free(blob);
        } else {
            f->path = blob; /* the blob itself is still a valid path */
        }
        if (f->git_sha1)
            apx_gitsha1_remember(p->store, f->git_sha1, f->sha256);
    }
    /* the views and index entries, durable at once before a document
     * names them */
    if (apx_store_sync(p->store) != AP_OK)
        return apx_error_set(&p->err, AP_EIO, "%s: %s", e->ref,
                             ap_store_errmsg(p->store));
    return AP_OK;
}

static int mark_present(job *j, const ap_vendor_call *call)
{
    ap_entry *e = j->entry;
    size_t i;
    for (i = 0; i < e->nfiles; i++) {
        ap_entry_file *f = &e->files[i];
        int rc = job_stopped(j);
        if (rc != AP_OK)
            return rc;
        f->present = !(j->o->flags & AP_PROVISION_FORCE) && f->sha256 &&
                     ap_store_has_blob(j->prov->store, f->sha256) == 1;
        if (f->present && !f->size) {
            /* the blob tells the size the vendor did not */
            char *blob = NULL;
            struct stat st;
            if (ap_store_blob_path(j->prov->store, f->sha256, &blob) == AP_OK &&
                stat(blob, &st) == 0)
                f->size = (uint64_t)st.st_size;
            free(blob);
        }
        /* The total is the whole artifact (what the job provides); what
         * the store has already counts as done. */
        if (f->present || wanted(j, &call->files[i]))
            ap_tracker_add_total(j->tracker, f->size, 1);
        if (f->present)
            apx_tracker_present(j->tracker, f->size, 1);
    }
    return AP_OK;
}

/* After a provision that made the entry ready: the vendor's optional
 * `publish` (e.g. into another tool's cache) with the verified files. */
static int publish_foreign(job *j, ap_vendor_call *call)
{
    const apx_vendor *v = call->vendor;
    ap_entry *e = j->entry;
    ap_vendor_publication pub;
    ap_vendor_published_file *pf = NULL;
    const ap_vendor_published_file **pp = NULL;
    char **blobs = NULL;
    size_t i, n = 0;
    int rc = AP_OK;

    if (!AP_VENDOR_HAS(&v->desc, publish))
        return AP_OK;
    if (e->nfiles && (!(pf = apx_calloc(e->nfiles, sizeof *pf)) ||
                      !(pp = apx_calloc(e->nfiles, sizeof *pp)) ||
                      !(blobs = apx_calloc(e->nfiles, sizeof *blobs)))) {
        rc = fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
        goto out;
    }
    for (i = 0; i < e->nfiles; i++) {
        const ap_entry_file *f = &e->files[i];
        if (!f->present || !f->sha256)
            continue;
        if ((rc = ap_store_blob_path(j->prov->store, f->sha256, &blobs[n])) != AP_OK) {
            rc = fail(j, rc, "%s: the blob of '%s': %s", j->ref, f->name,
                      ap_store_errmsg(j->prov->store));
            goto out;
        }
        pf[n].struct_size = sizeof pf[n];
        pf[n].path = f->name;
        pf[n].blob_path = blobs[n];
        pf[n].sha256 = f->sha256;
        pf[n].git_sha1 = i < call->nfiles ? call->files[i].git_sha1 : NULL;
        pf[n].size = f->size;
        pp[n] = &pf[n];
        n++;
    }
    memset(&pub, 0, sizeof pub);
    pub.struct_size = sizeof pub;
    pub.ref = j->ref;
    pub.name = e->name;
    pub.revision = e->revision;
    pub.canonical = call->canonical;
    pub.files = pp;
    pub.nfiles = n;
    apx_error_clear(&call->err);
    rc = v->desc.publish(v->state, call, &pub);
    if (rc != AP_OK) {
        if (rc > 0)
            rc = AP_EVENDOR;
        if (!call->err.msg[0])
            apx_error_set(&call->err, rc, "%s", ap_strerror(rc));
        rc = fail(j, rc, "%s: vendor '%s' could not publish the entry: %s", j->ref,
                  v->desc.name, call->err.msg);
    }
out:
    for (i = 0; blobs && i < n; i++)
        free(blobs[i]);
    free(blobs);
    free(pf);
    free(pp);
    return rc;
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

static int cmp_mfile_path(const void *a, const void *b)
{
    return strcmp((*(const apx_mfile *const *)a)->path, (*(const apx_mfile *const *)b)->path);
}

/* The manifest after filtering, before anything is written or locked: at
 * most max_files files, no name twice (sorted, O(n log n)). */
/* AP_PROVISION_REQUIRE_VERIFIED: every file needs something to be checked
 * against (a digest or git blob id from the vendor, or a signature), else
 * the job fails before anything is fetched or written. */
static int check_verifiable(job *j, const ap_vendor_call *call)
{
    size_t i;
    for (i = 0; i < call->nfiles; i++) {
        const apx_mfile *m = &call->files[i];
        if (!m->sha256 && !m->git_sha1 && !m->signature && !(m->flags & AP_VFILE_LOCAL))
            return fail(j, AP_EDIGEST, "%s: file '%s' has no digest, checksum or "
                        "signature to verify it against, and verified files are "
                        "required (AP_PROVISION_REQUIRE_VERIFIED, apctl pull "
                        "--require-verified)", j->ref, m->path);
    }
    return AP_OK;
}

static int check_manifest(job *j, const ap_vendor_call *call)
{
    size_t max = j->o->max_files ? j->o->max_files : SIZE_MAX, i;
    const apx_mfile **v;
    if (call->nfiles > max)
        return fail(j, AP_EUNSUPPORTED, "%s: %zu files, more than the limit of %zu files "
                    "per entry (raise it with the max_files option, apctl pull "
                    "--max-files N, or narrow the files with --include/--exclude)",
                    j->ref, call->nfiles, max);
    if (call->nfiles > SIZE_MAX / 2 - 1)
        return fail(j, AP_EUNSUPPORTED, "%s: %zu files", j->ref, call->nfiles);
    if (call->nfiles < 2)
        return AP_OK;
    if (!(v = apx_calloc(call->nfiles, sizeof *v)))
        return fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    for (i = 0; i < call->nfiles; i++)
        v[i] = &call->files[i];
    qsort(v, call->nfiles, sizeof *v, cmp_mfile_path);
    for (i = 1; i < call->nfiles; i++)
        if (strcmp(v[i - 1]->path, v[i]->path) == 0)
            break;
    if (i < call->nfiles) {
        int rc = fail(j, AP_EPROTOCOL, "%s: vendor '%s' listed the file '%s' twice",
                      j->ref, call->vendor->desc.name, v[i]->path);
        free(v);
        return rc;
    }
    free(v);
    return AP_OK;
}

/* The previous entry's files as present, with paths to their blobs, for a
 * result that does not replace the catalog's ready entry. */
static void blob_paths(ap_provisioner *p, ap_entry *e, int force)
{
    size_t i;
    for (i = 0; i < e->nfiles; i++) {
        ap_entry_file *f = &e->files[i];
        char *blob = NULL;
        if (!f->present || !f->sha256 || (f->path && !force))
            continue;
        if (ap_store_blob_path(p->store, f->sha256, &blob) == AP_OK) {
            free(f->path);
            f->path = blob;
        }
    }
}

/* A pull normally records into its repository's entry (host_entry()).
 * Other entries of the same vendor, name and revision that list the files
 * of a ready pull (more files than it has: a repository under another
 * spelling of its reference) change status too: their file becomes ready
 * with the blob just committed (the same bytes: its sha256, when the entry
 * knew one, must match), and such an entry becomes ready once every file
 * is.  An entry another job holds (its lock) is left alone. */
static void fold_into_repo_entries(job *j)
{
    ap_catalog_filter flt = AP_CATALOG_FILTER_INIT;
    ap_entry **list = NULL, *e = j->entry;
    size_t n = 0, i, k, m;
    if (!e || !e->vendor || !e->name || !e->revision)
        return;
    flt.vendor = e->vendor;
    if (ap_catalog_list(j->prov->catalog, &flt, &list, &n) != AP_OK)
        return;
    for (i = 0; i < n; i++) {
        ap_entry *r = list[i], *cur = NULL;
        size_t missing = 0, changed = 0;
        int fd = -1;
        if (!strcmp(r->id, e->id) || !r->name || strcmp(r->name, e->name) ||
            !r->revision || strcmp(r->revision, e->revision) || r->nfiles <= e->nfiles)
            continue;
        if (ap_store_trylock(j->prov->store, r->id, &fd) != AP_OK)
            continue;
        /* read it again under its lock */
        if (ap_catalog_get(j->prov->catalog, r->id, &cur) != AP_OK) {
            ap_store_unlock(fd);
            continue;
        }
        for (k = 0; k < cur->nfiles; k++) {
            ap_entry_file *g = &cur->files[k];
            for (m = 0; !g->present && m < e->nfiles; m++) {
                const ap_entry_file *f = &e->files[m];
                char *sha, *path;
                if (!f->present || !f->sha256 || strcmp(f->name, g->name) ||
                    (g->sha256 && strcmp(g->sha256, f->sha256)))
                    continue;
                sha = apx_strdup(f->sha256);
                path = apx_strdup(f->path);
                if (!sha || (f->path && !path)) {
                    free(sha);
                    free(path);
                    break;
                }
                free(g->sha256);
                free(g->path);
                g->sha256 = sha;
                g->path = path;
                g->size = f->size;
                g->present = 1;
                g->status = AP_FILE_READY;
#define COPY_STR(x) if (f->x && !g->x) g->x = apx_strdup(f->x)
                COPY_STR(kind);
                COPY_STR(format);
                COPY_STR(precision);
                COPY_STR(architecture);
#undef COPY_STR
                if (!g->parameters)
                    g->parameters = f->parameters;
                changed++;
            }
            missing += !g->present;
        }
        if (changed) {
            cur->done_bytes = 0;
            for (k = 0; k < cur->nfiles; k++)
                cur->done_bytes += cur->files[k].present ? cur->files[k].size : 0;
            if (!missing && cur->status == AP_ENTRY_PENDING)
                cur->status = AP_ENTRY_READY;
            cur->updated = apx_wall_s();
            (void)ap_catalog_put(j->prov->catalog, cur);
        }
        ap_entry_free(cur);
        ap_store_unlock(fd);
    }
    ap_entry_list_free(list, n);
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
static int lists_manifest(const ap_entry *r, const job *j, const ap_vendor_call *call,
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

/* The catalog entry this job records into instead of an entry of its own:
 * one of the same vendor, name and revision, other than `id`, whose
 * reference R the job's is "R/..." of (as typed or canonical), and that
 * lists every file the vendor resolved (a repository recorded by a sync,
 * pending, or a ready snapshot, when one of its files is pulled on its
 * own).  So a
 * repository and its files are one entry whose files change status.  *out
 * is its id, or NULL when there is none (several: the one updated last). */
static int host_entry(job *j, const ap_vendor_call *call, const char *id, char **out)
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
        return fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    }
    ap_entry_list_free(list, n);
    return AP_OK;
}

/* The manifest becomes the host entry's files, in its order: the vendor's
 * for the files it resolved, the others as the entry records them, marked
 * APX_MFILE_OTHER (never fetched). */
static int host_manifest(job *j, ap_vendor_call *call, const ap_entry *host)
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
    return fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
}

/* The job's entry is the host's: its references, and the status, url and
 * verification of the files the job does not fetch. */
static int host_fields(job *j, const ap_vendor_call *call, const ap_entry *host)
{
    ap_entry *e = j->entry;
    size_t i;
    free(e->ref);
    free(e->requested);
    e->ref = apx_strdup(host->ref);
    e->requested = host->requested ? apx_strdup(host->requested) : NULL;
    if (!e->ref || (host->requested && !e->requested))
        return fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
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
            return fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    }
    return AP_OK;
}

/* The entry id derives from the vendor and the canonical reference it gave
 * (so a vendor can make equivalent spellings one entry, e.g. a tag and the
 * file it picks);
 * without one, from the reference as typed. */
static int canonical_id(job *j, const ap_vendor_call *call, char **id)
{
    char *cid = NULL;
    int rc;
    if (!call->canonical || strcmp(call->canonical, j->ref) == 0)
        return AP_OK;
    if ((rc = ap_entry_make_id(call->vendor->desc.name, call->canonical, &cid)) != AP_OK)
        return fail(j, rc, "%s: out of memory", j->ref);
    free(*id);
    *id = cid;
    return AP_OK;
}

static int run_job(job *j, ap_entry **out)
{
    ap_provisioner *p = j->prov;
    const ap_provision_options *o = j->o;
    ap_vendor_call call;
    apx_vendor *v;
    ap_entry *prev = NULL;
    char *id = NULL, *host_id = NULL, known[1024];
    int rc, entry_lock = -1, gc_lock = -1, hosted = 0;
    size_t scheme_len, i;

    if (apx_ref_scheme(j->ref, &scheme_len) != 0) {
        apx_vendor_grammar(p, known, sizeof known);
        return fail(j, AP_EINVAL, "'%s': not a reference (want SCHEME:...; the "
                    "vendors loaded accept: %s)", j->ref, known);
    }
    v = apx_vendor_for_scheme(p, j->ref, scheme_len);
    if (!v) {
        if (!p->nvendors) /* said once: no list to give */
            return fail(j, AP_EVENDOR, "%s: no vendor serves the scheme '%.*s:': "
                        "no vendor is loaded (set AP_VENDOR_PATH?)", j->ref,
                        (int)scheme_len, j->ref);
        apx_vendor_grammar(p, known, sizeof known);
        return fail(j, AP_EVENDOR, "%s: no vendor serves the scheme '%.*s:' "
                    "(the vendors loaded accept: %s)", j->ref,
                    (int)scheme_len, j->ref, known);
    }
    rc = ap_entry_make_id(v->desc.name, j->ref, &id);
    if (rc != AP_OK)
        return fail(j, rc, "%s: out of memory", j->ref);

    apx_call_init(&call, p, v, j->ref, o->cancel);
    call.tracker = j->tracker;
    call.options = o->vendor_options;
    call.flags = o->flags;
    call.ca_file = o->ca_file; /* metadata requests trust the same CAs */
    call.min_rate = o->min_rate; /* and have the same minimum rate */
    call.min_rate_window_ms = o->min_rate_window_ms;
    apx_tracker_phase(j->tracker, "resolving", j->ref);
    rc = v->desc.resolve(v->state, &call, j->ref);
    if (rc == AP_OK)
        apx_tracker_phase(j->tracker, "preparing", j->ref);
    APX_FAULT("resolve");
    if (rc == AP_OK && ap_cancel_is_set(o->cancel))
        rc = apx_error_set(&call.err, AP_ECANCELLED, "%s: cancelled", j->ref);
    /* the entry is found by the id of the reference as typed or, when the
     * vendor named it by a canonical form, by the reference it recorded as
     * requested */
    if (origin_unreachable(rc) && !(o->flags & AP_PROVISION_REFRESH) &&
        (ap_catalog_get(p->catalog, id, &prev) == AP_OK ||
         ap_catalog_get(p->catalog, j->ref, &prev) == AP_OK) &&
        (entry_intact(p, prev) || file_intact(p, prev, j->ref))) {
        /* The origin cannot be reached, but we have it: serve the
         * catalog's ready entry (or the ready file of its repository's
         * entry that the reference names), and say it may be stale. */
        char msg[APX_ERRMSG_MAX + 256];
        const ap_entry_file *one = entry_intact(p, prev) ? NULL
                                                         : file_intact(p, prev, j->ref);
        const char *why = call.err.msg[0] ? call.err.msg : ap_strerror(rc);
        size_t rl = strlen(j->ref);
        if (strncmp(why, j->ref, rl) == 0 && why[rl] == ':' && why[rl + 1] == ' ')
            why += rl + 2;
        snprintf(msg, sizeof msg, "%s: the origin could not be reached (%s); using the "
                 "ready %s %s from the catalog (revision %s), which may be stale "
                 "(AP_PROVISION_REFRESH / apctl pull --refresh demands a fresh check)",
                 j->ref, why, one ? "file of the entry" : "entry", prev->id,
                 prev->revision ? prev->revision : "unknown");
        apx_call_clear(&call);
        free(id);
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
        return AP_OK;
    }
    ap_entry_free(prev);
    prev = NULL;
    if (rc != AP_OK) {
        if (rc > 0)
            rc = AP_EVENDOR;
        if (!call.err.msg[0])
            apx_error_set(&call.err, rc, "%s: vendor '%s' failed: %s", j->ref,
                          v->desc.name, ap_strerror(rc));
        {
            /* messages are redacted: compare with the redacted reference */
            char *shown = apx_url_redact(j->ref);
            const char *r = shown ? shown : j->ref;
            if (strncmp(call.err.msg, r, strlen(r)) != 0)
                apx_error_prefix(&call.err, "%s", j->ref);
            free(shown);
        }
        if (origin_unreachable(rc) && (o->flags & AP_PROVISION_REFRESH))
            apx_error_set(&p->err, rc, "%s (a fresh check was demanded: the catalog's "
                          "entry is not used)", call.err.msg);
        else
            apx_error_set(&p->err, rc, "%s", call.err.msg);
        goto out;
    }
    if ((rc = canonical_id(j, &call, &id)) != AP_OK)
        goto out;
    for (i = 0; i < call.nfiles; i++)
        call.files[i].flags &= ~APX_MFILE_OTHER;
    if (call.from_catalog && call.err.msg[0] && origin_unreachable(call.err.status)) {
        /* The vendor could not reach its origin and served the reference
         * from what the catalog holds (host->catalog_files): say so. */
        char msg[APX_ERRMSG_MAX + 256];
        const char *why = call.err.msg;
        size_t rl = strlen(j->ref);
        if (strncmp(why, j->ref, rl) == 0 && why[rl] == ':' && why[rl + 1] == ' ')
            why += rl + 2;
        snprintf(msg, sizeof msg, "%s: the origin could not be reached (%s); using "
                 "what the catalog holds (entry %s, revision %s), which may be stale "
                 "(AP_PROVISION_REFRESH / apctl pull --refresh demands a fresh check)",
                 j->ref, why, id, call.revision ? call.revision : "unknown");
        (void)ap_tracker_log(j->tracker, AP_LOG_WARN, NULL, call.err.status, msg);
    }
    filter_manifest(&call, o);
    if (call.nfiles == 0) {
        rc = fail(j, AP_ENOTFOUND, "%s: no file matches%s", j->ref,
                  (o->include || o->exclude) ? " the include/exclude filters" : "");
        goto out;
    }
    /* Checked before any lock is taken or document written. */
    if ((o->flags & AP_PROVISION_REQUIRE_VERIFIED) &&
        (rc = check_verifiable(j, &call)) != AP_OK)
        goto out;
    if ((rc = check_manifest(j, &call)) != AP_OK)
        goto out;
    /* A file of a repository the catalog records (a sync, a snapshot) is
     * recorded in that entry, under its lock, not in one of its own. */
    if ((rc = host_entry(j, &call, id, &host_id)) != AP_OK)
        goto out;
    rc = lock_waiting(j, host_id ? host_id : id, j->ref, 0, &entry_lock);
    if (rc == AP_ECANCELLED || rc == AP_EUSER)
        goto out;
    if (rc != AP_OK)
        entry_lock = -1;
    rc = AP_OK;
    if (host_id) {
        /* read it again under its lock: it may have changed meanwhile */
        const char *name = call.name ? call.name : j->ref;
        if (ap_catalog_get(p->catalog, host_id, &prev) == AP_OK &&
            !strcmp(prev->id, host_id) && lists_manifest(prev, j, &call, name)) {
            if ((rc = host_manifest(j, &call, prev)) != AP_OK)
                goto out;
            free(id);
            id = host_id;
            host_id = NULL;
            hosted = 1;
        } else {
            /* gone or changed: an entry of its own after all */
            ap_entry_free(prev);
            prev = NULL;
            free(host_id);
            host_id = NULL;
            if (entry_lock >= 0)
                ap_store_unlock(entry_lock);
            entry_lock = -1;
            rc = lock_waiting(j, id, j->ref, 0, &entry_lock);
            if (rc == AP_ECANCELLED || rc == AP_EUSER)
                goto out;
            if (rc != AP_OK)
                entry_lock = -1;
            rc = AP_OK;
        }
    }
    if (!hosted)
        (void)ap_catalog_get(p->catalog, id, &prev);
    /* A re-pull of a ready entry (--force, a moved revision) leaves its
     * document alone until a complete, verified set replaces it. */
    j->keep = prev && prev->status == AP_ENTRY_READY;
    rc = build_entry(j, &call, id, prev);
    if (rc == AP_ENOMEM)
        fail(j, rc, "%s: out of memory", j->ref);
    if (rc != AP_OK || (rc = mark_present(j, &call)) != AP_OK)
        goto out;
    if (hosted && (rc = host_fields(j, &call, prev)) != AP_OK)
        goto out;
    if (j->entry->nfiles && !(j->sig_ok = apx_calloc(j->entry->nfiles, 1))) {
        rc = fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
        goto out;
    }
    for (i = 0; i < j->entry->nfiles; i++) {
        ap_entry_file *f = &j->entry->files[i];
        if (f->verification) /* the host entry's record of a file not fetched */
            continue;
        if (!(f->verification = verification_of(&call.files[i]))) {
            rc = fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
            goto out;
        }
        if (strcmp(f->verification, "none") == 0 && !f->present &&
            !(call.files[i].flags & APX_MFILE_OTHER))
            (void)ap_tracker_log(j->tracker, AP_LOG_WARN, f->name, AP_OK,
                                 "no digest, checksum or signature from the vendor: "
                                 "the file is stored under the sha256 of the bytes "
                                 "received, unverified");
    }
    if (ap_tracker_emit(j->tracker, AP_EVENT_RESOLVE, NULL, 0, j->entry->revision)) {
        rc = fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        goto out;
    }
    apx_plan_note(j->tracker, j->entry, AP_VENDOR_HAS(&v->desc, usage) ? v->desc.usage : NULL);
    if (!j->keep)
        (void)ap_catalog_put(p->catalog, j->entry);
    j->last_put_ms = apx_now_ms();
    if (ap_tracker_emit(j->tracker, AP_EVENT_START, NULL, 0, NULL)) {
        rc = fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        goto out;
    }
    /* Blobs committed from here on are named by no document until the
     * entry is written: gc waits for that (it takes this lock exclusively). */
    rc = lock_waiting(j, APX_GC_LOCK, j->ref, 1, &gc_lock);
    if (rc == AP_ECANCELLED || rc == AP_EUSER)
        goto out;
    rc = engine_fetch(j, &call);
    /* Files already in the store carry a signature too: check their blobs. */
    for (i = 0; rc == AP_OK && i < j->entry->nfiles; i++) {
        const apx_mfile *m = &call.files[i];
        ap_entry_file *f = &j->entry->files[i];
        char *blob = NULL;
        apx_error serr;
        if (!m->signature || !f->present || (j->sig_ok && j->sig_ok[i]))
            continue;
        apx_error_clear(&serr);
        if ((rc = ap_store_blob_path(p->store, f->sha256, &blob)) == AP_OK)
            rc = check_signature(j, m, blob, &serr);
        free(blob);
        if (rc != AP_OK)
            rc = fail(j, rc, "%s: %s", j->ref, serr.msg[0] ? serr.msg : ap_strerror(rc));
    }
out:
    apx_tracker_phase(j->tracker, "finishing", j->ref);
    if (j->entry) {
        /* each file's own status: in the store, failed, or still pending
         * (not wanted by a sync, or a cancelled job never got to it) */
        size_t k;
        for (k = 0; k < j->entry->nfiles; k++) {
            ap_entry_file *f = &j->entry->files[k];
            if (f->present)
                f->status = AP_FILE_READY;
            else if (f->status == AP_FILE_DOWNLOADING)
                f->status = rc == AP_ECANCELLED ? AP_FILE_PENDING : AP_FILE_FAILED;
            else if (f->status == AP_FILE_READY)
                f->status = AP_FILE_PENDING;
        }
    }
    if (j->entry) {
        size_t k, missing = 0;
        for (k = 0; k < j->entry->nfiles; k++)
            missing += !j->entry->files[k].present;
        int replaced = 0;
        if (j->keep && rc == AP_OK && !missing) {
            /* A complete, verified new set replaces a ready entry.  It is
             * recorded first under its blob paths (content-addressed, never
             * rewritten), then the views change, then the final document
             * names them: a kill at any point leaves a ready document
             * every path of which holds the bytes it names. */
            int prc;
            blob_paths(p, j->entry, 1);
            j->entry->status = AP_ENTRY_READY;
            j->entry->updated = apx_wall_s();
            free(j->entry->error);
            j->entry->error = NULL;
            prc = ap_catalog_put(p->catalog, j->entry);
            if (prc != AP_OK)
                rc = fail(j, prc, "%s: recording the entry in the catalog: %s", j->ref,
                          ap_catalog_errmsg(p->catalog));
            replaced = prc == AP_OK;
        }
        if (!j->keep || replaced) {
            /* views relinked only for what replaces the catalog's entry */
            if (apx_entry_finish(p, j->entry) != AP_OK && rc == AP_OK)
                rc = p->err.status;
            if (rc == AP_OK)
                rc = publish_foreign(j, &call);
        } else
            blob_paths(p, j->entry, 0);
        j->entry->updated = apx_wall_s();
        free(j->entry->error);
        j->entry->error = NULL;
        if (replaced) {
            /* the new set is in place: a later failure (publishing) is
             * the request's, the entry stays ready */
            j->entry->status = AP_ENTRY_READY;
            j->entry->done_bytes = j->entry->total_size;
            if (rc != AP_OK)
                j->entry->error = apx_strdup(p->err.msg);
        } else if (rc == AP_OK) {
            j->entry->status = missing ? AP_ENTRY_PENDING : AP_ENTRY_READY;
            j->entry->done_bytes = j->entry->total_size;
        } else {
            j->entry->status = rc == AP_ECANCELLED ? AP_ENTRY_CANCELLED : AP_ENTRY_FAILED;
            j->entry->error = apx_strdup(p->err.msg);
        }
        if (!j->keep || j->entry->status == AP_ENTRY_READY) {
            /* one document write replaces the whole set */
            int prc = ap_catalog_put(p->catalog, j->entry);
            if (prc != AP_OK && rc == AP_OK)
                rc = fail(j, prc, "%s: recording the entry in the catalog: %s", j->ref,
                          ap_catalog_errmsg(p->catalog));
        } else if (rc != AP_OK && prev) {
            /* The ready entry stays as it was; the failed re-pull is noted
             * in it (status stays ready, its files and views unchanged). */
            free(prev->error);
            prev->error = apx_asprintf("re-pull failed, the entry is unchanged: %s",
                                       p->err.msg);
            (void)ap_catalog_put(p->catalog, prev);
        }
    }
    if (rc == AP_OK && j->entry && j->entry->status == AP_ENTRY_READY)
        fold_into_repo_entries(j);
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
    free(host_id);
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
    to.sink = job_sink;
    to.sink_user = &j;
    rc = ap_tracker_new(&j.tracker, o.job_id, ref, &to);
    if (rc != AP_OK)
        return apx_error_set(&p->err, rc, "%s: out of memory", ref);
    {
        apx_tick_hook saved;
        apx_tick_push(&saved, job_tick, &j);
        rc = run_job(&j, out);
        apx_tick_pop(&saved);
    }
    if (rc != AP_OK && !p->err.msg[0])
        apx_error_set(&p->err, rc, "%s: %s", ref, ap_strerror(rc));
    p->err.status = rc;
    ap_entry_free(j.entry);
    free(j.sig_ok);
    ap_tracker_free(j.tracker);
    return rc;
}
