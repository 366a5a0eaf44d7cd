/* libartifactprov — the Ollama vendor: resolving a model from an Ollama
 * registry (the distribution v2 subset ollama speaks; docs/vendor-ollama.md).
 *
 *   GET {scheme}://{host}/v2/{ns}/{model}/manifests/{tag}
 *       Accept: application/vnd.docker.distribution.manifest.v2+json
 *   (registry.ollama.ai answers text/plain: any content type is accepted,
 *   the body must parse as JSON and stay below OLV_MAX_MANIFEST bytes)
 *
 * A 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`
 * is answered once: GET realm?service=&scope= (realm on the registry's own
 * host, else refused naming both), {"token"|"access_token": T}, then the
 * manifest again with the token.  The token goes with every file as
 * bearer + bearer_host = the registry's host: the engine follows the
 * blobs' 307 to the CDN without it.  SPDX-License-Identifier: MIT */
#include "olv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define OLV_ACCEPT "Accept: application/vnd.docker.distribution.manifest.v2+json"
#define OLV_MAX_TOKEN_DOC (64u << 10)

typedef struct reg_ctx {
    const ap_host *h;
    ap_vendor_call *call;
    const char *ref;
    const olv_ref *r;
    char base[400];      /* scheme://host */
    char *token;
} reg_ctx;

static char *xasprintf(const char *fmt, ...) AP_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *out;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(out = malloc((size_t)n + 1)))
        return NULL;
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

/* Percent-encode a query value. */
static char *qenc(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

/* The value of `key` in a challenge `Bearer k="v",k2="v2"` (quoted or
 * not), malloc'd, or NULL. */
static char *chal_param(const char *chal, const char *key)
{
    const char *p = chal;
    size_t kl = strlen(key);
    if (strncasecmp(p, "Bearer", 6) != 0)
        return NULL;
    p += 6;
    while (*p) {
        const char *k, *v;
        size_t klen, vlen;
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        k = p;
        while (*p && *p != '=' && *p != ',')
            p++;
        klen = (size_t)(p - k);
        if (*p != '=')
            continue;
        p++;
        if (*p == '"') {
            v = ++p;
            while (*p && *p != '"')
                p++;
            vlen = (size_t)(p - v);
            if (*p)
                p++;
        } else {
            v = p;
            while (*p && *p != ',')
                p++;
            vlen = (size_t)(p - v);
        }
        if (klen == kl && strncasecmp(k, key, kl) == 0) {
            char *out = malloc(vlen + 1);
            if (out) {
                memcpy(out, v, vlen);
                out[vlen] = '\0';
            }
            return out;
        }
    }
    return NULL;
}

/* "host[:port]" of an http(s) URL, lower case, the default port dropped;
 * the scheme into scheme (8 bytes).  0 or -1. */
static int url_authority(const char *url, char *scheme, char *out, size_t cap)
{
    const char *p, *e;
    size_t n, i;
    if (strncasecmp(url, "https://", 8) == 0) {
        strcpy(scheme, "https");
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        strcpy(scheme, "http");
        p = url + 7;
    } else {
        return -1;
    }
    e = p + strcspn(p, "/?#");
    n = (size_t)(e - p);
    if (n == 0 || n >= cap || memchr(p, '@', n))
        return -1;
    for (i = 0; i < n; i++)
        out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    out[n] = '\0';
    if (!strcmp(scheme, "https") && n > 4 && !strcmp(out + n - 4, ":443"))
        out[n - 4] = '\0';
    if (!strcmp(scheme, "http") && n > 3 && !strcmp(out + n - 3, ":80"))
        out[n - 3] = '\0';
    return 0;
}

/* The registry's host, as url_authority gives it. */
static void reg_authority(const olv_ref *r, char *out, size_t cap)
{
    char url[400], scheme[8];
    snprintf(url, sizeof url, "%s://%s/", r->scheme, r->host);
    if (url_authority(url, scheme, out, cap) != 0)
        snprintf(out, cap, "%s", r->host);
}

/* Answer the 401's challenge: a token from the realm. */
static int get_token(reg_ctx *c, const char *chal)
{
    const ap_host *h = c->h;
    ap_http_request q = AP_HTTP_REQUEST_INIT;
    ap_http_response *resp = NULL;
    char *realm = NULL, *service = NULL, *scope = NULL, *es = NULL, *esc = NULL,
         *url = NULL;
    char rauth[400], gauth[400], rscheme[8];
    json_t *doc = NULL, *t;
    int rc;

    if (!chal || !(realm = chal_param(chal, "realm")) || !*realm) {
        rc = h->set_error(c->call, AP_EAUTH, "%s: the registry %s demands authentication "
                          "but names no Bearer realm (WWW-Authenticate: %s)", c->ref,
                          c->base, chal ? chal : "absent");
        goto out;
    }
    reg_authority(c->r, gauth, sizeof gauth);
    if (url_authority(realm, rscheme, rauth, sizeof rauth) != 0 ||
        strcmp(rauth, gauth) != 0 ||
        (!strcmp(rscheme, "http") && strcmp(c->r->scheme, "http") != 0)) {
        rc = h->set_error(c->call, AP_EAUTH, "%s: refused: the token realm %s is not on "
                          "the registry's host %s (a token is asked only from the "
                          "registry itself)", c->ref, realm, gauth);
        goto out;
    }
    service = chal_param(chal, "service");
    scope = chal_param(chal, "scope");
    if (!(es = qenc(service ? service : "")) || !(esc = qenc(scope ? scope : "")) ||
        !(url = xasprintf("%s%cservice=%s&scope=%s", realm, strchr(realm, '?') ? '&' : '?',
                          es, esc))) {
        rc = h->set_error(c->call, AP_ENOMEM, "out of memory");
        goto out;
    }
    q.url = url;
    q.follow_redirects = 0;
    q.max_body = OLV_MAX_TOKEN_DOC;
    if ((rc = h->http(c->call, &q, &resp)) != AP_OK)
        goto out;
    if (resp->status != 200) {
        rc = h->set_error(c->call, resp->status == 401 || resp->status == 403 ? AP_EAUTH
                          : AP_EHTTP, "%s: the token realm %s answered HTTP %ld", c->ref,
                          realm, resp->status);
        goto out;
    }
    doc = json_loadb(resp->body, resp->body_len, 0, NULL);
    t = json_object_get(doc, "token");
    if (!json_is_string(t))
        t = json_object_get(doc, "access_token");
    if (!json_is_string(t) || !*json_string_value(t) ||
        strcspn(json_string_value(t), "\r\n") != strlen(json_string_value(t))) {
        rc = h->set_error(c->call, AP_EPROTOCOL, "%s: the token realm %s gave no token "
                          "(want JSON {\"token\": ...})", c->ref, realm);
        goto out;
    }
    if (!(c->token = strdup(json_string_value(t))))
        rc = h->set_error(c->call, AP_ENOMEM, "out of memory");
out:
    json_decref(doc);
    if (resp)
        h->http_free(resp);
    free(realm);
    free(service);
    free(scope);
    free(es);
    free(esc);
    free(url);
    return rc;
}

/* The registry's error code (errors[0].code) of a 404, or "". */
static void error_code(const ap_http_response *resp, char *out, size_t cap)
{
    json_t *doc = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *code = json_object_get(json_array_get(json_object_get(doc, "errors"), 0),
                                   "code");
    snprintf(out, cap, "%s", json_is_string(code) ? json_string_value(code) : "");
    json_decref(doc);
}

/* A 404 for the manifest: is the tag or the model missing?  A registry may
 * answer MANIFEST_UNKNOWN for both (docker-registry does): the tags list
 * tells (200: the model exists, its tags are named; 404 NAME_UNKNOWN: no
 * such model). */
static int not_found(reg_ctx *c, const ap_http_response *resp)
{
    const ap_host *h = c->h;
    const olv_ref *r = c->r;
    ap_http_request q = AP_HTTP_REQUEST_INIT;
    ap_http_response *tr = NULL;
    char code[64], tags[600], *url;
    int rc;

    error_code(resp, code, sizeof code);
    if (!strcmp(code, "NAME_UNKNOWN"))
        return h->set_error(c->call, AP_ENOTFOUND, "%s: model %s/%s not found on the "
                            "registry %s", c->ref, r->ns, r->model, c->base);
    tags[0] = '\0';
    if (!(url = xasprintf("%s/v2/%s/%s/tags/list", c->base, r->ns, r->model)))
        return h->set_error(c->call, AP_ENOMEM, "out of memory");
    q.url = url;
    q.bearer = c->token;
    q.follow_redirects = 1;
    q.max_body = OLV_MAX_TOKEN_DOC;
    if (h->http(c->call, &q, &tr) == AP_OK) {
        if (tr->status == 404) {
            error_code(tr, code, sizeof code);
            if (!strcmp(code, "NAME_UNKNOWN")) {
                h->http_free(tr);
                free(url);
                return h->set_error(c->call, AP_ENOTFOUND, "%s: model %s/%s not found "
                                    "on the registry %s", c->ref, r->ns, r->model,
                                    c->base);
            }
        } else if (tr->status == 200) {
            json_t *doc = json_loadb(tr->body, tr->body_len, 0, NULL);
            json_t *list = json_object_get(doc, "tags");
            size_t i, n = json_array_size(list), used = 0;
            for (i = 0; i < n && i < 10; i++) {
                json_t *t = json_array_get(list, i);
                int k;
                if (!json_is_string(t))
                    continue;
                k = snprintf(tags + used, sizeof tags - used, "%s%.60s", used ? ", " : "",
                             json_string_value(t));
                if (k < 0 || (size_t)k >= sizeof tags - used)
                    break;
                used += (size_t)k;
            }
            if (n > 10 && used + 8 < sizeof tags)
                strcat(tags, ", ...");
            json_decref(doc);
        }
        h->http_free(tr);
    }
    free(url);
    if (tags[0])
        rc = h->set_error(c->call, AP_ENOTFOUND, "%s: model %s/%s has no tag '%s' on the "
                          "registry %s (its tags: %s)", c->ref, r->ns, r->model, r->tag,
                          c->base, tags);
    else
        rc = h->set_error(c->call, AP_ENOTFOUND, "%s: model %s/%s has no tag '%s' on the "
                          "registry %s", c->ref, r->ns, r->model, r->tag, c->base);
    return rc;
}

int olv_resolve_registry(const ap_host *h, ap_vendor_call *call, const char *ref,
                         const olv_ref *r)
{
    static const char *const accept[] = { OLV_ACCEPT, NULL };
    ap_http_request q = AP_HTTP_REQUEST_INIT;
    ap_http_response *resp = NULL;
    reg_ctx c;
    char *murl = NULL, *bbase = NULL, msg[512], auth[400];
    olv_source src;
    int rc, attempt;

    if (!AP_HOST_HAS(h, http) || !AP_HOST_HAS(h, http_header) ||
        !AP_HOST_HAS(h, http_free))
        return h->set_error(call, AP_EUNSUPPORTED, "%s: this host offers no HTTP", ref);
    memset(&c, 0, sizeof c);
    c.h = h;
    c.call = call;
    c.ref = ref;
    c.r = r;
    snprintf(c.base, sizeof c.base, "%s://%s", r->scheme, r->host);
    murl = xasprintf("%s/v2/%s/%s/manifests/%s", c.base, r->ns, r->model, r->tag);
    bbase = xasprintf("%s/v2/%s/%s/blobs", c.base, r->ns, r->model);
    if (!murl || !bbase) {
        rc = h->set_error(call, AP_ENOMEM, "out of memory");
        goto out;
    }
    for (attempt = 0;; attempt++) {
        q.url = murl;
        q.headers = accept;
        q.bearer = c.token;
        q.follow_redirects = 1;
        q.max_body = OLV_MAX_MANIFEST;
        if ((rc = h->http(call, &q, &resp)) != AP_OK)
            goto out; /* the host's message: network, size... */
        if (resp->status == 401 && attempt == 0 && !c.token) {
            char *chal = NULL;
            const char *v = h->http_header(resp, "WWW-Authenticate");
            if (v && !(chal = strdup(v))) {
                rc = h->set_error(call, AP_ENOMEM, "out of memory");
                goto out;
            }
            h->http_free(resp);
            resp = NULL;
            rc = get_token(&c, chal);
            free(chal);
            if (rc != AP_OK)
                goto out;
            continue;
        }
        break;
    }
    if (resp->status == 401 || resp->status == 403) {
        rc = h->set_error(call, AP_EAUTH, "%s: the registry %s refused access to %s/%s "
                          "(HTTP %ld%s)", ref, c.base, r->ns, r->model, resp->status,
                          c.token ? ", with the realm's token" : "");
        goto out;
    }
    if (resp->status == 404) {
        rc = not_found(&c, resp);
        goto out;
    }
    if (resp->status == 429) {
        rc = h->set_error(call, AP_ERATELIMIT, "%s: the registry %s rate-limits (HTTP "
                          "429)", ref, c.base);
        goto out;
    }
    if (resp->status != 200) {
        rc = h->set_error(call, AP_EHTTP, "%s: the registry %s answered HTTP %ld for the "
                          "manifest %s", ref, c.base, resp->status, murl);
        goto out;
    }
    reg_authority(r, auth, sizeof auth);
    memset(&src, 0, sizeof src);
    src.manifest_url = murl;
    src.manifest_headers = accept;
    src.blob_base = bbase;
    src.token = c.token;
    src.bearer_host = auth;
    rc = olv_add_manifest(h, call, &src, r, resp->body, resp->body_len, msg, sizeof msg);
    if (rc == AP_ECORRUPT)
        rc = h->set_error(call, AP_EPROTOCOL, "%s: the manifest from %s: %s", ref, murl,
                          msg);
out:
    if (resp)
        h->http_free(resp);
    if (c.token) {
        memset(c.token, 0, strlen(c.token));
        free(c.token);
    }
    free(murl);
    free(bbase);
    return rc;
}
