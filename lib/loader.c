/* libartifactprov — vendor plugin loader.  SPDX-License-Identifier: MIT
 *
 * Plugins `ap-vendor-NAME.so` export `ap_vendor_NAME_init` ('-' → '_').
 * Checks (docs/vendor-abi.md, "Versioning"): the same abi_version, a
 * struct long enough for every required member, required members present.
 * The descriptor is copied into a zeroed struct of our own, so members a
 * shorter vendor lacks read as NULL and members a longer (newer) one has
 * beyond our sizeof are ignored. */
#include "prov.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse(ap_provisioner *prov, int status, const char *fmt, ...)
    AP_PRINTF(3, 4);

static int refuse(ap_provisioner *prov, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    apx_error_vset(&prov->err, status, fmt, ap);
    va_end(ap);
    return status;
}

static void note_refusal(ap_provisioner *prov)
{
    char **r = apx_realloc(prov->refusals,
                           (prov->nrefusals + 2) * sizeof *r);
    if (!r)
        return;
    prov->refusals = r;
    r[prov->nrefusals] = apx_strdup(prov->err.msg);
    if (r[prov->nrefusals])
        prov->nrefusals++;
    r[prov->nrefusals] = NULL;
}

apx_vendor *apx_vendor_for_scheme(ap_provisioner *prov, const char *scheme,
                                  size_t len)
{
    size_t i, j;
    for (i = 0; i < prov->nvendors; i++) {
        const char *const *s = prov->vendors[i].desc.schemes;
        for (j = 0; s && s[j]; j++)
            if (strlen(s[j]) == len && strncasecmp(s[j], scheme, len) == 0)
                return &prov->vendors[i];
    }
    return NULL;
}

int apx_vendor_register(ap_provisioner *prov, ap_vendor_init_fn init,
                        const char *origin, void *dl)
{
    const ap_vendor *d;
    apx_vendor v, *grown;
    size_t n, i;
    int rc;

    if (!init)
        return refuse(prov, AP_EINVAL, "%s: no entry point", origin);
    d = init(prov->host);
    if (!d)
        return refuse(prov, AP_EVENDOR,
                      "%s: the vendor's entry point returned no descriptor "
                      "(it may have refused this host's vendor ABI %d)",
                      origin, AP_VENDOR_ABI_VERSION);
    if (!AP_STRUCT_COVERS(d, ap_vendor, abi_version))
        return refuse(prov, AP_EABI,
                      "%s: descriptor too short (%zu bytes) to carry an ABI "
                      "version; host speaks vendor ABI %d",
                      origin, d->struct_size, AP_VENDOR_ABI_VERSION);
    /* abi_version sits where ABI 1 had abi_major, so an ABI-1 vendor
     * reports 1 here and is refused: its tables differ from ours. */
    if (d->abi_version != AP_VENDOR_ABI_VERSION)
        return refuse(prov, AP_EABI,
                      "%s: built for vendor ABI %u, host speaks vendor ABI %d "
                      "(rebuild the vendor against this host's "
                      "artifactprov/vendor.h)",
                      origin, d->abi_version, AP_VENDOR_ABI_VERSION);
    if (!AP_STRUCT_COVERS(d, ap_vendor, resolve))
        return refuse(prov, AP_EABI,
                      "%s: descriptor of %zu bytes is shorter than vendor ABI "
                      "%u requires (%zu bytes, up to resolve)",
                      origin, d->struct_size, d->abi_version,
                      offsetof(ap_vendor, resolve) + sizeof d->resolve);
    memset(&v, 0, sizeof v);
    n = d->struct_size < sizeof v.desc ? d->struct_size : sizeof v.desc;
    memcpy(&v.desc, d, n);
    v.desc.struct_size = sizeof v.desc;
    if (!v.desc.name || !*v.desc.name)
        return refuse(prov, AP_EVENDOR, "%s: vendor has no name", origin);
    if (!v.desc.resolve)
        return refuse(prov, AP_EVENDOR,
                      "%s: vendor '%s' (ABI %u) has no resolve function",
                      origin, v.desc.name, d->abi_version);
    if (!v.desc.schemes || !v.desc.schemes[0])
        return refuse(prov, AP_EVENDOR, "%s: vendor '%s' declares no scheme",
                      origin, v.desc.name);
    for (i = 0; v.desc.schemes[i]; i++) {
        apx_vendor *other = apx_vendor_for_scheme(prov, v.desc.schemes[i],
                                                  strlen(v.desc.schemes[i]));
        if (other)
            return refuse(prov, AP_EVENDOR,
                          "%s: scheme '%s' of vendor '%s' is already served "
                          "by '%s' from %s",
                          origin, v.desc.schemes[i], v.desc.name,
                          other->desc.name, other->origin);
    }
    if (v.desc.create && !prov->vendor_shell) {
        rc = v.desc.create(prov->host, &v.state);
        if (rc != AP_OK)
            return refuse(prov, rc < 0 ? rc : AP_EVENDOR,
                          "%s: vendor '%s' failed to initialise (%s)", origin,
                          v.desc.name, ap_strerror(rc));
    }
    v.dl = dl;
    v.fd = -1;
    v.origin = apx_strdup(origin);
    grown = apx_realloc(prov->vendors, (prov->nvendors + 1) * sizeof *grown);
    if (!v.origin || !grown) {
        if (grown)
            prov->vendors = grown;
        if (v.desc.destroy)
            v.desc.destroy(v.state);
        free(v.origin);
        return refuse(prov, AP_ENOMEM, "%s: out of memory", origin);
    }
    prov->vendors = grown;
    prov->vendors[prov->nvendors++] = v;
    return AP_OK;
}

/* "…/ap-vendor-foo-bar.so" → "ap_vendor_foo_bar_init". */
static int entry_symbol(const char *path, char *out, size_t outsz)
{
    const char *base = strrchr(path, '/');
    size_t len, i;
    base = base ? base + 1 : path;
    len = strlen(base);
    if (strncmp(base, "ap-vendor-", 10) != 0 || len < 14 ||
        strcmp(base + len - 3, ".so") != 0)
        return -1;
    len -= 13; /* prefix + ".so" */
    if (len + sizeof "ap_vendor__init" > outsz)
        return -1;
    memcpy(out, "ap_vendor_", 10);
    for (i = 0; i < len; i++) {
        char c = base[10 + i];
        if (c == '-')
            c = '_';
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return -1;
        out[10 + i] = c;
    }
    memcpy(out + 10 + len, "_init", 6);
    return 0;
}

/* Plugin trust, as ssh's StrictModes: a vendor file, the directory it is
 * in (after resolving symbolic links) and every directory the loader
 * scans must be owned by root or by the effective user and writable by
 * neither group nor others (a sticky 1777 directory such as /tmp is
 * refused too).  Ancestors above those directories are not checked
 * (docs/vendor-abi.md, "Plugin trust").  On refusal the error names the
 * file or directory and why; AP_EVENDOR. */
static int check_trust(ap_provisioner *prov, const char *path,
                       const char *what, const struct stat *st)
{
    uid_t me = geteuid();
    if (st->st_uid != 0 && st->st_uid != me)
        return refuse(prov, AP_EVENDOR,
                      "%s: refused: %s is owned by uid %lu, neither root nor "
                      "the current user (uid %lu)", path, what,
                      (unsigned long)st->st_uid, (unsigned long)me);
    if (st->st_mode & (S_IWOTH | S_IWGRP))
        return refuse(prov, AP_EVENDOR,
                      "%s: refused: %s is writable by %s (mode %04o)", path,
                      what, (st->st_mode & S_IWOTH) ? "others" : "group",
                      (unsigned)(st->st_mode & 07777));
    return AP_OK;
}

/* Open the directory `dir` and check it.  Returns the fd or -1 (error set,
 * naming `shown`, the path the user gave). */
static int open_trusted_dir(ap_provisioner *prov, const char *shown,
                            const char *dir)
{
    struct stat st;
    char what[PATH_MAX + 16];
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        refuse(prov, AP_EVENDOR, "%s: cannot load: directory %s: %s", shown,
               dir, strerror(errno));
        return -1;
    }
    snprintf(what, sizeof what, "directory %s", dir);
    if (fstat(fd, &st) != 0) {
        refuse(prov, AP_EVENDOR, "%s: cannot stat %s: %s", shown, dir,
               strerror(errno));
        close(fd);
        return -1;
    }
    if (check_trust(prov, shown, what, &st) != AP_OK) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The directory part of `path` ("/" for "/x") into out. */
static void dir_of(const char *path, char *out, size_t outsz)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0)
        n = 1, path = "/";
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

int apx_vendor_load_file(ap_provisioner *prov, const char *path)
{
    char sym[256], real[PATH_MAX], dir[PATH_MAX], procpath[64];
    char what[PATH_MAX + 16];
    void *dl, *fn;
    ap_vendor_init_fn init;
    struct stat st;
    int rc, dfd, fd;

    if (!path || !*path)
        return refuse(prov, AP_EINVAL, "empty vendor path");
    if (entry_symbol(path, sym, sizeof sym) != 0)
        return refuse(prov, AP_EVENDOR,
                      "%s: not a vendor file name (want ap-vendor-NAME.so)",
                      path);
    if (!strchr(path, '/'))
        return refuse(prov, AP_EVENDOR,
                      "%s: vendor path must name a directory (the current "
                      "directory is never searched)", path);
    /* The directory named in the path (it may hold a link to the file). */
    dir_of(path, dir, sizeof dir);
    if ((dfd = open_trusted_dir(prov, path, dir)) < 0)
        return prov->err.status;
    close(dfd);
    /* The resolved file and its resolved directory; the file is opened
     * relative to the directory fd just checked, without following a
     * link, so what is checked is what gets loaded. */
    if (!realpath(path, real))
        return refuse(prov, AP_EVENDOR, "%s: cannot load: %s", path,
                      strerror(errno));
    dir_of(real, dir, sizeof dir);
    if ((dfd = open_trusted_dir(prov, path, dir)) < 0)
        return prov->err.status;
    fd = openat(dfd, real + strlen(dir) + (strcmp(dir, "/") != 0),
                O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    close(dfd);
    if (fd < 0)
        return refuse(prov, AP_EVENDOR, "%s: cannot load: %s: %s", path, real,
                      strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return refuse(prov, AP_EVENDOR, "%s: cannot load: %s is not a "
                      "regular file", path, real);
    }
    snprintf(what, sizeof what, "file %s", real);
    if ((rc = check_trust(prov, path, what, &st)) != AP_OK) {
        close(fd);
        return rc;
    }
    /* dlopen the descriptor we checked, not the name (no window between
     * check and load).  The fd stays open while the library is loaded:
     * the dynamic linker knows the object by this name, and a later
     * plugin opened on a reused fd number would otherwise alias it. */
    snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", fd);
    dl = dlopen(procpath, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        rc = refuse(prov, AP_EVENDOR, "%s: cannot load: %s", path, dlerror());
        close(fd);
        return rc;
    }
    fn = dlsym(dl, sym);
    if (!fn) {
        dlclose(dl);
        close(fd);
        return refuse(prov, AP_EVENDOR, "%s: entry symbol %s not found "
                      "(host speaks vendor ABI %d)", path, sym,
                      AP_VENDOR_ABI_VERSION);
    }
    /* ISO C forbids object → function pointer casts; POSIX requires it. */
    memcpy(&init, &fn, sizeof init);
    rc = apx_vendor_register(prov, init, path, dl);
    if (rc != AP_OK) {
        dlclose(dl);
        close(fd);
    } else {
        prov->vendors[prov->nvendors - 1].fd = fd;
    }
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_dir(ap_provisioner *prov, const char *dir)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, i;
    struct stat st;
    char what[PATH_MAX + 16];
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return; /* a missing directory on the path is not an error */
    snprintf(what, sizeof what, "directory %s", dir);
    if (fstat(fd, &st) != 0 || check_trust(prov, dir, what, &st) != AP_OK) {
        if (prov->err.status == AP_OK)
            refuse(prov, AP_EVENDOR, "%s: cannot stat: %s", dir,
                   strerror(errno));
        note_refusal(prov);
        apx_error_clear(&prov->err);
        close(fd);
        return;
    }
    if (!(d = fdopendir(fd))) {
        close(fd);
        return;
    }
    while ((de = readdir(d))) {
        char sym[256], **g;
        if (entry_symbol(de->d_name, sym, sizeof sym) != 0)
            continue;
        g = apx_realloc(names, (n + 1) * sizeof *names);
        if (!g)
            break;
        names = g;
        if ((names[n] = apx_path_join(dir, de->d_name)))
            n++;
    }
    closedir(d);
    if (n)  /* names is NULL when the first allocation failed */
        qsort(names, n, sizeof *names, cmp_str);
    for (i = 0; i < n; i++) {
        if (apx_vendor_load_file(prov, names[i]) != AP_OK)
            note_refusal(prov);
        free(names[i]);
    }
    free(names);
    apx_error_clear(&prov->err);
}

void apx_vendor_scan(ap_provisioner *prov, const char *path_list)
{
    char *copy, *save = NULL, *dir;
    if (!path_list)
        return;
    copy = apx_strdup(path_list);
    if (!copy)
        return;
    for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
        if (dir[0] == '/') /* relative entries (and "") would mean the cwd */
            scan_dir(prov, dir);
    free(copy);
}

int apx_vendors_from_set(ap_provisioner *prov, const ap_vendor_set *set)
{
    const ap_provisioner *s = &set->shell;
    size_t i;
    int rc;

    if (s->nvendors && !(prov->vendors = apx_calloc(s->nvendors, sizeof *prov->vendors)))
        return refuse(prov, AP_ENOMEM, "vendor set: out of memory");
    for (i = 0; i < s->nvendors; i++) {
        apx_vendor v = s->vendors[i];
        v.dl = NULL;    /* the set keeps the library loaded */
        v.fd = -1;
        v.state = NULL;
        if (!(v.origin = apx_strdup(s->vendors[i].origin)))
            return refuse(prov, AP_ENOMEM, "vendor set: out of memory");
        if (v.desc.create &&
            (rc = v.desc.create(prov->host, &v.state)) != AP_OK) {
            rc = refuse(prov, rc < 0 ? rc : AP_EVENDOR,
                        "%s: vendor '%s' failed to initialise (%s)", v.origin,
                        v.desc.name, ap_strerror(rc));
            free(v.origin);
            return rc;
        }
        prov->vendors[prov->nvendors++] = v;
    }
    for (i = 0; i < s->nrefusals; i++) {
        char **r = apx_realloc(prov->refusals, (prov->nrefusals + 2) * sizeof *r);
        if (!r)
            break;
        prov->refusals = r;
        if ((r[prov->nrefusals] = apx_strdup(s->refusals[i])))
            prov->nrefusals++;
        r[prov->nrefusals] = NULL;
    }
    return AP_OK;
}

void apx_vendors_free(ap_provisioner *prov)
{
    size_t i;
    for (i = 0; i < prov->nvendors; i++) {
        apx_vendor *v = &prov->vendors[i];
        if (v->desc.destroy && !prov->vendor_shell)
            v->desc.destroy(v->state);
        if (v->dl)
            dlclose(v->dl);
        if (v->fd >= 0)
            close(v->fd);
        free(v->origin);
    }
    free(prov->vendors);
    prov->vendors = NULL;
    prov->nvendors = 0;
    for (i = 0; i < prov->nrefusals; i++)
        free(prov->refusals[i]);
    free(prov->refusals);
    prov->refusals = NULL;
    prov->nrefusals = 0;
}
