/* libartifactprov — Hugging Face vendor: file lists, GGUF quant selection,
 * "did you mean" suggestions.  SPDX-License-Identifier: MIT */
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

hfv_file *hfv_list_add(hfv_list *l, const char *path)
{
    hfv_file *f;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        hfv_file *v;
        if (cap > SIZE_MAX / sizeof *v)
            return NULL;
        if (!(v = realloc(l->v, cap * sizeof *v)))
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    f = &l->v[l->n];
    memset(f, 0, sizeof *f);
    f->size = AP_SIZE_UNKNOWN;
    if (!(f->path = strdup(path)))
        return NULL;
    l->n++;
    return f;
}

void hfv_list_clear(hfv_list *l)
{
    size_t i;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].local);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const hfv_file *)a)->path, ((const hfv_file *)b)->path);
}

void hfv_list_sort(hfv_list *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, cmp_file);
}

static size_t select_tag(hfv_list *l, const char *tag)
{
    size_t i, n = 0;
    for (i = 0; i < l->n; i++)
        if (hfv_is_gguf(l->v[i].path) && hfv_quant_match(l->v[i].path, tag)) {
            l->v[i].selected = 1;
            n++;
        }
    return n;
}

/* Bring every part of each selected split model; check all are present. */
static int complete_splits(hfv_list *l, char *msg, size_t msglen)
{
    size_t i, j;
    for (i = 0; i < l->n; i++) {
        size_t plen;
        unsigned part, total, k;
        unsigned char *seen;
        if (!l->v[i].selected || !hfv_split_part(l->v[i].path, &plen, &part, &total))
            continue;
        if (!(seen = calloc(total + 1, 1)))
            return AP_ENOMEM;
        for (j = 0; j < l->n; j++) {
            size_t plen2;
            unsigned part2, total2;
            if (hfv_split_part(l->v[j].path, &plen2, &part2, &total2) &&
                plen2 == plen && total2 == total &&
                strncmp(l->v[j].path, l->v[i].path, plen) == 0) {
                l->v[j].selected = 1;
                seen[part2] = 1;
            }
        }
        for (k = 1; k <= total; k++)
            if (!seen[k])
                break;
        free(seen);
        if (k <= total) {
            snprintf(msg, msglen, "split model '%.*s' is incomplete: part %u of %u "
                     "is missing", (int)plen, l->v[i].path, k, total);
            return AP_ENOTFOUND;
        }
    }
    return AP_OK;
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The tags present, "Q4_K_M, Q8_0" (sorted, unique), into out. */
static void available_tags(const hfv_list *l, char *out, size_t outlen)
{
    char (*tags)[33] = NULL;
    size_t nt = 0, i, j, used = 0;
    out[0] = '\0';
    if (l->n && !(tags = calloc(l->n, sizeof *tags)))
        return;
    for (i = 0; i < l->n; i++) {
        char t[33];
        if (!hfv_quant_of(l->v[i].path, t, sizeof t))
            continue;
        for (j = 0; j < nt && strcmp(tags[j], t) != 0; j++)
            ;
        if (j == nt)
            memcpy(tags[nt++], t, sizeof t);
    }
    if (nt > 1)
        qsort(tags, nt, sizeof *tags, cmp_tag);
    for (i = 0; i < nt && used + 1 < outlen; i++) {
        int k = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", tags[i]);
        if (k < 0 || (size_t)k >= outlen - used)
            break;
        used += (size_t)k;
    }
    free(tags);
}

int hfv_select_quant(hfv_list *l, const char *quant, char *msg, size_t msglen)
{
    size_t i, ngguf = 0;
    msg[0] = '\0';
    for (i = 0; i < l->n; i++) {
        l->v[i].selected = 0;
        ngguf += hfv_is_gguf(l->v[i].path) ? 1 : 0;
    }
    if (ngguf == 0) {
        snprintf(msg, msglen, "no GGUF file in the repository, so no quant '%s' "
                 "(use the reference without ':%s' for the whole snapshot, or "
                 "'/PATH' for one file)", quant, quant);
        return AP_ENOTFOUND;
    }
    if (strcmp(quant, "default") == 0) {
        if (!select_tag(l, "Q4_K_M") && !select_tag(l, "Q8_0")) {
            /* The first GGUF that is not a projector, else the first. */
            size_t pick = l->n;
            for (i = 0; i < l->n; i++) {
                if (!hfv_is_gguf(l->v[i].path))
                    continue;
                if (pick == l->n)
                    pick = i;
                if (strncasecmp(hfv_basename(l->v[i].path), "mmproj", 6) != 0) {
                    pick = i;
                    break;
                }
            }
            l->v[pick].selected = 1;
        }
    } else if (!select_tag(l, quant)) {
        char tags[512];
        available_tags(l, tags, sizeof tags);
        snprintf(msg, msglen, "no GGUF file for quant '%s'; available: %s", quant,
                 tags[0] ? tags : "(no recognisable quant tag in the GGUF names)");
        return AP_ENOTFOUND;
    }
    return complete_splits(l, msg, msglen);
}

static const char *ext_of(const char *path)
{
    const char *b = hfv_basename(path), *dot = strrchr(b, '.');
    return dot && dot != b ? dot : NULL;
}

size_t hfv_close_names(const hfv_list *l, const char *want, size_t max,
                       char *out, size_t outlen)
{
    typedef struct { size_t idx, rank; } cand;
    cand best[8];
    size_t nb = 0, i, j, used = 0, wl = strlen(want);
    size_t near = wl / 3 > 2 ? wl / 3 : 2;
    const char *wbase = hfv_basename(want), *wext = ext_of(want);
    if (max > 8)
        max = 8;
    if (outlen)
        out[0] = '\0';
    for (i = 0; i < l->n; i++) {
        const char *p = l->v[i].path, *ext = ext_of(p);
        size_t d = hfv_edit_distance(p, want, 1000), rank;
        int same_base = strcasecmp(hfv_basename(p), wbase) == 0;
        int same_ext = wext && ext && strcasecmp(ext, wext) == 0;
        if (!same_base && !same_ext && d > near)
            continue;
        rank = (same_base ? 0 : 2000) + (d <= near ? 0 : 1000) + d;
        for (j = nb; j > 0 && best[j - 1].rank > rank; j--)
            if (j < max)
                best[j] = best[j - 1];
        if (j < max) {
            best[j].idx = i;
            best[j].rank = rank;
            if (nb < max)
                nb++;
        }
    }
    for (i = 0; i < nb && used + 1 < outlen; i++) {
        int k = snprintf(out + used, outlen - used, "%s'%s'", i ? ", " : "",
                         l->v[best[i].idx].path);
        if (k < 0 || (size_t)k >= outlen - used) {
            out[used] = '\0';
            break;
        }
        used += (size_t)k;
    }
    return nb;
}
