/* libartifactprov — the Ollama vendor: the Ollama store ({models}, where
 * it is) and manifests turned into an entry's files (a manifest's config
 * and layers, each with its digest, size and name).
 * SPDX-License-Identifier: MIT */
#include "olv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

char *olv_models_dir(const ap_host *h, ap_vendor_call *call, const char *dir)
{
    static const apv_env_dir rules[] = {
        { "OLLAMA_MODELS", "" },
        { "HOME", "/.ollama/models" },
    };
    char *out;
    int oom = 0;
    if (dir && *dir) {
        out = strdup(dir);
    } else if (!(out = apv_dir_from_env(h, call, rules, sizeof rules / sizeof *rules, &oom)) &&
               !oom) {
        h->set_error(call, AP_EINVAL, "no Ollama store: neither OLLAMA_MODELS nor "
                     "HOME is set");
        return NULL;
    }
    if (!out) {
        h->set_error(call, AP_ENOMEM, "out of memory");
        return NULL;
    }
    if (out[0] != '/') {
        h->set_error(call, AP_EINVAL, "the Ollama store '%s' is not an absolute path", out);
        free(out);
        return NULL;
    }
    return out;
}

/* ---- manifests ------------------------------------------------------------ */

const char *olv_layer_digest(void *json_layer, const char **media, uint64_t *size)
{
    json_t *jl = json_layer;
    json_t *mt = json_object_get(jl, "mediaType");
    json_t *dg = json_object_get(jl, "digest");
    json_t *sz = json_object_get(jl, "size");
    const char *d;
    if (!json_is_object(jl) || !json_is_string(mt) || !json_is_string(dg) ||
        !json_is_integer(sz) || json_integer_value(sz) < 0)
        return NULL;
    d = json_string_value(dg);
    if (strncmp(d, "sha256:", 7) != 0 || !olv_is_hex64(d + 7))
        return NULL;
    *media = json_string_value(mt);
    *size = (uint64_t)json_integer_value(sz);
    return d + 7;
}

void olv_layer_name(const char *media, size_t dup, char *buf, size_t len)
{
    const char *kind = strstr(media, "vnd.ollama.image.");
    char base[72];
    size_t i;
    if (kind)
        kind += strlen("vnd.ollama.image.");
    else
        kind = "layer";
    /* only [a-z0-9-] of what follows: a file name, never a path */
    for (i = 0; kind[i] && i < 60; i++) {
        char c = kind[i];
        base[i] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ? c : '-';
    }
    base[i] = '\0';
    if (!i)
        strcpy(base, "layer");
    /* the weights are GGUF files: the name says so (the core classifies
     * them from their header either way) */
    if (!strcmp(base, "model") || !strcmp(base, "projector") || !strcmp(base, "adapter")) {
        if (dup)
            snprintf(buf, len, "%s-%zu.gguf", base, dup + 1);
        else
            snprintf(buf, len, "%s.gguf", base);
    } else if (dup) {
        snprintf(buf, len, "%s-%zu", base, dup + 1);
    } else {
        snprintf(buf, len, "%s", base);
    }
}

/* Percent-encode a path for a file:// URL (RFC 3986 pchar and '/'). */
char *olv_file_url(const char *root, const char *rel)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(root) + strlen(rel) + 2, i;
    char *path = malloc(n), *out, *o;
    if (!path)
        return NULL;
    snprintf(path, n, "%s/%s", root, rel);
    out = o = malloc(strlen(path) * 3 + sizeof "file://");
    if (out) {
        o += sprintf(o, "file://");
        for (i = 0; path[i]; i++) {
            unsigned char c = (unsigned char)path[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || strchr("-._~/!$&'()*+,;=:@", c))
                *o++ = (char)c;
            else {
                *o++ = '%';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        }
        *o = '\0';
    }
    free(path);
    return out;
}

/* Layer i of n of a checked manifest (i == n: its config) as a file of the
 * entry: from the models directory or the registry's blob URL. */
static int add_layer(const ap_host *h, ap_vendor_call *call, const olv_source *src,
                     json_t *layers, json_t *jl, size_t i, size_t n)
{
    ap_vendor_file f = AP_VENDOR_FILE_INIT;
    const char *media = NULL, *hex;
    char rel[128], local[96], what[400], *url = NULL;
    uint64_t size = 0;
    size_t k, dup = 0;
    int rc;
    hex = olv_layer_digest(jl, &media, &size);
    if (i == n) {
        snprintf(rel, sizeof rel, OLV_CONFIG_FILE);
    } else {
        for (k = 0; k < i; k++) { /* several adapters... */
            json_t *o = json_object_get(json_array_get(layers, k), "mediaType");
            if (json_is_string(o) && strcmp(json_string_value(o), media) == 0)
                dup++;
        }
        olv_layer_name(media, dup, rel, sizeof rel);
    }
    snprintf(what, sizeof what, "%s %.200s sha256:%s", i == n ? "config" : "layer",
             media, hex);
    f.path = rel;
    f.size = size;
    f.sha256 = hex;
    f.describe = what;
    if (i == n || !strstr(rel, ".gguf"))
        f.flags = AP_VFILE_METADATA;
    if (src->models) {
        snprintf(local, sizeof local, "blobs/sha256-%s", hex);
        f.local_root = src->models;
        f.local_path = local;
        if (src->with_url && !(f.url = url = olv_file_url(src->models, local)))
            return h->set_error(call, AP_ENOMEM, "out of memory");
    } else {
        size_t ul = strlen(src->blob_base) + 80;
        if (!(url = malloc(ul)))
            return h->set_error(call, AP_ENOMEM, "out of memory");
        snprintf(url, ul, "%s/sha256:%s", src->blob_base, hex);
        f.url = url;
        f.bearer = src->token;
        f.bearer_host = src->token ? src->bearer_host : NULL;
    }
    rc = h->add_file(call, &f);
    free(url);
    return rc;
}

int olv_add_manifest(const ap_host *h, ap_vendor_call *call, const olv_source *src,
                     const olv_ref *r, const char *doc, size_t len, char *msg,
                     size_t msglen)
{
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    ap_vendor_file mf = AP_VENDOR_FILE_INIT;
    json_t *root = json_loadb(doc, len, 0, NULL), *layers, *cfg;
    char name[1100], canon[1100], mhex[65], *murl = NULL;
    size_t n, i;
    int rc = AP_OK;

    if (!root || !json_is_object(root)) {
        snprintf(msg, msglen, "not JSON");
        json_decref(root);
        return AP_ECORRUPT;
    }
    layers = json_object_get(root, "layers");
    cfg = json_object_get(root, "config");
    n = json_array_size(layers);
    if (!json_is_array(layers) || n > OLV_MAX_LAYERS) {
        snprintf(msg, msglen, "no layers array (or more than %u layers)", OLV_MAX_LAYERS);
        json_decref(root);
        return AP_ECORRUPT;
    }
    /* check every layer before adding any */
    for (i = 0; i <= n; i++) {
        json_t *jl = i < n ? json_array_get(layers, i) : cfg;
        const char *media;
        uint64_t size;
        if (i == n && !cfg)
            break;
        if (!olv_layer_digest(jl, &media, &size)) {
            snprintf(msg, msglen, "%s %zu is malformed (mediaType, digest sha256:<64 "
                     "hex>, size)", i == n ? "the config" : "layer", i + 1);
            json_decref(root);
            return AP_ECORRUPT;
        }
    }
    /* the manifest itself, verbatim */
    apv_sha256_buf_hex(doc, len, mhex);
    mf.path = OLV_MANIFEST_FILE;
    mf.describe = "the manifest";
    mf.size = len;
    mf.sha256 = mhex;
    mf.flags = AP_VFILE_METADATA;
    if (src->models) {
        mf.local_root = src->models;
        mf.local_path = src->manifest_rel;
        if (src->with_url && !(mf.url = murl = olv_file_url(src->models, src->manifest_rel))) {
            json_decref(root);
            return h->set_error(call, AP_ENOMEM, "out of memory");
        }
    } else {
        mf.url = src->manifest_url;
        mf.headers = src->manifest_headers;
        mf.bearer = src->token;
        mf.bearer_host = src->token ? src->bearer_host : NULL;
    }
    rc = h->add_file(call, &mf);
    free(murl);
    for (i = 0; rc == AP_OK && i <= n; i++) {
        if (i == n && !cfg)
            break;
        rc = add_layer(h, call, src, layers, i < n ? json_array_get(layers, i) : cfg, i, n);
    }
    if (rc == AP_OK) {
        snprintf(name, sizeof name, "%s/%s/%s/%s", r->host, r->ns, r->model, r->tag);
        olv_canonical(r, canon, sizeof canon);
        a.name = name;
        a.revision = mhex; /* the manifest's digest: what the tag pointed at */
        a.canonical = canon;
        rc = h->set_artifact(call, &a);
    }
    json_decref(root);
    return rc;
}
