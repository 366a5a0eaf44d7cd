/* libartifactprov — Hugging Face vendor: publishing a ready entry into a
 * Hugging Face cache directory (the vendor's `publish`), so Python and JS
 * tools find it offline.  The layout is huggingface_hub's
 * (docs/vendor-huggingface.md, "HF cache layout"):
 *
 *   DIR/{models|datasets|spaces}--ORG--NAME/blobs/ETAG
 *   DIR/.../snapshots/COMMIT/PATH -> ../../blobs/ETAG (one ../ more per
 *                                    directory level of PATH)
 *   DIR/.../refs/REV                 = COMMIT (no newline)
 *
 * ETAG is the git blob id of a regular file, the sha256 of an LFS file.
 * Every write goes through the host (put_copy, put_symlink, put_bytes),
 * which validates the names, refuses links on the way and writes
 * atomically.  SPDX-License-Identifier: MIT */
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "models--org--name" for type and "org/name". */
static char *repo_folder(hfv_type type, const char *repo)
{
    const char *slash = strchr(repo, '/');
    size_t n = strlen(hfv_type_cache(type)) + strlen(repo) + 8;
    char *out = malloc(n);
    if (!out)
        return NULL;
    if (slash)
        snprintf(out, n, "%s--%.*s--%s", hfv_type_cache(type),
                 (int)(slash - repo), repo, slash + 1);
    else
        snprintf(out, n, "%s--%s", hfv_type_cache(type), repo);
    return out;
}

static size_t ncomponents(const char *p)
{
    size_t n = 1;
    for (; *p; p++)
        n += *p == '/';
    return n;
}

int hfv_publish(void *state, ap_vendor_call *call,
                const ap_vendor_publication *pub)
{
    hfv_state *st = state;
    const ap_host *h;
    const char *dir;
    char why[256], *folder = NULL, *rel = NULL, *target = NULL;
    hfv_ref r;
    size_t i, k, up;
    int rc;

    if (!st || !pub)
        return AP_EINVAL;
    h = &st->host;
    dir = AP_HOST_HAS(h, option) ? h->option(call, "hf_cache_publish") : NULL;
    if (!dir || !*dir)
        return AP_OK; /* not asked for */
    if (!AP_HOST_HAS(h, put_copy) || !AP_HOST_HAS(h, put_symlink) ||
        !AP_HOST_HAS(h, put_bytes))
        return h->set_error(call, AP_EUNSUPPORTED, "%s: this host cannot write "
                            "into a foreign cache (no put_copy/put_symlink/put_bytes)",
                            pub->ref);
    memset(&r, 0, sizeof r);
    rc = hfv_ref_parse(pub->ref, &r, why, sizeof why);
    if (rc != AP_OK) {
        hfv_ref_clear(&r);
        return h->set_error(call, rc, "%s: cannot publish: %s", pub->ref,
                            rc == AP_ENOMEM ? "out of memory" : why);
    }
    if (!pub->revision || !hfv_is_hex(pub->revision, 40)) {
        rc = h->set_error(call, AP_EPROTOCOL, "%s: no resolved commit to publish "
                          "into the HF cache %s", pub->ref, dir);
        goto out;
    }
    if (strstr(r.repo, "--")) {
        rc = h->set_error(call, AP_EPATH, "%s: repository id '%s' cannot be named "
                          "in an HF cache ('--' is its separator)", pub->ref, r.repo);
        goto out;
    }
    if (!(folder = repo_folder(r.type, r.repo))) {
        rc = h->set_error(call, AP_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < pub->nfiles; i++) {
        const ap_vendor_published_file *f = pub->files[i];
        const char *etag;
        size_t len;
        if (!AP_STRUCT_COVERS(f, ap_vendor_published_file, size) || !f->path ||
            !f->blob_path)
            continue;
        /* a regular file is known by its git blob id, an LFS one by sha256 */
        etag = f->git_sha1 ? f->git_sha1 : f->sha256;
        if (!etag)
            continue;
        free(rel);
        len = strlen(folder) + strlen(etag) + strlen(f->path) + 64;
        if (!(rel = malloc(len))) {
            rc = h->set_error(call, AP_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(rel, len, "%s/blobs/%s", folder, etag);
        if ((rc = h->put_copy(call, dir, rel, f->blob_path)) != AP_OK)
            goto out;
        up = 1 + ncomponents(f->path);
        free(target);
        if (!(target = malloc(up * 3 + strlen(etag) + 8))) {
            rc = h->set_error(call, AP_ENOMEM, "out of memory");
            goto out;
        }
        target[0] = '\0';
        for (k = 0; k < up; k++)
            strcat(target, "../");
        strcat(target, "blobs/");
        strcat(target, etag);
        snprintf(rel, len, "%s/snapshots/%s/%s", folder, pub->revision, f->path);
        if ((rc = h->put_symlink(call, dir, rel, target)) != AP_OK)
            goto out;
    }
    {
        const char *rev = r.rev ? r.rev : "main";
        if (strcmp(rev, pub->revision) != 0) {
            size_t len = strlen(folder) + strlen(rev) + 8;
            free(rel);
            if (!(rel = malloc(len))) {
                rc = h->set_error(call, AP_ENOMEM, "out of memory");
                goto out;
            }
            snprintf(rel, len, "%s/refs/%s", folder, rev);
            rc = h->put_bytes(call, dir, rel, pub->revision, 40);
        }
    }
out:
    free(rel);
    free(target);
    free(folder);
    hfv_ref_clear(&r);
    return rc;
}
