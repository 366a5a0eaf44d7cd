/* libartifactprov — mirrors tried before a file's origin (docs/fleet.md).
 * SPDX-License-Identifier: MIT */
#include "mirrors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

typedef struct mirror {
    char *prefix;   /* URL prefix it stands for; NULL: content-addressed */
    char *base;     /* no trailing '/' */
} mirror;

/* What failed at a mirror: kept with the parsed list, which a job parses
 * once, so that a mirror is reported once per job however many engine
 * calls (batches) the job makes. */
typedef struct fails {
    size_t tried, count;
    const char *label;  /* of the first file that failed there (reported
                           in the call that saw it fail) */
    int reported;
    int status;
    char first[APX_ERRMSG_MAX];
} fails;

struct apx_mirrors {
    mirror *m;
    fails *fl;      /* per mirror */
    size_t n;
};

#define DONE ((size_t)-1)

static int is_http(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 && u[7] && u[7] != '/') ||
           (strncmp(u, "https://", 8) == 0 && u[8] && u[8] != '/');
}

static char *strip_slash(const char *s, size_t len)
{
    while (len && s[len - 1] == '/')
        len--;
    return apx_strndup(s, len);
}

static int add_spec(apx_mirrors *ms, const char *spec, size_t len,
                    apx_error *err)
{
    char *s = apx_strndup(spec, len), *eq;
    mirror *m;
    int rc = AP_OK;
    if (!s)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    /* PREFIX=BASE: split before the base's scheme (a prefix may hold '=') */
    eq = strstr(s, "=http://");
    if (!eq)
        eq = strstr(s, "=https://");
    m = &ms->m[ms->n];
    memset(m, 0, sizeof *m);
    if (eq) {
        *eq = '\0';
        if (!is_http(s) || !is_http(eq + 1))
            rc = AP_EINVAL;
        else if (!(m->prefix = strip_slash(s, strlen(s))) ||
                 !(m->base = strip_slash(eq + 1, strlen(eq + 1))))
            rc = AP_ENOMEM;
        if (eq)
            *eq = '=';
    } else if (!is_http(s) || strpbrk(s, "?#")) {
        rc = AP_EINVAL;
    } else if (!(m->base = strip_slash(s, strlen(s)))) {
        rc = AP_ENOMEM;
    }
    if (rc == AP_OK)
        ms->n++;
    else {
        char *shown = apx_url_redact(s);
        free(m->prefix);
        free(m->base);
        if (rc == AP_ENOMEM)
            apx_error_set(err, rc, "out of memory");
        else
            apx_error_set(err, rc, "mirror '%s': want BASE (content-"
                          "addressed, BASE/sha256/<hex>) or PREFIX=BASE, "
                          "http(s) URLs", shown ? shown : "?");
        free(shown);
    }
    free(s);
    return rc;
}

int apx_mirrors_parse(const char *const *specs, const char *env,
                      apx_mirrors **out, apx_error *err)
{
    apx_mirrors *ms;
    size_t cap = 0, i;
    const char *p;
    int rc = AP_OK;
    *out = NULL;
    if (specs)
        while (specs[cap])
            cap++;
    else if (env)
        for (p = env; *p; p++)
            cap += !isspace((unsigned char)*p) &&
                   (p == env || isspace((unsigned char)p[-1]));
    if (!cap)
        return AP_OK;
    ms = apx_calloc(1, sizeof *ms);
    if (!ms || !(ms->m = apx_calloc(cap, sizeof *ms->m)) ||
        !(ms->fl = apx_calloc(cap, sizeof *ms->fl))) {
        if (ms)
            free(ms->m);
        free(ms);
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    }
    for (i = 0; specs && specs[i] && rc == AP_OK; i++)
        rc = add_spec(ms, specs[i], strlen(specs[i]), err);
    for (p = specs ? "" : env; *p && rc == AP_OK;) {
        size_t len;
        while (isspace((unsigned char)*p))
            p++;
        for (len = 0; p[len] && !isspace((unsigned char)p[len]); len++)
            ;
        if (len)
            rc = add_spec(ms, p, len, err);
        p += len;
    }
    if (rc != AP_OK) {
        apx_mirrors_free(ms);
        return rc;
    }
    *out = ms;
    return AP_OK;
}

void apx_mirrors_free(apx_mirrors *ms)
{
    size_t i;
    if (!ms)
        return;
    for (i = 0; i < ms->n; i++) {
        free(ms->m[i].prefix);
        free(ms->m[i].base);
    }
    free(ms->m);
    free(ms->fl);
    free(ms);
}

size_t apx_mirrors_count(const apx_mirrors *ms)
{
    return ms ? ms->n : 0;
}

char *apx_mirror_url(const apx_mirrors *ms, size_t i, const char *url,
                     const char *sha256)
{
    const mirror *m;
    char hex[65];
    size_t k, pl;
    if (!ms || i >= ms->n || !url || !sha256 || strlen(sha256) != 64)
        return NULL;
    m = &ms->m[i];
    if (m->prefix) {
        pl = strlen(m->prefix);
        if (strncmp(url, m->prefix, pl) != 0 ||
            (url[pl] && url[pl] != '/' && url[pl] != '?'))
            return NULL;
        return apx_asprintf("%s%s", m->base, url + pl);
    }
    for (k = 0; k < 64; k++)
        hex[k] = (char)tolower((unsigned char)sha256[k]);
    hex[64] = '\0';
    return apx_asprintf("%s/sha256/%s", m->base, hex);
}

/* What a failure at a mirror lets the next source try. */
static int falls_through(int status)
{
    return status != AP_ECANCELLED && status != AP_EUSER &&
           status != AP_ENOSPC && status != AP_ENOMEM;
}

typedef struct round {
    apx_fetch_file *cur;
    size_t *map;      /* cur[k] is files[map[k]] */
    char **urls;      /* mirror URL of cur[k], or NULL (origin) */
    size_t k;
} round;

/* Each pending file's next source: the first mirror at or after next[i]
 * that applies, else its origin (next[i] = the mirror count). */
static int plan_round(const apx_mirrors *ms, apx_fetch_file *files, size_t n,
                      size_t *next, round *r)
{
    size_t i, nm = ms->n;
    r->k = 0;
    for (i = 0; i < n; i++) {
        apx_fetch_file *c;
        char *u = NULL;
        if (next[i] == DONE)
            continue;
        while (next[i] < nm &&
               !(u = apx_mirror_url(ms, next[i], files[i].url, files[i].sha256)))
            next[i]++;
        c = &r->cur[r->k];
        *c = files[i];
        c->status = AP_OK;
        c->bytes_fetched = 0;
        c->ranges_peak = 0;
        if (u) {
            c->url = u;
            c->headers = NULL;     /* the origin's headers and credentials */
            c->bearer = NULL;      /* are for the origin only */
            c->bearer_host = NULL;
            c->max_attempts = 1;   /* a failing mirror: the next source */
        }
        r->urls[r->k] = u;
        r->map[r->k++] = i;
    }
    return r->k > 0;
}

static void report(const apx_fetch_opts *o, const apx_mirrors *ms,
                   fails *fl)
{
    size_t i;
    for (i = 0; i < ms->n; i++) {
        char msg[APX_ERRMSG_MAX + 600], *shown;
        if (!fl[i].count || fl[i].reported)
            continue;
        fl[i].reported = 1;
        shown = apx_url_redact(ms->m[i].base);
        snprintf(msg, sizeof msg, "mirror %s failed for %zu of %zu file%s "
                 "(first: %s); trying the next source", shown ? shown : "?",
                 fl[i].count, fl[i].tried, fl[i].tried == 1 ? "" : "s",
                 fl[i].first);
        free(shown);
        (void)ap_tracker_log(o->tracker, AP_LOG_WARN, fl[i].label,
                             fl[i].status, msg);
    }
}

/* Take a round's results back into files[]; a file that failed at a
 * mirror goes on to the next source. */
static void settle_round(const apx_fetch_opts *o, const apx_mirrors *ms,
                         apx_fetch_file *files, size_t *next, round *r,
                         fails *fl)
{
    size_t k;
    for (k = 0; k < r->k; k++) {
        apx_fetch_file *f = &files[r->map[k]], *c = &r->cur[k];
        size_t i = r->map[k];
        f->status = c->status;
        f->err = c->err;
        memcpy(f->sha256_out, c->sha256_out, sizeof f->sha256_out);
        f->size_out = c->size_out;
        f->bytes_fetched += c->bytes_fetched;
        if (c->ranges_peak > f->ranges_peak)
            f->ranges_peak = c->ranges_peak;
        f->tracker_done = c->tracker_done;
        f->tracker_total = c->tracker_total;
        if (r->urls[k])
            fl[next[i]].tried++;
        if (c->status == AP_OK || !r->urls[k] || !falls_through(c->status)) {
            next[i] = DONE;
        } else {
            fails *x = &fl[next[i]];
            if (!x->count++) {
                x->status = c->status;
                x->label = f->label;
                snprintf(x->first, sizeof x->first, "%s", c->err.msg);
            }
            /* the next source counts this file's bytes again */
            apx_tracker_adjust(o->tracker, -(int64_t)c->tracker_done,
                               -(int64_t)c->tracker_total);
            next[i]++;
        }
        free(r->urls[k]);
        r->urls[k] = NULL;
    }
}

int apx_fetch_mirrored(const apx_fetch_opts *opts, apx_mirrors *ms,
                       apx_fetch_file *files, size_t n, apx_error *err)
{
    round r;
    size_t *next, i;
    fails *fl;
    int rc = AP_OK, last = AP_OK;
    if (!ms || !ms->n)
        return apx_fetch(opts, files, n, err);
    memset(&r, 0, sizeof r);
    next = apx_calloc(n, sizeof *next);
    fl = ms->fl;
    r.cur = apx_calloc(n, sizeof *r.cur);
    r.map = apx_calloc(n, sizeof *r.map);
    r.urls = apx_calloc(n, sizeof *r.urls);
    if (!next || !fl || !r.cur || !r.map || !r.urls) {
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        next[i] = files[i].sha256 ? 0 : ms->n;
        files[i].bytes_fetched = 0;
        files[i].ranges_peak = 0;
    }
    while (plan_round(ms, files, n, next, &r)) {
        apx_error e;
        apx_error_clear(&e);
        last = apx_fetch(opts, r.cur, r.k, &e);
        settle_round(opts, ms, files, next, &r, fl);
        report(opts, ms, fl);
        if (last == AP_ECANCELLED || last == AP_EUSER || last == AP_ENOSPC ||
            last == AP_ENOMEM) {
            rc = last;
            *err = e;
            break;
        }
    }
    /* the first failing file's status and message, as apx_fetch */
    for (i = 0; rc == AP_OK && i < n; i++)
        if (files[i].status != AP_OK) {
            rc = files[i].status;
            *err = files[i].err;
        }
out:
    for (i = 0; r.urls && i < r.k; i++)
        free(r.urls[i]);
    free(next);
    free(r.cur);
    free(r.map);
    free(r.urls);
    return rc;
}
