/* libartifactprov — GitHub releases vendor (ap-vendor-github.so).
 *
 * Every contact with the vendor ABI is in this file: the entry point, the
 * descriptor, create/destroy, and the manifest handed to the host.  The
 * logic is in ref.c, api.c, release.c and sums.c.  See
 * docs/vendor-github.md.  SPDX-License-Identifier: MIT */
#include "gh.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const ghv_schemes[] = { "gh", "github", NULL };

/* Headers of every asset download (sent to the API origin only: the host
 * drops them, and the token, when the 302 leaves for the signed URL). */
static const char *const ghv_file_headers[] = {
    "Accept: application/octet-stream",
    "X-GitHub-Api-Version: " GHV_API_VERSION,
    GHV_UA,
    NULL,
};

typedef struct ghv_state {
    ap_host host;        /* a zeroed copy of what the host provides */
} ghv_state;

/* The host members this vendor calls (log and option are tested at use). */
static int host_usable(const ap_host *h)
{
    return h && h->abi_version == AP_VENDOR_ABI_VERSION && AP_HOST_HAS(h, http) &&
           AP_HOST_HAS(h, http_header) && AP_HOST_HAS(h, http_free) &&
           AP_HOST_HAS(h, add_file) && AP_HOST_HAS(h, set_artifact) &&
           AP_HOST_HAS(h, set_error) && AP_HOST_HAS(h, getenv) &&
           AP_HOST_HAS(h, is_cancelled);
}

/* Whether the host verifies a minisign signature handed with a file
 * (ap_vendor_file.signature / public_key, honoured by hosts whose
 * vendor_file_size covers them): an older host would ignore them, so the
 * asset then counts as unverified instead of silently unchecked. */
static int host_verifies_signatures(const ap_host *h)
{
    return AP_HOST_FILE_HAS(h, signature) && AP_HOST_FILE_HAS(h, public_key);
}

static int gh_create(const ap_host *host, void **state)
{
    ghv_state *s;
    if (!host_usable(host))
        return AP_EABI;
    if (!(s = calloc(1, sizeof *s)))
        return AP_ENOMEM;
    memcpy(&s->host, host, host->struct_size < sizeof s->host ? host->struct_size
                                                              : sizeof s->host);
    *state = s;
    return AP_OK;
}

static void gh_destroy(void *state)
{
    free(state);
}

static int add_files(ghv_ctx *c)
{
    size_t i;
    int rc;
    for (i = 0; i < c->rel.n; i++) {
        const ghv_asset *a = &c->rel.assets[i];
        ap_vendor_file f = AP_VENDOR_FILE_INIT;
        if (!a->selected)
            continue;
        f.path = a->name;
        f.size = a->size;
        f.sha256 = a->sha256[0] ? a->sha256 : NULL;
        f.url = a->api_url;
        f.headers = ghv_file_headers;
        /* The asset URL normally lives on the API's origin; a token is only
         * attached when it does (and only for the API's host). */
        if (c->token && ghv_same_origin(a->api_url, c->api)) {
            f.bearer = c->token;
            f.bearer_host = c->api_host;
        }
        if (a->signature && c->minisign_key && host_verifies_signatures(c->host)) {
            f.signature = a->signature;
            f.public_key = c->minisign_key;
        }
        if ((rc = c->host->add_file(c->call, &f)) != AP_OK)
            return rc;
    }
    return AP_OK;
}

static int gh_resolve(void *state, ap_vendor_call *call, const char *ref)
{
    ghv_state *s = state;
    ghv_ctx c;
    ap_vendor_artifact art = AP_VENDOR_ARTIFACT_INIT;
    char err[256], *name = NULL, *canonical = NULL;
    int rc;

    memset(&c, 0, sizeof c);
    c.host = &s->host;
    c.call = call;
    c.ref = ref;
    rc = ghv_ref_parse(ref, &c.r, err, sizeof err);
    if (rc != AP_OK)
        return rc == AP_ENOMEM ? ghv_fail(&c, rc, "out of memory")
                               : ghv_fail(&c, rc, "bad reference: %s (want %s)", err,
                                          GHV_GRAMMAR);
    if ((rc = ghv_setup(&c)) != AP_OK || (rc = ghv_find_release(&c)) != AP_OK ||
        (rc = ghv_select_assets(&c)) != AP_OK ||
        (rc = ghv_verify_plan(&c, host_verifies_signatures(c.host))) != AP_OK)
        goto out;
    name = apv_asprintf("%s/%s", c.r.owner, c.r.repo);
    canonical = ghv_ref_canonical(&c.r, c.rel.tag);
    if (!name || !canonical) {
        rc = ghv_fail(&c, AP_ENOMEM, "out of memory");
        goto out;
    }
    art.name = name;
    art.revision = c.rel.tag;
    art.canonical = canonical;
    if ((rc = c.host->set_artifact(call, &art)) != AP_OK)
        goto out;
    rc = add_files(&c);
out:
    free(name);
    free(canonical);
    ghv_ctx_clear(&c);
    return rc;
}

/* A call's context freed (the token wiped first). */
static void wipe(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = '\0';
    }
}

void ghv_ctx_clear(ghv_ctx *c)
{
    size_t i;
    ghv_ref_clear(&c->r);
    free(c->api);
    wipe(c->token);
    free(c->token);
    free(c->minisign_key);
    ghv_release_clear(&c->rel);
    for (i = 0; i < c->ndocs; i++) {
        free(c->docs[i].name);
        free(c->docs[i].body);
    }
    free(c->docs);
    c->api = c->token = c->minisign_key = NULL;
    c->docs = NULL;
    c->ndocs = 0;
}

/* The syntax of a reference, without I/O (ap_vendor.check_ref). */
static int gh_check_ref(const char *ref, char *err, size_t errlen)
{
    ghv_ref r;
    int rc;
    memset(&r, 0, sizeof r);
    rc = ghv_ref_parse(ref, &r, err, errlen);
    ghv_ref_clear(&r);
    return rc;
}

static const ap_vendor ghv_vendor = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "github",
    .version = GHV_VERSION,
    .description = "GitHub release assets",
    .schemes = ghv_schemes,
    .create = gh_create,
    .destroy = gh_destroy,
    .resolve = gh_resolve,
    .usage = GHV_GRAMMAR,
    .check_ref = gh_check_ref,
};

AP_VENDOR_ENTRY(github)
{
    (void)host;
    return &ghv_vendor;
}
