/* libartifactprov — the plain URL vendor: https://HOST/PATH[#sha256=HEX].
 * SPDX-License-Identifier: MIT
 *
 * Resolving needs no network: the URL is the file, the optional fragment
 * its digest.  The core engine fetches and verifies it.  The file lands in
 * the human view as models/url/HOST/PATH. */
#include <artifactprov/vendor.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ap_host *host_of(void *state) { return state; }

static int url_create(const ap_host *host, void **state)
{
    if (!host || host->abi_version != AP_VENDOR_ABI_VERSION ||
        !AP_HOST_HAS(host, add_file) || !AP_HOST_HAS(host, set_artifact) ||
        !AP_HOST_HAS(host, set_error))
        return AP_EABI;
    *state = (void *)host;
    return AP_OK;
}

static void url_destroy(void *state) { (void)state; }

static int hexdigit(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The syntax of an http(s) URL reference: AP_OK with the host's bounds,
 * the fragment (or NULL) and the lower-case sha256 (or ""), else AP_EINVAL
 * and why in err. */
static int url_parse(const char *ref, const char **hoststart, const char **hostend,
                     const char **frag, char sha[65], char *err, size_t errlen)
{
    const char *p;
    size_t i;
    if (strncmp(ref, "https://", 8) == 0)
        *hoststart = ref + 8;
    else if (strncmp(ref, "http://", 7) == 0)
        *hoststart = ref + 7;
    else
        return snprintf(err, errlen, "not an http(s) URL"), AP_EINVAL;
    for (p = ref; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return snprintf(err, errlen, "URL contains a space or control character"),
                   AP_EINVAL;
    *hostend = *hoststart + strcspn(*hoststart, "/?#");
    if (*hostend == *hoststart || memchr(*hoststart, '@', (size_t)(*hostend - *hoststart)))
        return snprintf(err, errlen, "URL without a host (or with credentials, "
                        "which are refused)"), AP_EINVAL;
    *frag = strchr(ref, '#');
    sha[0] = '\0';
    if (*frag) {
        if (strncmp(*frag, "#sha256=", 8) != 0 || strlen(*frag + 8) != 64)
            return snprintf(err, errlen, "bad fragment (want #sha256= and 64 hex "
                            "digits)"), AP_EINVAL;
        for (i = 0; i < 64; i++) {
            if (!hexdigit((*frag)[8 + i]))
                return snprintf(err, errlen, "bad sha256 in fragment"), AP_EINVAL;
            sha[i] = (char)((*frag)[8 + i] | 0x20); /* lower case */
        }
        sha[64] = '\0';
    }
    return AP_OK;
}

static int url_check_ref(const char *ref, char *err, size_t errlen)
{
    const char *hs, *he, *frag;
    char sha[65];
    return url_parse(ref, &hs, &he, &frag, sha, err, errlen);
}

static int url_resolve(void *state, ap_vendor_call *call, const char *ref)
{
    const ap_host *h = host_of(state);
    ap_vendor_file f = AP_VENDOR_FILE_INIT;
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    const char *hoststart, *hostend, *path, *frag;
    char sha[65], why[128], *url = NULL, *name = NULL, *rel = NULL;
    size_t urllen;
    int rc;

    if (url_parse(ref, &hoststart, &hostend, &frag, sha, why, sizeof why) != AP_OK)
        return h->set_error(call, AP_EINVAL, "%s: %s (want https://HOST/PATH"
                            "[#sha256=HEX])", ref, why);
    path = hostend;
    urllen = frag ? (size_t)(frag - ref) : strlen(ref);
    url = malloc(urllen + 1);
    name = malloc((size_t)(hostend - hoststart) + 1);
    if (!url || !name) {
        rc = h->set_error(call, AP_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(url, ref, urllen);
    url[urllen] = '\0';
    memcpy(name, hoststart, (size_t)(hostend - hoststart));
    name[hostend - hoststart] = '\0';
    /* The relative path: the URL path without query, leading slashes and
     * with a default name for "/".  Hostile segments are refused by the
     * host's path validation. */
    while (*path == '/')
        path++;
    {
        size_t n = strcspn(path, "?#");
        rel = n ? strndup(path, n) : strdup("index");
        if (!rel) {
            rc = h->set_error(call, AP_ENOMEM, "out of memory");
            goto out;
        }
        if (n && rel[n - 1] == '/')
            rel[n - 1] = '\0';
    }
    for (char *c = name; *c; c++)
        if (*c == ':')
            *c = '_'; /* host:port → host_port in the view */
    a.name = name;
    a.canonical = ref;
    rc = h->set_artifact(call, &a);
    if (rc != AP_OK)
        goto out;
    f.path = rel;
    f.url = url;
    f.sha256 = sha[0] ? sha : NULL;
    rc = h->add_file(call, &f);
out:
    free(url);
    free(name);
    free(rel);
    return rc;
}

static const char *const url_schemes[] = { "https", "http", NULL };

static const ap_vendor url_vendor = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "url",
    .version = "1.0.0",
    .description = "plain http(s) URLs with an optional #sha256= digest",
    .schemes = url_schemes,
    .create = url_create,
    .destroy = url_destroy,
    .resolve = url_resolve,
    .usage = "https://HOST/PATH[#sha256=HEX]",
    .check_ref = url_check_ref,
};

AP_VENDOR_ENTRY(url)
{
    (void)host;
    return &url_vendor;
}
