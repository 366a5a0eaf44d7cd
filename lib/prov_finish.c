/* libartifactprov — the finish of a provision: views and classification of
 * the present files (also for scans), the entry's blob paths, other
 * repository entries updated, the vendor's publication (see prov_pull.h).
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
        /* a pull's cancel or abort (its tick hook; none for a scan) */
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

/* After a provision that made the entry ready: the vendor's optional
 * `publish` (e.g. into another tool's cache) with the verified files. */
int apx_pull_publish(pull *j, ap_vendor_call *call)
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
        rc = apx_pull_fail(j, AP_ENOMEM, "%s: out of memory", j->ref);
        goto out;
    }
    for (i = 0; i < e->nfiles; i++) {
        const ap_entry_file *f = &e->files[i];
        if (!f->present || !f->sha256)
            continue;
        if ((rc = ap_store_blob_path(j->prov->store, f->sha256, &blobs[n])) != AP_OK) {
            rc = apx_pull_fail(j, rc, "%s: the blob of '%s': %s", j->ref, f->name,
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
        rc = apx_pull_fail(j, rc, "%s: vendor '%s' could not publish the entry: %s", j->ref,
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

/* The previous entry's files as present, with paths to their blobs, for a
 * result that does not replace the catalog's ready entry. */
void apx_pull_blob_paths(ap_provisioner *p, ap_entry *e, int force)
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
 * is.  An entry another pull holds (its lock) is left alone. */
void apx_pull_fold_into_repo_entries(pull *j)
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

/* Each file's own status: in the store, failed, or still pending (not
 * wanted by a sync, or a cancelled pull never got to it). */
static void settle_file_statuses(ap_entry *e, int rc)
{
    size_t k;
    for (k = 0; k < e->nfiles; k++) {
        ap_entry_file *f = &e->files[k];
        if (f->present)
            f->status = AP_FILE_READY;
        else if (f->status == AP_FILE_DOWNLOADING)
            f->status = rc == AP_ECANCELLED ? AP_FILE_PENDING : AP_FILE_FAILED;
        else if (f->status == AP_FILE_READY)
            f->status = AP_FILE_PENDING;
    }
}

/* A complete, verified new set replaces a ready entry.  It is recorded
 * first under its blob paths (content-addressed, never rewritten), then the
 * views change, then the final document names them: a kill at any point
 * leaves a ready document every path of which holds the bytes it names.
 * Returns whether the catalog took it (*rc set on a failure). */
static int replace_ready(pull *j, int *rc)
{
    ap_provisioner *p = j->prov;
    int prc;
    apx_pull_blob_paths(p, j->entry, 1);
    j->entry->status = AP_ENTRY_READY;
    j->entry->updated = apx_wall_s();
    free(j->entry->error);
    j->entry->error = NULL;
    prc = ap_catalog_put(p->catalog, j->entry);
    if (prc != AP_OK)
        *rc = apx_pull_fail(j, prc, "%s: recording the entry in the catalog: %s", j->ref,
                           ap_catalog_errmsg(p->catalog));
    return prc == AP_OK;
}

/* The entry's status and error after the pull ended with `rc`. */
static void entry_outcome(pull *j, int rc, int replaced, size_t missing)
{
    ap_entry *e = j->entry;
    e->updated = apx_wall_s();
    free(e->error);
    e->error = NULL;
    if (replaced) {
        /* the new set is in place: a later failure (publishing) is the
         * request's, the entry stays ready */
        e->status = AP_ENTRY_READY;
        e->done_bytes = e->total_size;
        if (rc != AP_OK)
            e->error = apx_strdup(j->prov->err.msg);
    } else if (rc == AP_OK) {
        e->status = missing ? AP_ENTRY_PENDING : AP_ENTRY_READY;
        e->done_bytes = e->total_size;
    } else {
        e->status = rc == AP_ECANCELLED ? AP_ENTRY_CANCELLED : AP_ENTRY_FAILED;
        e->error = apx_strdup(j->prov->err.msg);
    }
}

/* The pull's entry recorded: views, publication, the document. */
static int record_entry(pull *j, ap_vendor_call *call, ap_entry *prev, int rc)
{
    ap_provisioner *p = j->prov;
    size_t k, missing = 0;
    int replaced = 0;
    for (k = 0; k < j->entry->nfiles; k++)
        missing += !j->entry->files[k].present;
    if (j->keep && rc == AP_OK && !missing)
        replaced = replace_ready(j, &rc);
    if (!j->keep || replaced) {
        /* views relinked only for what replaces the catalog's entry */
        if (apx_entry_finish(p, j->entry) != AP_OK && rc == AP_OK)
            rc = p->err.status;
        if (rc == AP_OK)
            rc = apx_pull_publish(j, call);
    } else
        apx_pull_blob_paths(p, j->entry, 0);
    entry_outcome(j, rc, replaced, missing);
    if (!j->keep || j->entry->status == AP_ENTRY_READY) {
        /* one document write replaces the whole set */
        int prc = ap_catalog_put(p->catalog, j->entry);
        if (prc != AP_OK && rc == AP_OK)
            rc = apx_pull_fail(j, prc, "%s: recording the entry in the catalog: %s", j->ref,
                              ap_catalog_errmsg(p->catalog));
    } else if (rc != AP_OK && prev) {
        /* The ready entry stays as it was; the failed re-pull is noted in
         * it (status stays ready, its files and views unchanged). */
        free(prev->error);
        prev->error = apx_asprintf("re-pull failed, the entry is unchanged: %s",
                                   p->err.msg);
        (void)ap_catalog_put(p->catalog, prev);
    }
    return rc;
}

int apx_pull_finish(pull *j, ap_vendor_call *call, ap_entry *prev, int rc)
{
    if (!j->entry)
        return rc;
    settle_file_statuses(j->entry, rc);
    rc = record_entry(j, call, prev, rc);
    if (rc == AP_OK && j->entry->status == AP_ENTRY_READY)
        apx_pull_fold_into_repo_entries(j);
    return rc;
}
