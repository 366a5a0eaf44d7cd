/* libartifactprov — Hugging Face vendor: offline resolution from the HF
 * cache (HF_HUB_OFFLINE=1).  No HTTP at all.
 *
 *   {cache}/{models|datasets|spaces}--ORG--NAME/
 *       refs/{rev}                 the commit, no trailing newline
 *       snapshots/{commit}/{path}  relative symlinks into blobs/
 *       blobs/{sha256 | git sha1}
 *       .no_exist/{commit}/{path}  known-missing files
 * SPDX-License-Identifier: MIT */
#include "hf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define HFV_WALK_DEPTH 64

/* Open a regular file of the cache for reading, never blocking. */
static int open_regular(const char *real, struct stat *st)
{
    int fd = open(real, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

/* Read refs/{rev}: a 40-hex commit, lower-cased into commit. */
static int read_ref(const char *cache_real, const char *repo_dir, const char *rev,
                    char commit[41])
{
    char *refs = hfv_path_cat(repo_dir, "refs"), *path, *real, buf[128];
    struct stat st;
    ssize_t n;
    size_t k;
    int fd;
    if (!refs)
        return AP_ENOMEM;
    path = hfv_path_cat(refs, rev);
    free(refs);
    if (!path)
        return AP_ENOMEM;
    real = realpath(path, NULL);
    free(path);
    if (!real)
        return AP_ENOTFOUND;
    fd = hfv_cache_inside(real, cache_real) ? open_regular(real, &st) : -1;
    free(real);
    if (fd < 0)
        return AP_ENOTFOUND;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return AP_ENOTFOUND;
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    if (!hfv_is_hex(buf, 40))
        return AP_ENOTFOUND;
    for (k = 0; k < 41; k++)
        commit[k] = (char)tolower((unsigned char)buf[k]);
    return AP_OK;
}

/* A directory of the cache itself, not a link to one. */
static int is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A unique snapshot whose name starts with the short commit `rev`. */
static int find_prefix(const char *snaps, const char *rev, char commit[41])
{
    DIR *d = opendir(snaps);
    struct dirent *de;
    size_t n = strlen(rev), found = 0;
    if (!d)
        return AP_ENOTFOUND;
    while ((de = readdir(d)) != NULL) {
        if (hfv_is_hex(de->d_name, 40) && strncasecmp(de->d_name, rev, n) == 0) {
            if (++found == 1)
                memcpy(commit, de->d_name, 41);
        }
    }
    closedir(d);
    return found == 1 ? AP_OK : AP_ENOTFOUND;
}

/* Fill f from the snapshot entry at `full` (a symlink into blobs/ or a
 * plain file): AP_OK; AP_EPATH when it leads out of the cache (why says
 * which link and where); AP_ENOTFOUND when it is no regular file. */
static int describe(hfv_file *f, const char *full, const char *cache,
                    const char *cache_real, char *why, size_t whylen)
{
    char *real = realpath(full, NULL);
    const char *blob;
    struct stat st;
    if (!real) {
        snprintf(why, whylen, "'%s' does not resolve", full);
        return AP_ENOTFOUND;
    }
    if (!hfv_cache_inside(real, cache_real)) {
        hfv_cache_escape_msg(full, real, cache, why, whylen);
        free(real);
        return AP_EPATH;
    }
    /* stat, not open: a FIFO or device is refused without being opened */
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "'%s' is not a regular file", full);
        free(real);
        return AP_ENOTFOUND;
    }
    f->size = (uint64_t)st.st_size;
    /* The blob's name is only what the cache claims; the host checks the
     * bytes against it when it imports them. */
    blob = hfv_basename(real);
    if (hfv_is_hex(blob, 64)) {
        for (size_t k = 0; k < 65; k++)
            f->sha256[k] = (char)tolower((unsigned char)blob[k]);
    } else if (hfv_is_hex(blob, 40)) {
        for (size_t k = 0; k < 41; k++)
            f->git_sha1[k] = (char)tolower((unsigned char)blob[k]);
    }
    f->local = real;
    return AP_OK;
}

static int walk(hfv_ctx *c, const char *cache, const char *cache_real,
                const char *dir, const char *rel, hfv_list *l, int depth)
{
    DIR *d;
    struct dirent *de;
    int rc = AP_OK;
    if (depth > HFV_WALK_DEPTH)
        return AP_OK;
    if (!(d = opendir(dir)))
        return AP_OK;
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        char *full, *r, why[1536];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        full = hfv_path_cat(dir, de->d_name);
        r = rel[0] ? hfv_path_cat(rel, de->d_name) : strdup(de->d_name);
        if (!full || !r) {
            free(full);
            free(r);
            rc = AP_ENOMEM;
            break;
        }
        /* lstat: a directory reached through a link is not walked */
        if (lstat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                rc = walk(c, cache, cache_real, full, r, l, depth + 1);
            } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
                hfv_file *f;
                int drc;
                if (l->n >= HFV_MAX_ENTRIES)
                    rc = AP_EPROTOCOL;
                else if (!(f = hfv_list_add(l, r)))
                    rc = AP_ENOMEM;
                else if ((drc = describe(f, full, cache, cache_real, why,
                                         sizeof why)) != AP_OK) {
                    /* a dangling link (the blob is not there), a link out
                     * of the cache, a FIFO...: not offered */
                    if (drc == AP_EPATH)
                        hfv_log(c, AP_LOG_WARN, "offline: %s", why);
                    free(f->path);
                    free(f->local);
                    l->n--;
                }
            }
        }
        free(full);
        free(r);
    }
    closedir(d);
    return rc;
}

/* Offline, one file: the snapshot's copy of c->r.path, or why it is not
 * there (recorded as missing, or not in the cache). */
static int offline_file(hfv_ctx *c, hfv_list *l, const char *snap, const char *repo_dir,
                        const char *cache, const char *cache_real, const char *commit,
                        const char *rev)
{
    char why[1536];
    int rc;
    char *full = hfv_path_cat(snap, c->r.path);
    hfv_file *f;
    if (!full) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        return rc;
    }
    if (!(f = hfv_list_add(l, c->r.path))) {
        free(full);
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        return rc;
    }
    rc = describe(f, full, cache, cache_real, why, sizeof why);
    free(full);
    if (rc == AP_EPATH) {
        rc = hfv_fail(c, AP_EPATH, "offline (HF_HUB_OFFLINE=1): %s: %s", c->ref, why);
        return rc;
    }
    if (rc != AP_OK) {
        char *ne = hfv_path_cat(repo_dir, ".no_exist"), *ne2 = NULL, *ne3 = NULL;
        struct stat st;
        int known_missing = ne && (ne2 = hfv_path_cat(ne, commit)) &&
                            (ne3 = hfv_path_cat(ne2, c->r.path)) && lstat(ne3, &st) == 0;
        free(ne);
        free(ne2);
        free(ne3);
        if (known_missing)
            rc = hfv_fail(c, AP_ENOTFOUND, "file '%s' not found at revision %s "
                          "(recorded as missing in the HF cache %s)", c->r.path, rev,
                          cache);
        else
            rc = hfv_fail(c, AP_EOFFLINE, "offline (HF_HUB_OFFLINE=1) and %s is not "
                          "in the HF cache %s", c->ref, cache);
        return rc;
    }
    f->selected = 1;
    return AP_OK;
}

/* Offline, a snapshot: every file of the cached snapshot, or the QUANT
 * pick among them. */
static int offline_snapshot(hfv_ctx *c, hfv_list *l, const char *snap, const char *cache,
                            const char *cache_real, const char *commit)
{
    char msg[768];
    int rc;
    size_t i;
    rc = walk(c, cache, cache_real, snap, "", l, 0);
    if (rc != AP_OK) {
        rc = hfv_fail(c, rc, rc == AP_ENOMEM ? "out of memory"
                                             : "too many files in the HF cache snapshot");
        return rc;
    }
    if (l->n == 0) {
        rc = hfv_fail(c, AP_EOFFLINE, "offline (HF_HUB_OFFLINE=1) and %s is not in "
                      "the HF cache %s (empty snapshot %.12s)", c->ref, cache, commit);
        return rc;
    }
    hfv_list_sort(l);
    if (c->r.quant) {
        rc = hfv_select_quant(l, c->r.quant, msg, sizeof msg);
        if (rc != AP_OK) {
            rc = rc == AP_ENOMEM
                     ? hfv_fail(c, rc, "out of memory")
                     : hfv_fail(c, AP_EOFFLINE, "offline (HF_HUB_OFFLINE=1) and %s is "
                                "not in the HF cache %s: %s", c->ref, cache, msg);
            return rc;
        }
    } else {
        for (i = 0; i < l->n; i++)
            l->v[i].selected = 1;
        hfv_log(c, AP_LOG_INFO, "offline: using the %zu file(s) of snapshot %.12s "
                "in the HF cache", l->n, commit);
    }
    return AP_OK;
}

int hfv_resolve_offline(hfv_ctx *c)
{
    const char *rev = c->r.rev ? c->r.rev : "main";
    char *cache = hfv_cache_dir(c), *folder = NULL, *repo_dir = NULL, *snaps = NULL;
    char *snap = NULL, *cache_real = NULL, commit[41];
    hfv_list l = { 0 };
    const char *slash;
    int rc;

    if (!cache)
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    slash = strchr(c->repo_name, '/');
    folder = slash ? malloc(strlen(c->repo_name) + 16) : NULL;
    if (!folder) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(folder, strlen(c->repo_name) + 16, "%s--%.*s--%s",
             hfv_type_cache(c->r.type), (int)(slash - c->repo_name), c->repo_name,
             slash + 1);
    if (!(repo_dir = hfv_path_cat(cache, folder)) || !(snaps = hfv_path_cat(repo_dir, "snapshots"))) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }
    if (!(cache_real = realpath(cache, NULL)) && !(cache_real = strdup(""))) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }
    rc = AP_ENOTFOUND;
    if (hfv_is_hex(rev, 40)) {
        char *p = hfv_path_cat(snaps, rev);
        if (!p) {
            rc = hfv_fail(c, AP_ENOMEM, "out of memory");
            goto out;
        }
        if (is_dir(p)) {
            for (size_t k = 0; k < 41; k++)
                commit[k] = (char)tolower((unsigned char)rev[k]);
            rc = AP_OK;
        }
        free(p);
    }
    if (rc != AP_OK)
        rc = read_ref(cache_real, repo_dir, rev, commit);
    if (rc == AP_ENOTFOUND && strlen(rev) >= 7 && strlen(rev) < 40 &&
        strspn(rev, "0123456789abcdefABCDEF") == strlen(rev))
        rc = find_prefix(snaps, rev, commit);
    if (rc == AP_ENOMEM) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }
    if (rc != AP_OK || !(snap = hfv_path_cat(snaps, commit)) || !is_dir(snap)) {
        rc = snap || rc != AP_OK
                 ? hfv_fail(c, AP_EOFFLINE, "offline (HF_HUB_OFFLINE=1) and %s is not in "
                            "the HF cache %s (no revision '%s' under %s)", c->ref, cache,
                            rev, folder)
                 : hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }

    rc = c->r.path ? offline_file(c, &l, snap, repo_dir, cache, cache_real, commit, rev)
                   : offline_snapshot(c, &l, snap, cache, cache_real, commit);
    if (rc != AP_OK)
        goto out;
    if ((rc = hfv_add_files(c, &l, commit, 1)) == AP_OK)
        rc = hfv_set_artifact(c, commit, &l);
out:
    hfv_list_clear(&l);
    free(cache);
    free(folder);
    free(repo_dir);
    free(snaps);
    free(snap);
    free(cache_real);
    return rc;
}
