/* libartifactprov — the Ollama vendor: model names as ollama spells them
 * ([SCHEME://][HOST/][NS/]MODEL[:TAG], ollama's types/model/name.go) and
 * digests.  SPDX-License-Identifier: MIT */
#include "olv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

int olv_is_hex64(const char *s)
{
    size_t i;
    for (i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

/* ---- names (ollama's types/model/name.go) --------------------------------- */


static int alnum_(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* isValidPart: first an alphanumeric or '_', then also '-', '_', '.'
 * (not in a namespace) and ':' (host only); 1..80 bytes (host 350). */
int olv_valid_part(int kind, const char *s, size_t len)
{
    size_t i;
    if (len < 1 || len > (kind == OLV_K_HOST ? 350u : 80u) || !alnum_(s[0]))
        return 0;
    for (i = 1; i < len; i++) {
        char c = s[i];
        if (c == '-' || c == '_' || alnum_(c))
            continue;
        if (c == '.' && kind != OLV_K_NS)
            continue;
        if (c == ':' && kind == OLV_K_HOST)
            continue;
        return 0;
    }
    return 1;
}

static const char *last_of(const char *s, size_t len, char c)
{
    const char *p = NULL;
    size_t i;
    for (i = 0; i < len; i++)
        if (s[i] == c)
            p = s + i;
    return p;
}

static int set_part(char *dst, size_t cap, int kind, const char *src, size_t len,
                    const char *what, char *msg, size_t msglen)
{
    if (!olv_valid_part(kind, src, len) || len >= cap) {
        snprintf(msg, msglen, "invalid %s '%.*s' (ollama's name rules: a letter, digit "
                 "or '_' first, then also '-', '_'%s; at most %u bytes)", what,
                 (int)(len > 100 ? 100 : len), src,
                 kind == OLV_K_HOST ? ", '.', ':'" : kind == OLV_K_NS ? "" : ", '.'",
                 kind == OLV_K_HOST ? 350u : 80u);
        return -1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int olv_parse_ref(const char *ref, olv_ref *r, char *msg, size_t msglen)
{
    const char *s = ref, *colon, *slash, *sep;
    size_t len;

    memset(r, 0, sizeof *r);
    strcpy(r->scheme, "https");
    strcpy(r->host, OLV_DEFAULT_HOST);
    strcpy(r->ns, OLV_DEFAULT_NS);
    strcpy(r->tag, OLV_DEFAULT_TAG);
    if (strncmp(s, "ollama:", 7) == 0)
        s += 7;
    len = strlen(s);
    if (memchr(s, '@', len)) {
        snprintf(msg, msglen, "a digest (@...) is not supported: name a tag");
        return -1;
    }
    /* the tag follows a ':' that comes after the last '/' */
    colon = last_of(s, len, ':');
    slash = last_of(s, len, '/');
    if (colon && (!slash || colon > slash)) {
        if (set_part(r->tag, sizeof r->tag, OLV_K_TAG, colon + 1,
                     len - (size_t)(colon + 1 - s), "tag", msg, msglen) != 0)
            return -1;
        len = (size_t)(colon - s);
    }
    slash = last_of(s, len, '/');
    if (!slash)
        return set_part(r->model, sizeof r->model, OLV_K_MODEL, s, len, "model", msg, msglen);
    if (set_part(r->model, sizeof r->model, OLV_K_MODEL, slash + 1,
                 len - (size_t)(slash + 1 - s), "model", msg, msglen) != 0)
        return -1;
    len = (size_t)(slash - s);
    slash = last_of(s, len, '/');
    if (!slash)
        return set_part(r->ns, sizeof r->ns, OLV_K_NS, s, len, "namespace", msg, msglen);
    if (set_part(r->ns, sizeof r->ns, OLV_K_NS, slash + 1, len - (size_t)(slash + 1 - s),
                 "namespace", msg, msglen) != 0)
        return -1;
    len = (size_t)(slash - s);
    /* what is left is [SCHEME://]HOST */
    sep = len >= 3 ? strstr(s, "://") : NULL;
    if (sep && sep < s + len) {
        size_t sl = (size_t)(sep - s);
        if (!((sl == 4 && strncmp(s, "http", 4) == 0) ||
              (sl == 5 && strncmp(s, "https", 5) == 0))) {
            snprintf(msg, msglen, "unsupported scheme '%.*s' (http or https)",
                     (int)(sl > 20 ? 20 : sl), s);
            return -1;
        }
        memcpy(r->scheme, s, sl);
        r->scheme[sl] = '\0';
        len -= sl + 3;
        s = sep + 3;
    }
    return set_part(r->host, sizeof r->host, OLV_K_HOST, s, len, "host", msg, msglen);
}

void olv_canonical(const olv_ref *r, char *buf, size_t len)
{
    snprintf(buf, len, "ollama:%s/%s/%s:%s", r->host, r->ns, r->model, r->tag);
}
