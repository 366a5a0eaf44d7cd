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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define HFV_WALK_DEPTH 64

static char *cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *out = malloc(la + 1 + lb + 1);
    if (out) {
        memcpy(out, a, la);
        out[la] = '/';
        memcpy(out + la + 1, b, lb + 1);
    }
    return out;
}

static const char *cenv(hfv_ctx *c, const char *name)
{
    const char *v = c->host->getenv(c->call, name);
    return v && *v ? v : NULL;
}

static char *cache_dir(hfv_ctx *c)
{
    const char *v;
    char *home, *out;
    if ((v = cenv(c, "HF_HUB_CACHE")) || (v = cenv(c, "HUGGINGFACE_HUB_CACHE")))
        return strdup(v);
    if ((v = cenv(c, "HF_HOME")))
        return cat(v, "hub");
    if ((v = cenv(c, "XDG_CACHE_HOME")))
        home = cat(v, "huggingface");
    else if ((v = cenv(c, "HOME")))
        home = cat(v, ".cache/huggingface");
    else
        return strdup(".cache/huggingface/hub");
    if (!home)
        return NULL;
    out = cat(home, "hub");
    free(home);
    return out;
}

/* Read refs/{rev}: a 40-hex commit, lower-cased into commit. */
static int read_ref(const char *repo_dir, const char *rev, char commit[41])
{
    char *refs = cat(repo_dir, "refs"), *path, buf[128];
    FILE *f;
    size_t n;
    if (!refs)
        return AP_ENOMEM;
    path = cat(refs, rev);
    free(refs);
    if (!path)
        return AP_ENOMEM;
    f = fopen(path, "re");
    free(path);
    if (!f)
        return AP_ENOTFOUND;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    if (!hfv_is_hex(buf, 40))
        return AP_ENOTFOUND;
    for (n = 0; n < 41; n++)
        commit[n] = (char)tolower((unsigned char)buf[n]);
    return AP_OK;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
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
 * plain file). */
static int describe(hfv_file *f, const char *full)
{
    char *real = realpath(full, NULL);
    const char *blob;
    struct stat st;
    if (!real)
        return AP_ENOTFOUND;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(real);
        return AP_ENOTFOUND;
    }
    f->size = (uint64_t)st.st_size;
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

static int walk(hfv_ctx *c, const char *dir, const char *rel, hfv_list *l, int depth)
{
    DIR *d;
    struct dirent *de;
    int rc = AP_OK;
    if (depth > HFV_WALK_DEPTH)
        return AP_OK;
    if (!(d = opendir(dir)))
        return AP_OK;
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        char *full, *r;
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        full = cat(dir, de->d_name);
        r = rel[0] ? cat(rel, de->d_name) : strdup(de->d_name);
        if (!full || !r) {
            free(full);
            free(r);
            rc = AP_ENOMEM;
            break;
        }
        if (stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                rc = walk(c, full, r, l, depth + 1);
            } else if (S_ISREG(st.st_mode)) {
                hfv_file *f;
                if (l->n >= HFV_MAX_ENTRIES)
                    rc = AP_EPROTOCOL;
                else if (!(f = hfv_list_add(l, r)))
                    rc = AP_ENOMEM;
                else if (describe(f, full) != AP_OK) {
                    /* a dangling link: the blob is not there */
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

int hfv_resolve_offline(hfv_ctx *c)
{
    const char *rev = c->r.rev ? c->r.rev : "main";
    char *cache = cache_dir(c), *folder = NULL, *repo_dir = NULL, *snaps = NULL;
    char *snap = NULL, commit[41], msg[768];
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
    if (!(repo_dir = cat(cache, folder)) || !(snaps = cat(repo_dir, "snapshots"))) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }
    rc = AP_ENOTFOUND;
    if (hfv_is_hex(rev, 40)) {
        char *p = cat(snaps, rev);
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
        rc = read_ref(repo_dir, rev, commit);
    if (rc == AP_ENOTFOUND && strlen(rev) >= 7 && strlen(rev) < 40 &&
        strspn(rev, "0123456789abcdefABCDEF") == strlen(rev))
        rc = find_prefix(snaps, rev, commit);
    if (rc == AP_ENOMEM) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }
    if (rc != AP_OK || !(snap = cat(snaps, commit)) || !is_dir(snap)) {
        rc = snap || rc != AP_OK
                 ? hfv_fail(c, AP_EOFFLINE, "offline (HF_HUB_OFFLINE=1) and %s is not in "
                            "the HF cache %s (no revision '%s' under %s)", c->ref, cache,
                            rev, folder)
                 : hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }

    if (c->r.path) {
        char *full = cat(snap, c->r.path);
        hfv_file *f;
        if (!full) {
            rc = hfv_fail(c, AP_ENOMEM, "out of memory");
            goto out;
        }
        if (!(f = hfv_list_add(&l, c->r.path))) {
            free(full);
            rc = hfv_fail(c, AP_ENOMEM, "out of memory");
            goto out;
        }
        rc = describe(f, full);
        free(full);
        if (rc != AP_OK) {
            char *ne = cat(repo_dir, ".no_exist"), *ne2 = NULL, *ne3 = NULL;
            struct stat st;
            int known_missing = ne && (ne2 = cat(ne, commit)) &&
                                (ne3 = cat(ne2, c->r.path)) && lstat(ne3, &st) == 0;
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
            goto out;
        }
        f->selected = 1;
    } else {
        size_t i;
        rc = walk(c, snap, "", &l, 0);
        if (rc != AP_OK) {
            rc = hfv_fail(c, rc, rc == AP_ENOMEM ? "out of memory"
                                                 : "too many files in the HF cache snapshot");
            goto out;
        }
        if (l.n == 0) {
            rc = hfv_fail(c, AP_EOFFLINE, "offline (HF_HUB_OFFLINE=1) and %s is not in "
                          "the HF cache %s (empty snapshot %.12s)", c->ref, cache, commit);
            goto out;
        }
        hfv_list_sort(&l);
        if (c->r.quant) {
            rc = hfv_select_quant(&l, c->r.quant, msg, sizeof msg);
            if (rc != AP_OK) {
                rc = rc == AP_ENOMEM
                         ? hfv_fail(c, rc, "out of memory")
                         : hfv_fail(c, AP_EOFFLINE, "offline (HF_HUB_OFFLINE=1) and %s is "
                                    "not in the HF cache %s: %s", c->ref, cache, msg);
                goto out;
            }
        } else {
            for (i = 0; i < l.n; i++)
                l.v[i].selected = 1;
            hfv_log(c, AP_LOG_INFO, "offline: using the %zu file(s) of snapshot %.12s "
                    "in the HF cache", l.n, commit);
        }
    }
    if ((rc = hfv_add_files(c, &l, commit, 1)) == AP_OK)
        rc = hfv_set_artifact(c, commit);
out:
    hfv_list_clear(&l);
    free(cache);
    free(folder);
    free(repo_dir);
    free(snaps);
    free(snap);
    return rc;
}

/* The blob the user's HF cache already holds for this repo under `etag`
 * (the sha256 of an LFS file, the git blob id of a regular one): a regular
 * file of the expected size, or NULL. */
char *hfv_cache_blob(hfv_ctx *c, const char *etag, uint64_t size)
{
    char *cache, *path;
    const char *slash = strchr(c->repo_name, '/');
    struct stat st;
    if (!slash || !(hfv_is_hex(etag, 64) || hfv_is_hex(etag, 40)) || !(cache = cache_dir(c)))
        return NULL;
    if (asprintf(&path, "%s/%s--%.*s--%s/blobs/%s", cache, hfv_type_cache(c->r.type),
                 (int)(slash - c->repo_name), c->repo_name, slash + 1, etag) < 0)
        path = NULL;
    free(cache);
    if (path && (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
                 (size != AP_SIZE_UNKNOWN && (uint64_t)st.st_size != size))) {
        free(path);
        path = NULL;
    }
    return path;
}
