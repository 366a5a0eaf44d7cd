/* libartifactprov — the Ollama vendor (ap-vendor-ollama.so): serves
 * ollama:[SCHEME://][HOST/][NS/]MODEL[:TAG] from an Ollama registry (the
 * distribution v2 subset ollama speaks: registry.c), from the local Ollama
 * store when that holds the manifest, or from what the catalog holds when
 * the registry cannot be reached; imports an Ollama store (`scan`) and
 * publishes into one (`publish`, publish.c).  Names: name.c; the store and
 * its manifests: manifest.c.  docs/vendor-ollama.md.
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
    if (!(url = olv_file_url(f->blob_path, "")))
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
        if (!olv_valid_part(level, de->d_name, nl) || nl >= cap) {
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
