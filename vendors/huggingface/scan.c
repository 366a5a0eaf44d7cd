/* libartifactprov — Hugging Face vendor: importing the snapshots of an HF
 * cache (the vendor's `scan`, ap_provisioner_scan(prov, "hf", dir)).
 *
 * The vendor only lists: {cache}/{models|datasets|spaces}--ORG--NAME/
 * snapshots/COMMIT/PATH, and for each file names what the cache claims
 * (the blob a snapshot link points at: blobs/<sha256> for an LFS file,
 * blobs/<git blob id> for a regular one).  The host opens every file
 * beneath the cache root (links leading out refused, FIFOs never opened),
 * computes the digests from the bytes and skips a file that is not what
 * its blob name claims; one ready entry "hf:[datasets/|spaces/]ORG/NAME@
 * COMMIT" is written per snapshot.  SPDX-License-Identifier: MIT */
#include "hf.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HFV_SCAN_DEPTH 32

typedef struct scan_ctx {
    const ap_host *h;
    ap_vendor_call *call;
    const char *cache;      /* absolute */
    const char *folder;     /* models--org--name */
    const char *commit;
    size_t nfiles;
} scan_ctx;

/* The non-empty parts among a, b, c joined by '/'. */
static char *scan_join3(const char *a, const char *b, const char *c)
{
    const char *parts[3] = { a, b, c };
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3, i;
    char *out = malloc(n), *o = out;
    if (!out)
        return NULL;
    *o = '\0';
    for (i = 0; i < 3; i++)
        if (*parts[i])
            o += sprintf(o, "%s%s", o == out ? "" : "/", parts[i]);
    return out;
}

static int scan_valid_component(const char *n)
{
    size_t i;
    if (!*n || !strcmp(n, ".") || !strcmp(n, ".."))
        return 0;
    for (i = 0; n[i]; i++)
        if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f || n[i] == '\\')
            return 0;
    return 1;
}

/* One file of a snapshot: its claim is the name of the blob the link
 * points at (40 or 64 hex digits), verified by the host. */
static int scan_add_one(scan_ctx *s, const char *full, const char *inrel, const char *rel)
{
    ap_vendor_file f = AP_VENDOR_FILE_INIT;
    char target[PATH_MAX];
    const char *base;
    ssize_t n = readlink(full, target, sizeof target - 1);
    f.path = rel;
    f.local_root = s->cache;
    f.local_path = inrel;
    if (n > 0) {
        target[n] = '\0';
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (hfv_is_hex(base, 64))
            f.sha256 = base;
        else if (hfv_is_hex(base, 40))
            f.git_sha1 = base;
    }
    s->nfiles++;
    return s->h->add_file(s->call, &f);
}

static int scan_walk(scan_ctx *s, const char *dirpath, const char *rel, int depth)
{
    DIR *d;
    struct dirent *de;
    int rc = AP_OK;

    if (depth > HFV_SCAN_DEPTH) {
        s->h->warn(s->call, "%s: deeper than %d levels, not scanned", dirpath,
                   HFV_SCAN_DEPTH);
        return AP_OK;
    }
    if (!(d = opendir(dirpath))) {
        s->h->warn(s->call, "%s: %s", dirpath, strerror(errno));
        return AP_OK;
    }
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        char *full, *sub, *inrel;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!scan_valid_component(de->d_name)) {
            s->h->warn(s->call, "%s: an entry with an unusable name, skipped", dirpath);
            continue;
        }
        full = scan_join3(dirpath, de->d_name, "");
        sub = scan_join3(rel, de->d_name, "");
        inrel = sub ? malloc(strlen(s->folder) + strlen(s->commit) + strlen(sub) + 16) : NULL;
        if (!full || !sub || !inrel) {
            free(full);
            free(sub);
            free(inrel);
            rc = AP_ENOMEM;
            break;
        }
        sprintf(inrel, "%s/snapshots/%s/%s", s->folder, s->commit, sub);
        if (lstat(full, &st) != 0)
            s->h->warn(s->call, "%s: %s", full, strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = scan_walk(s, full, sub, depth + 1);
        else if (S_ISLNK(st.st_mode) || S_ISREG(st.st_mode))
            rc = scan_add_one(s, full, inrel, sub);
        else
            s->h->warn(s->call, "%s: not a regular file or symlink, skipped", full);
        free(full);
        free(sub);
        free(inrel);
    }
    closedir(d);
    return rc;
}

/* One repository folder: one entry per snapshot. */
static int scan_repo(scan_ctx *s, const char *prefix, const char *id)
{
    char *rdir = scan_join3(s->cache, s->folder, "snapshots");
    DIR *d;
    struct dirent *de;
    struct stat st;
    int rc = AP_OK;

    if (!rdir)
        return AP_ENOMEM;
    if (lstat(rdir, &st) != 0 || !S_ISDIR(st.st_mode) || !(d = opendir(rdir))) {
        if (lstat(rdir, &st) == 0 && !S_ISDIR(st.st_mode))
            s->h->warn(s->call, "%s: a symlink or not a directory, not followed", rdir);
        free(rdir);
        return AP_OK; /* no snapshots: nothing to report */
    }
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
        char *cdir, name[448], canon[700];
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!scan_valid_component(de->d_name)) {
            s->h->warn(s->call, "%s: an entry with an unusable name, skipped", rdir);
            continue;
        }
        if (!(cdir = scan_join3(rdir, de->d_name, ""))) {
            rc = AP_ENOMEM;
            break;
        }
        if (lstat(cdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            s->h->warn(s->call, "%s: a symlink or not a directory, not followed", cdir);
            free(cdir);
            continue;
        }
        s->commit = de->d_name;
        s->nfiles = 0;
        rc = scan_walk(s, cdir, "", 0);
        free(cdir);
        if (rc != AP_OK)
            break;
        snprintf(name, sizeof name, "%s%s", prefix, id);
        snprintf(canon, sizeof canon, "hf:%s%s@%s", prefix, id, de->d_name);
        a.name = name;
        a.revision = de->d_name;
        a.canonical = canon;
        if (s->nfiles && (rc = s->h->set_artifact(s->call, &a)) == AP_OK)
            rc = s->h->commit_entry(s->call);
    }
    closedir(d);
    free(rdir);
    return rc;
}

int hfv_scan(void *state, ap_vendor_call *call, const char *dir)
{
    static const struct { const char *folder, *prefix; } kinds[] = {
        { "models--", "" }, { "datasets--", "datasets/" }, { "spaces--", "spaces/" }
    };
    hfv_state *stt = state;
    const ap_host *h;
    hfv_ctx c;
    scan_ctx s;
    char *def = NULL, real[PATH_MAX];
    DIR *d;
    struct dirent *de;
    int rc = AP_OK;

    if (!stt)
        return AP_EINVAL;
    h = &stt->host;
    if (!AP_HOST_HAS(h, commit_entry) || !AP_HOST_HAS(h, warn))
        return h->set_error(call, AP_EUNSUPPORTED, "this host cannot import a "
                            "foreign cache (no commit_entry/warn)");
    if (!dir) {
        memset(&c, 0, sizeof c);
        c.host = h;
        c.call = call;
        if (!(dir = def = hfv_cache_dir(&c)))
            return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    if (!realpath(dir, real)) {
        rc = h->set_error(call, errno == ENOENT ? AP_ENOTFOUND : AP_EIO,
                          "HF cache %s: %s", dir, strerror(errno));
        free(def);
        return rc;
    }
    free(def);
    if (!(d = opendir(real)))
        return h->set_error(call, AP_EIO, "HF cache %s: %s", real, strerror(errno));
    memset(&s, 0, sizeof s);
    s.h = h;
    s.call = call;
    s.cache = real;
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        size_t k;
        for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            size_t lp = strlen(kinds[k].folder);
            const char *rest, *sep;
            char id[400];
            struct stat st;
            char *full;
            if (strncmp(de->d_name, kinds[k].folder, lp) != 0)
                continue;
            rest = de->d_name + lp;
            sep = strstr(rest, "--");
            if (sep)
                snprintf(id, sizeof id, "%.*s/%s", (int)(sep - rest), rest, sep + 2);
            else
                snprintf(id, sizeof id, "%s", rest);
            if (!*rest || (sep && (sep == rest || !sep[2] || strstr(sep + 2, "--") ||
                                   strchr(sep + 2, '/'))) ||
                strlen(rest) > 300 || !scan_valid_component(rest)) {
                h->warn(call, "%s/%s: not a repository folder name", real, de->d_name);
                break;
            }
            if (!(full = scan_join3(real, de->d_name, ""))) {
                rc = AP_ENOMEM;
                break;
            }
            if (lstat(full, &st) != 0 || !S_ISDIR(st.st_mode))
                h->warn(call, "%s: a symlink or not a directory, not followed", full);
            else {
                s.folder = de->d_name;
                rc = scan_repo(&s, kinds[k].prefix, id);
            }
            free(full);
            break;
        }
    }
    closedir(d);
    if (rc == AP_ENOMEM)
        return h->set_error(call, rc, "HF cache scan: out of memory");
    return rc;
}
