/* libartifactprov — Hugging Face vendor: serving a reference from what the
 * catalog already holds when the hub cannot be reached (or HF_HUB_OFFLINE
 * and the HF cache lacks it).  The vendor asks the host for the files of
 * its ready entries of the same repository and revision
 * (host->catalog_files) and makes the same selection it makes online: a
 * file of a snapshot entry is served from it, a QUANT tag picks among the
 * files held, and the canonical reference it gives makes "hf:org/repo:Q8_0",
 * ":q8_0" and the file the tag picks one entry.  SPDX-License-Identifier: MIT */
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cat_collect {
    hfv_list *l;
    const char *snapshot;  /* only this entry's files (a snapshot request) */
    char commit[41];
    int oom;
} cat_collect;

static int collect(void *user, const ap_vendor_entry_file *f)
{
    cat_collect *cc = user;
    hfv_file *nf;
    size_t i;
    if (!AP_STRUCT_COVERS(f, ap_vendor_entry_file, blob_path) || !f->path ||
        !f->sha256 || !f->blob_path || strlen(f->sha256) != 64)
        return 0;
    if (cc->snapshot && strcmp(f->entry_ref, cc->snapshot) != 0)
        return 0;
    if (!f->revision || !hfv_is_hex(f->revision, 40))
        return 0;
    if (cc->commit[0] && strcmp(cc->commit, f->revision) != 0)
        return 0;          /* one commit: the first entry's */
    for (i = 0; i < cc->l->n; i++)
        if (strcmp(cc->l->v[i].path, f->path) == 0)
            return 0;      /* held by two entries: once */
    if (!(nf = hfv_list_add(cc->l, f->path)) || !(nf->local = strdup(f->blob_path))) {
        cc->oom = 1;
        return 1;
    }
    memcpy(cc->commit, f->revision, 41);
    nf->size = f->size;
    memcpy(nf->sha256, f->sha256, 65);
    if (f->git_sha1 && hfv_is_hex(f->git_sha1, 40))
        memcpy(nf->git_sha1, f->git_sha1, 41);
    return 0;
}

int hfv_resolve_from_catalog(hfv_ctx *c)
{
    hfv_ref r = c->r;
    hfv_list l = { 0 };
    cat_collect cc;
    char msg[512], *prefix;
    size_t i, nsel = 0;
    int rc;

    if (!AP_HOST_HAS(c->host, catalog_files))
        return AP_ENOTFOUND;
    /* the repository at the revision as named */
    r.quant = NULL;
    r.path = NULL;
    if (!(prefix = hfv_ref_canonical(&r)))
        return AP_ENOMEM;
    memset(&cc, 0, sizeof cc);
    cc.l = &l;
    cc.snapshot = !c->r.path && !c->r.quant ? prefix : NULL;
    rc = c->host->catalog_files(c->call, prefix, collect, &cc);
    free(prefix);
    if (cc.oom) {
        hfv_list_clear(&l);
        return AP_ENOMEM;
    }
    if (rc != AP_OK || l.n == 0) {
        hfv_list_clear(&l);
        return AP_ENOTFOUND;
    }
    if (c->r.quant) {
        if (hfv_select_quant(&l, c->r.quant, msg, sizeof msg) != AP_OK) {
            hfv_list_clear(&l);
            return AP_ENOTFOUND;
        }
    } else {
        for (i = 0; i < l.n; i++)
            l.v[i].selected = !c->r.path || strcmp(l.v[i].path, c->r.path) == 0;
    }
    for (i = 0; i < l.n; i++)
        nsel += l.v[i].selected ? 1 : 0;
    if (nsel == 0) {
        hfv_list_clear(&l);
        return AP_ENOTFOUND;
    }
    if ((rc = hfv_add_files(c, &l, cc.commit, 1)) == AP_OK)
        rc = hfv_set_artifact(c, cc.commit, &l);
    hfv_list_clear(&l);
    return rc;
}
