/* A complete third-party vendor, built out of tree against the installed
 * headers only:  make -C examples/vendor-template
 *
 * Scheme "localdir:": `localdir:/abs/dir` provisions every regular file of a
 * local directory (one level) — the host imports file:// URLs into the
 * store (a reflink where it can, else a copy).  Copy this file to start a
 * vendor of your own: the entry symbol must be ap_vendor_<NAME>_init for a
 * file named ap-vendor-<NAME>.so, which AP_VENDOR_ENTRY(<NAME>) declares.
 * Built for vendor ABI 2 (docs/vendor-abi.md): check the host with
 * AP_HOST_HAS, fill the descriptor with designated initializers.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <artifactprov/vendor.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct state {
    ap_host host; /* our zeroed copy of the host table */
} state;

static int ld_create(const ap_host *host, void **out)
{
    state *s;
    size_t n;
    /* Same ABI version; every host member we call must be offered
     * (AP_HOST_HAS: covered by the host's struct_size and non-NULL). */
    if (host->abi_version != AP_VENDOR_ABI_VERSION ||
        !AP_HOST_HAS(host, add_file) || !AP_HOST_HAS(host, set_artifact) ||
        !AP_HOST_HAS(host, set_error))
        return AP_EABI;
    s = calloc(1, sizeof *s);
    if (!s)
        return AP_ENOMEM;
    n = host->struct_size < sizeof s->host ? host->struct_size : sizeof s->host;
    memcpy(&s->host, host, n);
    s->host.struct_size = n; /* members beyond it stay NULL */
    *out = s;
    return AP_OK;
}

static void ld_destroy(void *st) { free(st); }

static int ld_resolve(void *st, ap_vendor_call *call, const char *ref)
{
    const ap_host *h = &((state *)st)->host;
    const char *dir = strchr(ref, ':') + 1;
    ap_vendor_artifact a = AP_VENDOR_ARTIFACT_INIT;
    struct dirent *de;
    DIR *d;
    int rc = AP_OK, n = 0;

    if (dir[0] != '/')
        return h->set_error(call, AP_EINVAL, "%s: want localdir:/ABSOLUTE/DIR", ref);
    d = opendir(dir);
    if (!d)
        return h->set_error(call, AP_ENOTFOUND, "%s: cannot open directory", ref);
    a.name = strrchr(dir, '/')[1] ? strrchr(dir, '/') + 1 : "root";
    a.canonical = ref;
    rc = h->set_artifact(call, &a);
    while (rc == AP_OK && (de = readdir(d))) {
        ap_vendor_file f = AP_VENDOR_FILE_INIT;
        struct stat sb;
        char *path = NULL, *url = NULL;
        if (de->d_name[0] == '.')
            continue;
        if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
            rc = AP_ENOMEM;
            break;
        }
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
            asprintf(&url, "file://%s", path) >= 0) {
            f.path = de->d_name;
            f.size = (uint64_t)sb.st_size;
            f.url = url;
            rc = h->add_file(call, &f); /* copied by the host */
            n++;
        }
        free(path);
        free(url);
    }
    closedir(d);
    if (rc == AP_OK && n == 0)
        rc = h->set_error(call, AP_ENOTFOUND, "%s: no regular file there", ref);
    return rc;
}

static const char *const schemes[] = { "localdir", NULL };

/* Designated initializers: members appended by later headers of the same
 * ABI version stay zero (absent) without a change here. */
static const ap_vendor vendor = {
    .struct_size = sizeof(ap_vendor),
    .abi_version = AP_VENDOR_ABI_VERSION,
    .name = "localdir",
    .version = "1.0.0",
    .description = "files of a local directory (template vendor)",
    .schemes = schemes,
    .create = ld_create,
    .destroy = ld_destroy,
    .resolve = ld_resolve,
    .usage = "localdir:/ABSOLUTE/DIRECTORY",
};

/* Declares and defines ap_vendor_localdir_init with default visibility. */
AP_VENDOR_ENTRY(localdir)
{
    (void)host;
    return &vendor;
}
