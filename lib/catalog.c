/* libartifactprov — the catalog: one JSON document per entry under
 * <root>/catalog/<id>.json (format in docs/store.md), written by temporary
 * file + fsync + rename.  Documents that do not parse are skipped and
 * reported as warnings, never deleted.
 * SPDX-License-Identifier: MIT */
#include "internal.h"
#include "digest.h"
#include "formats.h"
#include "entry.h"
#include "fs.h"
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CATALOG_MAGIC 0x41504341u  /* "APCA" */
/* The largest document read, and written: the writer refuses what the
 * reader would (a 100,000-file entry with long paths takes ~100 MB). */
#define MAX_DOC ((size_t)256 << 20)
#define MAX_WARNINGS 1000

struct ap_catalog {
    unsigned magic;
    ap_store *store;
    int dir_fd;
    apx_error err;
    char **warn;
    char **warn_id;    /* id of the document each warning is about, or NULL */
    size_t nwarn;
};

/* ---- catalog handle -------------------------------------------------------- */

static int check(const ap_catalog *c)
{
    return c && c->magic == CATALOG_MAGIC;
}

static void warnings_clear(ap_catalog *c)
{
    size_t i;
    for (i = 0; i < c->nwarn; i++) {
        free(c->warn[i]);
        free(c->warn_id[i]);
    }
    free(c->warn);
    free(c->warn_id);
    c->warn = c->warn_id = NULL;
    c->nwarn = 0;
}

/* The id a document file name stands for ("<id>.json"), when valid. */
static char *doc_id(const char *file)
{
    size_t l = strlen(file);
    char *id;
    if (l <= 5 || strcmp(file + l - 5, ".json") != 0)
        return NULL;
    if (!(id = apx_strndup(file, l - 5)))
        return NULL;
    if (!apx_entry_id_valid(id)) {
        free(id);
        return NULL;
    }
    return id;
}

static void warn(ap_catalog *c, const char *file, const char *why)
{
    char **nw, **ni;
    char *msg;
    if (c->nwarn >= MAX_WARNINGS)
        return;
    if (!(msg = apx_asprintf("catalog/%s: skipped: %s", file, why)))
        return;
    nw = apx_realloc(c->warn, (c->nwarn + 1) * sizeof *nw);
    if (nw)
        c->warn = nw;
    ni = nw ? apx_realloc(c->warn_id, (c->nwarn + 1) * sizeof *ni) : NULL;
    if (ni)
        c->warn_id = ni;
    if (!nw || !ni) {
        free(msg);
        return;
    }
    c->warn_id[c->nwarn] = doc_id(file);
    c->warn[c->nwarn++] = msg;
}

AP_EXPORT size_t ap_catalog_warning_count(const ap_catalog *catalog)
{
    return check(catalog) ? catalog->nwarn : 0;
}

AP_EXPORT const char *ap_catalog_warning(const ap_catalog *catalog, size_t i)
{
    if (!check(catalog) || i >= catalog->nwarn)
        return NULL;
    return catalog->warn[i];
}

AP_EXPORT const char *ap_catalog_warning_id(const ap_catalog *catalog, size_t i)
{
    if (!check(catalog) || i >= catalog->nwarn)
        return NULL;
    return catalog->warn_id[i];
}

AP_EXPORT int ap_catalog_open(ap_catalog **out, ap_store *store)
{
    ap_catalog *c;
    int rfd;
    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (!store || !ap_store_root(store))
        return AP_EINVAL;
    if (!(c = apx_calloc(1, sizeof *c)))
        return AP_ENOMEM;
    rfd = open(ap_store_root(store), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0) {
        free(c);
        return AP_EIO;
    }
    c->dir_fd = apx_fs_opendir_at(rfd, "catalog", 1, &c->err);
    close(rfd);
    if (c->dir_fd < 0) {
        int rc = c->dir_fd;
        free(c);
        return rc;
    }
    c->magic = CATALOG_MAGIC;
    c->store = store;
    *out = c;
    return AP_OK;
}

AP_EXPORT void ap_catalog_close(ap_catalog *catalog)
{
    if (!check(catalog))
        return;
    close(catalog->dir_fd);
    warnings_clear(catalog);
    catalog->magic = 0;
    free(catalog);
}

AP_EXPORT const char *ap_catalog_errmsg(const ap_catalog *catalog)
{
    return check(catalog) ? catalog->err.msg : "invalid catalog handle";
}

/* What the reader checks beyond the JSON types, checked before writing, so
 * that no document is written that its own reader refuses. */
static int entry_writable(ap_catalog *c, const ap_entry *e)
{
    size_t i;
    if (e->status < AP_ENTRY_PENDING || e->status > AP_ENTRY_CANCELLED)
        return apx_error_set(&c->err, AP_EINVAL, "catalog %s: bad status %d", e->id,
                             (int)e->status);
    for (i = 0; i < e->nfiles; i++) {
        const ap_entry_file *f = ap_entry_file_at(e, i); /* a caller's array too */
        if (ap_path_validate(f->name) != AP_OK)
            return apx_error_set(&c->err, AP_EPATH, "catalog %s: file %zu: name is "
                                 "not a safe relative path (empty, '..', control "
                                 "character or too long)", e->id, i);
        if (f->sha256 && !apx_is_sha256_hex(f->sha256))
            return apx_error_set(&c->err, AP_EINVAL, "catalog %s: file '%s': "
                                 "malformed sha256", e->id, f->name);
    }
    return AP_OK;
}

AP_EXPORT int ap_catalog_put(ap_catalog *c, const ap_entry *entry)
{
    char *json = NULL, *file;
    size_t len;
    int rc;
    if (!check(c) || !entry)
        return AP_EINVAL;
    if (!apx_entry_id_valid(entry->id))
        return apx_error_set(&c->err, AP_EINVAL, "invalid entry id '%.80s'",
                             entry->id ? entry->id : "(null)");
    if ((rc = entry_writable(c, entry)) != AP_OK)
        return rc;
    if (!(json = apx_entry_json_text(entry, &len)))
        return apx_error_set(&c->err, AP_ENOMEM, "catalog %s: cannot encode the "
                             "entry (out of memory or a string that is not UTF-8)",
                             entry->id);
    if (len > MAX_DOC) {
        free(json);
        return apx_error_set(&c->err, AP_ESIZE, "catalog %s: the document would "
                             "take %zu bytes, more than the %zu the catalog reads "
                             "(%zu files)", entry->id, len, MAX_DOC, entry->nfiles);
    }
    if (!(file = apx_asprintf("%s.json", entry->id))) {
        free(json);
        return AP_ENOMEM;
    }
    rc = apx_fs_write_atomic(c->dir_fd, file, json, len, 0644,
                             &c->err);
    if (rc != AP_OK)
        apx_error_prefix(&c->err, "catalog %s", entry->id);
    free(file);
    free(json);
    return rc;
}

/* Map catalog/<file> read-only without ever blocking or following a link:
 * the store's opener refuses a FIFO, socket, device or directory at once.
 * Mapped, not read: an entry of 100,000 files is a 50 MB document, whose
 * copy into fresh memory cost a third of reading it.  Documents are only
 * ever replaced by rename (apx_fs_write_atomic), never rewritten or
 * truncated in place, so the mapped bytes stay those of one document.
 * *mapped: 1 when *out is a mapping of *len bytes (munmap it), 0 when it is
 * read into memory (free it; a file system that cannot map the file), -1
 * when it is nothing to release (an empty document). */
static int map_doc(ap_catalog *c, const char *file, const char **out, size_t *len,
                   int *mapped)
{
    char *buf;
    int rc;
    struct stat st;
    void *m;
    int fd = apx_fs_open_regular_at(c->dir_fd, file, file, &st, &c->err);
    *out = "";
    *len = 0;
    *mapped = -1;
    if (fd < 0)
        return fd;
    if ((uint64_t)st.st_size > MAX_DOC) {
        close(fd);
        return apx_error_set(&c->err, AP_ESIZE, "'%s' is larger than %zu bytes",
                             file, MAX_DOC);
    }
    if (st.st_size == 0) {
        close(fd);
        return AP_OK;
    }
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (m != MAP_FAILED) {
        *out = m;
        *len = (size_t)st.st_size;
        *mapped = 1;
        return AP_OK;
    }
    rc = apx_fs_read_file_at(c->dir_fd, file, MAX_DOC, &buf, len, &c->err);
    if (rc == AP_OK) {
        *out = buf;
        *mapped = 0;
    }
    return rc;
}

/* Load catalog/<file>; on failure a warning is recorded. */
static int load(ap_catalog *c, const char *file, ap_entry **out)
{
    const char *doc;
    char why[256];
    size_t len, flen = strlen(file);
    int rc, mapped;

    *out = NULL;
    rc = map_doc(c, file, &doc, &len, &mapped);
    if (rc == AP_ENOTFOUND)
        return rc;
    if (rc != AP_OK) {
        warn(c, file, c->err.msg);
        return rc == AP_ENOMEM ? rc : AP_ECORRUPT;
    }
    rc = apx_entry_parse(doc, len, out, why, sizeof why);
    if (mapped == 1)
        munmap((void *)(uintptr_t)doc, len);
    else if (mapped == 0)
        free((void *)(uintptr_t)doc);
    if (rc == AP_OK && (strlen((*out)->id) != flen - 5 ||
                        strncmp((*out)->id, file, flen - 5) != 0)) {
        snprintf(why, sizeof why, "id '%.80s' does not match the file name",
                 (*out)->id);
        ap_entry_free(*out);
        *out = NULL;
        rc = AP_ECORRUPT;
    }
    if (rc != AP_OK) {
        warn(c, file, why);
        apx_error_set(&c->err, rc, "catalog/%s: %s", file, why);
    }
    return rc;
}

static int is_doc_name(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && l > 5 && !strcmp(n + l - 5, ".json");
}

typedef int (*doc_visit)(ap_catalog *c, ap_entry *e, void *ctx);

/* Visit every readable document (the visitor owns e).  *n_bad counts the
 * skipped ones. */
static int each_doc(ap_catalog *c, doc_visit visit, void *ctx, size_t *n_bad)
{
    int fd = openat(c->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *de;
    int rc = AP_OK;

    if (n_bad)
        *n_bad = 0;
    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return apx_error_set(&c->err, AP_EIO, "catalog: %s", strerror(errno));
    }
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        ap_entry *e;
        int lrc;
        if (!is_doc_name(de->d_name))
            continue;
        lrc = load(c, de->d_name, &e);
        if (lrc == AP_ENOMEM)
            rc = lrc;
        else if (lrc == AP_OK)
            rc = visit(c, e, ctx);
        else if (lrc != AP_ENOTFOUND && n_bad)
            (*n_bad)++;
    }
    closedir(d);
    return rc;
}

typedef struct find_ctx {
    const char *key;
    ap_entry *found;
    ap_entry *file_of; /* fallback: key is "REF/FILE" with FILE one of its files */
} find_ctx;

/* `key` is "<prefix>/<file>" with <file> one of e's files. */
static int names_file_of(const ap_entry *e, const char *prefix, const char *key)
{
    size_t len, i;
    if (!prefix)
        return 0;
    len = strlen(prefix);
    if (strncmp(key, prefix, len) != 0 || key[len] != '/' || !key[len + 1])
        return 0;
    for (i = 0; i < e->nfiles; i++)
        if (e->files[i].name && !strcmp(e->files[i].name, key + len + 1))
            return 1;
    return 0;
}

static int find_visit(ap_catalog *c, ap_entry *e, void *p)
{
    find_ctx *f = p;
    (void)c;
    if (!f->found && ((e->ref && !strcmp(e->ref, f->key)) ||
                      (e->requested && !strcmp(e->requested, f->key)) ||
                      !strcmp(e->id, f->key))) {
        f->found = e;
        return AP_OK;
    }
    if (!f->found &&
        (names_file_of(e, e->ref, f->key) || names_file_of(e, e->requested, f->key)) &&
        (!f->file_of || e->updated > f->file_of->updated)) {
        /* several list it (revisions): the one updated last */
        ap_entry_free(f->file_of);
        f->file_of = e;
        return AP_OK;
    }
    ap_entry_free(e);
    return AP_OK;
}

AP_EXPORT int ap_catalog_get(ap_catalog *c, const char *id_or_ref,
                             ap_entry **out)
{
    find_ctx f;
    int rc;
    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (!check(c) || !id_or_ref)
        return AP_EINVAL;
    warnings_clear(c);
    if (apx_entry_id_valid(id_or_ref)) {
        char *file = apx_asprintf("%s.json", id_or_ref);
        if (!file)
            return AP_ENOMEM;
        rc = load(c, file, out);
        free(file);
        if (rc != AP_ENOTFOUND)
            return rc;
    }
    f.key = id_or_ref;
    f.found = NULL;
    f.file_of = NULL;
    rc = each_doc(c, find_visit, &f, NULL);
    if (rc != AP_OK) {
        ap_entry_free(f.found);
        ap_entry_free(f.file_of);
        return rc;
    }
    /* an entry named exactly wins over one that lists the file */
    if (f.found)
        ap_entry_free(f.file_of);
    else
        f.found = f.file_of;
    if (!f.found)
        return apx_error_set(&c->err, AP_ENOTFOUND,
                             "no catalog entry for '%.200s'", id_or_ref);
    *out = f.found;
    return AP_OK;
}

typedef struct list_ctx {
    const ap_catalog_filter *filter;
    ap_entry **v;
    size_t n, cap;
} list_ctx;

static int filter_match(const ap_catalog_filter *f, const ap_entry *e)
{
    size_t i;
    if (!f)
        return 1;
    if (f->struct_size >= offsetof(ap_catalog_filter, vendor) + sizeof f->vendor
        && f->vendor && (!e->vendor || strcmp(f->vendor, e->vendor)))
        return 0;
    if (f->struct_size >= offsetof(ap_catalog_filter, status) + sizeof f->status
        && f->status >= 0 && (int)e->status != f->status)
        return 0;
    if (f->struct_size >= offsetof(ap_catalog_filter, format) + sizeof f->format
        && f->format) {
        for (i = 0; i < e->nfiles; i++)
            if (e->files[i].format && !strcasecmp(e->files[i].format,
                                                  f->format))
                return 1;
        return 0;
    }
    return 1;
}

/* Append e to a growing array of entries (taking it); on ENOMEM e is freed. */
static int entries_push(ap_entry ***v, size_t *n, size_t *cap, ap_entry *e)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        ap_entry **nv = apx_realloc(*v, ncap * sizeof *nv);
        if (!nv) {
            ap_entry_free(e);
            return AP_ENOMEM;
        }
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = e;
    return AP_OK;
}

static int list_visit(ap_catalog *c, ap_entry *e, void *p)
{
    list_ctx *l = p;
    if (!filter_match(l->filter, e)) {
        ap_entry_free(e);
        return AP_OK;
    }
    return entries_push(&l->v, &l->n, &l->cap, e);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp((*(ap_entry *const *)a)->id, (*(ap_entry *const *)b)->id);
}

AP_EXPORT int ap_catalog_list(ap_catalog *c, const ap_catalog_filter *filter,
                              ap_entry ***out, size_t *n)
{
    list_ctx l;
    int rc;
    if (!out || !n)
        return AP_EINVAL;
    *out = NULL;
    *n = 0;
    if (!check(c))
        return AP_EINVAL;
    warnings_clear(c);
    memset(&l, 0, sizeof l);
    l.filter = filter;
    rc = each_doc(c, list_visit, &l, NULL);
    if (rc != AP_OK) {
        ap_entry_list_free(l.v, l.n);
        return rc;
    }
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, cmp_entry);
    *out = l.v;
    *n = l.n;
    return AP_OK;
}

AP_EXPORT int ap_catalog_set_status(ap_catalog *c, const char *id,
                                    ap_entry_status status, const char *error)
{
    ap_entry *e;
    char *file;
    int rc;
    if (!check(c) || !apx_entry_id_valid(id) || status < AP_ENTRY_PENDING ||
        status > AP_ENTRY_CANCELLED)
        return AP_EINVAL;
    if (!(file = apx_asprintf("%s.json", id)))
        return AP_ENOMEM;
    warnings_clear(c);
    rc = load(c, file, &e);
    free(file);
    if (rc == AP_ENOTFOUND)
        return apx_error_set(&c->err, rc, "no catalog entry '%s'", id);
    if (rc != AP_OK)
        return rc;
    free(e->error);
    e->error = NULL;
    if (error && !(e->error = apx_strdup(error))) {
        ap_entry_free(e);
        return AP_ENOMEM;
    }
    e->status = status;
    e->updated = apx_wall_s();
    rc = ap_catalog_put(c, e);
    ap_entry_free(e);
    return rc;
}

/* ---- remove and gc ---------------------------------------------------------- */

typedef struct refs_ctx {
    const char *skip_id;
    const char **v;     /* borrowed from entries kept in ents */
    size_t n, cap;
    ap_entry **ents;
    size_t nents, capents;
} refs_ctx;

static int refs_visit(ap_catalog *c, ap_entry *e, void *p)
{
    refs_ctx *r = p;
    size_t i;
    if (r->skip_id && !strcmp(e->id, r->skip_id)) {
        ap_entry_free(e);
        return AP_OK;
    }
    if (entries_push(&r->ents, &r->nents, &r->capents, e) != AP_OK)
        return AP_ENOMEM;
    for (i = 0; i < e->nfiles; i++) {
        if (!e->files[i].sha256)
            continue;
        if (r->n == r->cap) {
            size_t ncap = r->cap ? r->cap * 2 : 64;
            const char **nv = apx_realloc(r->v, ncap * sizeof *nv);
            if (!nv)
                return AP_ENOMEM;
            r->v = nv;
            r->cap = ncap;
        }
        r->v[r->n++] = e->files[i].sha256;
    }
    return AP_OK;
}

static void refs_free(refs_ctx *r)
{
    ap_entry_list_free(r->ents, r->nents);
    free(r->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* r->v sorted once (refs_sort), then each lookup is a binary search: a
 * 100,000-file entry is removed in O(n log n), not O(n^2). */
static void refs_sort(refs_ctx *r)
{
    if (r->n > 1)
        qsort(r->v, r->n, sizeof *r->v, cmp_str);
}

static int referenced(const refs_ctx *r, const char *hex)
{
    return r->n && bsearch(&hex, r->v, r->n, sizeof *r->v, cmp_str) != NULL;
}

/* Other entries may share a view directory (two files of one repository
 * pulled separately): after removing it, link their files again. */
static void relink_views(ap_catalog *c, const char *vendor, const char *name)
{
    ap_catalog_filter f = AP_CATALOG_FILTER_INIT;
    ap_entry **list = NULL;
    size_t n = 0, i, k;
    f.vendor = vendor;
    if (ap_catalog_list(c, &f, &list, &n) != AP_OK)
        return;
    for (i = 0; i < n; i++) {
        if (!list[i]->name || strcmp(list[i]->name, name) != 0)
            continue;
        for (k = 0; k < list[i]->nfiles; k++) {
            const ap_entry_file *ef = &list[i]->files[k];
            if (ef->present && ef->sha256 && ef->name &&
                ap_store_has_blob(c->store, ef->sha256) == 1)
                (void)ap_store_link_view(c->store, vendor, name, ef->name, ef->sha256,
                                         NULL);
        }
    }
    ap_entry_list_free(list, n);
}

AP_EXPORT int ap_catalog_remove(ap_catalog *c, const char *id)
{
    ap_entry *e = NULL;
    refs_ctx r;
    char *file;
    size_t i, n_bad = 0;
    int lfd = -1, glfd = -1, rc;

    if (!check(c))
        return AP_EINVAL;
    if (!apx_entry_id_valid(id))
        return apx_error_set(&c->err, AP_EINVAL, "invalid entry id '%.80s'",
                             id ? id : "(null)");
    warnings_clear(c);
    if ((rc = ap_store_lock(c->store, id, &lfd)) != AP_OK)
        return apx_error_set(&c->err, rc, "remove %s: %s", id,
                             ap_store_errmsg(c->store));
    memset(&r, 0, sizeof r);
    if (!(file = apx_asprintf("%s.json", id))) {
        rc = AP_ENOMEM;
        goto out;
    }
    if ((rc = load(c, file, &e)) != AP_OK) {
        if (rc == AP_ENOTFOUND)
            apx_error_set(&c->err, rc, "no catalog entry '%s'", id);
        else if (rc == AP_ECORRUPT) {
            /* A damaged document: its blobs are unknown, so only the
             * document goes (gc takes the blobs no one names later). */
            if (unlinkat(c->dir_fd, file, 0) != 0 &&
                (errno != EISDIR || unlinkat(c->dir_fd, file, AT_REMOVEDIR) != 0))
                rc = apx_error_set(&c->err, AP_EIO, "remove catalog/%s: %s", file,
                                   strerror(errno));
            else {
                fsync(c->dir_fd);
                rc = AP_OK;
            }
        }
        goto out;
    }
    r.skip_id = id;
    /* Held from reading the other documents to the last blob removed:
     * otherwise a pull may have committed one of these blobs for an entry
     * not yet written (it holds APX_GC_LOCK shared until it is). */
    (void)ap_store_trylock(c->store, APX_GC_LOCK, &glfd);
    if ((rc = each_doc(c, refs_visit, &r, &n_bad)) != AP_OK)
        goto out;
    if (unlinkat(c->dir_fd, file, 0) != 0) {
        rc = apx_error_set(&c->err, AP_EIO, "remove catalog/%s: %s", file,
                           strerror(errno));
        goto out;
    }
    fsync(c->dir_fd);
    /* Blobs go unless another entry uses them; when some document could
     * not be read its references are unknown, and while a pull holds
     * APX_GC_LOCK (glfd < 0) it may have committed one of them for an
     * entry not yet written: then blobs are kept (gc takes them later). */
    refs_sort(&r);
    for (i = 0; n_bad == 0 && glfd >= 0 && i < e->nfiles; i++) {
        const char *h = e->files[i].sha256;
        if (h && apx_is_sha256_hex(h) && !referenced(&r, h))
            (void)ap_store_remove_blob(c->store, h);
    }
    if (e->vendor && e->name && apx_fs_valid_component(e->vendor) &&
        ap_path_validate(e->name) == AP_OK) {
        (void)ap_store_unlink_view(c->store, e->vendor, e->name);
        relink_views(c, e->vendor, e->name);
    }
out:
    free(file);
    ap_entry_free(e);
    refs_free(&r);
    apx_store_unlock_remove(c->store, APX_GC_LOCK, glfd);
    ap_store_unlock(lfd);
    return rc;
}

AP_EXPORT int ap_catalog_gc(ap_catalog *c, unsigned stale_seconds,
                            ap_store_report_cb report, void *user,
                            uint64_t *freed)
{
    refs_ctx r;
    size_t n_bad = 0;
    int rc, glfd = -1;
    if (freed)
        *freed = 0;
    if (!check(c))
        return AP_EINVAL;
    warnings_clear(c);
    memset(&r, 0, sizeof r);
    /* Pulls hold APX_GC_LOCK shared while blobs they committed are named by
     * no document yet: gc runs only when none does, from reading the
     * documents to the last blob removed. */
    if ((rc = ap_store_trylock(c->store, APX_GC_LOCK, &glfd)) == AP_EBUSY)
        return apx_error_set(&c->err, rc, "gc: a pull is storing files not yet "
                             "recorded in the catalog; nothing removed, run gc "
                             "again after it");
    if (rc != AP_OK)
        return apx_error_set(&c->err, rc, "gc: %s", ap_store_errmsg(c->store));
    rc = each_doc(c, refs_visit, &r, &n_bad);
    if (rc == AP_OK && n_bad)
        rc = apx_error_set(&c->err, AP_ECORRUPT,
                           "gc refused, nothing removed: %zu catalog document(s) "
                           "unreadable, so the blobs they name are unknown (first: "
                           "%s); remove a damaged document by its id "
                           "(ap_catalog_remove, `apctl rm %s`)", n_bad,
                           c->nwarn ? c->warn[0] : "?",
                           c->nwarn && c->warn_id[0] ? c->warn_id[0] : "ID");
    if (rc == AP_OK) {
        rc = ap_store_gc(c->store, r.v, r.n, stale_seconds, report, user,
                         freed);
        if (rc != AP_OK)
            apx_error_set(&c->err, rc, "gc: %s", ap_store_errmsg(c->store));
    }
    refs_free(&r);
    apx_store_unlock_remove(c->store, APX_GC_LOCK, glfd);
    return rc;
}
