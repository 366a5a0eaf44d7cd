/* libartifactprov — the Ollama vendor (ap-vendor-ollama.so): serves
 * ollama:[HOST/][NS/]MODEL[:TAG] from the local Ollama store and imports
 * that store (`scan`).  Pulling from a registry is not implemented (issue
 * 10): a model whose manifest is not in the local store fails with
 * AP_ENOTFOUND.  See docs/vendor-abi.md.
 *
 * Layout: {models}/manifests/{host}/{ns}/{model}/{tag} (JSON: config and
 * layers {mediaType, digest "sha256:<hex>", size}) and
 * {models}/blobs/sha256-<hex>.  {models} is $OLLAMA_MODELS, else
 * $HOME/.ollama/models (read through host->getenv).  Every read goes
 * through the host beneath {models} (links leading out refused, FIFOs
 * never opened); the digests are the host's, computed from the bytes.
 * SPDX-License-Identifier: MIT */
#include <artifactprov/vendor.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#define OLV_VERSION "0.1.0"
#define OLV_GRAMMAR "ollama:[HOST/][NS/]MODEL[:TAG]"
#define OLV_DEFAULT_HOST "registry.ollama.ai"
#define OLV_DEFAULT_NS "library"
#define OLV_MAX_MANIFEST (1u << 20)
#define OLV_MAX_LAYERS 4096

typedef struct olv_state {
    ap_host host;   /* a zeroed copy of what the host provides */
} olv_state;

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

static int valid_component(const char *n, size_t len)
{
    size_t i;
    if (len == 0 || len > 200 || (len == 1 && n[0] == '.') ||
        (len == 2 && n[0] == '.' && n[1] == '.'))
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)n[i] <= 0x20 || n[i] == 0x7f || n[i] == '/' || n[i] == '\\')
            return 0;
    return 1;
}

static int is_hex64(const char *s)
{
    size_t i;
    for (i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

/* {models}: absolute, from $OLLAMA_MODELS or $HOME.  malloc'd or NULL
 * (why in the call's error). */
static char *models_dir(const ap_host *h, ap_vendor_call *call, const char *dir)
{
    const char *v;
    char *out;
    size_t n;
    if (dir) {
        out = strdup(dir);
    } else if ((v = h->getenv(call, "OLLAMA_MODELS")) && *v) {
        out = strdup(v);
    } else if ((v = h->getenv(call, "HOME")) && *v) {
        n = strlen(v) + sizeof "/.ollama/models";
        if ((out = malloc(n)))
            snprintf(out, n, "%s/.ollama/models", v);
    } else {
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

/* A parsed reference: the four components of the manifest path. */
typedef struct olv_ref {
    char host[256], ns[256], model[256], tag[256];
} olv_ref;

static int copy_part(char *dst, const char *src, size_t len)
{
    if (!valid_component(src, len) || len >= 256)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

static int parse_ref(const char *ref, olv_ref *r)
{
    const char *p, *parts[3], *colon;
    size_t lens[3], n = 0;
    if (strncmp(ref, "ollama:", 7) != 0)
        return -1;
    p = ref + 7;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (n == 3)
            return -1;                   /* more than HOST/NS/MODEL */
        parts[n] = p;
        lens[n] = slash ? (size_t)(slash - p) : strlen(p);
        n++;
        if (!slash)
            break;
        p = slash + 1;
    }
    /* the tag follows the last ':' of the model part */
    colon = memchr(parts[n - 1], ':', lens[n - 1]);
    if (colon) {
        size_t tl = lens[n - 1] - (size_t)(colon - parts[n - 1]) - 1;
        if (copy_part(r->tag, colon + 1, tl) != 0)
            return -1;
        lens[n - 1] = (size_t)(colon - parts[n - 1]);
    } else {
        strcpy(r->tag, "latest");
    }
    strcpy(r->host, OLV_DEFAULT_HOST);
    strcpy(r->ns, OLV_DEFAULT_NS);
    if (n == 3 && copy_part(r->host, parts[0], lens[0]) != 0)
        return -1;
    if (n >= 2 && (copy_part(r->ns, parts[n - 2], lens[n - 2]) != 0 ||
                   memchr(parts[n - 2], ':', lens[n - 2])))
        return -1;
    if (copy_part(r->model, parts[n - 1], lens[n - 1]) != 0)
        return -1;
    return 0;
}

/* "sha256:<64 hex>" → the hex, or NULL. */
static const char *layer_digest(json_t *jl, const char **media, uint64_t *size)
{
    json_t *mt = json_object_get(jl, "mediaType");
    json_t *dg = json_object_get(jl, "digest");
    json_t *sz = json_object_get(jl, "size");
    const char *d;
    if (!json_is_object(jl) || !json_is_string(mt) || !json_is_string(dg) ||
        !json_is_integer(sz) || json_integer_value(sz) < 0)
        return NULL;
    d = json_string_value(dg);
    if (strncmp(d, "sha256:", 7) != 0 || !is_hex64(d + 7))
        return NULL;
    *media = json_string_value(mt);
    *size = (uint64_t)json_integer_value(sz);
    return d + 7;
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

/* Add the files of one manifest (text in doc) and describe the artifact.
 * with_url: a resolve (the engine imports the blob from its file:// URL);
 * else a scan.  Returns AP_OK, AP_ECORRUPT (why in msg) or a failure. */
static int add_manifest(const ap_host *h, ap_vendor_call *call, const char *models,
                        const olv_ref *r, const char *doc, size_t len, int with_url,
                        char *msg, size_t msglen)
{
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    json_t *root = json_loadb(doc, len, 0, NULL), *layers, *cfg;
    char name[1100], canon[1100];
    size_t n, i;
    int rc = AP_OK;

    if (!root) {
        snprintf(msg, msglen, "not JSON");
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
    for (i = 0; rc == AP_OK && i <= n; i++) {
        json_t *jl = i < n ? json_array_get(layers, i) : cfg;
        ap_vendor_file f = AP_VENDOR_FILE_INIT;
        const char *media = NULL, *hex, *kind;
        char rel[96], local[96], *url = NULL;
        uint64_t size = 0;
        size_t k, dup = 0;
        if (i == n && !cfg)
            break;
        if (!(hex = layer_digest(jl, &media, &size))) {
            snprintf(msg, msglen, "a layer is malformed");
            rc = AP_ECORRUPT;
            break;
        }
        if (i == n)
            kind = "config.json";
        else if ((kind = strstr(media, "vnd.ollama.image.")))
            kind += strlen("vnd.ollama.image.");
        else
            kind = "layer";
        for (k = 0; k < i && k < n; k++) { /* several adapters... */
            json_t *o = json_object_get(json_array_get(layers, k), "mediaType");
            if (json_is_string(o) && strcmp(json_string_value(o), media) == 0)
                dup++;
        }
        if (dup)
            snprintf(rel, sizeof rel, "%.60s-%zu", kind, dup + 1);
        else
            snprintf(rel, sizeof rel, "%.60s", kind);
        snprintf(local, sizeof local, "blobs/sha256-%s", hex);
        f.path = rel;
        f.size = size;
        f.sha256 = hex;
        f.local_root = models;
        f.local_path = local;
        if (with_url && !(f.url = url = file_url(models, local))) {
            rc = h->set_error(call, AP_ENOMEM, "out of memory");
            break;
        }
        rc = h->add_file(call, &f);
        free(url);
    }
    if (rc == AP_OK) {
        snprintf(name, sizeof name, "%s/%s/%s/%s", r->host, r->ns, r->model, r->tag);
        snprintf(canon, sizeof canon, "ollama:%s/%s/%s:%s", r->host, r->ns, r->model,
                 r->tag);
        a.name = name;
        a.revision = r->tag;
        a.canonical = canon;
        rc = h->set_artifact(call, &a);
    }
    json_decref(root);
    return rc;
}

static int olv_resolve(void *state, ap_vendor_call *call, const char *ref)
{
    const ap_host *h = &((olv_state *)state)->host;
    char rel[1100], msg[256], *models, *doc;
    size_t len = 0;
    olv_ref r;
    int rc;

    if (parse_ref(ref, &r) != 0)
        return h->set_error(call, AP_EINVAL, "%s: bad Ollama reference; expected %s "
                            "(e.g. ollama:llama3, ollama:library/llama3:8b)", ref,
                            OLV_GRAMMAR);
    if (!(models = models_dir(h, call, NULL)))
        return AP_EINVAL;
    if (!(doc = malloc(OLV_MAX_MANIFEST + 1))) {
        free(models);
        return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    snprintf(rel, sizeof rel, "manifests/%s/%s/%s/%s", r.host, r.ns, r.model, r.tag);
    rc = h->read_beneath(call, models, rel, doc, OLV_MAX_MANIFEST + 1, &len);
    if (rc == AP_ENOTFOUND)
        rc = h->set_error(call, AP_ENOTFOUND, "%s: no manifest %s/%s/%s:%s in the "
                          "Ollama store %s (this vendor serves the local store only; "
                          "pulling from a registry is not implemented yet)", ref,
                          r.host, r.ns, r.model, r.tag, models);
    else if (rc != AP_OK)
        rc = h->set_error(call, rc, "%s: the manifest in the Ollama store %s cannot "
                          "be read", ref, models);
    else if ((rc = add_manifest(h, call, models, &r, doc, len, 1, msg, sizeof msg)) ==
             AP_ECORRUPT)
        rc = h->set_error(call, AP_ECORRUPT, "%s: manifest %s/%s: %s", ref, models,
                          rel, msg);
    free(doc);
    free(models);
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
    int rc = s->h->read_beneath(s->call, s->models, rel, s->doc, OLV_MAX_MANIFEST + 1,
                                &len);
    if (rc == AP_ENOMEM)
        return rc;
    if (rc != AP_OK)
        return AP_OK; /* during a scan the host lists the failure as a warning,
                         naming the file and why (e.g. a link leading out) */
    rc = add_manifest(s->h, s->call, s->models, &s->r, s->doc, len, 0, msg, sizeof msg);
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
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!valid_component(de->d_name, strlen(de->d_name)) || strlen(de->d_name) >= 256) {
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
    if (!(s.models = models_dir(h, call, dir)))
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

static const ap_vendor olv_descriptor = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "ollama",
    .version = OLV_VERSION,
    .description = "Ollama models from the local Ollama store (no registry pull "
                   "yet); imports that store",
    .schemes = olv_schemes,
    .create = olv_create,
    .destroy = olv_destroy,
    .resolve = olv_resolve,
    .usage = OLV_GRAMMAR,
    .scan = olv_scan_store,
};

AP_VENDOR_ENTRY(ollama)
{
    if (!host_usable(host))
        return NULL;
    return &olv_descriptor;
}
