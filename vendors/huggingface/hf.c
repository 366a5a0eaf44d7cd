/* libartifactprov — Hugging Face Hub vendor (ap-vendor-huggingface.so).
 *
 * Resolves hf: references into manifests through the host table only: no
 * libcurl, no libartifactprov, jansson for JSON.  See
 * docs/vendor-huggingface.md.
 * SPDX-License-Identifier: MIT */
#include "hf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

static const char *const hfv_schemes[] = { "hf", "huggingface", NULL };

/* Host members this vendor needs (log and option are used when offered;
 * progress is not needed: no download()). */
static int host_usable(const ap_host *h)
{
    return h && h->abi_version == AP_VENDOR_ABI_VERSION &&
           AP_HOST_HAS(h, http) && AP_HOST_HAS(h, http_header) &&
           AP_HOST_HAS(h, http_free) && AP_HOST_HAS(h, add_file) &&
           AP_HOST_HAS(h, set_artifact) && AP_HOST_HAS(h, set_error) &&
           AP_HOST_HAS(h, getenv) && AP_HOST_HAS(h, is_cancelled);
}

static const char *env(hfv_ctx *c, const char *name)
{
    return apv_env(c->host, c->call, name);
}

static void wipe(char *s)
{
    volatile char *p = s;
    if (!s)
        return;
    while (*p)
        *p++ = '\0';
}

/* ---- endpoint and token ------------------------------------------------------ */

static int setup_endpoint(hfv_ctx *c)
{
    const char *ep = env(c, "HF_ENDPOINT");
    size_t n;
    if (!ep)
        ep = HFV_DEFAULT_ENDPOINT;
    n = strlen(ep);
    while (n && ep[n - 1] == '/')
        n--;
    if (!(c->endpoint = strndup(ep, n)) || !(c->endpoint_shown = hfv_url_redact(c->endpoint)))
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    if ((strncasecmp(c->endpoint, "http://", 7) != 0 &&
         strncasecmp(c->endpoint, "https://", 8) != 0) ||
        !hfv_url_host(c->endpoint, c->host_name, sizeof c->host_name) ||
        strchr(c->endpoint, '?') || strchr(c->endpoint, '#'))
        return hfv_fail(c, AP_EINVAL, "HF_ENDPOINT '%s' is not an http(s) URL",
                        c->endpoint_shown);
    return AP_OK;
}

/* Trimmed copy of a token; NULL with *oom = 0 when empty. */
static char *trim_token(const char *s, size_t n, int *oom)
{
    char *t;
    *oom = 0;
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (!n)
        return NULL;
    if (!(t = strndup(s, n)))
        *oom = 1;
    return t;
}

/* huggingface_hub's HF_HOME; NULL when no variable tells (or out of memory). */
static char *hf_home(hfv_ctx *c)
{
    static const apv_env_dir rules[] = {
        { "HF_HOME", "" },
        { "XDG_CACHE_HOME", "/huggingface" },
        { "HOME", "/.cache/huggingface" },
    };
    int oom;
    return apv_dir_from_env(c->host, c->call, rules, sizeof rules / sizeof *rules, &oom);
}

static int setup_token(hfv_ctx *c)
{
    static const char *const vars[] = { "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", NULL };
    const char *v;
    char *path = NULL, buf[4096];
    size_t i, n;
    int oom;
    FILE *f;

    for (i = 0; vars[i]; i++) {
        if ((v = env(c, vars[i])) != NULL) {
            c->token = trim_token(v, strlen(v), &oom);
            if (oom)
                return hfv_fail(c, AP_ENOMEM, "out of memory");
            if (c->token) {
                c->token_src = vars[i];
                return AP_OK;
            }
        }
    }
    if ((v = env(c, "HF_TOKEN_PATH")) != NULL) {
        path = strdup(v);
    } else {
        char *home = hf_home(c);
        if (!home)
            return AP_OK;
        path = apv_asprintf("%s/token", home);
        free(home);
    }
    if (!path)
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    f = fopen(path, "re");
    free(path);
    if (!f)
        return AP_OK;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    c->token = trim_token(buf, strlen(buf), &oom);
    {
        volatile char *p = buf; /* a plain memset of a dead buffer may be elided */
        for (i = 0; i < sizeof buf; i++)
            p[i] = '\0';
    }
    if (oom)
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    if (c->token)
        c->token_src = "$HF_HOME/token";
    return AP_OK;
}

/* ---- HTTP through the host ---------------------------------------------------- */

static int same_origin(const char *a, const char *b)
{
    size_t la = hfv_url_origin_len(a), lb = hfv_url_origin_len(b);
    return la && la == lb && strncasecmp(a, b, la) == 0;
}

static int hub_request(hfv_ctx *c, const char *method, const char *url,
                       int follow, size_t max_body, ap_http_response **out)
{
    ap_http_request req = AP_HTTP_REQUEST_INIT;
    int rc;
    *out = NULL;
    if (c->host->is_cancelled(c->call))
        return hfv_fail(c, AP_ECANCELLED, "cancelled");
    req.method = method;
    req.url = url;
    req.headers = hfv_headers;
    req.bearer = c->token && same_origin(url, c->endpoint) ? c->token : NULL;
    req.follow_redirects = follow;
    req.max_body = max_body;
    rc = c->host->http(c->call, &req, out);
    if (rc != AP_OK) {
        if (*out)
            c->host->http_free(*out);
        *out = NULL;
        return rc < 0 ? rc : AP_ERROR;
    }
    if (!*out)
        return hfv_fail(c, AP_ERROR, "the host returned no HTTP response from %s",
                        c->endpoint_shown);
    if (!AP_STRUCT_COVERS(*out, ap_http_response, body_len)) {
        c->host->http_free(*out);
        *out = NULL;
        return hfv_fail(c, AP_EABI, "the host's HTTP response is too short");
    }
    return AP_OK;
}

static const char *hdr(hfv_ctx *c, const ap_http_response *r, const char *name)
{
    const char *v = c->host->http_header(r, name);
    return v && *v ? v : NULL;
}

static const char *type_word(hfv_ctx *c)
{
    return c->r.type == HFV_DATASET ? "dataset" : c->r.type == HFV_SPACE ? "space"
                                                                          : "repository";
}

/* Map an error answer to a status and an actionable message. */
static int map_error(hfv_ctx *c, const ap_http_response *r, const char *rev)
{
    const char *code = hdr(c, r, "X-Error-Code");
    const char *emsg = hdr(c, r, "X-Error-Message");
    const char *pfx = hfv_type_url_prefix(c->r.type);
    long st = r->status;
    int invalid_cred = (code && strcmp(code, "InvalidCredentials") == 0) ||
                       (emsg && strstr(emsg, "Invalid credentials") != NULL) ||
                       (emsg && strstr(emsg, "invalid credentials") != NULL);

    if (st == 429 || (code && strcmp(code, "RateLimited") == 0)) {
        const char *ra = hdr(c, r, "Retry-After");
        if (ra && strspn(ra, "0123456789") == strlen(ra))
            return hfv_fail(c, AP_ERATELIMIT, "rate limited by %s; retry after %s s",
                            c->endpoint_shown, ra);
        if (ra)
            return hfv_fail(c, AP_ERATELIMIT, "rate limited by %s; retry after %.64s",
                            c->endpoint_shown, ra);
        return hfv_fail(c, AP_ERATELIMIT, "rate limited by %s; retry later", c->endpoint_shown);
    }
    if (invalid_cred && c->token)
        return hfv_fail(c, AP_EAUTH, "token refused by %s (the token from %s is invalid "
                        "or expired; fix or unset it)", c->endpoint_shown, c->token_src);
    if (code && strcmp(code, "GatedRepo") == 0) {
        if (c->token)
            return hfv_fail(c, AP_EGATED, "gated: your token (from %s) has not been "
                            "granted access; accept the licence at %s/%s%s with the "
                            "token's account", c->token_src, c->endpoint_shown, pfx,
                            c->repo_name);
        return hfv_fail(c, AP_EGATED, "gated: accept the licence at %s/%s%s and set "
                        "HF_TOKEN", c->endpoint_shown, pfx, c->repo_name);
    }
    if (code && strcmp(code, "RevisionNotFound") == 0)
        return hfv_fail(c, AP_ENOTFOUND, "revision '%s' not found in %s %s%s", rev,
                        type_word(c), pfx, c->repo_name);
    if (code && strcmp(code, "DisabledRepo") == 0)
        return hfv_fail(c, AP_ENOTFOUND, "%s %s%s is disabled on %s", type_word(c),
                        pfx, c->repo_name, c->endpoint_shown);
    if ((code && strcmp(code, "RepoNotFound") == 0) || (!code && st == 401)) {
        if (c->token)
            return hfv_fail(c, st == 401 && !code ? AP_EAUTH : AP_ENOTFOUND,
                            "%s %s%s not found, or your token (from %s) has no "
                            "access to it", type_word(c), pfx, c->repo_name,
                            c->token_src);
        return hfv_fail(c, AP_ENOTFOUND, "%s %s%s not found, or private/gated and no "
                        "valid token (set HF_TOKEN)", type_word(c), pfx, c->repo_name);
    }
    if (st >= 500)
        return hfv_fail(c, AP_EHTTP, "%s answered HTTP %ld (server error; try again "
                        "later)", c->endpoint_shown, st);
    if (st == 403)
        return hfv_fail(c, AP_EAUTH, "access denied by %s (HTTP 403%s%.200s)",
                        c->endpoint_shown, emsg ? ": " : "", emsg ? emsg : "");
    if (st == 404)
        return hfv_fail(c, AP_ENOTFOUND, "not found on %s (HTTP 404%s%.200s%s%s)",
                        c->endpoint_shown, code ? ", " : "", code ? code : "",
                        emsg ? ": " : "", emsg ? emsg : "");
    return hfv_fail(c, AP_EHTTP, "unexpected HTTP %ld from %s%s%.200s", st,
                    c->endpoint_shown, emsg ? ": " : "", emsg ? emsg : "");
}

static int not_a_hub(hfv_ctx *c, const char *what)
{
    return hfv_fail(c, AP_EPROTOCOL, "HF_ENDPOINT %s is not a Hugging Face endpoint "
                    "(%s)", c->endpoint_shown, what);
}

/* An answer that is not the JSON asked for: malformed JSON is said as
 * such (a broken or truncated answer), the wrong shape as not a hub. */
static int bad_json(hfv_ctx *c, const json_t *root, const json_error_t *jerr,
                    const char *what, const char *shape)
{
    if (!root)
        return hfv_fail(c, AP_EPROTOCOL, "HF_ENDPOINT %s answered malformed JSON to "
                        "the %s (line %d: %.120s): a broken answer, or not a Hugging "
                        "Face endpoint", c->endpoint_shown, what, jerr->line, jerr->text);
    return not_a_hub(c, shape);
}

/* After a rename redirect or an API answer from another URL: pick the repo
 * name out of "{origin}/{prefix}{org}/{name}/{marker}...". */
static int update_repo_name(hfv_ctx *c, const char *url, const char *prefix,
                            const char *marker)
{
    size_t o = hfv_url_origin_len(url), plen = strlen(prefix);
    const char *p = o ? url + o : url, *org, *slash, *end;
    char *name;
    if (*p != '/' || strncmp(p + 1, prefix, plen) != 0)
        return AP_OK;
    org = p + 1 + plen;
    if (!(slash = strchr(org, '/')) || !(end = strchr(slash + 1, '/')))
        return AP_OK;
    if (strncmp(end + 1, marker, strlen(marker)) != 0)
        return AP_OK;
    if ((size_t)(end - org) == strlen(c->repo_name) &&
        strncmp(org, c->repo_name, (size_t)(end - org)) == 0)
        return AP_OK;
    {
        hfv_ref tmp;
        char why[128], *ref;
        /* Only accept a name the grammar accepts. */
        if (!(ref = apv_asprintf("hf:%.*s", (int)(end - org), org)))
            return hfv_fail(c, AP_ENOMEM, "out of memory");
        if (hfv_ref_parse(ref, &tmp, why, sizeof why) != AP_OK || tmp.rev ||
            tmp.quant || tmp.path) {
            free(ref);
            hfv_ref_clear(&tmp);
            return AP_OK;
        }
        free(ref);
        name = tmp.repo;
        tmp.repo = NULL;
        hfv_ref_clear(&tmp);
    }
    hfv_log(c, AP_LOG_WARN, "%s%s was renamed to %s%s", hfv_type_url_prefix(c->r.type),
            c->repo_name, hfv_type_url_prefix(c->r.type), name);
    free(c->repo_name);
    c->repo_name = name;
    return AP_OK;
}

/* ---- tree listing ----------------------------------------------------------------- */

static int parse_tree_page(hfv_ctx *c, const ap_http_response *r, hfv_list *l)
{
    json_error_t jerr;
    json_t *root = json_loadb(r->body, r->body_len, 0, &jerr), *e;
    size_t i;
    int rc = AP_OK;
    if (!root || !json_is_array(root)) {
        rc = bad_json(c, root, &jerr, "tree listing", "tree listing is not a JSON array");
        json_decref(root);
        return rc;
    }
    json_array_foreach(root, i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *path = json_string_value(json_object_get(e, "path"));
        json_t *lfs = json_object_get(e, "lfs");
        json_t *jsize;
        hfv_file *f;
        if (!type || strcmp(type, "file") != 0)
            continue;
        if (!path || !*path) {
            rc = hfv_fail(c, AP_EPROTOCOL, "tree entry without a path from %s",
                          c->endpoint_shown);
            break;
        }
        if (l->n >= HFV_MAX_ENTRIES) {
            rc = hfv_fail(c, AP_EPROTOCOL, "more than %u files in the repository",
                          HFV_MAX_ENTRIES);
            break;
        }
        if (!(f = hfv_list_add(l, path))) {
            rc = hfv_fail(c, AP_ENOMEM, "out of memory");
            break;
        }
        if (json_is_object(lfs)) {
            const char *oid = json_string_value(json_object_get(lfs, "oid"));
            jsize = json_object_get(lfs, "size");
            if (!hfv_is_hex(oid, 64)) {
                rc = hfv_fail(c, AP_EPROTOCOL, "tree entry '%s': LFS oid is not a "
                              "sha256", path);
                break;
            }
            for (size_t k = 0; k < 64; k++)
                f->sha256[k] = (char)tolower((unsigned char)oid[k]);
            f->sha256[64] = '\0';
        } else {
            const char *oid = json_string_value(json_object_get(e, "oid"));
            jsize = json_object_get(e, "size");
            if (hfv_is_hex(oid, 40)) {
                for (size_t k = 0; k < 40; k++)
                    f->git_sha1[k] = (char)tolower((unsigned char)oid[k]);
                f->git_sha1[40] = '\0';
            }
        }
        if (json_is_integer(jsize) && json_integer_value(jsize) >= 0)
            f->size = (uint64_t)json_integer_value(jsize);
    }
    json_decref(root);
    return rc;
}

/* List every file of the repository at `commit` into l. */
static int list_tree(hfv_ctx *c, const char *commit, hfv_list *l, unsigned max_pages)
{
    char *ecommit = hfv_pct_encode(commit, 0), *url = NULL;
    unsigned page;
    int rc = AP_OK;
    if (!ecommit)
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    url = apv_asprintf("%s/api/%s/%s/tree/%s?recursive=true", c->endpoint,
                    hfv_type_api(c->r.type), c->repo_name, ecommit);
    free(ecommit);
    if (!url)
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    for (page = 0;; page++) {
        ap_http_response *r;
        char *next;
        int oom;
        if (page >= max_pages) {
            rc = hfv_fail(c, AP_EPROTOCOL, "tree listing longer than %u pages", max_pages);
            break;
        }
        if ((rc = hub_request(c, "GET", url, 1, HFV_API_MAX_BODY, &r)) != AP_OK)
            break;
        if (r->status != 200) {
            rc = map_error(c, r, commit);
            c->host->http_free(r);
            break;
        }
        rc = parse_tree_page(c, r, l);
        next = rc == AP_OK ? hfv_link_next(hdr(c, r, "Link"), &oom) : NULL;
        c->host->http_free(r);
        if (rc != AP_OK)
            break;
        if (!next) {
            if (oom)
                rc = hfv_fail(c, AP_ENOMEM, "out of memory");
            break;
        }
        if (next[0] == '/' && next[1] != '/') {
            size_t o = hfv_url_origin_len(c->endpoint);
            char *abs = apv_asprintf("%.*s%s", (int)o, c->endpoint, next);
            free(next);
            if (!(next = abs)) {
                rc = hfv_fail(c, AP_ENOMEM, "out of memory");
                break;
            }
        }
        if (!same_origin(next, c->endpoint)) {
            rc = hfv_fail(c, AP_EPROTOCOL, "tree page link leaves %s (%.200s)",
                          c->endpoint_shown, next);
            free(next);
            break;
        }
        if (strcmp(next, url) == 0) {
            rc = hfv_fail(c, AP_EPROTOCOL, "tree page link loops on itself");
            free(next);
            break;
        }
        free(url);
        url = next;
    }
    free(url);
    return rc;
}

/* ---- single file ----------------------------------------------------------------- */

static int is_redirect(long st)
{
    return st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
}

static uint64_t parse_size(const char *v)
{
    char *end;
    unsigned long long n;
    if (!v || !isdigit((unsigned char)*v))
        return AP_SIZE_UNKNOWN;
    errno = 0;
    n = strtoull(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || *end || n >= AP_SIZE_UNKNOWN)
        return AP_SIZE_UNKNOWN;
    return (uint64_t)n;
}

/* EntryNotFound: say so, with the closest names at that commit. */
static int entry_not_found(hfv_ctx *c, const char *rev, const char *commit)
{
    hfv_list l = { 0 };
    char names[768] = "";
    int rc = list_tree(c, commit, &l, 100);
    if (rc == AP_OK && hfv_close_names(&l, c->r.path, 5, names, sizeof names) == 0)
        names[0] = '\0';
    hfv_list_clear(&l);
    return hfv_fail(c, AP_ENOTFOUND, "file '%s' not found at revision %s (commit %.12s)%s%s",
                    c->r.path, rev, commit, names[0] ? "; close names: " : "", names);
}

/* HEAD url, following the hub's own redirects of a renamed repository
 * (url and the repository name updated), up to the first answer that is
 * not one: a file, an error, or the redirect to the LFS download URL.  On
 * AP_OK *rp is that answer. */
static int head_following_renames(hfv_ctx *c, char **url, const char *pfx,
                                  ap_http_response **rp)
{
    ap_http_response *r = NULL;
    int rc, hops;
    for (hops = 0;; hops++) {
        const char *loc;
        char *next;
        if ((rc = hub_request(c, "HEAD", *url, 0, 0, &r)) != AP_OK)
            break;
        if (!is_redirect(r->status))
            break;
        if (!(loc = hdr(c, r, "Location"))) {
            rc = not_a_hub(c, "redirect without Location");
            break;
        }
        if (!((loc[0] == '/' && loc[1] != '/') ||
              (same_origin(loc, c->endpoint) && !hdr(c, r, "X-Linked-Etag"))))
            break; /* absolute, elsewhere: the LFS download URL */
        if (hops >= HFV_MAX_HOPS) {
            rc = hfv_fail(c, AP_EPROTOCOL, "more than %d redirects on the hub (renamed "
                          "repository loop?)", HFV_MAX_HOPS);
            break;
        }
        if (loc[0] == '/')
            next = apv_asprintf("%.*s%s", (int)hfv_url_origin_len(c->endpoint),
                             c->endpoint, loc);
        else
            next = strdup(loc);
        c->host->http_free(r);
        r = NULL;
        if (!next) {
            rc = hfv_fail(c, AP_ENOMEM, "out of memory");
            break;
        }
        free(*url);
        *url = next;
        if ((rc = update_repo_name(c, *url, pfx, "resolve/")) != AP_OK)
            break;
    }
    if (rc != AP_OK && r) {
        c->host->http_free(r);
        r = NULL;
    }
    *rp = r;
    return rc;
}

/* The file's digest and size from the hub's answer to HEAD: an LFS
 * redirect (sha256 and size in X-Linked-*) or the file itself (its git
 * ETag, Content-Length). */
static int describe_file(hfv_ctx *c, const ap_http_response *r, hfv_file *f)
{
    char *digest = NULL;
    int rc = AP_OK;
    if (is_redirect(r->status)) {
        const char *le = hdr(c, r, "X-Linked-Etag");
        if (!le || !(digest = hfv_etag_normalize(le)) || !hfv_is_hex(digest, 64)) {
            rc = hfv_fail(c, AP_EPROTOCOL, "LFS redirect for '%s' without a sha256 "
                          "X-Linked-Etag (got %.80s)", c->r.path, le ? le : "none");
        } else {
            memcpy(f->sha256, digest, 65);
            f->size = parse_size(hdr(c, r, "X-Linked-Size"));
        }
    } else if (r->status >= 200 && r->status < 300) {
        const char *et = hdr(c, r, "ETag");
        if (et && !(digest = hfv_etag_normalize(et))) {
            rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        } else {
            if (digest && hfv_is_hex(digest, 40))
                memcpy(f->git_sha1, digest, 41);
            else if (digest && hfv_is_hex(digest, 64))
                memcpy(f->sha256, digest, 65);
            else
                hfv_log(c, AP_LOG_WARN, "'%s' has no git ETag; it will be checked by "
                        "size only", c->r.path);
            f->size = parse_size(hdr(c, r, "Content-Length"));
        }
    } else {
        rc = hfv_fail(c, AP_EPROTOCOL, "unexpected HTTP %ld from %s", r->status,
                      c->endpoint_shown);
    }
    free(digest);
    return rc;
}

static int resolve_file(hfv_ctx *c)
{
    const char *rev = c->r.rev ? c->r.rev : "main";
    const char *pfx = hfv_type_url_prefix(c->r.type);
    char *erev = hfv_pct_encode(rev, 0), *epath = hfv_pct_encode(c->r.path, 1);
    char *url = NULL, commit[41];
    ap_http_response *r = NULL;
    hfv_list l = { 0 };
    hfv_file *f;
    const char *xc;
    int rc;

    if (!erev || !epath || !(url = apv_asprintf("%s/%s%s/resolve/%s/%s", c->endpoint, pfx,
                                             c->repo_name, erev, epath))) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = head_following_renames(c, &url, pfx, &r)) != AP_OK)
        goto out;

    xc = hdr(c, r, "X-Repo-Commit");
    if (r->status >= 400) {
        const char *code = hdr(c, r, "X-Error-Code");
        if ((code && strcmp(code, "EntryNotFound") == 0) ||
            (!code && r->status == 404)) {
            if (!hfv_is_hex(xc, 40)) {
                rc = not_a_hub(c, "no X-Repo-Commit");
                goto out;
            }
            memcpy(commit, xc, 41);
            c->host->http_free(r);
            r = NULL;
            rc = entry_not_found(c, rev, commit);
            goto out;
        }
        rc = map_error(c, r, rev);
        goto out;
    }
    if (!hfv_is_hex(xc, 40)) {
        rc = not_a_hub(c, "no X-Repo-Commit");
        goto out;
    }
    for (size_t k = 0; k < 41; k++)
        commit[k] = (char)tolower((unsigned char)xc[k]);

    if (!(f = hfv_list_add(&l, c->r.path))) {
        rc = hfv_fail(c, AP_ENOMEM, "out of memory");
        goto out;
    }
    f->selected = 1;
    if ((rc = describe_file(c, r, f)) != AP_OK)
        goto out;
    c->host->http_free(r);
    r = NULL;
    if ((rc = hfv_add_files(c, &l, commit, 0)) == AP_OK)
        rc = hfv_set_artifact(c, commit, &l);
out:
    if (r)
        c->host->http_free(r);
    hfv_list_clear(&l);
    free(erev);
    free(epath);
    free(url);
    return rc;
}

/* ---- snapshot and quant ------------------------------------------------------------ */

/* GET /api/{type}s/{repo}/revision/{rev} -> commit, gated. */
static int revision_info(hfv_ctx *c, const char *rev, char commit[41], int *gated)
{
    char *erev = hfv_pct_encode(rev, 0), *url;
    ap_http_response *r;
    json_error_t jerr;
    json_t *root, *g;
    const char *sha;
    int rc;
    *gated = 0;
    if (!erev)
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    url = apv_asprintf("%s/api/%s/%s/revision/%s", c->endpoint, hfv_type_api(c->r.type),
                    c->repo_name, erev);
    free(erev);
    if (!url)
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    rc = hub_request(c, "GET", url, 1, HFV_API_MAX_BODY, &r);
    free(url);
    if (rc != AP_OK)
        return rc;
    if (r->status != 200) {
        rc = r->status == 404 && !hdr(c, r, "X-Error-Code")
                 ? not_a_hub(c, "404 without X-Error-Code from the revision API")
                 : map_error(c, r, rev);
        c->host->http_free(r);
        return rc;
    }
    if (r->url) {
        char *apfx = apv_asprintf("api/%s/", hfv_type_api(c->r.type));
        rc = apfx ? update_repo_name(c, r->url, apfx, "revision/")
                  : hfv_fail(c, AP_ENOMEM, "out of memory");
        free(apfx);
        if (rc != AP_OK) {
            c->host->http_free(r);
            return rc;
        }
    }
    root = json_loadb(r->body, r->body_len, 0, &jerr);
    c->host->http_free(r);
    sha = json_string_value(json_object_get(root, "sha"));
    if (!json_is_object(root) || !hfv_is_hex(sha, 40)) {
        rc = bad_json(c, root, &jerr, "revision API",
                      "no commit sha in the revision API answer");
        json_decref(root);
        return rc;
    }
    for (size_t k = 0; k < 41; k++)
        commit[k] = (char)tolower((unsigned char)sha[k]);
    g = json_object_get(root, "gated");
    *gated = json_is_true(g) || (json_is_string(g) && strcmp(json_string_value(g), "false") != 0);
    json_decref(root);
    return AP_OK;
}

/* For a gated repository, check access once before the engine starts. */
static int probe_access(hfv_ctx *c, const hfv_list *l, const char *commit)
{
    size_t i;
    char *epath, *url;
    ap_http_response *r;
    int rc;
    for (i = 0; i < l->n && !l->v[i].selected; i++)
        ;
    if (i == l->n)
        return AP_OK;
    if (!(epath = hfv_pct_encode(l->v[i].path, 1)))
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    url = apv_asprintf("%s/%s%s/resolve/%s/%s", c->endpoint, hfv_type_url_prefix(c->r.type),
                    c->repo_name, commit, epath);
    free(epath);
    if (!url)
        return hfv_fail(c, AP_ENOMEM, "out of memory");
    rc = hub_request(c, "HEAD", url, 0, 0, &r);
    free(url);
    if (rc != AP_OK)
        return rc;
    if (r->status >= 400)
        rc = map_error(c, r, commit);
    c->host->http_free(r);
    return rc;
}

static int resolve_tree(hfv_ctx *c)
{
    const char *rev = c->r.rev ? c->r.rev : "main";
    char commit[41], msg[768];
    hfv_list l = { 0 };
    size_t i, nsel = 0;
    int rc, gated;

    if ((rc = revision_info(c, rev, commit, &gated)) != AP_OK)
        return rc;
    if ((rc = list_tree(c, commit, &l, HFV_MAX_TREE_PAGES)) != AP_OK)
        goto out;
    hfv_list_sort(&l);
    if (c->r.quant) {
        if ((rc = hfv_select_quant(&l, c->r.quant, msg, sizeof msg)) != AP_OK) {
            rc = rc == AP_ENOMEM ? hfv_fail(c, rc, "out of memory")
                                 : hfv_fail(c, rc, "%s (revision %s, commit %.12s)", msg,
                                            rev, commit);
            goto out;
        }
    } else {
        for (i = 0; i < l.n; i++)
            l.v[i].selected = 1;
    }
    for (i = 0; i < l.n; i++)
        nsel += l.v[i].selected ? 1 : 0;
    if (nsel == 0) {
        rc = hfv_fail(c, AP_ENOTFOUND, "%s %s%s has no files at revision %s",
                      type_word(c), hfv_type_url_prefix(c->r.type), c->repo_name, rev);
        goto out;
    }
    if (gated && (rc = probe_access(c, &l, commit)) != AP_OK)
        goto out;
    if ((rc = hfv_add_files(c, &l, commit, 0)) == AP_OK)
        rc = hfv_set_artifact(c, commit, &l);
out:
    hfv_list_clear(&l);
    return rc;
}

/* ---- the vendor --------------------------------------------------------------------- */

static int hf_create(const ap_host *host, void **state)
{
    hfv_state *st;
    size_t n;
    if (!state)
        return AP_EINVAL;
    *state = NULL;
    if (!host_usable(host))
        return AP_EABI;
    if (!(st = calloc(1, sizeof *st)))
        return AP_ENOMEM;
    n = host->struct_size < sizeof st->host ? host->struct_size : sizeof st->host;
    memcpy(&st->host, host, n);
    st->host.struct_size = n;
    *state = st;
    return AP_OK;
}

static void hf_destroy(void *state)
{
    free(state);
}

static int hf_resolve(void *state, ap_vendor_call *call, const char *ref)
{
    hfv_state *st = state;
    hfv_ctx c;
    char why[256];
    int rc;

    if (!st || !call)
        return AP_EINVAL;
    memset(&c, 0, sizeof c);
    c.host = &st->host;
    c.call = call;
    c.ref = ref ? ref : "(null)";
    rc = hfv_ref_parse(ref, &c.r, why, sizeof why);
    if (rc == AP_ENOMEM)
        return hfv_fail(&c, AP_ENOMEM, "out of memory");
    if (rc != AP_OK)
        return hfv_fail(&c, AP_EINVAL, "bad Hugging Face reference: %s; expected %s "
                        "(e.g. hf:TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF:Q4_K_M, "
                        "hf:org/repo@v1.0/config.json, hf:datasets/org/name)", why,
                        HFV_GRAMMAR);
    if (!(c.repo_name = strdup(c.r.repo))) {
        rc = hfv_fail(&c, AP_ENOMEM, "out of memory");
        goto out;
    }
    if (hfv_truthy(env(&c, "HF_HUB_OFFLINE"))) {
        rc = hfv_resolve_offline(&c);
        goto fallback;
    }
    if ((rc = setup_endpoint(&c)) != AP_OK || (rc = setup_token(&c)) != AP_OK)
        goto out;
    rc = c.r.path ? resolve_file(&c) : resolve_tree(&c);
fallback:
    /* The hub cannot be reached (or offline and not in the HF cache): what
     * the catalog holds for this repository serves, selected as online. */
    if (rc == AP_EOFFLINE || rc == AP_ENETWORK || rc == AP_ETIMEDOUT ||
        rc == AP_EHTTP || rc == AP_ERATELIMIT) {
        int crc = hfv_resolve_from_catalog(&c);
        if (crc == AP_OK) {
            rc = AP_OK; /* the host warns: the call's error says why */
        } else if (crc == AP_ENOMEM) {
            rc = hfv_fail(&c, AP_ENOMEM, "out of memory");
        }
    }
out:
    if (c.token) {
        wipe(c.token);
        free(c.token);
    }
    free(c.endpoint);
    free(c.endpoint_shown);
    free(c.canonical);
    free(c.repo_name);
    hfv_ref_clear(&c.r);
    return rc;
}

/* The syntax of a reference, without I/O (ap_vendor.check_ref). */
static int hfv_check_ref(const char *ref, char *err, size_t errlen)
{
    hfv_ref r;
    int rc;
    memset(&r, 0, sizeof r);
    rc = hfv_ref_parse(ref, &r, err, errlen);
    hfv_ref_clear(&r);
    return rc;
}

static const ap_vendor hfv_descriptor = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "huggingface",
    .version = HFV_VERSION,
    .description = "Hugging Face Hub: models, datasets and spaces; GGUF quant "
                   "picks; HF cache when offline; publishes into an HF cache "
                   "(option hf_cache_publish=DIR)",
    .schemes = hfv_schemes,
    .create = hf_create,
    .destroy = hf_destroy,
    .resolve = hf_resolve,
    .usage = HFV_GRAMMAR,
    .publish = hfv_publish,
    .scan = hfv_scan,
    .check_ref = hfv_check_ref,
};

AP_VENDOR_ENTRY(huggingface)
{
    /* Refuse a host we cannot use: a different major, or a table too short
     * for the members resolve() calls. */
    if (!host_usable(host))
        return NULL;
    return &hfv_descriptor;
}
