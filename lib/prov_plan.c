/* libartifactprov — the plan of a provision: which files (filters), what the
 * store already has (by sha256 or git blob id), what is checked (see prov_pull.h).
 * SPDX-License-Identifier: MIT */
#include "prov_pull.h"
#include "digest.h"
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

/* What the bytes of a file were checked against, beyond the digest the
 * library computes itself: "sha256" (a digest the vendor gave),
 * "git-sha1" (a git blob id), "minisign" (a signature by a trusted key),
 * joined by '+'; "local" for a file made on this machine (AP_VFILE_LOCAL);
 * "none" when nothing (ap_entry_file.verification). */
char *apx_plan_verification_of(const apx_mfile *m)
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

static int glob_any(const char *const *globs, const char *path)
{
    size_t i;
    for (i = 0; globs && globs[i]; i++)
        if (fnmatch(globs[i], path, 0) == 0)
            return 1;
    return 0;
}

/* Apply include/exclude globs to the manifest, in place. */
void apx_plan_filter(ap_vendor_call *call, const ap_provision_options *o)
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

int apx_plan_build_entry(pull *j, ap_vendor_call *call, const char *id,
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
        int rc = apx_pull_stopped(j);
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

/* Whether this provision fetches the file: all of them, except for a
 * metadata-only one (sync), which takes the small files only. */
int apx_plan_wanted(const pull *j, const apx_mfile *m)
{
    if (m->flags & APX_MFILE_OTHER)
        return 0; /* a file of the repository entry nobody asked for */
    return !(j->o->flags & AP_PROVISION_METADATA_ONLY) || (m->flags & AP_VFILE_METADATA) ||
           (m->size != AP_SIZE_UNKNOWN && m->size < AP_METADATA_MAX);
}

int apx_plan_mark_present(pull *j, const ap_vendor_call *call)
{
    ap_entry *e = j->entry;
    size_t i;
    for (i = 0; i < e->nfiles; i++) {
        ap_entry_file *f = &e->files[i];
        int rc = apx_pull_stopped(j);
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
        /* The total is the whole artifact (what the pull provides); what
         * the store has already counts as done. */
        if (f->present || apx_plan_wanted(j, &call->files[i]))
            ap_tracker_add_total(j->tracker, f->size, 1);
        if (f->present)
            apx_tracker_present(j->tracker, f->size, 1);
    }
    return AP_OK;
}

static int cmp_mfile_path(const void *a, const void *b)
{
    return strcmp((*(const apx_mfile *const *)a)->path, (*(const apx_mfile *const *)b)->path);
}

/* The manifest after filtering, before anything is written or locked: at
 * most max_files files, no name twice (sorted, O(n log n)). */
/* AP_PROVISION_REQUIRE_VERIFIED: every file needs something to be checked
 * against (a digest or git blob id from the vendor, or a signature), else
 * the pull fails before anything is fetched or written. */
int apx_plan_check_verifiable(pull *j, const ap_vendor_call *call)
{
    size_t i;
    for (i = 0; i < call->nfiles; i++) {
        const apx_mfile *m = &call->files[i];
        if (!m->sha256 && !m->git_sha1 && !m->signature && !(m->flags & AP_VFILE_LOCAL))
            return apx_pull_fail(j, AP_EDIGEST, "%s: file '%s' has no digest, checksum or "
                        "signature to verify it against, and verified files are "
                        "required (AP_PROVISION_REQUIRE_VERIFIED, apctl pull "
                        "--require-verified)", j->ref, m->path);
    }
    return AP_OK;
}

int apx_plan_check_manifest(pull *j, const ap_vendor_call *call)
{
    size_t max = j->o->max_files ? j->o->max_files : SIZE_MAX, i;
    const apx_mfile **v;
    if (call->nfiles > max)
        return apx_pull_fail(j, AP_EUNSUPPORTED, "%s: %zu files, more than the limit of %zu files "
                    "per entry (raise it with the max_files option, apctl pull "
                    "--max-files N, or narrow the files with --include/--exclude)",
                    j->ref, call->nfiles, max);
    if (call->nfiles > SIZE_MAX / 2 - 1)
        return apx_pull_fail(j, AP_EUNSUPPORTED, "%s: %zu files", j->ref, call->nfiles);
    if (call->nfiles < 2)
        return AP_OK;
    if (!(v = apx_calloc(call->nfiles, sizeof *v)))
        return apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    for (i = 0; i < call->nfiles; i++)
        v[i] = &call->files[i];
    qsort(v, call->nfiles, sizeof *v, cmp_mfile_path);
    for (i = 1; i < call->nfiles; i++)
        if (strcmp(v[i - 1]->path, v[i]->path) == 0)
            break;
    if (i < call->nfiles) {
        int rc = apx_pull_fail(j, AP_EPROTOCOL, "%s: vendor '%s' listed the file '%s' twice",
                      j->ref, call->vendor->desc.name, v[i]->path);
        free(v);
        return rc;
    }
    free(v);
    return AP_OK;
}

/* Each file's verification (the host entry's record of a file not fetched
 * keeps its own); a file the vendor gave no way to verify is said so. */
int apx_plan_verifications(pull *j, const ap_vendor_call *call)
{
    size_t i;
    if (j->entry->nfiles && !(j->sig_ok = apx_calloc(j->entry->nfiles, 1)))
        return apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
    for (i = 0; i < j->entry->nfiles; i++) {
        ap_entry_file *f = &j->entry->files[i];
        if (f->verification) /* the host entry's record of a file not fetched */
            continue;
        if (!(f->verification = apx_plan_verification_of(&call->files[i])))
            return apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
        if (strcmp(f->verification, "none") == 0 && !f->present &&
            !(call->files[i].flags & APX_MFILE_OTHER))
            (void)ap_tracker_log(j->tracker, AP_LOG_WARN, f->name, AP_OK,
                                 "no digest, checksum or signature from the vendor: "
                                 "if it downloads, it will be stored unverified, "
                                 "under the sha256 of the bytes received");
    }
    return AP_OK;
}
