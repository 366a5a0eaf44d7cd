/* libartifactprov — GitHub releases vendor: finding the release (latest,
 * by tag, by a glob over the paged release list), choosing its assets and
 * how each is verified.  SPDX-License-Identifier: MIT */
#include "gh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

void ghv_release_clear(ghv_release *r)
{
    size_t i;
    for (i = 0; i < r->n; i++) {
        free(r->assets[i].name);
        free(r->assets[i].api_url);
        free(r->assets[i].signature);
    }
    free(r->assets);
    free(r->tag);
    free(r->commitish);
    memset(r, 0, sizeof *r);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int lower_hex64(const char *s, char out[65])
{
    size_t i;
    for (i = 0; i < 64; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch | 0x20);
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return 0;
        out[i] = ch;
    }
    out[64] = '\0';
    return s[64] == '\0';
}

/* Fill c->rel from a release object. */
static int take_release(ghv_ctx *c, json_t *rel)
{
    json_t *assets = json_object_get(rel, "assets"), *a;
    const char *tag = jstr(rel, "tag_name"), *cm = jstr(rel, "target_commitish");
    size_t i;
    if (!tag || !*tag || !json_is_array(assets))
        return ghv_fail(c, AP_EPROTOCOL, "the API's release has no tag_name or "
                        "assets list");
    ghv_release_clear(&c->rel);
    if (!(c->rel.tag = strdup(tag)) || (cm && !(c->rel.commitish = strdup(cm))))
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    c->rel.assets = calloc(json_array_size(assets) + 1, sizeof *c->rel.assets);
    if (!c->rel.assets)
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    json_array_foreach(assets, i, a) {
        ghv_asset *x = &c->rel.assets[c->rel.n];
        const char *name = jstr(a, "name"), *url = jstr(a, "url");
        const char *state = jstr(a, "state"), *dg = jstr(a, "digest");
        json_t *sz = json_object_get(a, "size");
        if (!name || !*name || !url)
            return ghv_fail(c, AP_EPROTOCOL, "release %s: an asset without name or url",
                            tag);
        if (state && strcmp(state, "uploaded") != 0)
            continue; /* an upload in progress or failed */
        if (strchr(name, '/'))
            return ghv_fail(c, AP_EPROTOCOL, "release %s: asset name '%s' contains '/'",
                            tag, name);
        if (!(x->name = strdup(name)) || !(x->api_url = strdup(url)))
            return ghv_fail(c, AP_ENOMEM, "out of memory");
        x->size = json_is_integer(sz) && json_integer_value(sz) >= 0
                      ? (uint64_t)json_integer_value(sz) : AP_SIZE_UNKNOWN;
        if (dg && strncasecmp(dg, "sha256:", 7) == 0 && !lower_hex64(dg + 7, x->digest))
            return ghv_fail(c, AP_EPROTOCOL, "release %s: asset '%s' has a malformed "
                            "digest '%.80s'", tag, name, dg);
        c->rel.n++;
    }
    return AP_OK;
}

static json_t *parse_body(ghv_ctx *c, const ap_http_response *resp, const char *what,
                          int *rc)
{
    json_error_t e;
    json_t *j = json_loadb(resp->body, resp->body_len, 0, &e);
    if (!j)
        *rc = ghv_fail(c, AP_EPROTOCOL, "%s: the API's answer is not JSON (%s)", what,
                       e.text);
    return j;
}

/* After a 404: is the repository there?  Sets the error either way. */
static int explain_404(ghv_ctx *c, const char *missing)
{
    ap_http_response *resp = NULL;
    char *url = apv_asprintf("%s/repos/%s/%s", c->api, c->r.owner, c->r.repo);
    int rc;
    if (!url)
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    rc = ghv_api_get(c, url, NULL, GHV_API_MAX_BODY, &resp);
    free(url);
    if (rc != AP_OK)
        return rc;
    if (resp->status == 404)
        rc = ghv_fail(c, AP_ENOTFOUND, "repository %s/%s not found on %s%s",
                      c->r.owner, c->r.repo, c->api,
                      c->token ? " (or the token from the environment has no access "
                                 "to it)" :
                                 " (a private repository needs GH_TOKEN or GITHUB_TOKEN)");
    else if (resp->status == 200)
        rc = ghv_fail(c, AP_ENOTFOUND, "%s", missing);
    else
        rc = ghv_api_error(c, resp, "repository");
    c->host->http_free(resp);
    return rc;
}

/* rel="next" of a Link header; malloc'd or NULL. */
static char *link_next(const char *link)
{
    const char *p = link;
    while (p && *p) {
        const char *lt = strchr(p, '<'), *gt, *end;
        if (!lt || !(gt = strchr(lt, '>')))
            return NULL;
        end = strchr(gt, ',');
        /* a URL may hold ',' only inside <>: the parameters end at ',' */
        {
            size_t n = end ? (size_t)(end - gt) : strlen(gt);
            char *params = strndup(gt, n);
            int next = params && (strstr(params, "rel=\"next\"") || strstr(params, "rel=next"));
            free(params);
            if (next)
                return strndup(lt + 1, (size_t)(gt - lt - 1));
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

static int find_by_glob(ghv_ctx *c)
{
    char *url = apv_asprintf("%s/repos/%s/%s/releases?per_page=100", c->api, c->r.owner,
                             c->r.repo);
    json_t *pre = NULL; /* first matching prerelease */
    char seen[512] = "";
    size_t nseen = 0, pages = 0;
    int rc = AP_OK, found = 0;

    if (!url)
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    while (url && !found) {
        ap_http_response *resp = NULL;
        json_t *arr, *rel;
        size_t i;
        char *next;
        if (++pages > GHV_MAX_PAGES) {
            rc = ghv_fail(c, AP_EPROTOCOL, "more than %u pages of releases without a "
                          "tag matching '%s'", GHV_MAX_PAGES, c->r.tag);
            break;
        }
        rc = ghv_api_get(c, url, NULL, GHV_API_MAX_BODY, &resp);
        free(url);
        url = NULL;
        if (rc != AP_OK)
            break;
        if (resp->status == 404) {
            c->host->http_free(resp);
            rc = explain_404(c, "the releases list answered 404");
            break;
        }
        if (resp->status != 200) {
            rc = ghv_api_error(c, resp, "releases list");
            c->host->http_free(resp);
            break;
        }
        arr = parse_body(c, resp, "releases list", &rc);
        next = arr ? link_next(c->host->http_header(resp, "link")) : NULL;
        c->host->http_free(resp);
        if (!arr)
            break;
        if (!json_is_array(arr)) {
            json_decref(arr);
            free(next);
            rc = ghv_fail(c, AP_EPROTOCOL, "the releases list is not a JSON array");
            break;
        }
        json_array_foreach(arr, i, rel) {
            const char *tag = jstr(rel, "tag_name");
            if (!tag || json_is_true(json_object_get(rel, "draft")))
                continue;
            if (nseen < 8 && strlen(seen) + strlen(tag) + 4 < sizeof seen)
                snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%s",
                         nseen ? ", " : "", tag);
            nseen++;
            if (!ghv_glob_match(c->r.tag, tag))
                continue;
            if (json_is_true(json_object_get(rel, "prerelease"))) {
                if (!pre)
                    pre = json_incref(rel);
                continue;
            }
            rc = take_release(c, rel);
            found = 1;
            break;
        }
        json_decref(arr);
        if (found)
            free(next);
        else
            url = next;
    }
    free(url);
    if (rc == AP_OK && !found) {
        if (pre) {
            rc = take_release(c, pre);
            found = 1;
        } else
            rc = ghv_fail(c, AP_ENOTFOUND, "no release of %s/%s has a tag matching '%s' "
                          "(%zu release%s%s%s%s)", c->r.owner, c->r.repo, c->r.tag,
                          nseen, nseen == 1 ? "" : "s", nseen ? ": " : "", seen,
                          nseen > 8 ? ", ..." : "");
    }
    json_decref(pre);
    return rc;
}

int ghv_find_release(ghv_ctx *c)
{
    ap_http_response *resp = NULL;
    char *url, *etag = NULL, missing[512];
    json_t *j;
    int rc;

    if (c->r.tag && c->r.tag_glob)
        return find_by_glob(c);
    if (c->r.tag) {
        if (!(etag = ghv_pct_encode(c->r.tag)))
            return ghv_fail(c, AP_ENOMEM, "out of memory");
        url = apv_asprintf("%s/repos/%s/%s/releases/tags/%s", c->api, c->r.owner,
                           c->r.repo, etag);
        snprintf(missing, sizeof missing, "no release with tag '%s' in %s/%s",
                 c->r.tag, c->r.owner, c->r.repo);
    } else {
        url = apv_asprintf("%s/repos/%s/%s/releases/latest", c->api, c->r.owner,
                           c->r.repo);
        snprintf(missing, sizeof missing, "%s/%s has no published release "
                 "(releases/latest: 404)", c->r.owner, c->r.repo);
    }
    free(etag);
    if (!url)
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    rc = ghv_api_get(c, url, NULL, GHV_API_MAX_BODY, &resp);
    free(url);
    if (rc != AP_OK)
        return rc;
    if (resp->status == 404) {
        c->host->http_free(resp);
        return explain_404(c, missing);
    }
    if (resp->status != 200) {
        rc = ghv_api_error(c, resp, c->r.tag ? "release by tag" : "latest release");
        c->host->http_free(resp);
        return rc;
    }
    j = parse_body(c, resp, "release", &rc);
    c->host->http_free(resp);
    if (!j)
        return rc;
    rc = json_is_object(j) ? take_release(c, j)
                           : ghv_fail(c, AP_EPROTOCOL, "the release is not a JSON object");
    json_decref(j);
    return rc;
}

/* "a, b, c" of the release's asset names (bounded). */
static void asset_names(const ghv_release *r, char *out, size_t outlen)
{
    size_t i, len = 0;
    out[0] = '\0';
    for (i = 0; i < r->n; i++) {
        int k = snprintf(out + len, outlen - len, "%s'%s'", i ? ", " : "",
                         r->assets[i].name);
        if (k < 0 || (size_t)k >= outlen - len) {
            if (outlen > 5)
                strcpy(out + (len < outlen - 5 ? len : outlen - 5), ", ...");
            return;
        }
        len += (size_t)k;
    }
}

int ghv_select_assets(ghv_ctx *c)
{
    size_t i, nsel = 0;
    char names[900];
    for (i = 0; i < c->rel.n; i++) {
        ghv_asset *a = &c->rel.assets[i];
        a->selected = c->r.glob ? ghv_glob_match(c->r.glob, a->name)
                                : !ghv_is_companion(a->name);
        nsel += (size_t)a->selected;
    }
    if (nsel)
        return AP_OK;
    asset_names(&c->rel, names, sizeof names);
    if (c->r.glob)
        return ghv_fail(c, AP_ENOTFOUND, "no asset of release %s of %s/%s matches '%s'; "
                        "its assets: %s", c->rel.tag, c->r.owner, c->r.repo, c->r.glob,
                        c->rel.n ? names : "none");
    return ghv_fail(c, AP_ENOTFOUND, "release %s of %s/%s has no assets%s%s",
                    c->rel.tag, c->r.owner, c->r.repo,
                    c->rel.n ? " besides checksum and signature files: " : "",
                    c->rel.n ? names : "");
}

static ghv_asset *find_asset(ghv_ctx *c, const char *name)
{
    size_t i;
    for (i = 0; i < c->rel.n; i++)
        if (strcmp(c->rel.assets[i].name, name) == 0)
            return &c->rel.assets[i];
    return NULL;
}

/* Fetch an asset's bytes through its API URL (the 302 to the signed URL is
 * followed by the host, without the token); cached per resolve. */
static int fetch_doc(ghv_ctx *c, ghv_asset *a, size_t max, ghv_doc **out)
{
    ap_http_response *resp = NULL;
    ghv_doc *d;
    size_t i;
    int rc;
    for (i = 0; i < c->ndocs; i++)
        if (strcmp(c->docs[i].name, a->name) == 0) {
            *out = &c->docs[i];
            return AP_OK;
        }
    rc = ghv_api_get(c, a->api_url, "application/octet-stream", max, &resp);
    if (rc != AP_OK)
        return rc;
    if (resp->status != 200) {
        rc = resp->status == 404
                 ? ghv_fail(c, AP_ENOTFOUND, "release %s: asset '%s' is listed but its "
                            "download answers 404", c->rel.tag, a->name)
                 : ghv_api_error(c, resp, a->name);
        c->host->http_free(resp);
        return rc;
    }
    d = realloc(c->docs, (c->ndocs + 1) * sizeof *d);
    if (!d) {
        c->host->http_free(resp);
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    }
    c->docs = d;
    d = &c->docs[c->ndocs];
    d->name = strdup(a->name);
    d->body = malloc(resp->body_len + 1);
    d->len = resp->body_len;
    if (d->body) {
        memcpy(d->body, resp->body, resp->body_len);
        d->body[resp->body_len] = '\0';
    }
    c->host->http_free(resp);
    if (!d->name || !d->body) {
        free(d->name);
        free(d->body);
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    }
    c->ndocs++;
    *out = d;
    return AP_OK;
}

/* Try one checksum asset for `a`: 1 found, 0 not listed, <0 error. */
static int try_sums(ghv_ctx *c, ghv_asset *a, ghv_asset *sums, int bare_ok)
{
    ghv_doc *d;
    int rc;
    if (!sums || sums == a)
        return 0;
    if ((rc = fetch_doc(c, sums, GHV_SUMS_MAX_BODY, &d)) != AP_OK)
        return rc;
    if (!ghv_sums_lookup(d->body, d->len, a->name, bare_ok, a->sha256))
        return 0;
    a->verified_by = sums->name;
    return 1;
}

static int verify_one(ghv_ctx *c, ghv_asset *a, int host_verifies_signatures)
{
    char *n;
    ghv_asset *s;
    size_t i;
    int rc;

    /* 1. the digest GitHub computed at upload */
    if (a->digest[0]) {
        memcpy(a->sha256, a->digest, sizeof a->sha256);
        a->verified_by = "digest";
        return AP_OK;
    }
    /* 2. a checksum asset: NAME.sha256, SHA256SUMS, then *checksums.txt */
    if (!(n = apv_asprintf("%s.sha256", a->name)))
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    s = find_asset(c, n);
    free(n);
    if ((rc = try_sums(c, a, s, 1)) != 0)
        return rc < 0 ? rc : AP_OK;
    if ((rc = try_sums(c, a, find_asset(c, "SHA256SUMS"), 0)) != 0 ||
        (rc = try_sums(c, a, find_asset(c, "SHA256SUMS.txt"), 0)) != 0)
        return rc < 0 ? rc : AP_OK;
    for (i = 0; i < c->rel.n; i++) {
        s = &c->rel.assets[i];
        if (strlen(s->name) >= 13 &&
            strcasecmp(s->name + strlen(s->name) - 13, "checksums.txt") == 0 &&
            (rc = try_sums(c, a, s, 0)) != 0)
            return rc < 0 ? rc : AP_OK;
    }
    /* 3. a minisign signature, when the user trusts a key */
    if (!(n = apv_asprintf("%s.minisig", a->name)))
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    s = find_asset(c, n);
    free(n);
    if (s && c->minisign_key) {
        ghv_doc *d;
        if ((rc = fetch_doc(c, s, GHV_SIG_MAX_BODY, &d)) != AP_OK)
            return rc;
        if (!ghv_minisig_wellformed(d->body, d->len))
            return ghv_fail(c, AP_EDIGEST, "release %s: '%s' is not a minisign "
                            "signature", c->rel.tag, s->name);
        if (host_verifies_signatures) {
            if (!(a->signature = strdup(d->body)))
                return ghv_fail(c, AP_ENOMEM, "out of memory");
            a->verified_by = "minisign";
            return AP_OK;
        }
        ghv_log(c, AP_LOG_WARN, "asset '%s': signature '%s' found, but this host "
                "cannot verify minisign signatures", a->name, s->name);
    }
    /* 4. nothing: unverified */
    if (c->require_verified)
        return ghv_fail(c, AP_EDIGEST, "asset '%s' of %s/%s@%s: no digest, checksum file "
                        "or signature: refused (require_verified)%s", a->name,
                        c->r.owner, c->r.repo, c->rel.tag,
                        s && !c->minisign_key ? "; it has a minisign signature: give "
                        "its public key (minisign_key) to verify it" : "");
    ghv_log(c, AP_LOG_WARN, "asset '%s' of %s/%s@%s: no digest, checksum file or "
            "signature: unverified%s", a->name, c->r.owner, c->r.repo, c->rel.tag,
            s && !c->minisign_key ? " (a minisign signature is published: give its "
            "public key, minisign_key, to verify it)" : "");
    return AP_OK;
}

int ghv_verify_plan(ghv_ctx *c, int host_verifies_signatures)
{
    size_t i;
    int rc;
    for (i = 0; i < c->rel.n; i++)
        if (c->rel.assets[i].selected &&
            (rc = verify_one(c, &c->rel.assets[i], host_verifies_signatures)) != AP_OK)
            return rc;
    return AP_OK;
}
