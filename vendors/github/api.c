/* libartifactprov — GitHub releases vendor: the REST API through the host's
 * HTTP (headers, token, rate limits, error messages) and the vendor's
 * settings.  SPDX-License-Identifier: MIT */
#include "gh.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

/* ---- messages and settings ----------------------------------------------- */

int ghv_fail(ghv_ctx *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = apv_vfail(c->host, c->call, c->ref, status, fmt, ap);
    va_end(ap);
    return status;
}

void ghv_log(ghv_ctx *c, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    apv_vlog(c->host, c->call, c->ref, level, fmt, ap);
    va_end(ap);
}

const char *ghv_env(ghv_ctx *c, const char *name)
{
    return apv_env(c->host, c->call, name);
}

const char *ghv_option(ghv_ctx *c, const char *key)
{
    char name[64];
    size_t i;
    const char *v = c->host->option ? c->host->option(c->call, key) : NULL;
    if (v && *v)
        return v;
    i = (size_t)snprintf(name, sizeof name, "AP_GITHUB_");
    for (; *key && i + 1 < sizeof name; key++)
        name[i++] = (char)toupper((unsigned char)*key);
    name[i] = '\0';
    return ghv_env(c, name);
}

int ghv_truthy(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
                 strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0);
}

void ghv_utc(int64_t t, char *out, size_t outlen)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, outlen, "@%lld", (long long)t);
}

/* Length of "scheme://authority", 0 when malformed. */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p || p == url)
        return 0;
    p += 3;
    return (size_t)(p - url) + strcspn(p, "/?#");
}

int ghv_same_origin(const char *a, const char *b)
{
    size_t n = origin_len(a), m = origin_len(b);
    return n && n == m && strncasecmp(a, b, n) == 0;
}

/* Host name of an http(s) URL (no port, brackets, user info). */
static int url_host(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://"), *h, *e, *at;
    size_t n;
    if (!p)
        return 0;
    h = p + 3;
    e = h + strcspn(h, "/?#");
    at = memchr(h, '@', (size_t)(e - h));
    if (at)
        return 0; /* credentials in the API URL are refused */
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(e - h));
        if (!rb)
            return 0;
        h++;
        n = (size_t)(rb - h);
    } else {
        const char *colon = memchr(h, ':', (size_t)(e - h));
        n = (size_t)((colon ? colon : e) - h);
    }
    if (!n || n >= outlen)
        return 0;
    memcpy(out, h, n);
    out[n] = '\0';
    return 1;
}

static char *trim_dup(const char *s)
{
    size_t n;
    while (*s && isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

/* A .pub file (absolute path) or the key itself ("RW..."). */
static int setup_minisign_key(ghv_ctx *c)
{
    const char *v = ghv_option(c, "minisign_key");
    if (!v)
        return AP_OK;
    c->minisign_src = "minisign_key";
    if (v[0] == '/') {
        FILE *f = fopen(v, "re");
        char buf[512];
        size_t n;
        if (!f)
            return ghv_fail(c, AP_EINVAL, "minisign public key file %s: %s", v,
                            strerror(errno));
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        if (n == 0 || n == sizeof buf - 1)
            return ghv_fail(c, AP_EINVAL, "minisign public key file %s: %s", v,
                            n ? "too large for a public key" : "empty");
        c->minisign_key = trim_dup(buf);
    } else
        c->minisign_key = trim_dup(v);
    if (!c->minisign_key)
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    return AP_OK;
}

int ghv_setup(ghv_ctx *c)
{
    static const char *const vars[] = { "GH_TOKEN", "GITHUB_TOKEN" };
    const char *v, *api_src = "default";
    size_t i, n;

    /* API base: the option, else GITHUB_API_URL, else api.github.com. */
    v = c->host->option ? c->host->option(c->call, "api_url") : NULL;
    if (v && *v)
        api_src = "option api_url";
    else if ((v = ghv_env(c, "GITHUB_API_URL")))
        api_src = "GITHUB_API_URL";
    else
        v = GHV_DEFAULT_API;
    if (!(c->api = strdup(v)))
        return ghv_fail(c, AP_ENOMEM, "out of memory");
    n = strlen(c->api);
    while (n && c->api[n - 1] == '/')
        c->api[--n] = '\0';
    if ((strncasecmp(c->api, "http://", 7) != 0 && strncasecmp(c->api, "https://", 8) != 0) ||
        strpbrk(c->api, "?# \t") || !url_host(c->api, c->api_host, sizeof c->api_host))
        return ghv_fail(c, AP_EINVAL, "API URL '%s' (from %s) is not an http(s) URL "
                        "without credentials", c->api, api_src);

    /* Token: the option, else GH_TOKEN, else GITHUB_TOKEN. */
    v = c->host->option ? c->host->option(c->call, "token") : NULL;
    if (v && *v) {
        c->token_src = "option token";
        if (!(c->token = trim_dup(v)))
            return ghv_fail(c, AP_ENOMEM, "out of memory");
    }
    for (i = 0; !c->token && i < sizeof vars / sizeof *vars; i++) {
        if (!(v = ghv_env(c, vars[i])))
            continue;
        if (!(c->token = trim_dup(v)))
            return ghv_fail(c, AP_ENOMEM, "out of memory");
        c->token_src = vars[i];
        if (!*c->token) { /* blanks only: as if unset */
            free(c->token);
            c->token = NULL;
        }
    }
    if (c->token && !*c->token) {
        free(c->token);
        c->token = NULL;
    }
    if (c->token && strpbrk(c->token, "\r\n"))
        return ghv_fail(c, AP_EINVAL, "the token from %s contains a line break",
                        c->token_src);

    c->rate_wait = GHV_DEFAULT_RATE_WAIT;
    if ((v = ghv_option(c, "rate_limit_wait"))) {
        char *end;
        unsigned long w;
        errno = 0;
        w = strtoul(v, &end, 10);
        if (errno || *end || end == v || w > 86400)
            return ghv_fail(c, AP_EINVAL, "rate_limit_wait '%s' is not a number of "
                            "seconds (0 to 86400)", v);
        c->rate_wait = (unsigned)w;
    }
    c->require_verified = ghv_truthy(ghv_option(c, "require_verified"));
    return setup_minisign_key(c);
}

/* ---- waiting ----------------------------------------------------------------- */

int ghv_wait(ghv_ctx *c, unsigned secs)
{
    struct timespec now, end, step = { 0, 100 * 1000 * 1000 };
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += (time_t)secs;
    for (;;) {
        if (c->host->is_cancelled(c->call))
            return ghv_fail(c, AP_ECANCELLED, "cancelled while waiting for the "
                            "GitHub API rate limit");
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec ||
            (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            return AP_OK;
        nanosleep(&step, NULL);
    }
}

/* ---- requests ------------------------------------------------------------------ */

static int parse_secs(const char *v, int64_t *out)
{
    char *end;
    long long x;
    if (!v)
        return 0;
    errno = 0;
    x = strtoll(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || end == v || *end || x < 0)
        return 0;
    *out = x;
    return 1;
}

/* Seconds to wait (>= 0) when resp is a rate limit, -1 when it is not;
 * *until gets the epoch time it ends. */
static int64_t rate_limited(ghv_ctx *c, const ap_http_response *resp, int64_t *until,
                            const char **why)
{
    const char *rem, *reset, *ra;
    int64_t now = (int64_t)time(NULL), t;
    if (resp->status != 403 && resp->status != 429)
        return -1;
    ra = c->host->http_header(resp, "retry-after");
    rem = c->host->http_header(resp, "x-ratelimit-remaining");
    reset = c->host->http_header(resp, "x-ratelimit-reset");
    if (parse_secs(ra, &t)) {
        *why = "retry-after";
        *until = now + t;
        return t;
    }
    if (rem && strcmp(rem, "0") == 0) {
        *why = "x-ratelimit-remaining: 0";
        if (parse_secs(reset, &t)) {
            *until = t > now ? t : now;
            return t > now ? t - now : 0;
        }
        *until = now + 60; /* no reset given: GitHub's documented minimum */
        return 60;
    }
    if (resp->status == 429) {
        *why = "429 without retry-after";
        *until = now + 60;
        return 60;
    }
    return -1;
}

int ghv_api_get(ghv_ctx *c, const char *url, const char *accept, size_t max_body,
                ap_http_response **out)
{
    char acc[128];
    const char *hdrs[4];
    ap_http_request req = AP_HTTP_REQUEST_INIT;
    unsigned tries = 0;
    int rc;

    snprintf(acc, sizeof acc, "Accept: %s", accept ? accept : "application/vnd.github+json");
    hdrs[0] = acc;
    hdrs[1] = "X-GitHub-Api-Version: " GHV_API_VERSION;
    hdrs[2] = GHV_UA;
    hdrs[3] = NULL;
    req.url = url;
    req.headers = hdrs;
    /* The token goes to the API's own origin only; the host drops it (and
     * the headers) when a redirect leaves that host. */
    req.bearer = c->token && ghv_same_origin(url, c->api) ? c->token : NULL;
    req.follow_redirects = 1;
    req.max_body = max_body;
    for (;;) {
        ap_http_response *resp = NULL;
        int64_t until = 0, wait;
        const char *why = NULL;
        char when[64];
        rc = c->host->http(c->call, &req, &resp);
        if (rc != AP_OK)
            return rc;
        wait = rate_limited(c, resp, &until, &why);
        if (wait < 0) {
            *out = resp;
            return AP_OK;
        }
        c->host->http_free(resp);
        ghv_utc(until, when, sizeof when);
        if (wait > (int64_t)c->rate_wait || tries >= GHV_MAX_RATE_RETRIES)
            return ghv_fail(c, AP_ERATELIMIT, "GitHub API rate limit reached (%s); "
                            "retry after %s (in %lld s; this vendor waits up to "
                            "rate_limit_wait=%u s)%s", why, when, (long long)wait,
                            c->rate_wait,
                            c->token ? "" : "; a token (GH_TOKEN) raises the limit");
        tries++;
        ghv_log(c, AP_LOG_WARN, "GitHub API rate limit reached (%s): waiting %lld s, "
                "until %s", why, (long long)wait, when);
        if ((rc = ghv_wait(c, (unsigned)wait)) != AP_OK)
            return rc;
    }
}

int ghv_api_error(ghv_ctx *c, const ap_http_response *resp, const char *what)
{
    char msg[256] = "";
    json_t *j = resp->body_len ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
    if (m)
        snprintf(msg, sizeof msg, " (\"%.200s\")", m);
    json_decref(j);
    if (resp->status == 401) {
        if (c->token)
            return ghv_fail(c, AP_EAUTH, "%s: token refused by %s (HTTP 401%s; the token "
                            "from %s is invalid or expired: fix or unset it)", what,
                            c->api, msg, c->token_src);
        return ghv_fail(c, AP_EAUTH, "%s: authentication required by %s (HTTP 401%s; "
                        "set GH_TOKEN or GITHUB_TOKEN)", what, c->api, msg);
    }
    if (resp->status == 403)
        return ghv_fail(c, AP_EAUTH, "%s: access denied by %s (HTTP 403%s; %s)", what,
                        c->api, msg, c->token ? "does the token have access to the "
                        "repository?" : "set GH_TOKEN or GITHUB_TOKEN to a token with "
                        "access");
    return ghv_fail(c, AP_EHTTP, "%s: unexpected HTTP %ld from %s%s", what,
                    resp->status, c->api, msg);
}
