/* libartifactprov — GitHub releases vendor: references and globs.
 *
 *   gh:OWNER/REPO[@TAG][/ASSET-GLOB]      (also github:)
 *
 * OWNER is a GitHub account name (letters, digits, '-'), REPO a repository
 * name (letters, digits, '-', '_', '.'; not "." or ".."). TAG ends at the
 * next '/', is percent-decoded (so a tag with a '/' is written %2F) and may
 * be a glob (* ? [...]) over the tags of the repository's releases.
 * ASSET-GLOB is an fnmatch(3) pattern over the release's asset names (which
 * never contain '/').  SPDX-License-Identifier: MIT */
#include "gh.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ghv_ref_clear(ghv_ref *r)
{
    free(r->owner);
    free(r->repo);
    free(r->tag);
    free(r->glob);
    memset(r, 0, sizeof *r);
}

int ghv_has_glob(const char *s)
{
    return s && strpbrk(s, "*?[") != NULL;
}

int ghv_glob_match(const char *glob, const char *name)
{
    return fnmatch(glob, name, 0) == 0;
}

char *ghv_pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~')
            *o++ = (char)ch;
        else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

int ghv_ref_parse(const char *ref, ghv_ref *out, char *err, size_t errlen)
{
    const char *p, *slash, *end;
    size_t n;
    int bad;

    memset(out, 0, sizeof *out);
    if (strncmp(ref, "gh:", 3) == 0)
        p = ref + 3;
    else if (strncmp(ref, "github:", 7) == 0)
        p = ref + 7;
    else {
        snprintf(err, errlen, "not a gh: reference");
        return AP_EINVAL;
    }
    if (has_ctl(ref)) {
        snprintf(err, errlen, "control character in the reference");
        return AP_EINVAL;
    }
    /* OWNER */
    slash = strchr(p, '/');
    if (!slash || slash == p) {
        snprintf(err, errlen, "missing OWNER/REPO");
        return AP_EINVAL;
    }
    for (end = p; end < slash; end++)
        if (!isalnum((unsigned char)*end) && *end != '-') {
            snprintf(err, errlen, "bad character '%c' in the owner name", *end);
            return AP_EINVAL;
        }
    if ((size_t)(slash - p) > 39) {
        snprintf(err, errlen, "owner name longer than 39 characters");
        return AP_EINVAL;
    }
    if (!(out->owner = strndup(p, (size_t)(slash - p))))
        goto oom;
    /* REPO */
    p = slash + 1;
    n = strcspn(p, "@/");
    if (n == 0) {
        snprintf(err, errlen, "missing repository name");
        goto inval;
    }
    for (end = p; end < p + n; end++)
        if (!isalnum((unsigned char)*end) && *end != '-' && *end != '_' && *end != '.') {
            snprintf(err, errlen, "bad character '%c' in the repository name", *end);
            goto inval;
        }
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || n > 100) {
        snprintf(err, errlen, "bad repository name '%.*s'", (int)(n > 100 ? 100 : n), p);
        goto inval;
    }
    if (!(out->repo = strndup(p, n)))
        goto oom;
    p += n;
    /* @TAG */
    if (*p == '@') {
        p++;
        n = strcspn(p, "/");
        if (n == 0) {
            snprintf(err, errlen, "empty tag after '@'");
            goto inval;
        }
        out->tag = apv_pct_decode(p, n, 0, &bad);
        if (!out->tag) {
            if (!bad)
                goto oom;
            snprintf(err, errlen, "bad percent escape in the tag");
            goto inval;
        }
        if (has_ctl(out->tag)) {
            snprintf(err, errlen, "control character in the tag");
            goto inval;
        }
        out->tag_glob = ghv_has_glob(out->tag);
        p += n;
    }
    /* /GLOB */
    if (*p == '/') {
        p++;
        if (!*p) {
            snprintf(err, errlen, "empty asset glob after '/'");
            goto inval;
        }
        if (strchr(p, '/')) {
            snprintf(err, errlen, "asset names have no '/' (a tag with '/' is "
                     "written with %%2F)");
            goto inval;
        }
        if (!(out->glob = strdup(p)))
            goto oom;
    } else if (*p) {
        snprintf(err, errlen, "unexpected '%s'", p);
        goto inval;
    }
    return AP_OK;
oom:
    ghv_ref_clear(out);
    snprintf(err, errlen, "out of memory");
    return AP_ENOMEM;
inval:
    ghv_ref_clear(out);
    return AP_EINVAL;
}

char *ghv_ref_canonical(const ghv_ref *r, const char *tag)
{
    char *t = NULL, *out = NULL;
    /* Only what would end the tag or be read as an escape is encoded. */
    size_t i, n = strlen(tag);
    if (!(t = malloc(3 * n + 1)))
        return NULL;
    for (i = 0, n = 0; tag[i]; i++) {
        if (tag[i] == '/' || tag[i] == '%') {
            snprintf(t + n, 4, "%%%02X", (unsigned char)tag[i]);
            n += 3;
        } else
            t[n++] = tag[i];
    }
    t[n] = '\0';
    out = r->glob ? apv_asprintf("gh:%s/%s@%s/%s", r->owner, r->repo, t, r->glob)
                  : apv_asprintf("gh:%s/%s@%s", r->owner, r->repo, t);
    free(t);
    return out;
}
