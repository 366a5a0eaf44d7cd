/* libartifactprov — Hugging Face cache and Ollama store interop (see
 * hfcache.h for the layouts and the contract of each function).
 * SPDX-License-Identifier: MIT */
#include "hfcache.h"
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SCAN_DEPTH 32
#define MAX_MANIFEST (1u << 20)
#define MAX_LAYERS 4096

static int nonempty(const char *s)
{
    return s && *s;
}

static int is_hex_n(const char *s, size_t n)
{
    size_t i;
    if (!s)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0';
}

int apx_hf_default_cache(char **out)
{
    const char *v;
    *out = NULL;
    if (nonempty(v = getenv("HF_HUB_CACHE")))
        *out = apx_strdup(v);
    else if (nonempty(v = getenv("HF_HOME")))
        *out = apx_path_join(v, "hub");
    else if (nonempty(v = getenv("XDG_CACHE_HOME")))
        *out = apx_path_join(v, "huggingface/hub");
    else if (nonempty(v = getenv("HOME")))
        *out = apx_path_join(v, ".cache/huggingface/hub");
    else
        return AP_EINVAL;
    return *out ? AP_OK : AP_ENOMEM;
}

int apx_ollama_default_dir(char **out)
{
    const char *v;
    *out = NULL;
    if (nonempty(v = getenv("OLLAMA_MODELS")))
        *out = apx_strdup(v);
    else if (nonempty(v = getenv("HOME")))
        *out = apx_path_join(v, ".ollama/models");
    else
        return AP_EINVAL;
    return *out ? AP_OK : AP_ENOMEM;
}

static const char *type_prefix(const char *repo_type)
{
    if (!repo_type || !strcmp(repo_type, "model"))
        return "models";
    if (!strcmp(repo_type, "dataset"))
        return "datasets";
    if (!strcmp(repo_type, "space"))
        return "spaces";
    return NULL;
}

int apx_hf_repo_folder(const char *repo_type, const char *repo_id, char **out,
                       apx_error *err)
{
    const char *prefix = type_prefix(repo_type), *slash;
    *out = NULL;
    if (!prefix)
        return apx_error_set(err, AP_EINVAL, "unknown repo type '%.40s'",
                             repo_type);
    if (!repo_id || ap_path_validate(repo_id) != AP_OK ||
        strstr(repo_id, "--") || strlen(repo_id) > 200)
        return apx_error_set(err, AP_EPATH, "invalid repo id '%.200s'",
                             repo_id ? repo_id : "(null)");
    slash = strchr(repo_id, '/');
    if (slash && strchr(slash + 1, '/'))
        return apx_error_set(err, AP_EPATH, "invalid repo id '%.200s': more "
                             "than one '/'", repo_id);
    *out = slash ? apx_asprintf("%s--%.*s--%s", prefix,
                                (int)(slash - repo_id), repo_id, slash + 1)
                 : apx_asprintf("%s--%s", prefix, repo_id);
    return *out ? AP_OK : apx_error_set(err, AP_ENOMEM, "out of memory");
}

/* Split "a/b/c" into its directory ("a/b", allocated, or NULL) and base. */
static int split_path(const char *p, char **dir, const char **base)
{
    const char *s = strrchr(p, '/');
    *dir = NULL;
    *base = s ? s + 1 : p;
    if (s && !(*dir = apx_strndup(p, (size_t)(s - p))))
        return AP_ENOMEM;
    return AP_OK;
}

static size_t ncomponents(const char *p)
{
    size_t n = 1;
    for (; *p; p++)
        if (*p == '/')
            n++;
    return n;
}

static int open_cache(const char *cache, int create, apx_error *err)
{
    int fd;
    if (create && apx_mkdirs(cache) != AP_OK)
        return apx_error_set(err, AP_EIO, "create '%s': %s", cache,
                             strerror(errno));
    fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return apx_error_set(err, errno == ENOENT ? AP_ENOTFOUND : AP_EIO,
                             "open cache '%s': %s", cache, strerror(errno));
    return fd;
}

/* blobs/{etag}: a reflink (FICLONE) of our blob where the file system
 * can, else a copy.  Never a hard link: the HF cache belongs to other
 * programs, and one writing a cached file in place (huggingface_hub does
 * not, but nothing stops a tool from doing it; mode 0444 does not stop a
 * chmod) would silently change our blob — a `ready` file would no longer
 * be what was verified.  Costs the space of a copy where reflinks are not
 * supported. */
static int publish_blob(int rfd, const char *etag, const char *blob_path,
                        apx_error *err)
{
    struct stat st;
    char tmp[64];
    int bfd, sfd, tfd, rc = AP_OK;

    if ((bfd = apx_fs_opendir_at(rfd, "blobs", 1, err)) < 0)
        return bfd;
    if (fstatat(bfd, etag, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode)) {
        close(bfd);
        return AP_OK;                   /* already there */
    }
    if ((sfd = apx_fs_open_regular(blob_path, NULL, err)) < 0) {
        close(bfd);
        return sfd;
    }
    apx_fs_tmpname(tmp, sizeof tmp);
    tfd = openat(bfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 0600);
    if (tfd >= 0 && ioctl(tfd, FICLONE, sfd) == 0) {
        if (fchmod(tfd, 0644) != 0 || fsync(tfd) != 0 ||
            renameat(bfd, tmp, bfd, etag) != 0) {
            rc = apx_error_set(err, AP_EIO, "blobs/%s: %s", etag,
                               strerror(errno));
            unlinkat(bfd, tmp, 0);
        } else {
            fsync(bfd);
        }
    } else {
        if (tfd >= 0)
            unlinkat(bfd, tmp, 0);
        rc = apx_fs_copy_atomic(sfd, bfd, etag, 0644,
                                strlen(etag) == 64 ? etag : NULL, NULL, err);
    }
    if (tfd >= 0)
        close(tfd);
    close(sfd);
    close(bfd);
    return rc;
}

int apx_hf_publish(const char *cache, const char *repo_type,
                   const char *repo_id, const char *commit,
                   const char *revision, const char *relpath,
                   const char *etag, const char *blob_path, char **out_path,
                   apx_error *err)
{
    char *folder = NULL, *sdir = NULL, *target = NULL, *rdir = NULL, *rel;
    char tmp[64], cur[PATH_MAX];
    const char *base, *rbase;
    int cfd = -1, rfd = -1, dfd = -1, rc;
    size_t up, i;
    ssize_t n;

    if (out_path)
        *out_path = NULL;
    if (!cache || !blob_path)
        return apx_error_set(err, AP_EINVAL, "hf publish: missing argument");
    if (!is_hex_n(commit, 40))
        return apx_error_set(err, AP_EINVAL, "hf publish: bad commit '%.80s'",
                             commit ? commit : "(null)");
    if (!is_hex_n(etag, 40) && !is_hex_n(etag, 64))
        return apx_error_set(err, AP_EINVAL, "hf publish: bad etag '%.80s'",
                             etag ? etag : "(null)");
    if (ap_path_validate(relpath) != AP_OK)
        return apx_error_set(err, AP_EPATH, "hf publish: invalid path '%.200s'",
                             relpath ? relpath : "(null)");
    if (revision && ap_path_validate(revision) != AP_OK)
        return apx_error_set(err, AP_EPATH,
                             "hf publish: invalid revision '%.200s'", revision);
    if ((rc = apx_hf_repo_folder(repo_type, repo_id, &folder, err)) != AP_OK)
        return rc;
    if ((cfd = rc = open_cache(cache, 1, err)) < 0)
        goto out;
    if ((rfd = rc = apx_fs_opendir_at(cfd, folder, 1, err)) < 0)
        goto out;
    if ((rc = publish_blob(rfd, etag, blob_path, err)) != AP_OK)
        goto out;
    APX_FAULT("hf-publish");

    /* snapshots/<commit>/<relpath> -> ../../[../]blobs/<etag> */
    if ((rc = split_path(relpath, &rel, &base)) != AP_OK)
        goto out;
    sdir = rel ? apx_asprintf("snapshots/%s/%s", commit, rel)
               : apx_asprintf("snapshots/%s", commit);
    free(rel);
    up = 1 + ncomponents(relpath);
    target = apx_malloc(up * 3 + 6 + 65);
    if (!sdir || !target) {
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
        goto out;
    }
    target[0] = '\0';
    for (i = 0; i < up; i++)
        strcat(target, "../");
    strcat(target, "blobs/");
    strcat(target, etag);
    if ((dfd = rc = apx_fs_opendir_at(rfd, sdir, 1, err)) < 0)
        goto out;
    n = readlinkat(dfd, base, cur, sizeof cur - 1);
    if (n < 0 || (size_t)n != strlen(target) || memcmp(cur, target, (size_t)n)) {
        apx_fs_tmpname(tmp, sizeof tmp);
        if (symlinkat(target, dfd, tmp) != 0 ||
            renameat(dfd, tmp, dfd, base) != 0) {
            rc = apx_error_set(err, AP_EIO, "snapshot link '%s': %s", relpath,
                               strerror(errno));
            unlinkat(dfd, tmp, 0);
            goto out;
        }
        fsync(dfd);
    }
    close(dfd);
    dfd = -1;

    /* refs/<revision> = commit, no newline */
    if (revision && strcmp(revision, commit) != 0) {
        char *rd;
        if ((rc = split_path(revision, &rd, &rbase)) != AP_OK)
            goto out;
        rdir = rd ? apx_asprintf("refs/%s", rd) : apx_strdup("refs");
        free(rd);
        if (!rdir) {
            rc = AP_ENOMEM;
            goto out;
        }
        if ((dfd = rc = apx_fs_opendir_at(rfd, rdir, 1, err)) < 0)
            goto out;
        if ((rc = apx_fs_write_atomic(dfd, rbase, commit, 40, 0644, err)))
            goto out;
    }
    rc = AP_OK;
    if (out_path && !(*out_path = apx_asprintf("%s/%s/snapshots/%s/%s", cache,
                                               folder, commit, relpath)))
        rc = AP_ENOMEM;
out:
    if (dfd >= 0)
        close(dfd);
    if (rfd >= 0)
        close(rfd);
    if (cfd >= 0)
        close(cfd);
    free(folder);
    free(sdir);
    free(target);
    free(rdir);
    return rc;
}

int apx_hf_lookup(const char *cache, const char *repo_type,
                  const char *repo_id, const char *revision,
                  const char *relpath, char **out_path, char out_commit[41],
                  apx_error *err)
{
    char *folder = NULL, *refdir = NULL, *doc = NULL, *full = NULL;
    char *canon = NULL, *real = NULL, commit[41];
    int cfd = -1, rfd = -1, dfd = -1, rc;
    struct stat st;

    *out_path = NULL;
    if (!revision)
        revision = "main";
    if (ap_path_validate(relpath) != AP_OK || ap_path_validate(revision))
        return apx_error_set(err, AP_EPATH, "hf lookup: invalid path");
    if ((rc = apx_hf_repo_folder(repo_type, repo_id, &folder, err)) != AP_OK)
        return rc;
    if ((cfd = rc = open_cache(cache, 0, err)) < 0)
        goto out;
    if ((rfd = rc = apx_fs_opendir_at(cfd, folder, 0, err)) < 0)
        goto out;
    if (is_hex_n(revision, 40)) {
        memcpy(commit, revision, 41);
    } else {
        const char *rbase;
        char *rd;
        size_t len;
        if ((rc = split_path(revision, &rd, &rbase)) != AP_OK)
            goto out;
        refdir = rd ? apx_asprintf("refs/%s", rd) : apx_strdup("refs");
        free(rd);
        if (!refdir) {
            rc = AP_ENOMEM;
            goto out;
        }
        if ((dfd = rc = apx_fs_opendir_at(rfd, refdir, 0, err)) < 0)
            goto out;
        if ((rc = apx_fs_read_file_at(dfd, rbase, 256, &doc, &len, err)))
            goto out;
        while (len > 0 && (doc[len - 1] == '\n' || doc[len - 1] == '\r' ||
                           doc[len - 1] == ' '))
            doc[--len] = '\0';
        if (!is_hex_n(doc, 40)) {
            rc = apx_error_set(err, AP_ENOTFOUND, "refs/%s is not a commit",
                               revision);
            goto out;
        }
        memcpy(commit, doc, 41);
    }
    full = apx_asprintf("%s/snapshots/%s/%s", folder, commit, relpath);
    if (!full) {
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
        goto out;
    }
    /* Resolved within the cache only; never a FIFO or a device. */
    if ((rc = apx_fs_open_beneath(cfd, cache, full, &canon, &st, err)) < 0) {
        if (rc == AP_ENOTFOUND)
            apx_error_set(err, AP_ENOTFOUND, "%s@%s/%s is not in the cache",
                          repo_id, revision, relpath);
        goto out;
    }
    close(rc);
    if (!(real = apx_asprintf("%s/%s", cache, canon))) {
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
        goto out;
    }
    *out_path = real;
    real = NULL;
    if (out_commit)
        memcpy(out_commit, commit, 41);
    rc = AP_OK;
out:
    if (dfd >= 0)
        close(dfd);
    if (rfd >= 0)
        close(rfd);
    if (cfd >= 0)
        close(cfd);
    free(folder);
    free(refdir);
    free(doc);
    free(full);
    free(canon);
    free(real);
    return rc;
}

/* ---- scan HF cache ------------------------------------------------------- */

typedef struct hf_walk {
    const char *cache;
    int cfd;                    /* the cache directory */
    const char *folder;         /* models--org--name */
    apx_hf_file f;
    apx_hf_scan_cb cb;
    apx_scan_warn_cb warn;
    void *user;
    size_t skipped;
    apx_error *err;
} hf_walk;

static void hf_skip(hf_walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void hf_skip(hf_walk *w, const char *fmt, ...)
{
    char msg[APX_ERRMSG_MAX];
    va_list ap;
    w->skipped++;
    if (!w->warn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->warn(msg, w->user);
}

static int walk_snapshot(hf_walk *w, int dfd, const char *dirpath,
                         const char *relprefix, int depth)
{
    DIR *d;
    struct dirent *de;
    int fd, rc = AP_OK;

    if (depth > MAX_SCAN_DEPTH) {
        hf_skip(w, "%s: deeper than %d levels, not scanned", dirpath,
                MAX_SCAN_DEPTH);
        return AP_OK;
    }
    fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        hf_skip(w, "%s: %s", dirpath, strerror(errno));
        return AP_OK;
    }
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        char *path, *rel;
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        if (!apx_fs_valid_component(n) ||
            fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            hf_skip(w, "%s: unusable entry name or unreadable entry", dirpath);
            continue;
        }
        path = apx_asprintf("%s/%s", dirpath, n);
        rel = *relprefix ? apx_asprintf("%s/%s", relprefix, n) : apx_strdup(n);
        if (!path || !rel) {
            free(path);
            free(rel);
            rc = AP_ENOMEM;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                          O_CLOEXEC);
            if (sub >= 0) {
                rc = walk_snapshot(w, sub, path, rel, depth + 1);
                close(sub);
            } else {
                hf_skip(w, "%s: %s", path, strerror(errno));
            }
        } else if (S_ISLNK(st.st_mode) || S_ISREG(st.st_mode)) {
            /* Resolve from the cache root, never leaving it. */
            char *inrel = apx_asprintf("%s/snapshots/%s/%s", w->folder,
                                       w->f.commit, rel);
            char *canon = NULL, *blob = NULL;
            struct stat rst;
            apx_error e;
            int ffd;
            apx_error_clear(&e);
            if (!inrel) {
                free(path);
                free(rel);
                rc = AP_ENOMEM;
                break;
            }
            ffd = apx_fs_open_beneath(w->cfd, w->cache, inrel, &canon, &rst,
                                      &e);
            free(inrel);
            if (ffd == AP_ENOMEM) {
                rc = ffd;
            } else if (ffd < 0) {
                hf_skip(w, "%s: %s", path, e.msg);
            } else if (!(blob = apx_asprintf("%s/%s", w->cache, canon))) {
                rc = AP_ENOMEM;
            } else {
                size_t lf = strlen(w->folder);
                const char *etag = NULL;
                if (!strncmp(canon, w->folder, lf) &&
                    !strncmp(canon + lf, "/blobs/", 7) &&
                    !strchr(canon + lf + 7, '/'))
                    etag = canon + lf + 7;
                w->f.relpath = rel;
                w->f.path = path;
                w->f.blob_path = blob;
                w->f.etag = etag;
                w->f.size = (uint64_t)rst.st_size;
                w->f.fd = ffd;
                if (w->cb(&w->f, w->user) != 0)
                    rc = apx_error_set(w->err, AP_EUSER,
                                       "hf scan: stopped by callback");
                w->f.fd = -1;
            }
            if (ffd >= 0)
                close(ffd);
            free(canon);
            free(blob);
        } else {
            hf_skip(w, "%s: not a regular file or symlink, skipped", path);
        }
        free(path);
        free(rel);
    }
    closedir(d);
    return rc;
}

static int scan_repo(hf_walk *w, int cfd, const char *cache,
                     const char *folder, const char *type, const char *id)
{
    char *rpath = apx_asprintf("%s/%s", cache, folder);
    DIR *d = NULL;
    struct dirent *de;
    int rfd = -1, sfd = -1, rc = AP_OK;

    if (!rpath)
        return AP_ENOMEM;
    rfd = openat(cfd, folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rfd < 0) {
        hf_skip(w, "%s: %s", rpath, errno == ELOOP || errno == ENOTDIR
                ? "a symlink or not a directory, not followed" : strerror(errno));
        goto out;
    }
    sfd = openat(rfd, "snapshots", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                   O_CLOEXEC);
    if (sfd < 0 || !(d = fdopendir(sfd))) {
        if (sfd >= 0)
            close(sfd);
        goto out;                       /* no snapshots: nothing to report */
    }
    w->folder = folder;
    w->f.repo_type = type;
    w->f.repo_id = id;
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        char *spath;
        int cmfd;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!apx_fs_valid_component(de->d_name)) {
            hf_skip(w, "%s/snapshots: unusable entry name", rpath);
            continue;
        }
        cmfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
                                            O_NOFOLLOW | O_CLOEXEC);
        if (cmfd < 0) {
            hf_skip(w, "%s/snapshots/%s: %s", rpath, de->d_name,
                    errno == ELOOP || errno == ENOTDIR
                        ? "a symlink or not a directory, not followed"
                        : strerror(errno));
            continue;
        }
        spath = apx_asprintf("%s/snapshots/%s", rpath, de->d_name);
        if (!spath) {
            close(cmfd);
            rc = AP_ENOMEM;
            break;
        }
        w->f.commit = de->d_name;
        rc = walk_snapshot(w, cmfd, spath, "", 0);
        close(cmfd);
        free(spath);
    }
    closedir(d);
out:
    if (rfd >= 0)
        close(rfd);
    free(rpath);
    return rc;
}

int apx_hf_scan(const char *cache, apx_hf_scan_cb cb, void *user,
                apx_scan_warn_cb warn, size_t *n_skipped, apx_error *err)
{
    static const struct { const char *prefix, *type; } kinds[] = {
        { "models--", "model" }, { "datasets--", "dataset" },
        { "spaces--", "space" }
    };
    hf_walk w;
    DIR *d;
    struct dirent *de;
    int cfd, rc = AP_OK;

    if (n_skipped)
        *n_skipped = 0;
    if (!cache || !cb)
        return apx_error_set(err, AP_EINVAL, "hf scan: missing argument");
    if ((cfd = open_cache(cache, 0, err)) < 0)
        return cfd;
    if (!(d = fdopendir(cfd))) {
        close(cfd);
        return apx_error_set(err, AP_EIO, "hf scan '%s': %s", cache,
                             strerror(errno));
    }
    memset(&w, 0, sizeof w);
    w.cache = cache;
    w.cfd = dirfd(d);
    w.f.fd = -1;
    w.cb = cb;
    w.warn = warn;
    w.user = user;
    w.err = err;
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        size_t k;
        for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            size_t lp = strlen(kinds[k].prefix);
            const char *rest, *sep;
            char *id;
            if (strncmp(de->d_name, kinds[k].prefix, lp) != 0)
                continue;
            rest = de->d_name + lp;
            sep = strstr(rest, "--");
            id = sep ? apx_asprintf("%.*s/%s", (int)(sep - rest), rest,
                                    sep + 2)
                     : apx_strdup(rest);
            if (!id) {
                rc = AP_ENOMEM;
                break;
            }
            if (ap_path_validate(id) == AP_OK && !strstr(id, "--"))
                rc = scan_repo(&w, dirfd(d), cache, de->d_name,
                               kinds[k].type, id);
            else
                hf_skip(&w, "%s/%s: not a repository folder name", cache,
                        de->d_name);
            free(id);
            break;
        }
    }
    closedir(d);
    if (n_skipped)
        *n_skipped = w.skipped;
    if (rc == AP_ENOMEM)
        apx_error_set(err, rc, "hf scan: out of memory");
    return rc;
}

/* ---- Ollama -------------------------------------------------------------- */

typedef struct ol_walk {
    const char *root;
    int blobs_fd;
    apx_ollama_scan_cb cb;
    apx_scan_warn_cb warn;
    void *user;
    size_t skipped;
    apx_error *err;
    const char *comp[4];        /* host, ns, model, tag */
} ol_walk;

static void ol_skip(ol_walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ol_skip(ol_walk *w, const char *fmt, ...)
{
    char msg[APX_ERRMSG_MAX];
    va_list ap;
    w->skipped++;
    if (!w->warn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->warn(msg, w->user);
}

static int parse_layer(ol_walk *w, json_t *jl, apx_ollama_layer *l,
                       char *pathbuf, size_t pathcap)
{
    json_t *mt = json_object_get(jl, "mediaType");
    json_t *dg = json_object_get(jl, "digest");
    json_t *sz = json_object_get(jl, "size");
    const char *d;
    char name[80];
    struct stat st;

    if (!json_is_object(jl) || !json_is_string(mt) || !json_is_string(dg) ||
        !json_is_integer(sz) || json_integer_value(sz) < 0)
        return AP_ECORRUPT;
    d = json_string_value(dg);
    if (strncmp(d, "sha256:", 7) != 0 || !is_hex_n(d + 7, 64))
        return AP_ECORRUPT;
    l->media_type = json_string_value(mt);
    l->digest = d + 7;
    l->size = (uint64_t)json_integer_value(sz);
    snprintf(name, sizeof name, "sha256-%s", l->digest);
    snprintf(pathbuf, pathcap, "%s/blobs/%s", w->root, name);
    l->blob_path = pathbuf;
    l->present = 0;
    l->fd = -1;
    if (w->blobs_fd >= 0) {
        /* Never follows a link out of blobs/, never opens a FIFO. */
        apx_error e;
        apx_error_clear(&e);
        l->fd = apx_fs_open_regular_at(w->blobs_fd, name, pathbuf, &st, &e);
        if (l->fd >= 0 && (uint64_t)st.st_size == l->size) {
            l->present = 1;
        } else {
            if (l->fd >= 0) {
                close(l->fd);
                l->fd = -1;
            } else if (l->fd != AP_ENOTFOUND && w->warn) {
                w->warn(e.msg, w->user);
            }
            l->fd = -1;
        }
    }
    return AP_OK;
}

static int ol_manifest(ol_walk *w, int dfd, const char *tag)
{
    char *doc = NULL, *mpath = NULL, *paths = NULL;
    size_t len, n, i, pcap;
    json_t *root = NULL, *layers, *cfg;
    apx_ollama_layer *ls = NULL, config;
    apx_ollama_model m;
    char cfgpath[PATH_MAX];
    int rc;

    {
        apx_error e;
        apx_error_clear(&e);
        rc = apx_fs_read_file_at(dfd, tag, MAX_MANIFEST, &doc, &len, &e);
        if (rc == AP_ENOMEM)
            return rc;
        if (rc != AP_OK || !(root = json_loadb(doc, len, 0, NULL))) {
            free(doc);
            ol_skip(w, "manifest %s/manifests/%s/%s/%s/%s: %s", w->root,
                    w->comp[0], w->comp[1], w->comp[2], tag,
                    rc != AP_OK ? e.msg : "not JSON");
            return AP_OK;
        }
    }
    free(doc);
    layers = json_object_get(root, "layers");
    cfg = json_object_get(root, "config");
    n = json_array_size(layers);
    if (!json_is_array(layers) || n > MAX_LAYERS) {
        json_decref(root);
        w->skipped++;
        return AP_OK;
    }
    pcap = strlen(w->root) + 96;
    ls = apx_calloc(n ? n : 1, sizeof *ls);
    paths = apx_malloc((n ? n : 1) * pcap);
    mpath = apx_asprintf("%s/manifests/%s/%s/%s/%s", w->root, w->comp[0],
                         w->comp[1], w->comp[2], tag);
    config.fd = -1;
    if (!ls || !paths || !mpath) {
        rc = AP_ENOMEM;
        n = 0;
        goto out;
    }
    for (i = 0; i < n; i++)
        if (parse_layer(w, json_array_get(layers, i), &ls[i],
                        paths + i * pcap, pcap) != AP_OK)
            break;
    memset(&config, 0, sizeof config);
    config.fd = -1;
    if (i < n || (cfg && parse_layer(w, cfg, &config, cfgpath,
                                     sizeof cfgpath) != AP_OK)) {
        ol_skip(w, "manifest %s: a layer is malformed", mpath);
        rc = AP_OK;
        n = i;             /* only the layers parsed hold an fd */
        goto out;
    }
    m.host = w->comp[0];
    m.ns = w->comp[1];
    m.model = w->comp[2];
    m.tag = tag;
    m.manifest_path = mpath;
    m.config = cfg ? &config : NULL;
    m.layers = ls;
    m.nlayers = n;
    rc = AP_OK;
    if (w->cb(&m, w->user) != 0)
        rc = apx_error_set(w->err, AP_EUSER, "ollama scan: stopped by callback");
out:
    for (i = 0; ls && i < n; i++)
        if (ls[i].fd >= 0)
            close(ls[i].fd);
    if (config.fd >= 0)
        close(config.fd);
    json_decref(root);
    free(ls);
    free(paths);
    free(mpath);
    return rc;
}

static int ol_walk_level(ol_walk *w, int dfd, int level)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = AP_OK;
    DIR *d;
    struct dirent *de;

    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        w->skipped++;
        return AP_OK;
    }
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        if (!apx_fs_valid_component(n)) {
            w->skipped++;
            continue;
        }
        if (level == 3) {
            rc = ol_manifest(w, dirfd(d), n);
        } else {
            int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                          O_CLOEXEC);
            if (sub < 0) {
                w->skipped++;
                continue;
            }
            w->comp[level] = n;
            rc = ol_walk_level(w, sub, level + 1);
            close(sub);
        }
    }
    closedir(d);
    return rc;
}

int apx_ollama_scan(const char *models_dir, apx_ollama_scan_cb cb, void *user,
                    apx_scan_warn_cb warn, size_t *n_skipped, apx_error *err)
{
    ol_walk w;
    int rfd, mfd, rc;

    if (n_skipped)
        *n_skipped = 0;
    if (!models_dir || !cb)
        return apx_error_set(err, AP_EINVAL, "ollama scan: missing argument");
    if ((rfd = open_cache(models_dir, 0, err)) < 0)
        return rfd;
    mfd = apx_fs_opendir_at(rfd, "manifests", 0, err);
    if (mfd < 0) {
        close(rfd);
        return mfd;
    }
    memset(&w, 0, sizeof w);
    w.root = models_dir;
    w.blobs_fd = openat(rfd, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                      O_CLOEXEC);
    w.cb = cb;
    w.warn = warn;
    w.user = user;
    w.err = err;
    rc = ol_walk_level(&w, mfd, 0);
    if (w.blobs_fd >= 0)
        close(w.blobs_fd);
    close(mfd);
    close(rfd);
    if (n_skipped)
        *n_skipped = w.skipped;
    if (rc == AP_ENOMEM)
        apx_error_set(err, rc, "ollama scan: out of memory");
    return rc;
}
