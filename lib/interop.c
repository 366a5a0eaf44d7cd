/* libartifactprov — interop with caches other tools keep: the host side of
 * a vendor's `scan` (ap_provisioner_scan, commit_entry, warn,
 * read_beneath) and file:// URLs.  Which caches
 * exist and how they are laid out is the vendors' business; the trust is
 * kept here: digests only computed from the bytes, reads only beneath the
 * cache root, FIFOs never opened.  SPDX-License-Identifier: MIT */
#include "prov.h"
#include "fs.h"
#include "store_internal.h"
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- file:// --------------------------------------------------------- */

char *apx_file_url_path(const char *url)
{
    const char *s;
    char *out, *o;
    if (!url || strncmp(url, "file://", 7) != 0)
        return NULL;
    s = url + 7;
    if (strncmp(s, "localhost/", 10) == 0)
        s += 9;
    if (*s != '/')
        return NULL; /* file://host/... names another machine */
    out = o = apx_malloc(strlen(s) + 1);
    if (!out)
        return NULL;
    for (; *s; s++) {
        if (*s == '%') {
            int hi = apx_hexval(s[1]), lo = hi >= 0 ? apx_hexval(s[2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            s += 2;
        } else
            *o++ = *s;
    }
    *o = '\0';
    return out;
}

/* ---- building entries from imported files ------------------------------- */

typedef struct import_file {
    char *group;     /* entry ref this file belongs to */
    char *name;      /* entry name (view directory) */
    char *revision;
    char *relpath;
    char *sha256;
    char *git_sha1;
    uint64_t size;
} import_file;

typedef struct apx_importer {
    ap_provisioner *p;
    const char *vendor;
    import_file *files;
    size_t n, cap;
    ap_scan_stats *st;
    ap_scan_options o;  /* zero-filled when the caller gave none */
    int rc;
} importer;

static void import_file_clear(import_file *f)
{
    free(f->group);
    free(f->name);
    free(f->revision);
    free(f->relpath);
    free(f->sha256);
    free(f->git_sha1);
}

/* Import one local file (open as fd) into the store and remember it for
 * its entry.  The digests recorded are those of the bytes placed in the
 * store; expect_* are what the foreign cache claims (its file names), and
 * a file that is not what its name claims is refused, with a warning. */
static int import_one(importer *im, const char *group, const char *name,
                      const char *revision, const char *relpath, int fd,
                      const char *label, const char *expect_sha256,
                      const char *expect_git, int want_git, uint64_t size)
{
    char hex[AP_SHA256_HEX_LEN + 1], git[41];
    unsigned flags = im->p->flags & AP_PROV_LINK_IMPORTS ? AP_IMPORT_LINK : 0;
    import_file f;
    int rc;

    if (ap_path_validate(relpath) != AP_OK || ap_path_validate(name) != AP_OK) {
        im->st->skipped++;
        apx_prov_warn(im->p, "%s: invalid file name, skipped", label);
        return AP_OK;
    }
    if (im->o.flags & AP_SCAN_DRY_RUN) { /* what the cache claims, unhashed */
        snprintf(hex, sizeof hex, "%s", expect_sha256 ? expect_sha256 : "");
        snprintf(git, sizeof git, "%s", expect_git ? expect_git : "");
        rc = AP_OK;
    } else
        rc = apx_store_import_fd(im->p->store, fd, label, expect_sha256, expect_git,
                                 flags, hex, want_git ? git : NULL);
    if (rc == AP_ENOMEM)
        return rc;
    if (rc != AP_OK) {
        im->st->skipped++; /* unreadable or not what its name claims */
        apx_prov_warn(im->p, "skipped %s", ap_store_errmsg(im->p->store));
        return AP_OK;
    }
    if (im->n == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 64;
        import_file *g = apx_realloc(im->files, cap * sizeof *g);
        if (!g)
            return AP_ENOMEM;
        im->files = g;
        im->cap = cap;
    }
    memset(&f, 0, sizeof f);
    f.group = apx_strdup(group);
    f.name = apx_strdup(name);
    f.revision = apx_strdup(revision);
    f.relpath = apx_strdup(relpath);
    f.sha256 = apx_strdup(hex);
    f.git_sha1 = want_git ? apx_strdup(git) : NULL;
    f.size = size;
    if (!f.group || !f.name || !f.relpath || !f.sha256 ||
        (revision && !f.revision) || (want_git && !f.git_sha1)) {
        import_file_clear(&f);
        return AP_ENOMEM;
    }
    im->files[im->n++] = f;
    im->st->files++;
    im->st->bytes += size;
    return AP_OK;
}

static int cmp_import(const void *a, const void *b)
{
    const import_file *x = a, *y = b;
    int c = strcmp(x->group, y->group);
    return c ? c : strcmp(x->relpath, y->relpath);
}

/* Tell the caller of an entry written (or, dry, that would be): files
 * [i, end) of one group. */
static void report_entry(const importer *im, size_t i, size_t end)
{
    uint64_t bytes = 0;
    size_t k;
    if (!im->o.on_entry)
        return;
    for (k = i; k < end; k++)
        bytes += im->files[k].size;
    im->o.on_entry(im->o.user, im->files[i].group, end - i, bytes);
}

/* Write one ready entry per group of imported files. */
static int flush_entries(importer *im)
{
    size_t i = 0, k;
    int rc = AP_OK;
    if (im->n) /* qsort(NULL, 0) is undefined */
        qsort(im->files, im->n, sizeof *im->files, cmp_import);
    while (i < im->n && rc == AP_OK) {
        size_t end = i;
        ap_entry *e;
        while (end < im->n && strcmp(im->files[end].group, im->files[i].group) == 0)
            end++;
        if (im->o.flags & AP_SCAN_DRY_RUN) {
            report_entry(im, i, end);
            im->st->entries++;
            i = end;
            continue;
        }
        e = apx_calloc(1, sizeof *e);
        if (!e)
            return AP_ENOMEM;
        e->struct_size = sizeof *e;
        e->vendor = apx_strdup(im->vendor);
        e->ref = apx_strdup(im->files[i].group);
        e->name = apx_strdup(im->files[i].name);
        e->revision = apx_strdup(im->files[i].revision);
        e->status = AP_ENTRY_READY;
        e->created = e->updated = apx_wall_s();
        e->files = apx_calloc(end - i, sizeof *e->files);
        rc = e->vendor && e->ref && e->name && e->files ? AP_OK : AP_ENOMEM;
        if (rc == AP_OK)
            rc = ap_entry_make_id(e->vendor, e->ref, &e->id);
        for (k = i; rc == AP_OK && k < end; k++) {
            ap_entry_file *f = &e->files[e->nfiles++];
            f->name = apx_strdup(im->files[k].relpath);
            f->sha256 = apx_strdup(im->files[k].sha256);
            f->git_sha1 = apx_strdup(im->files[k].git_sha1);
            f->size = im->files[k].size;
            f->present = 1;
            if (!f->name || !f->sha256)
                rc = AP_ENOMEM;
        }
        if (rc == AP_OK)
            rc = apx_entry_finish(im->p, e);
        if (rc == AP_OK) {
            e->done_bytes = e->total_size;
            rc = ap_catalog_put(im->p->catalog, e);
            if (rc != AP_OK)
                apx_error_set(&im->p->err, rc, "%s: %s", e->ref,
                              ap_catalog_errmsg(im->p->catalog));
            else {
                im->st->entries++;
                report_entry(im, i, end);
            }
        }
        ap_entry_free(e);
        i = end;
    }
    return rc;
}

static void importer_free(importer *im)
{
    size_t i;
    for (i = 0; i < im->n; i++)
        import_file_clear(&im->files[i]);
    free(im->files);
}

/* ---- the host calls of a scan ----------------------------------------- */

/* Forget the files and artifact of the call (after a commit). */
static void call_reset(ap_vendor_call *call)
{
    size_t i;
    for (i = 0; i < call->nfiles; i++)
        apx_mfile_clear(&call->files[i]);
    call->nfiles = 0;
    free(call->name);
    free(call->revision);
    free(call->canonical);
    call->name = call->revision = call->canonical = NULL;
}

void apx_host_warn(ap_vendor_call *call, const char *fmt, ...)
{
    char msg[APX_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (call->scan)
        call->scan->st->skipped++;
    apx_prov_warn(call->prov, "%s", msg);
    if (call->tracker)
        (void)ap_tracker_log(call->tracker, AP_LOG_WARN, NULL, AP_OK, msg);
}

/* Open root (absolute directory) and rel beneath it; fd or a negative
 * status with the cause in *e. */
static int open_beneath(const char *root, const char *rel, char **canon,
                        struct stat *st, apx_error *e)
{
    int rfd, fd;
    if (!root || root[0] != '/')
        return apx_error_set(e, AP_EINVAL, "'%s' is not an absolute directory",
                             root ? root : "(null)");
    if (!rel || ap_path_validate(rel) != AP_OK)
        return apx_error_set(e, AP_EPATH, "invalid name '%s' below %s",
                             rel ? rel : "(null)", root);
    rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return apx_error_set(e, errno == ENOENT ? AP_ENOTFOUND : AP_EIO,
                             "open '%s': %s", root, strerror(errno));
    fd = apx_fs_open_beneath(rfd, root, rel, canon, st, e);
    close(rfd);
    return fd;
}

int apx_host_read_beneath(ap_vendor_call *call, const char *root, const char *rel,
                          char *buf, size_t cap, size_t *len)
{
    struct stat st;
    apx_error e;
    size_t got = 0;
    int fd;

    if (len)
        *len = 0;
    if (!buf || cap == 0)
        return apx_error_set(&call->err, AP_EINVAL, "%s: read_beneath without a buffer",
                             call->ref);
    buf[0] = '\0';
    apx_error_clear(&e);
    if ((fd = open_beneath(root, rel, NULL, &st, &e)) < 0) {
        apx_error_set(&call->err, fd, "%s/%s: %s", root ? root : "(null)",
                      rel ? rel : "(null)", e.msg);
        if (call->scan && fd != AP_ENOMEM) /* listed, with its cause */
            apx_host_warn(call, "%s", call->err.msg);
        return fd;
    }
    if ((uint64_t)st.st_size >= cap) {
        close(fd);
        apx_error_set(&call->err, AP_ESIZE, "%s/%s: %llu bytes, more than the %zu "
                      "the vendor reads", root, rel,
                      (unsigned long long)st.st_size, cap - 1);
        if (call->scan)
            apx_host_warn(call, "%s", call->err.msg);
        return AP_ESIZE;
    }
    while (got < cap - 1) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return apx_error_set(&call->err, AP_EIO, "%s/%s: %s", root, rel,
                                 strerror(err));
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (len)
        *len = got;
    return AP_OK;
}

int apx_host_commit_entry(ap_vendor_call *call)
{
    importer *im = call->scan;
    const char *group = call->canonical, *name = call->name;
    size_t i;
    int rc = AP_OK;

    if (!im)
        return apx_error_set(&call->err, AP_EINVAL, "%s: vendor '%s' called "
                             "commit_entry outside a scan", call->ref,
                             call->vendor->desc.name);
    if (!group || !name) {
        im->st->skipped += call->nfiles;
        apx_prov_warn(call->prov, "%s: vendor '%s' committed an artifact without a "
                      "canonical reference or a name; its %zu files are skipped",
                      call->ref, call->vendor->desc.name, call->nfiles);
        call_reset(call);
        return AP_OK;
    }
    for (i = 0; rc == AP_OK && i < call->nfiles; i++) {
        const apx_mfile *m = &call->files[i];
        char *canon = NULL, *label;
        struct stat st;
        apx_error e;
        int fd;
        if (im->o.cancel && ap_cancel_is_set(im->o.cancel)) {
            rc = AP_ECANCELLED;
            break;
        }
        apx_error_clear(&e);
        fd = open_beneath(m->local_root, m->local_path, &canon, &st, &e);
        if (fd == AP_ENOMEM) {
            rc = AP_ENOMEM;
            break;
        }
        if (fd < 0) {
            im->st->skipped++;
            apx_prov_warn(call->prov, "%s/%s: %s", m->local_root, m->local_path, e.msg);
            continue;
        }
        label = apx_asprintf("%s/%s (%s/%s)", m->local_root, m->local_path,
                             m->local_root, canon);
        rc = label ? import_one(im, group, name, call->revision, m->path, fd, label,
                                m->sha256, m->git_sha1, !m->sha256,
                                (uint64_t)st.st_size)
                   : AP_ENOMEM;
        free(label);
        free(canon);
        close(fd);
    }
    call_reset(call);
    if (rc != AP_OK)
        return apx_error_set(&call->err, rc, "%s: %s", call->ref, ap_strerror(rc));
    return AP_OK;
}

void apx_entry_file_for_vendor(const ap_entry *e, const ap_entry_file *f,
                               const char *blob, ap_vendor_entry_file *vf)
{
    memset(vf, 0, sizeof *vf);
    vf->struct_size = sizeof *vf;
    vf->entry_ref = e->ref;
    vf->revision = e->revision;
    vf->path = f->name;
    vf->sha256 = f->sha256;
    vf->git_sha1 = f->git_sha1;
    vf->size = f->size;
    vf->blob_path = blob;
}

int apx_host_catalog_files(ap_vendor_call *call, const char *prefix,
                           int (*each)(void *user, const ap_vendor_entry_file *f),
                           void *user)
{
    ap_provisioner *p = call->prov;
    ap_entry **list = NULL;
    size_t n = 0, i, k, plen, hits = 0;
    int rc;

    if (!prefix || !each)
        return apx_error_set(&call->err, AP_EINVAL, "%s: catalog_files without a "
                             "prefix or a callback", call->ref);
    if (call->flags & AP_PROVISION_REFRESH)
        return AP_ENOTFOUND; /* a fresh check with the origin was demanded */
    if ((rc = ap_catalog_list(p->catalog, NULL, &list, &n)) != AP_OK)
        return rc == AP_ENOMEM ? apx_error_set(&call->err, rc, "out of memory")
                               : AP_ENOTFOUND;
    plen = strlen(prefix);
    rc = AP_OK;
    for (i = 0; rc == AP_OK && i < n; i++) {
        const ap_entry *e = list[i];
        if (e->status != AP_ENTRY_READY || !e->vendor || !e->ref ||
            strcmp(e->vendor, call->vendor->desc.name) != 0 ||
            strncmp(e->ref, prefix, plen) != 0 ||
            (e->ref[plen] && !strchr("/:@", e->ref[plen])))
            continue;
        for (k = 0; rc == AP_OK && k < e->nfiles; k++) {
            const ap_entry_file *f = &e->files[k];
            ap_vendor_entry_file vf;
            char *blob = NULL;
            if (!f->sha256 || ap_store_has_blob(p->store, f->sha256) != 1 ||
                ap_store_blob_path(p->store, f->sha256, &blob) != AP_OK)
                continue;
            apx_entry_file_for_vendor(e, f, blob, &vf);
            hits++;
            rc = each(user, &vf);
            free(blob);
        }
    }
    ap_entry_list_free(list, n);
    if (rc != AP_OK)
        return rc;
    if (hits)
        call->from_catalog = 1;
    return hits ? AP_OK : AP_ENOTFOUND;
}

/* A vendor by its name, or by one of its schemes (with or without ":"). */
static apx_vendor *vendor_named(ap_provisioner *p, const char *which)
{
    size_t i, len = strlen(which);
    for (i = 0; i < p->nvendors; i++)
        if (strcasecmp(p->vendors[i].desc.name, which) == 0)
            return &p->vendors[i];
    if (len && which[len - 1] == ':')
        len--;
    return apx_vendor_for_scheme(p, which, len);
}

AP_EXPORT int ap_provisioner_scan(ap_provisioner *p, const char *which,
                                  const char *dir, ap_scan_stats *stats)
{
    return ap_provisioner_scan_opts(p, which, dir, NULL, stats);
}

AP_EXPORT int ap_provisioner_scan_opts(ap_provisioner *p, const char *which,
                                       const char *dir, const ap_scan_options *opts,
                                       ap_scan_stats *stats)
{
    ap_scan_stats st;
    ap_vendor_call call;
    importer im;
    apx_vendor *v;
    char label[256];
    int rc;

    if (!p)
        return AP_EINVAL;
    apx_error_clear(&p->err);
    apx_prov_warnings_clear(p);
    if (!which || !*which)
        return apx_error_set(&p->err, AP_EINVAL, "scan: no vendor named");
    if (!(v = vendor_named(p, which)))
        return apx_error_set(&p->err, AP_EVENDOR, "scan: no vendor named or serving "
                             "'%s' is loaded (set AP_VENDOR_PATH?)", which);
    if (!AP_VENDOR_HAS(&v->desc, scan))
        return apx_error_set(&p->err, AP_EUNSUPPORTED, "scan: vendor '%s' (%s) "
                             "cannot import a foreign cache", v->desc.name, v->origin);
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    memset(&im, 0, sizeof im);
    im.p = p;
    im.vendor = v->desc.name;
    im.st = &st;
    if (opts && opts->struct_size) /* an older, shorter struct: the rest stays 0 */
        memcpy(&im.o, opts, opts->struct_size < sizeof im.o ? opts->struct_size
                                                           : sizeof im.o);
    snprintf(label, sizeof label, "scan by vendor '%s' of %s", v->desc.name,
             dir ? dir : "its default cache");
    apx_call_init(&call, p, v, label, NULL);
    call.scan = &im;
    rc = v->desc.scan(v->state, &call, dir);
    if (rc > 0)
        rc = AP_EVENDOR;
    if (rc != AP_OK)
        apx_error_set(&p->err, rc, "%s", call.err.msg[0] ? call.err.msg
                      : ap_strerror(rc));
    if (rc == AP_OK && im.o.cancel && ap_cancel_is_set(im.o.cancel))
        rc = AP_ECANCELLED;
    if (rc == AP_ECANCELLED)
        apx_error_set(&p->err, rc, "scan by vendor '%s': cancelled; no entry written",
                      v->desc.name);
    if (rc == AP_OK)
        rc = flush_entries(&im);
    apx_call_clear(&call);
    importer_free(&im);
    /* Copy what the caller's (possibly older, shorter) struct has room for. */
    if (stats && stats->struct_size >= sizeof stats->struct_size) {
        size_t n = stats->struct_size < sizeof st ? stats->struct_size : sizeof st;
        memcpy((char *)stats + sizeof st.struct_size, (char *)&st + sizeof st.struct_size,
               n - sizeof st.struct_size);
    }
    return rc;
}

/* ---- warnings of the last scan ---------------------------------------- */

#define MAX_WARNINGS 1000

void apx_prov_warn(ap_provisioner *p, const char *fmt, ...)
{
    char msg[APX_ERRMSG_MAX], **v;
    va_list ap;
    if (p->nwarnings >= MAX_WARNINGS)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!(v = apx_realloc(p->warnings, (p->nwarnings + 1) * sizeof *v)))
        return;
    p->warnings = v;
    if ((v[p->nwarnings] = apx_strdup(msg)))
        p->nwarnings++;
}

void apx_prov_warnings_clear(ap_provisioner *p)
{
    size_t i;
    for (i = 0; i < p->nwarnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    p->warnings = NULL;
    p->nwarnings = 0;
}

AP_EXPORT size_t ap_provisioner_warning_count(const ap_provisioner *p)
{
    return p ? p->nwarnings : 0;
}

AP_EXPORT const char *ap_provisioner_warning(const ap_provisioner *p, size_t i)
{
    return p && i < p->nwarnings ? p->warnings[i] : NULL;
}
