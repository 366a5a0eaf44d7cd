/* libartifactprov — Hugging Face vendor: the manifest handed to the host
 * (the artifact's name, revision and canonical reference; one file entry
 * per selected file, with the copy the user's HF cache already holds).
 * Used by the online resolver (hf.c), the offline one (cache.c) and the
 * catalog one (fromcat.c).  SPDX-License-Identifier: MIT */
#include "hf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define HFV_UA "User-Agent: libartifactprov/" AP_VERSION_STRING \
               " ap-vendor-huggingface/" HFV_VERSION

/* Headers on every hub request and on every file entry. */
/* (The host's engine sends Accept-Encoding: identity itself.) */
const char *const hfv_headers[] = { HFV_UA, NULL };

static char *artifact_name(hfv_ctx *c)
{
    return apv_asprintf("%s%s", hfv_type_url_prefix(c->r.type), c->repo_name);
}

/* The canonical reference, which names the catalog entry: the repository
 * as renamed, and for a QUANT pick the file it picked ("hf:org/repo:q8_0" and "hf:org/repo:Q8_0" are the entry of
 * "hf:org/repo/model.Q8_0.gguf"); a pick of several split parts keeps the
 * tag, upper-cased. */
char *hfv_canonical_for(const hfv_ctx *c, const hfv_list *l)
{
    hfv_ref r = c->r;
    char tag[128], *out;
    size_t i, nsel = 0, k;
    const char *picked = NULL;
    r.repo = c->repo_name ? c->repo_name : c->r.repo;
    if (r.quant && l) {
        for (i = 0; i < l->n; i++)
            if (l->v[i].selected) {
                nsel++;
                picked = l->v[i].path;
            }
        if (nsel == 1) {
            r.quant = NULL;
            r.path = (char *)picked;
        } else {
            for (k = 0; r.quant[k] && k + 1 < sizeof tag; k++)
                tag[k] = (char)toupper((unsigned char)r.quant[k]);
            tag[k] = '\0';
            r.quant = tag;
        }
    }
    out = hfv_ref_canonical(&r);
    return out;
}

int hfv_set_artifact(hfv_ctx *c, const char *commit, const hfv_list *l)
{
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    char *name = artifact_name(c), *canon;
    int rc;
    canon = hfv_canonical_for(c, l);
    if (!name || !canon) {
        free(name);
        free(canon);
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    }
    a.name = name;
    a.revision = commit;
    a.canonical = canon;
    rc = c->host->set_artifact(c->call, &a);
    free(name);
    free(canon);
    return rc;
}

int hfv_add_files(hfv_ctx *c, const hfv_list *l, const char *commit, int local)
{
    size_t i, n = 0;
    for (i = 0; i < l->n; i++) {
        const hfv_file *f = &l->v[i];
        ap_vendor_file vf = AP_VENDOR_FILE_INIT;
        char *epath, *url, *etag = NULL, *cached = NULL;
        int rc;
        if (!f->selected)
            continue;
        /* Files the user already has in the HF cache are offered to the
         * host as a local copy: it imports them after checking the sha256
         * (LFS) or git blob id (regular files) they are named by, and
         * downloads from the hub when the copy is wrong. */
        if (!local)
            cached = hfv_cache_blob(c, f->sha256[0] ? f->sha256 : f->git_sha1, f->size);
        epath = local ? hfv_file_url_path(f->local) : hfv_pct_encode(f->path, 1);
        if (!epath)
            return hfv_fail(c, AP_ENOMEM, "out of memory");
        if (local)
            url = apv_asprintf("file://%s", epath);
        else
            url = apv_asprintf("%s/%s%s/resolve/%s/%s", c->endpoint,
                            hfv_type_url_prefix(c->r.type), c->repo_name, commit, epath);
        free(epath);
        if (!url) {
            free(cached);
            return hfv_fail(c, AP_ENOMEM, "out of memory");
        }
        vf.path = f->path;
        vf.size = f->size;
        vf.sha256 = f->sha256[0] ? f->sha256 : NULL;
        vf.git_sha1 = !f->sha256[0] && f->git_sha1[0] ? f->git_sha1 : NULL;
        vf.url = url;
        vf.local_path = cached;
        if (!local) {
            vf.headers = hfv_headers;
            if (c->token) {
                vf.bearer = c->token;
                vf.bearer_host = c->host_name;
            }
            /* Regular files come from the hub itself, whose ETag is the
             * git blob id; LFS files are identified by their sha256. */
            if (vf.git_sha1 && !(etag = apv_asprintf("\"%s\"", vf.git_sha1))) {
                free(url);
                free(cached);
                return hfv_fail(c, AP_ENOMEM, "out of memory");
            }
            vf.etag = etag;
        }
        if (f->size != AP_SIZE_UNKNOWN && f->size < HFV_METADATA_MAX &&
            !hfv_is_weight(f->path))
            vf.flags |= AP_VFILE_METADATA;
        rc = c->host->add_file(c->call, &vf);
        free(url);
        free(etag);
        free(cached);
        if (rc != AP_OK)
            return rc;
        n++;
    }
    return AP_OK;
}
