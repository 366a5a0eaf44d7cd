/* libartifactprov — Hugging Face vendor: the reference grammar.
 *
 *   hf:[datasets/|spaces/|models/]ORG/REPO[@REV][:QUANT]
 *   hf:[datasets/|spaces/|models/]ORG/REPO[@REV]/PATH
 *
 * The scheme may also be "huggingface:" (any case) and may be followed by
 * "//".  REV is a branch, tag or (short) commit; "refs/X/Y" (refs/pr/1,
 * refs/convert/parquet) keeps its two slashes; other slashes in REV are
 * written %2F (REV is percent-decoded).  PATH is taken verbatim.
 * SPDX-License-Identifier: MIT */
#include "hf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HFV_NAME_MAX 96

static int ref_err(char *err, size_t errlen, const char *fmt, ...)
    AP_PRINTF(3, 4);

static int ref_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return AP_EINVAL;
}

const char *hfv_type_url_prefix(hfv_type t)
{
    return t == HFV_DATASET ? "datasets/" : t == HFV_SPACE ? "spaces/" : "";
}

const char *hfv_type_api(hfv_type t)
{
    return t == HFV_DATASET ? "datasets" : t == HFV_SPACE ? "spaces" : "models";
}

const char *hfv_type_cache(hfv_type t)
{
    return hfv_type_api(t);
}

static int is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
           ch == '~';
}

char *hfv_pct_encode(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    const unsigned char *p;
    char *out, *o;
    if (!s)
        return NULL;
    for (p = (const unsigned char *)s; *p; p++)
        n += (is_unreserved(*p) || (keep_slash && *p == '/')) ? 1 : 3;
    if (!(out = malloc(n + 1)))
        return NULL;
    o = out;
    for (p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p) || (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

char *hfv_file_url_path(const char *path)
{
    /* RFC 3986 pchar: unreserved, sub-delims, ':' and '@' stay as they are
     * (so a host that does not decode file:// URLs still finds the file
     * for such names); everything else is %XX. */
    static const char hex[] = "0123456789ABCDEF";
    static const char keep[] = "/!$&'()*+,;=:@";
    const unsigned char *p;
    size_t n = 0;
    char *out, *o;
    if (!path)
        return NULL;
    for (p = (const unsigned char *)path; *p; p++)
        n += (is_unreserved(*p) || (*p && strchr(keep, *p))) ? 1 : 3;
    if (!(out = malloc(n + 1)))
        return NULL;
    for (o = out, p = (const unsigned char *)path; *p; p++) {
        if (is_unreserved(*p) || strchr(keep, *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* ORG or NAME: [A-Za-z0-9._-]{1,96}, not starting or ending with '.' or
 * '-', no "--" or "..". */
static int name_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > HFV_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(isalnum(ch) || ch == '.' || ch == '_' || ch == '-'))
            return 0;
        if (i > 0 && (ch == '-' || ch == '.') && s[i - 1] == (char)ch)
            return 0;
    }
    if (s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || s[n - 1] == '-')
        return 0;
    return 1;
}

static int quant_ok(const char *s)
{
    size_t n = 0;
    for (; *s; s++, n++) {
        unsigned char ch = (unsigned char)*s;
        if (!(isalnum(ch) || ch == '_' || ch == '-' || ch == '.'))
            return 0;
    }
    return n > 0 && n <= 64;
}

/* PATH: relative, no empty, "." or ".." segment, no control character,
 * no backslash. */
static const char *path_problem(const char *p)
{
    const char *seg = p, *s;
    if (!*p)
        return "empty file path";
    for (s = p; ; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '/' || ch == '\0') {
            size_t n = (size_t)(s - seg);
            if (n == 0)
                return ch ? "empty path segment ('//' or a leading/trailing '/')"
                          : "file path ends with '/' (PATH must name a file)";
            if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return "'.' or '..' in the file path";
            if (!ch)
                break;
            seg = s + 1;
        } else if (ch < 0x20 || ch == 0x7f) {
            return "control character in the file path";
        } else if (ch == '\\') {
            return "backslash in the file path";
        }
    }
    if (strlen(p) > 4096)
        return "file path too long";
    return NULL;
}

void hfv_ref_clear(hfv_ref *r)
{
    if (!r)
        return;
    free(r->repo);
    free(r->rev);
    free(r->quant);
    free(r->path);
    memset(r, 0, sizeof *r);
}

static int strip_scheme(const char **s)
{
    static const char *const schemes[] = { "hf:", "huggingface:", NULL };
    size_t i;
    for (i = 0; schemes[i]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncasecmp(*s, schemes[i], n) == 0) {
            *s += n;
            if ((*s)[0] == '/' && (*s)[1] == '/')
                *s += 2;
            return 1;
        }
    }
    return 0;
}

static int parse_inner(const char *ref, hfv_ref *out, char *err, size_t errlen)
{
    const char *s, *org, *name, *p;
    size_t norg, nname;
    int bad;

    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (!ref)
        return ref_err(err, errlen, "no reference");
    s = ref;
    if (!strip_scheme(&s))
        return ref_err(err, errlen, "scheme must be 'hf:' or 'huggingface:'");

    out->type = HFV_MODEL;
    if (strncmp(s, "datasets/", 9) == 0) {
        out->type = HFV_DATASET;
        s += 9;
    } else if (strncmp(s, "spaces/", 7) == 0) {
        out->type = HFV_SPACE;
        s += 7;
    } else if (strncmp(s, "models/", 7) == 0) {
        s += 7;
    }

    org = s;
    norg = strcspn(org, "/@:");
    if (org[norg] != '/')
        return ref_err(err, errlen, norg ? "missing '/REPO' after the organisation"
                                         : "missing ORG/REPO");
    if (!name_ok(org, norg))
        return ref_err(err, errlen, "invalid organisation '%.*s' (letters, digits, "
                       "'-', '_', '.'; at most %d)", (int)(norg > 100 ? 100 : norg),
                       org, HFV_NAME_MAX);
    name = org + norg + 1;
    nname = strcspn(name, "/@:");
    if (!name_ok(name, nname))
        return ref_err(err, errlen, nname ? "invalid repository name '%.*s' (letters, "
                       "digits, '-', '_', '.'; at most %d)" : "missing repository name%.*s",
                       (int)(nname > 100 ? 100 : nname), name, HFV_NAME_MAX);
    if (!(out->repo = malloc(norg + 1 + nname + 1)))
        goto oom;
    memcpy(out->repo, org, norg + 1 + nname);
    out->repo[norg + 1 + nname] = '\0';
    p = name + nname;

    if (*p == '@') {
        const char *rev = ++p;
        size_t nrev;
        if (strncmp(rev, "refs/", 5) == 0) {
            /* refs/X/Y: exactly two more components. */
            const char *a = rev + 5;
            size_t na = strcspn(a, "/:");
            const char *b;
            size_t nb;
            if (na == 0 || a[na] != '/')
                goto badrefs;
            b = a + na + 1;
            nb = strcspn(b, "/:");
            if (nb == 0)
                goto badrefs;
            if (na == 2 && strncmp(a, "pr", 2) == 0) {
                size_t i;
                for (i = 0; i < nb; i++)
                    if (!isdigit((unsigned char)b[i]))
                        return ref_err(err, errlen, "'@refs/pr/N' needs a pull-request "
                                       "number, got '%.*s'", (int)(nb > 40 ? 40 : nb), b);
            }
            nrev = (size_t)(b + nb - rev);
        } else {
            nrev = strcspn(rev, "/:");
        }
        if (nrev == 0)
            return ref_err(err, errlen, "empty revision after '@'");
        /* The limit is on the decoded revision: the canonical form of an
         * accepted reference (percent-encoded) must parse again. */
        if (nrev > 3 * 255)
            return ref_err(err, errlen, "revision too long");
        out->rev = apv_pct_decode(rev, nrev, 1, &bad);
        if (!out->rev) {
            if (bad) {
                hfv_ref_clear(out);
                return ref_err(err, errlen, "bad percent-escape or control character "
                               "in the revision");
            }
            goto oom;
        }
        if (strlen(out->rev) > 255) {
            hfv_ref_clear(out);
            return ref_err(err, errlen, "revision too long");
        }
        if (strstr(out->rev, "..") || out->rev[0] == '/' ||
            out->rev[strlen(out->rev) - 1] == '/') {
            hfv_ref_clear(out);
            return ref_err(err, errlen, "invalid revision");
        }
        p = rev + nrev;
    }

    if (*p == ':') {
        p++;
        if (!quant_ok(p)) {
            hfv_ref_clear(out);
            return ref_err(err, errlen, *p ? "invalid QUANT tag '%.40s' (letters, digits, "
                           "'_', '-', '.')" : "empty QUANT tag after ':'%s", p);
        }
        if (!(out->quant = strdup(p)))
            goto oom;
        if (strcasecmp(out->quant, "default") == 0) {
            memcpy(out->quant, "default", 8);
        } else {
            char *q;
            for (q = out->quant; *q; q++)
                *q = (char)toupper((unsigned char)*q);
        }
    } else if (*p == '/') {
        const char *why;
        p++;
        if ((why = path_problem(p)) != NULL) {
            hfv_ref_clear(out);
            return ref_err(err, errlen, "%s", why);
        }
        if (!(out->path = strdup(p)))
            goto oom;
    } else if (*p != '\0') {
        hfv_ref_clear(out);
        return ref_err(err, errlen, "unexpected '%c' after the repository", *p);
    }
    return AP_OK;

badrefs:
    hfv_ref_clear(out);
    return ref_err(err, errlen, "a revision starting with 'refs/' must be "
                   "'refs/KIND/NAME' (e.g. refs/pr/1)");
oom:
    hfv_ref_clear(out);
    ref_err(err, errlen, "out of memory");
    return AP_ENOMEM;
}

/* REV for the canonical form: keeps "refs/X/Y", encodes other unsafe bytes. */
static char *canonical_rev(const char *rev)
{
    if (strncmp(rev, "refs/", 5) == 0) {
        const char *a = rev + 5, *slash = strchr(a, '/');
        if (slash && !strchr(slash + 1, '/')) {
            char *x = hfv_pct_encode(a, 1);
            char *outp;
            size_t n;
            if (!x)
                return NULL;
            n = strlen(x) + 6;
            outp = malloc(n);
            if (outp)
                snprintf(outp, n, "refs/%s", x);
            free(x);
            return outp;
        }
    }
    return hfv_pct_encode(rev, 0);
}

char *hfv_ref_canonical(const hfv_ref *r)
{
    char *rev = NULL, *out;
    size_t n;
    if (r->rev && !(rev = canonical_rev(r->rev)))
        return NULL;
    n = 3 + strlen(hfv_type_url_prefix(r->type)) + strlen(r->repo) +
        (rev ? strlen(rev) + 1 : 0) + (r->quant ? strlen(r->quant) + 1 : 0) +
        (r->path ? strlen(r->path) + 1 : 0) + 1;
    if ((out = malloc(n)) != NULL)
        snprintf(out, n, "hf:%s%s%s%s%s%s", hfv_type_url_prefix(r->type), r->repo,
                 rev ? "@" : "", rev ? rev : "",
                 r->quant ? ":" : r->path ? "/" : "",
                 r->quant ? r->quant : r->path ? r->path : "");
    free(rev);
    return out;
}

int hfv_ref_parse(const char *ref, hfv_ref *out, char *err, size_t errlen)
{
    int rc = parse_inner(ref, out, err, errlen);
    if (rc != AP_OK)
        hfv_ref_clear(out);
    return rc;
}
