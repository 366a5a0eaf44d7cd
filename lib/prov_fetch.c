/* libartifactprov — the fetch of a provision: file:// imports, vendor
 * downloads, and the engine's batches (locks, fetch, commit) (see prov_pull.h).
 * SPDX-License-Identifier: MIT */
#include "prov_pull.h"
#include "digest.h"
#include "session.h"
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


/* Import a local file as a blob: by reflink or copy, hashed on the way
 * (by hard link only with AP_PROV_LINK_IMPORTS).  The bytes are checked
 * against the sha256 the vendor gave, else against its git blob id. */
static int import_path(pull *j, const apx_mfile *m, ap_entry_file *f, const char *path,
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
        return apx_pull_fail(j, fd, "%s: file '%s': cannot import: %s", j->ref, m->path, err.msg);
    apx_tracker_phase(j->tracker, "importing", m->path);
    f->status = AP_FILE_DOWNLOADING;
    ap_tracker_set_file(j->tracker, m->path, 0,
                        m->size != AP_SIZE_UNKNOWN ? m->size
                        : fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0);
    before = apx_pull_done_now(j);
    j->count_io = 1; /* the copy's bytes are the import's progress */
    j->io_counted = 0;
    rc = apx_store_import_fd(j->prov->store, fd, path, m->sha256,
                             m->sha256 ? NULL : m->git_sha1, flags, hex, NULL);
    j->count_io = 0;
    close(fd);
    if (rc != AP_OK) {
        apx_tracker_adjust(j->tracker, -(int64_t)j->io_counted, 0); /* not in place */
        if (rc == AP_ECANCELLED)
            return apx_pull_fail(j, rc, "%s: file '%s': import cancelled", j->ref, m->path);
        return apx_pull_fail(j, rc, "%s: file '%s': cannot import %s", j->ref, m->path,
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
        apx_pull_settle_file(j, before, size, m->size != AP_SIZE_UNKNOWN);
    }
    if (ap_tracker_file_done(j->tracker, m->path))
        return apx_pull_fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    return AP_OK; /* imported: nothing fetched */
}

/* A file:// URL is the file's only source: import it or fail. */
static int import_local(pull *j, const apx_mfile *m, ap_entry_file *f)
{
    char *path = apx_file_url_path(m->url);
    int rc;
    if (!path)
        return apx_pull_fail(j, AP_EINVAL, "%s: file '%s': bad local URL %s", j->ref, m->path, m->url);
    rc = import_path(j, m, f, path, 0);
    free(path);
    return rc;
}

/* A local copy offered beside a URL (ap_vendor_file.local_path): import it
 * when it is right; when it is not, say so and let the URL serve. */
static int try_local_copy(pull *j, const apx_mfile *m, ap_entry_file *f)
{
    int rc = import_path(j, m, f, m->local_path, 1);
    if (rc == AP_EDIGEST || rc == AP_ENOTFOUND || rc == AP_EIO || rc == AP_EINVAL ||
        rc == AP_EPATH || rc == AP_ECORRUPT) {
        char msg[APX_ERRMSG_MAX + 64];
        snprintf(msg, sizeof msg, "local copy not used, downloading: %s", j->prov->err.msg);
        apx_error_clear(&j->prov->err);
        if (ap_tracker_log(j->tracker, AP_LOG_WARN, m->path, rc, msg))
            return apx_pull_fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
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
static int vendor_download(pull *j, ap_vendor_call *call, const apx_mfile *m,
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
        return apx_pull_fail(j, AP_EIO, "%s: file '%s': cannot create %s: %s", j->ref,
                    m->path, staging, strerror(errno));
    vf.path = m->path;
    vf.size = m->size;
    vf.sha256 = m->sha256;
    vf.git_sha1 = m->git_sha1;
    vf.url = m->url;
    vf.etag = m->etag;
    vf.flags = m->flags;
    uint64_t before = apx_pull_done_now(j);
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
    if (rc == AP_OK && (rc = apx_pull_check_signature(j, m, staging, &call->err)) == AP_OK &&
        j->sig_ok)
        j->sig_ok[m - call->files] = 1;
    if (rc == AP_OK)
        rc = ap_store_commit(j->prov->store, staging, hex, 1);
    if (rc != AP_OK) {
        unlink(staging);
        rc = apx_pull_fail(j, rc, "%s: file '%s': %s", j->ref, m->path,
                  call->err.msg[0] ? call->err.msg : ap_strerror(rc));
    } else {
        free(f->sha256);
        f->sha256 = apx_strdup(hex);
        f->size = size;
        j->entry->fetched_bytes += size;
        /* whatever the vendor reported through ap_host.progress(), the
         * file is in place now */
        apx_pull_settle_file(j, before, size, m->size != AP_SIZE_UNKNOWN);
    }
    return rc;
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

static void batch_unlock(pull *j, batch *b)
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
 * two files with one sha256 but different sources).  A pull holds no other
 * file lock meanwhile (the previous batch's are released), so two pulls
 * sharing files in any order never deadlock. */
static int batch_lock(pull *j, batch *b, char **path)
{
    ap_entry *e = j->entry;
    size_t k;
    int rc = AP_OK;
    b->nwant = 0;
    for (k = 0; k < b->n; k++) {
        size_t i = b->files[k];
        lock_want *w = &b->want[b->nwant];
        if (apx_store_stage_lock_name(path[i], w->name) != AP_OK)
            return apx_pull_fail(j, AP_EINVAL, "%s: file '%s': unexpected staging path %s",
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
        lrc = apx_pull_lock_waiting(j, w->name, e->files[w->file].name, 0, &w->fd);
        if (lrc == AP_ECANCELLED || lrc == AP_EUSER)
            rc = lrc;
        else if (lrc != AP_OK && w->stage)
            rc = apx_pull_fail(j, lrc, "%s: file '%s': cannot lock its staging file (%s), so "
                      "another download could write it too: %s", j->ref,
                      e->files[w->file].name, w->name, ap_store_errmsg(j->prov->store));
        /* a blob lock that cannot be had (e.g. read-only locks/): the
         * staging lock still makes this pull the only writer */
    }
    return rc;
}

/* Now the only writer of the batch's files: look at the store again
 * (another pull may just have committed a file), then import, download or
 * queue each for the engine. */
static int batch_queue(pull *j, ap_vendor_call *call, batch *b, char **path)
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
        if ((rc = apx_pull_stopped(j)) != AP_OK)
            break;
        if (!f->sha256 && m->git_sha1 && !(o->flags & AP_PROVISION_FORCE)) {
            char known[AP_SHA256_HEX_LEN + 1];
            if (apx_gitsha1_lookup(j->prov->store, m->git_sha1, known) == AP_OK &&
                ap_store_has_blob(j->prov->store, known) == 1) {
                /* another pull fetched it while we waited: the index
                 * entry was written from the bytes it committed */
                if (!(f->sha256 = apx_strdup(known)))
                    rc = apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
                f->present = rc == AP_OK;
                if (f->present)
                    apx_tracker_present(j->tracker, f->size, 1);
                continue;
            }
        }
        if (f->sha256 && !(o->flags & AP_PROVISION_FORCE) &&
            ap_store_has_blob(j->prov->store, f->sha256) == 1) {
            f->present = 1; /* another pull committed it while we waited */
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

static void fetch_opts_of(const pull *j, apx_fetch_opts *fo)
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
static int commit_fetched(pull *j, ap_vendor_call *call, fetch_set *s, size_t k,
                          int synced)
{
    ap_entry_file *f = &j->entry->files[s->idx[k]];
    int crc;
    if (call->files[s->idx[k]].signature) {
        /* the signature, before the bytes become a blob */
        apx_error serr;
        apx_error_clear(&serr);
        crc = apx_pull_check_signature(j, &call->files[s->idx[k]], s->staging[k], &serr);
        if (crc != AP_OK) {
            apx_staging_discard(s->staging[k]);
            return apx_pull_fail(j, crc, "%s: %s", j->ref, serr.msg);
        }
        if (j->sig_ok)
            j->sig_ok[s->idx[k]] = 1;
    }
    /* A digest learnt from the bytes as they came is checked against the
     * bytes in the file before they are committed under it.  The blob is
     * safe from gc until the entry names it: the pull holds APX_GC_LOCK. */
    crc = (synced ? apx_store_commit_nosync : ap_store_commit)(
        j->prov->store, s->staging[k], s->ff[k].sha256_out, s->ff[k].sha256 != NULL);
    if (crc != AP_OK)
        return apx_pull_fail(j, crc, "%s: file '%s': %s", j->ref, f->name,
                    ap_store_errmsg(j->prov->store));
    free(f->sha256);
    f->sha256 = apx_strdup(s->ff[k].sha256_out);
    f->size = s->ff[k].size_out;
    f->present = f->sha256 != NULL;
    if (!f->present)
        return apx_pull_fail(j, AP_ENOMEM, "%s: file '%s': out of memory", j->ref, f->name);
    /* before the file's locks go: another pull waiting for them finds the
     * blob by its git blob id (index/git-sha1) */
    if (call->files[s->idx[k]].git_sha1)
        apx_gitsha1_remember(j->prov->store, call->files[s->idx[k]].git_sha1, f->sha256);
    if (ap_tracker_file_done(j->tracker, f->name))
        return apx_pull_fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    return AP_OK;
}

/* Fetch the queued files of a batch with the engine, then commit every
 * file that made it, even when another failed: what is verified is kept
 * (the next run needs not fetch it again).  The first failure's status
 * and message are the batch's. */
static int batch_fetch(pull *j, ap_vendor_call *call, fetch_set *s)
{
    apx_fetch_opts fo;
    apx_error err;
    size_t k;
    int rc = AP_OK, synced;
    fetch_opts_of(j, &fo);
    apx_error_clear(&err);
    if (!j->fetch)
        rc = apx_session_new(j->o->mirrors, j->o->mirrors ? NULL : getenv("AP_MIRRORS"),
                             &j->fetch, &err);
    if (rc == AP_OK)
        rc = apx_session_fetch(j->fetch, &fo, s->ff, s->n, &err);
    for (k = 0; k < s->n; k++)
        j->entry->fetched_bytes += s->ff[k].bytes_fetched;
    if (rc == AP_ECANCELLED)
        rc = apx_pull_fail(j, rc, "%s: cancelled", j->ref);
    else if (rc != AP_OK) {
        /* a file the vendor describes (e.g. "layer <media type> <digest>"):
         * the message says what it is */
        const char *what = NULL;
        for (k = 0; k < s->n && !what; k++)
            if (s->ff[k].status == rc)
                what = call->files[s->idx[k]].describe;
        rc = apx_pull_fail(j, rc, "%s: %s%s%s%s", j->ref, err.msg[0] ? err.msg : ap_strerror(rc),
                  what ? " (" : "", what ? what : "", what ? ")" : "");
    }
    apx_tracker_phase(j->tracker, "verifying", j->ref);
    /* Durability in two steps for the whole batch rather than two fsync
     * calls per file: the staging files' bytes before any rename (a blob
     * under its name always has all its bytes), the renames before the
     * locks go (another pull may then name the blobs). */
    for (k = 0; k < s->n && s->ff[k].status != AP_OK; k++)
        ;
    synced = k < s->n && apx_store_sync(j->prov->store) == AP_OK;
    for (k = 0; k < s->n; k++) {
        apx_error keep = j->prov->err;
        int crc, stop;
        if (s->ff[k].status != AP_OK)
            continue;
        /* a cancel leaves the rest in staging, as any interrupted pull */
        stop = apx_pull_stopped(j);
        crc = stop != AP_OK ? stop : commit_fetched(j, call, s, k, synced);
        if (crc != AP_OK && rc != AP_OK)
            j->prov->err = keep;    /* the first failure's message stays */
        else if (crc != AP_OK)
            rc = crc;
        if (stop != AP_OK)
            break;
    }
    if (synced && apx_store_sync(j->prov->store) != AP_OK && rc == AP_OK)
        rc = apx_pull_fail(j, AP_EIO, "%s: the files committed cannot be made durable: %s",
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
static int batch_run(pull *j, ap_vendor_call *call, batch *b, char **path,
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
 * are taken in one global order (sorted by name) while the pull holds no
 * other, so two pulls sharing files in any order never deadlock, and the
 * descriptors held grow with the batch, never with the entry. */
int apx_pull_fetch(pull *j, ap_vendor_call *call)
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
        rc = apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
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
        if (f->present || !apx_plan_wanted(j, m))
            continue;
        if ((rc = apx_pull_stopped(j)) != AP_OK)
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
            rc = apx_pull_fail(j, rc, "%s: file '%s': %s", j->ref, m->path,
                      ap_store_errmsg(j->prov->store));
    }
    /* Two files of this entry with one staging file (the same bytes under
     * two names): fetch it once, the others follow the first (sorted by
     * path, O(n log n)). */
    if (rc == AP_OK && (rc = follow_same_staging(path, leader, e->nfiles)) != AP_OK)
        rc = apx_pull_fail(j, rc, "%s: out of memory", j->ref);
    for (i = 0; i < e->nfiles && rc == AP_OK; i++)
        if (path[i])
            order[norder++] = i;
    /* 2. Batch after batch; a file that failed to download does not stop
     * the others (what is verified is kept), the first failure is the
     * pull's status and message. */
    for (i = 0, stop = rc != AP_OK; i < norder && !stop; i += nb) {
        apx_error first = j->prov->err;
        int brc, go_on = 0;
        if ((brc = apx_pull_stopped(j)) != AP_OK) {
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
        if (f->present && apx_plan_wanted(j, &call->files[i])) /* in place with its leader */
            apx_pull_settle_file(j, apx_pull_done_now(j), f->size, call->files[i].size != AP_SIZE_UNKNOWN);
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

/* Files already in the store carry a signature too: check their blobs. */
int apx_pull_check_stored_signatures(pull *j, const ap_vendor_call *call)
{
    int rc = AP_OK;
    size_t i;
    for (i = 0; rc == AP_OK && i < j->entry->nfiles; i++) {
        const apx_mfile *m = &call->files[i];
        ap_entry_file *f = &j->entry->files[i];
        char *blob = NULL;
        apx_error serr;
        if (!m->signature || !f->present || (j->sig_ok && j->sig_ok[i]))
            continue;
        apx_error_clear(&serr);
        if ((rc = ap_store_blob_path(j->prov->store, f->sha256, &blob)) == AP_OK)
            rc = apx_pull_check_signature(j, m, blob, &serr);
        free(blob);
        if (rc != AP_OK)
            rc = apx_pull_fail(j, rc, "%s: %s", j->ref, serr.msg[0] ? serr.msg : ap_strerror(rc));
    }
    return rc;
}
