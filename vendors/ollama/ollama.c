/* libartifactprov — the Ollama vendor (ap-vendor-ollama.so): serves
 * ollama:[SCHEME://][HOST/][NS/]MODEL[:TAG] from an Ollama registry (the
 * distribution v2 subset ollama speaks: registry.c), from the local Ollama
 * store when that holds the manifest, or from what the catalog holds when
 * the registry cannot be reached; imports an Ollama store (`scan`) and
 * publishes into one (`publish`, publish.c).  docs/vendor-ollama.md.
 *
 * Layout: {models}/manifests/{host}/{ns}/{model}/{tag} (JSON: config and
 * layers {mediaType, digest "sha256:<hex>", size}) and
 * {models}/blobs/sha256-<hex>.  {models} is $OLLAMA_MODELS, else
 * $HOME/.ollama/models (read through host->getenv).  Every read goes
 * through the host beneath {models} (links leading out refused, FIFOs
 * never opened); the digests are the host's, computed from the bytes.
 *
 * An entry's files: manifest.json (the manifest bytes, verbatim), 
 * config.json (the config blob) and one file per layer named after its
 * media type (olv_layer_name): model.gguf, template, params, system,
 * license, messages, projector.gguf, adapter.gguf...
 * SPDX-License-Identifier: MIT */
#include "olv.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#define OLV_VERSION "0.2.0"
#define OLV_GRAMMAR "ollama:[SCHEME://][HOST/][NS/]MODEL[:TAG]"

static int host_usable(const ap_host *h)
{
    return h && h->abi_version == AP_VENDOR_ABI_VERSION &&
           AP_HOST_HAS(h, add_file) && AP_HOST_HAS(h, set_artifact) &&
           AP_HOST_HAS(h, set_error) && AP_HOST_HAS(h, getenv) &&
           AP_HOST_HAS(h, read_beneath);
}

static int olv_create(const ap_host *host, void **state)
{
    olv_state *st;
    size_t n;
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

static void olv_destroy(void *state)
{
    free(state);
}

int olv_is_hex64(const char *s)
{
    size_t i;
    for (i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

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

/* ---- names (ollama's types/model/name.go) --------------------------------- */

enum { K_HOST, K_NS, K_MODEL, K_TAG };

static int alnum_(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* isValidPart: first an alphanumeric or '_', then also '-', '_', '.'
 * (not in a namespace) and ':' (host only); 1..80 bytes (host 350). */
static int valid_part(int kind, const char *s, size_t len)
{
    size_t i;
    if (len < 1 || len > (kind == K_HOST ? 350u : 80u) || !alnum_(s[0]))
        return 0;
    for (i = 1; i < len; i++) {
        char c = s[i];
        if (c == '-' || c == '_' || alnum_(c))
            continue;
        if (c == '.' && kind != K_NS)
            continue;
        if (c == ':' && kind == K_HOST)
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
    if (!valid_part(kind, src, len) || len >= cap) {
        snprintf(msg, msglen, "invalid %s '%.*s' (ollama's name rules: a letter, digit "
                 "or '_' first, then also '-', '_'%s; at most %u bytes)", what,
                 (int)(len > 100 ? 100 : len), src,
                 kind == K_HOST ? ", '.', ':'" : kind == K_NS ? "" : ", '.'",
                 kind == K_HOST ? 350u : 80u);
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
        if (set_part(r->tag, sizeof r->tag, K_TAG, colon + 1,
                     len - (size_t)(colon + 1 - s), "tag", msg, msglen) != 0)
            return -1;
        len = (size_t)(colon - s);
    }
    slash = last_of(s, len, '/');
    if (!slash)
        return set_part(r->model, sizeof r->model, K_MODEL, s, len, "model", msg, msglen);
    if (set_part(r->model, sizeof r->model, K_MODEL, slash + 1,
                 len - (size_t)(slash + 1 - s), "model", msg, msglen) != 0)
        return -1;
    len = (size_t)(slash - s);
    slash = last_of(s, len, '/');
    if (!slash)
        return set_part(r->ns, sizeof r->ns, K_NS, s, len, "namespace", msg, msglen);
    if (set_part(r->ns, sizeof r->ns, K_NS, slash + 1, len - (size_t)(slash + 1 - s),
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
    return set_part(r->host, sizeof r->host, K_HOST, s, len, "host", msg, msglen);
}

void olv_canonical(const olv_ref *r, char *buf, size_t len)
{
    snprintf(buf, len, "ollama:%s/%s/%s:%s", r->host, r->ns, r->model, r->tag);
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
static char *file_url(const char *root, const char *rel)
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
        if (src->with_url && !(f.url = url = file_url(src->models, local)))
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
        if (src->with_url && !(mf.url = murl = file_url(src->models, src->manifest_rel))) {
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

/* ---- resolve -------------------------------------------------------------- */

/* The local Ollama store holds the manifest: serve it from there (no
 * network).  AP_ENOTFOUND when it does not. */
static int resolve_local(const ap_host *h, ap_vendor_call *call, const char *ref,
                         const olv_ref *r)
{
    char rel[1100], msg[256], *models, *doc;
    size_t len = 0;
    olv_source src;
    int rc;

    {
        /* no usable default store (neither variable, or a relative path):
         * nothing to look at, and no error to leave behind */
        const char *v = h->getenv(call, "OLLAMA_MODELS");
        if (v && *v ? v[0] != '/' : !(v = h->getenv(call, "HOME")) || v[0] != '/')
            return AP_ENOTFOUND;
    }
    if (!(models = olv_models_dir(h, call, NULL)))
        return AP_ENOTFOUND;
    if (!(doc = malloc(OLV_MAX_MANIFEST + 1))) {
        free(models);
        return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    snprintf(rel, sizeof rel, "manifests/%s/%s/%s/%s", r->host, r->ns, r->model, r->tag);
    rc = h->read_beneath(call, models, rel, doc, OLV_MAX_MANIFEST + 1, &len);
    if (rc == AP_ENOTFOUND) {
        /* not there: the registry decides */
    } else if (rc == AP_ENOMEM) {
        rc = h->set_error(call, rc, "out of memory");
    } else if (rc != AP_OK) {
        rc = h->set_error(call, rc, "%s: the manifest %s in the Ollama store %s cannot "
                          "be read", ref, rel, models);
    } else {
        memset(&src, 0, sizeof src);
        src.models = models;
        src.with_url = 1;
        src.manifest_rel = rel;
        rc = olv_add_manifest(h, call, &src, r, doc, len, msg, sizeof msg);
        if (rc == AP_ECORRUPT)
            rc = h->set_error(call, AP_ECORRUPT, "%s: manifest %s/%s: %s", ref, models,
                              rel, msg);
        else if (rc == AP_OK)
            h->log(call, AP_LOG_INFO, "%s: served from the Ollama store %s", ref, models);
    }
    free(doc);
    free(models);
    return rc;
}

typedef struct cat_collect {
    const ap_host *h;
    ap_vendor_call *call;
    const char *canon;
    char revision[65];
    int added, rc;
} cat_collect;

static int collect(void *user, const ap_vendor_entry_file *f)
{
    cat_collect *cc = user;
    ap_vendor_file vf = AP_VENDOR_FILE_INIT;
    char *url;
    if (!AP_STRUCT_COVERS(f, ap_vendor_entry_file, blob_path) || !f->path ||
        !f->sha256 || !f->blob_path || !f->entry_ref || strcmp(f->entry_ref, cc->canon))
        return 0;
    if (!(url = file_url(f->blob_path, "")))
        return cc->rc = AP_ENOMEM;
    url[strlen(url) - 1] = '\0'; /* the trailing '/' of the empty rel */
    vf.path = f->path;
    vf.size = f->size;
    vf.sha256 = f->sha256;
    vf.url = url;
    cc->rc = cc->h->add_file(cc->call, &vf);
    free(url);
    if (cc->rc != AP_OK)
        return cc->rc;
    if (f->revision && olv_is_hex64(f->revision))
        memcpy(cc->revision, f->revision, 65);
    cc->added++;
    return 0;
}

/* The registry cannot be reached: what the catalog holds for the
 * canonical reference (a pull or a scan of before) serves. */
static int resolve_from_catalog(const ap_host *h, ap_vendor_call *call, const olv_ref *r)
{
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    cat_collect cc;
    char canon[1100], name[1100];
    int rc;
    if (!AP_HOST_HAS(h, catalog_files))
        return AP_ENOTFOUND;
    olv_canonical(r, canon, sizeof canon);
    memset(&cc, 0, sizeof cc);
    cc.h = h;
    cc.call = call;
    cc.canon = canon;
    rc = h->catalog_files(call, canon, collect, &cc);
    if (cc.rc != AP_OK)
        return cc.rc;
    if (rc != AP_OK || !cc.added)
        return AP_ENOTFOUND;
    snprintf(name, sizeof name, "%s/%s/%s/%s", r->host, r->ns, r->model, r->tag);
    a.name = name;
    a.revision = cc.revision[0] ? cc.revision : NULL;
    a.canonical = canon;
    return h->set_artifact(call, &a);
}

static int unreachable(int rc)
{
    return rc == AP_EOFFLINE || rc == AP_ENETWORK || rc == AP_ETIMEDOUT ||
           rc == AP_EHTTP || rc == AP_ERATELIMIT;
}

static int olv_resolve(void *state, ap_vendor_call *call, const char *ref)
{
    const ap_host *h = &((olv_state *)state)->host;
    char msg[512];
    olv_ref r;
    int rc;

    if (olv_parse_ref(ref, &r, msg, sizeof msg) != 0)
        return h->set_error(call, AP_EINVAL, "%s: bad Ollama reference: %s; expected %s "
                            "(e.g. ollama:llama3, ollama:library/llama3:8b, "
                            "ollama:http://127.0.0.1:5000/library/tiny:latest)", ref, msg,
                            OLV_GRAMMAR);
    rc = resolve_local(h, call, ref, &r);
    if (rc != AP_ENOTFOUND)
        return rc;
    rc = olv_resolve_registry(h, call, ref, &r);
    if (unreachable(rc)) {
        /* the call's error (why the registry failed) stays: the host warns
         * with it when the catalog serves */
        int crc = resolve_from_catalog(h, call, &r);
        if (crc == AP_OK)
            return AP_OK;
        if (crc == AP_ENOMEM)
            return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    return rc;
}

/* ---- scan ----------------------------------------------------------------- */

typedef struct olv_scan {
    const ap_host *h;
    ap_vendor_call *call;
    const char *models;
    char *doc;
    olv_ref r;
} olv_scan;

static int scan_manifest(olv_scan *s, const char *rel)
{
    char msg[256];
    size_t len = 0;
    int rc;
    rc = s->h->read_beneath(s->call, s->models, rel, s->doc, OLV_MAX_MANIFEST + 1,
                                &len);
    if (rc == AP_ENOMEM)
        return rc;
    if (rc != AP_OK)
        return AP_OK; /* during a scan the host lists the failure as a warning,
                         naming the file and why (e.g. a link leading out) */
    olv_source src;
    memset(&src, 0, sizeof src);
    src.models = s->models;
    src.manifest_rel = rel;
    rc = olv_add_manifest(s->h, s->call, &src, &s->r, s->doc, len, msg, sizeof msg);
    if (rc == AP_ECORRUPT) {
        s->h->warn(s->call, "manifest %s/%s: %s", s->models, rel, msg);
        /* forget what was added of it */
        return s->h->commit_entry(s->call) == AP_ENOMEM ? AP_ENOMEM : AP_OK;
    }
    if (rc != AP_OK)
        return rc;
    return s->h->commit_entry(s->call);
}

/* manifests/{host}/{ns}/{model}/{tag}: level 0..3. */
static int scan_level(olv_scan *s, const char *dirrel, int level)
{
    char path[PATH_MAX], sub[PATH_MAX];
    struct dirent *de;
    DIR *d;
    int rc = AP_OK;

    snprintf(path, sizeof path, "%s/%s", s->models, dirrel);
    if (!(d = opendir(path))) {
        s->h->warn(s->call, "%s: %s", path, strerror(errno));
        return AP_OK;
    }
    while (rc == AP_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        char full[PATH_MAX];
        char *slot = level == 0 ? s->r.host : level == 1 ? s->r.ns
                     : level == 2 ? s->r.model : s->r.tag;
        size_t cap = level == 0 ? sizeof s->r.host : level == 1 ? sizeof s->r.ns
                     : level == 2 ? sizeof s->r.model : sizeof s->r.tag;
        size_t nl = strlen(de->d_name);
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        /* a name no reference can name (ollama's name rules) is skipped */
        if (!valid_part(level, de->d_name, nl) || nl >= cap) {
            s->h->warn(s->call, "%s: an entry with an unusable name, skipped", path);
            continue;
        }
        if (snprintf(sub, sizeof sub, "%s/%s", dirrel, de->d_name) >= (int)sizeof sub ||
            snprintf(full, sizeof full, "%s/%s", s->models, sub) >= (int)sizeof full) {
            s->h->warn(s->call, "%s: a path too long, skipped", path);
            continue;
        }
        strcpy(slot, de->d_name);
        if (level == 3) {
            rc = scan_manifest(s, sub);
            continue;
        }
        if (lstat(full, &st) != 0 || !S_ISDIR(st.st_mode)) {
            s->h->warn(s->call, "%s: a symlink or not a directory, not followed", full);
            continue;
        }
        rc = scan_level(s, sub, level + 1);
    }
    closedir(d);
    return rc;
}

static int olv_scan_store(void *state, ap_vendor_call *call, const char *dir)
{
    const ap_host *h = &((olv_state *)state)->host;
    olv_scan s;
    struct stat st;
    char mpath[PATH_MAX];
    int rc;

    if (!AP_HOST_HAS(h, commit_entry) || !AP_HOST_HAS(h, warn))
        return h->set_error(call, AP_EUNSUPPORTED, "this host cannot import a "
                            "foreign cache (no commit_entry/warn)");
    memset(&s, 0, sizeof s);
    s.h = h;
    s.call = call;
    if (!(s.models = olv_models_dir(h, call, dir)))
        return AP_EINVAL;
    snprintf(mpath, sizeof mpath, "%s/manifests", s.models);
    if (lstat(mpath, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = h->set_error(call, errno == ENOENT ? AP_ENOTFOUND : AP_EPATH,
                          "Ollama store %s: no manifests directory (%s)", s.models,
                          errno == ENOENT ? "not found" : "a symlink or not a directory");
        free((char *)s.models);
        return rc;
    }
    if (!(s.doc = malloc(OLV_MAX_MANIFEST + 1))) {
        free((char *)s.models);
        return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    rc = scan_level(&s, "manifests", 0);
    free(s.doc);
    free((char *)s.models);
    if (rc == AP_ENOMEM)
        return h->set_error(call, rc, "Ollama store scan: out of memory");
    return rc;
}

static const char *const olv_schemes[] = { "ollama", NULL };

/* The syntax of a reference, without I/O (ap_vendor.check_ref). */
static int olv_check_ref(const char *ref, char *err, size_t errlen)
{
    olv_ref r;
    return olv_parse_ref(ref, &r, err, errlen) == 0 ? AP_OK : AP_EINVAL;
}

static const ap_vendor olv_descriptor = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "ollama",
    .version = OLV_VERSION,
    .description = "Ollama models from an Ollama registry (registry.ollama.ai or "
                   "any distribution v2 registry), the local Ollama store or the "
                   "catalog when offline; imports an Ollama store and publishes "
                   "into one (option ollama_models=DIR)",
    .schemes = olv_schemes,
    .create = olv_create,
    .destroy = olv_destroy,
    .resolve = olv_resolve,
    .usage = OLV_GRAMMAR,
    .publish = olv_publish,
    .scan = olv_scan_store,
    .check_ref = olv_check_ref,
};

AP_VENDOR_ENTRY(ollama)
{
    if (!host_usable(host))
        return NULL;
    return &olv_descriptor;
}
