/* libartifactprov — Hugging Face vendor: where the user's HF cache is, the
 * rule that nothing read from it may lead out of it, and the blob it
 * already holds for a file.  Used by the manifest (manifest.c), the
 * offline resolver (cache.c) and the scan (scan.c).
 * SPDX-License-Identifier: MIT */
#include "hf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *hfv_path_cat(const char *a, const char *b)
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

char *hfv_cache_dir(hfv_ctx *c)
{
    static const apv_env_dir rules[] = {
        { "HF_HUB_CACHE", "" },
        { "HUGGINGFACE_HUB_CACHE", "" },
        { "HF_HOME", "/hub" },
        { "XDG_CACHE_HOME", "/huggingface/hub" },
        { "HOME", "/.cache/huggingface/hub" },
    };
    int oom;
    char *out = apv_dir_from_env(c->host, c->call, rules, sizeof rules / sizeof *rules, &oom);
    return out || oom ? out : strdup(".cache/huggingface/hub");
}

/* Nothing read from the cache may come from outside it: every path is
 * resolved (realpath) and must stay below the cache's own real path, and
 * only regular files are opened, without blocking (a FIFO planted in the
 * cache is refused, never read). */
int hfv_cache_inside(const char *real, const char *root_real)
{
    size_t n = strlen(root_real);
    return root_real[0] && !strncmp(real, root_real, n) && real[n] == '/';
}

/* Why `path` is refused, into why: the link and its target. */
void hfv_cache_escape_msg(const char *path, const char *real, const char *cache,
                       char *why, size_t n)
{
    char tgt[1024];
    ssize_t k = readlink(path, tgt, sizeof tgt - 1);
    if (k > 0) {
        tgt[k] = '\0';
        snprintf(why, n, "'%s' is a symlink to '%s', which leads out of the HF "
                 "cache %s: refusing to follow it", path, tgt, cache);
    } else {
        snprintf(why, n, "'%s' leads out of the HF cache %s (to '%s'): refusing "
                 "to follow it", path, cache, real);
    }
}

/* The blob the user's HF cache already holds for this repo under `etag`
 * (the sha256 of an LFS file, the git blob id of a regular one): a regular
 * file of the expected size inside the cache, as its resolved path (no
 * symlink in it: the host opens it without following any), or NULL.  The
 * name is only a claim: the host hashes the bytes when it imports them. */
char *hfv_cache_blob(hfv_ctx *c, const char *etag, uint64_t size)
{
    char *cache, *path, *real = NULL, *cache_real;
    const char *slash = strchr(c->repo_name, '/');
    struct stat st;
    if (!slash || !(hfv_is_hex(etag, 64) || hfv_is_hex(etag, 40)) || !(cache = hfv_cache_dir(c)))
        return NULL;
    if (asprintf(&path, "%s/%s--%.*s--%s/blobs/%s", cache, hfv_type_cache(c->r.type),
                 (int)(slash - c->repo_name), c->repo_name, slash + 1, etag) < 0)
        path = NULL;
    cache_real = realpath(cache, NULL);
    if (path && cache_real && lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        (real = realpath(path, NULL)) != NULL) {
        if (!hfv_cache_inside(real, cache_real)) {
            char why[1536];
            hfv_cache_escape_msg(path, real, cache, why, sizeof why);
            hfv_log(c, AP_LOG_WARN, "HF cache blob not used: %s", why);
            free(real);
            real = NULL;
        } else if (stat(real, &st) != 0 || !S_ISREG(st.st_mode) ||
                   (size != AP_SIZE_UNKNOWN && (uint64_t)st.st_size != size)) {
            free(real);
            real = NULL;
        }
    }
    free(cache);
    free(cache_real);
    free(path);
    return real;
}
