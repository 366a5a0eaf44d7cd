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

#define EXPORT __attribute__((visibility("default")))

static const char *const ghv_schemes[] = { "gh", "github", NULL };

/* Headers of every asset download (sent to the API origin only: the host
 * drops them, and the token, when the 302 leaves for the signed URL). */
static const char *const ghv_file_headers[] = {
    "Accept: application/octet-stream",
    "X-GitHub-Api-Version: " GHV_API_VERSION,
    GHV_UA,
    NULL,
};

/* Host members this vendor calls (log and option are checked at use). */
#define GHV_HOST_NEED (offsetof(ap_host, is_cancelled) + sizeof(void (*)(void)))

typedef struct ghv_state {
    ap_host host;        /* a zeroed copy of what the host provides */
} ghv_state;

static int host_usable(const ap_host *h)
{
    return h && h->abi_major == AP_VENDOR_ABI_MAJOR && h->struct_size >= GHV_HOST_NEED &&
           h->http && h->http_header && h->http_free && h->add_file &&
           h->set_artifact && h->set_error && h->getenv && h->is_cancelled;
}

/* Whether the host verifies a minisign signature handed with a file.  The
 * vendor ABI 1.x has no member for it: the signature is fetched and checked
 * for form, and the asset counts as unverified.  When the ABI gains
 * ap_vendor_file members for a signature and its public key, this answers
 * from the host's version and add_files() fills them in (marked below). */
static int host_verifies_signatures(const ap_host *h)
{
    (void)h;
    return 0;
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
        /* ABI with signatures: f.signature = a->signature;
         *                      f.public_key = c->minisign_key; */
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
    name = ghv_asprintf("%s/%s", c.r.owner, c.r.repo);
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

static const ap_vendor ghv_vendor = {
    sizeof(ap_vendor), AP_VENDOR_ABI_MAJOR, AP_VENDOR_ABI_MINOR,
    "github", GHV_VERSION, "GitHub release assets (gh:OWNER/REPO[@TAG]/ASSET-GLOB)",
    ghv_schemes, gh_create, gh_destroy, gh_resolve, NULL,
};

EXPORT const ap_vendor *ap_vendor_github_init(const ap_host *host);

EXPORT const ap_vendor *ap_vendor_github_init(const ap_host *host)
{
    (void)host;
    return &ghv_vendor;
}
