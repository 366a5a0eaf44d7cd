/* libartifactprov — file-system primitives (see fs.h): path validation,
 * directories opened without following symlinks, atomic writes, regular
 * files opened without blocking, resolution below a root, whole-file
 * reads, hashing, atomic copies and tree removal.  Used by the store, the
 * catalog, the foreign-cache import and interop; they know no store.
 *
 * Every name is validated with ap_path_validate() first, and writes are
 * made below a directory fd opened with every symlink refused (openat2's
 * RESOLVE_NO_SYMLINKS, or component by component with O_NOFOLLOW), so a
 * symlink planted in a directory cannot redirect them.
 * SPDX-License-Identifier: MIT */
#include "fs.h"
#include "digest.h"
#include "progress.h"
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define IO_BUF (1u << 20)
#define MAX_TREE_DEPTH 64

/* ---- path validation ----------------------------------------------------- */

AP_EXPORT int ap_path_validate(const char *relpath)
{
    const char *seg;
    size_t len;
    if (!relpath)
        return AP_EPATH;
    len = strlen(relpath);
    if (len == 0 || len > 4096 || relpath[0] == '/')
        return AP_EPATH;
    seg = relpath;
    for (;;) {
        const char *end = seg;
        size_t n;
        while (*end && *end != '/') {
            unsigned char c = (unsigned char)*end;
            if (c < 0x20 || c == 0x7f || c == '\\')
                return AP_EPATH;
            end++;
        }
        n = (size_t)(end - seg);
        if (n == 0 || (n == 1 && seg[0] == '.') ||
            (n == 2 && seg[0] == '.' && seg[1] == '.') || n > 255)
            return AP_EPATH;
        if (!*end)
            return AP_OK;
        seg = end + 1;
    }
}

int apx_fs_valid_component(const char *name)
{
    return ap_path_validate(name) == AP_OK && !strchr(name, '/');
}

/* ---- fs helpers ---------------------------------------------------------- */

/* ".ap-tmp-<pid>-<24 hex>" (at most 44 bytes): 96 random bits from
 * libsodium's CSPRNG, so two threads or processes (or someone guessing names
 * in a shared directory) never pick the same name.  The pid tells a reader
 * of the directory whose leftover it is.  Without an entropy source
 * (libsodium could not start) the bits come from the clock and a
 * process-wide atomic counter: still unique within the process, and every
 * user creates the name exclusively (O_EXCL, or link/symlink's EEXIST). */
void apx_fs_tmpname(char *buf, size_t n)
{
    static _Atomic unsigned long counter;
    unsigned char r[12];
    char hex[2 * sizeof r + 1];
    if (apx_random_bytes(r, sizeof r) != AP_OK) {
        struct timespec ts;
        uint32_t w[3];
        clock_gettime(CLOCK_REALTIME, &ts);
        w[0] = (uint32_t)ts.tv_nsec;
        w[1] = (uint32_t)ts.tv_sec;
        w[2] = (uint32_t)++counter;
        memcpy(r, w, sizeof r);
    }
    apx_hex(r, sizeof r, hex);
    snprintf(buf, n, ".ap-tmp-%ld-%s", (long)getpid(), hex);
}

int apx_fs_io_status(int e)
{
    return e == ENOSPC || e == EDQUOT ? AP_ENOSPC : AP_EIO;
}

/* The whole of a validated `rel` in one openat2() that refuses every
 * symlink on the way and anything outside base_fd: what the walk below
 * checks component by component.  -1 (any errno) sends the caller to the
 * walk, which creates what is missing and names what is wrong. */
static int opendir_resolved(int base_fd, const char *rel)
{
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, base_fd, rel, &how, sizeof how);
#else
    (void)base_fd;
    (void)rel;
    errno = ENOSYS;
    return -1;
#endif
}

int apx_fs_opendir_at(int base_fd, const char *rel, int create, apx_error *err)
{
    char *copy, *comp, *save = NULL;
    int fd;

    if (rel && *rel && ap_path_validate(rel) != AP_OK)
        return apx_error_set(err, AP_EPATH, "invalid path '%s'", rel);
    if (rel && *rel && (fd = opendir_resolved(base_fd, rel)) >= 0)
        return fd;
    fd = openat(base_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return apx_error_set(err, AP_EIO, "open directory: %s",
                             strerror(errno));
    if (!rel || !*rel)
        return fd;
    if (!(copy = apx_strdup(rel))) {
        close(fd);
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    }
    for (comp = strtok_r(copy, "/", &save); comp;
         comp = strtok_r(NULL, "/", &save)) {
        int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                   O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, comp, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                close(fd);
                apx_error_set(err, apx_fs_io_status(e), "mkdir '%s' in '%s': %s",
                              comp, rel, strerror(e));
                free(copy);
                return apx_fs_io_status(e);
            }
            nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                   O_CLOEXEC);
        }
        if (nfd < 0) {
            int e = errno, rc;
            close(fd);
            if (e == ELOOP || e == ENOTDIR)
                rc = apx_error_set(err, AP_EPATH,
                                   "'%s' in '%s' is a symlink or not a "
                                   "directory: refusing to follow it",
                                   comp, rel);
            else if (e == ENOENT)
                rc = apx_error_set(err, AP_ENOTFOUND, "'%s' not found", rel);
            else
                rc = apx_error_set(err, AP_EIO, "open '%s' in '%s': %s", comp,
                                   rel, strerror(e));
            free(copy);
            return rc;
        }
        close(fd);
        fd = nfd;
    }
    free(copy);
    return fd;
}

int apx_fs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int write_atomic(int dir_fd, const char *name, const void *data,
                        size_t len, mode_t mode, int sync, apx_error *err);

int apx_fs_write_atomic(int dir_fd, const char *name, const void *data,
                        size_t len, mode_t mode, apx_error *err)
{
    return write_atomic(dir_fd, name, data, len, mode, 1, err);
}

int apx_fs_write_atomic_nosync(int dir_fd, const char *name, const void *data,
                               size_t len, mode_t mode, apx_error *err)
{
    return write_atomic(dir_fd, name, data, len, mode, 0, err);
}

static int write_atomic(int dir_fd, const char *name, const void *data,
                        size_t len, mode_t mode, int sync, apx_error *err)
{
    char tmp[64];
    int fd, e;

    apx_fs_tmpname(tmp, sizeof tmp);
    fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                             O_CLOEXEC, 0600);
    if (fd < 0)
        return apx_error_set(err, apx_fs_io_status(errno), "create '%s': %s", tmp,
                             strerror(errno));
    if (apx_fs_write_all(fd, data, len) != 0 || fchmod(fd, mode) != 0 ||
        (sync && fsync(fd) != 0)) {
        e = errno;
        close(fd);
        unlinkat(dir_fd, tmp, 0);
        return apx_error_set(err, apx_fs_io_status(e), "write '%s': %s", name,
                             strerror(e));
    }
    APX_FAULT_IF(strstr(name, ".json") != NULL, "catalog-write");
    if (close(fd) != 0 || renameat(dir_fd, tmp, dir_fd, name) != 0) {
        e = errno;
        unlinkat(dir_fd, tmp, 0);
        return apx_error_set(err, apx_fs_io_status(e), "rename into '%s': %s", name,
                             strerror(e));
    }
    if (sync)
        fsync(dir_fd);
    return AP_OK;
}

/* What a file that is not a regular one is, for "not a regular file (X)". */
static const char *ftype_word(mode_t m)
{
    return S_ISDIR(m) ? "directory" : S_ISFIFO(m) ? "FIFO"
         : S_ISSOCK(m) ? "socket" : S_ISCHR(m) ? "character device"
         : S_ISBLK(m) ? "block device" : S_ISLNK(m) ? "symbolic link"
         : "special file";
}

const char *apx_fs_ftype_name(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO"
         : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISLNK(m) ? "a symbolic link"
         : "not a regular file";
}

int apx_fs_open_regular_at(int dir_fd, const char *name, const char *label,
                           struct stat *out_st, apx_error *err)
{
    struct stat st;
    int fd, fl, e;

    if (!label)
        label = name;
    /* Look before opening: a FIFO, socket or device is never opened. */
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        e = errno;
        if (e == ENOENT)
            return apx_error_set(err, AP_ENOTFOUND, "'%s' not found", label);
        return apx_error_set(err, AP_EIO, "stat '%s': %s", label, strerror(e));
    }
    if (S_ISLNK(st.st_mode)) {
        char tgt[1024];
        ssize_t n = readlinkat(dir_fd, name, tgt, sizeof tgt - 1);
        tgt[n > 0 ? n : 0] = '\0';
        return apx_error_set(err, AP_EPATH, "'%s' is a symlink to '%s': "
                             "refusing to follow it", label, tgt);
    }
    if (!S_ISREG(st.st_mode))
        return apx_error_set(err, AP_EIO, "'%s' is not a regular file (%s)",
                             label, ftype_word(st.st_mode));
    /* ... and open without blocking, in case it was swapped meanwhile. */
    fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                              O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        if (e == ENOENT)
            return apx_error_set(err, AP_ENOTFOUND, "'%s' not found", label);
        if (e == ELOOP)
            return apx_error_set(err, AP_EPATH, "'%s' is a symlink: refusing "
                                 "to follow it", label);
        return apx_error_set(err, AP_EIO, "open '%s': %s", label, strerror(e));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return apx_error_set(err, AP_EIO, "'%s' is not a regular file (%s)",
                             label, ftype_word(st.st_mode));
    }
    if ((fl = fcntl(fd, F_GETFL)) >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (out_st)
        *out_st = st;
    return fd;
}

int apx_fs_open_regular(const char *path, struct stat *out_st, apx_error *err)
{
    int fd, fl, e;
    struct stat st;

    /* O_NONBLOCK: opening a FIFO for reading returns at once; the fstat
     * below then refuses it.  Device opens have no side effect we use. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        return apx_error_set(err, e == ENOENT ? AP_ENOTFOUND : AP_EIO,
                             "open '%s': %s", path, strerror(e));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return apx_error_set(err, AP_EIO, "'%s' is not a regular file (%s)",
                             path, ftype_word(st.st_mode));
    }
    if ((fl = fcntl(fd, F_GETFL)) >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (out_st)
        *out_st = st;
    return fd;
}

/* ---- resolving below a root ---------------------------------------------- */

#define MAX_LINKS 40

typedef struct beneath {
    int fds[MAX_TREE_DEPTH + 1];
    char *names[MAX_TREE_DEPTH + 1];
    size_t depth;
    char *link, *target;          /* the last symlink followed */
} beneath;

static char *beneath_path(const beneath *b, const char *last)
{
    size_t i, n = last ? strlen(last) + 1 : 1;
    char *out, *o;
    for (i = 0; i < b->depth; i++)
        n += strlen(b->names[i]) + 1;
    if (!(o = out = apx_malloc(n)))
        return NULL;
    for (i = 0; i < b->depth; i++)
        o += sprintf(o, "%s%s", i ? "/" : "", b->names[i]);
    if (last)
        sprintf(o, "%s%s", b->depth ? "/" : "", last);
    else
        *o = '\0';
    return out;
}

static void beneath_pop_to(beneath *b, size_t depth)
{
    while (b->depth > depth) {
        close(b->fds[b->depth]);
        free(b->names[b->depth - 1]);
        b->depth--;
    }
}

static int beneath_escape(beneath *b, const char *root_label, const char *rel,
                          apx_error *err)
{
    if (b->link)
        return apx_error_set(err, AP_EPATH, "'%s/%s' is a symlink to '%s', "
                             "which leads out of %s: refusing to follow it",
                             root_label, b->link, b->target, root_label);
    return apx_error_set(err, AP_EPATH, "'%s' leads out of %s", rel,
                         root_label);
}

/* The symlink `comp` (in the walk's current directory) followed: the rest
 * of the walk (*work, *p) becomes its target then what remained.  An
 * absolute target only when it names a place below the root. */
static int beneath_follow(beneath *b, const char *comp, char **work, char **p, int last,
                          const char *root_label, const char *rel, int *nlinks,
                          apx_error *err)
{
    char tgt[4096], *nw, rootreal[4096];
    ssize_t rl, n = readlinkat(b->fds[b->depth], comp, tgt, sizeof tgt - 1);
    if (n < 0 || ++*nlinks > MAX_LINKS)
        return apx_error_set(err, AP_EPATH, "'%s': %s", rel,
                             n < 0 ? strerror(errno)
                                   : "too many levels of symlinks");
    tgt[n] = '\0';
    free(b->link);
    free(b->target);
    b->link = beneath_path(b, comp);
    b->target = apx_strdup(tgt);
    if (!b->link || !b->target)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    if (tgt[0] == '/') {
        /* Absolute: only when it names a place below the root. */
        char proc[64];
        size_t lr;
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", b->fds[0]);
        rl = readlink(proc, rootreal, sizeof rootreal - 1);
        lr = rl > 0 ? (size_t)rl : 0;
        if (rl > 0)
            rootreal[rl] = '\0';
        if (!lr || strncmp(tgt, rootreal, lr) != 0 || tgt[lr] != '/')
            return beneath_escape(b, root_label, rel, err);
        beneath_pop_to(b, 0);
        nw = apx_asprintf("%s/%s", tgt + lr + 1, *p);
    } else {
        nw = apx_asprintf("%s/%s", tgt, *p);
    }
    if (!nw)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    /* A link as the last component must name a file. */
    if (last)
        nw[strlen(nw) - 1] = '\0';
    free(*work);
    *p = *work = nw;
    return AP_OK;
}

/* The walk enters the directory `comp`. */
static int beneath_descend(beneath *b, const char *comp, const char *root_label,
                           const char *rel, apx_error *err)
{
    int nfd;
    if (b->depth == MAX_TREE_DEPTH)
        return apx_error_set(err, AP_EPATH, "'%s': too deep", rel);
    nfd = openat(b->fds[b->depth], comp, O_RDONLY | O_DIRECTORY |
                                         O_NOFOLLOW | O_CLOEXEC);
    if (nfd < 0)
        return apx_error_set(err, AP_EIO, "open '%s' in %s: %s", comp,
                             root_label, strerror(errno));
    if (!(b->names[b->depth] = apx_strdup(comp))) {
        close(nfd);
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    }
    b->fds[++b->depth] = nfd;
    return AP_OK;
}

/* The last component, a regular file, opened; *canon its path. */
static int beneath_open_last(beneath *b, const char *comp, const char *root_label,
                             char **canon, struct stat *out_st, apx_error *err)
{
    char *where = beneath_path(b, comp), *label;
    int rc;
    if (!where)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    label = apx_asprintf("%s/%s", root_label, where);
    rc = apx_fs_open_regular_at(b->fds[b->depth], comp,
                                label ? label : where, out_st, err);
    free(label);
    if (rc >= 0 && canon)
        *canon = where;
    else
        free(where);
    return rc;
}

int apx_fs_open_beneath(int root_fd, const char *root_label, const char *rel,
                        char **canon, struct stat *out_st, apx_error *err)
{
    beneath b;
    char *work, *p;
    int rc = AP_OK, nlinks = 0;

    if (canon)
        *canon = NULL;
    if (!root_label)
        root_label = "the cache";
    if (!rel || !*rel || rel[0] == '/')
        return apx_error_set(err, AP_EPATH, "invalid path '%s'",
                             rel ? rel : "(null)");
    memset(&b, 0, sizeof b);
    if ((b.fds[0] = openat(root_fd, ".", O_RDONLY | O_DIRECTORY |
                                         O_CLOEXEC)) < 0)
        return apx_error_set(err, AP_EIO, "open %s: %s", root_label,
                             strerror(errno));
    if (!(work = apx_strdup(rel))) {
        close(b.fds[0]);
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    }
    p = work;
    for (;;) {
        struct stat st;
        char *comp, *slash;
        int last;

        while (*p == '/')
            p++;
        if (!*p) {
            rc = apx_error_set(err, AP_EIO, "'%s' in %s is a directory, not "
                               "a regular file", rel, root_label);
            break;
        }
        comp = p;
        if ((slash = strchr(p, '/'))) {
            *slash = '\0';
            p = slash + 1;
            while (*p == '/')
                p++;
        } else {
            p = comp + strlen(comp);
        }
        last = !*p;
        if (!strcmp(comp, ".") && !last)
            continue;
        if (!strcmp(comp, "..") && !last) {
            if (b.depth == 0) {
                rc = beneath_escape(&b, root_label, rel, err);
                break;
            }
            beneath_pop_to(&b, b.depth - 1);
            continue;
        }
        if (!strcmp(comp, ".") || !strcmp(comp, "..")) {
            rc = apx_error_set(err, AP_EIO, "'%s' in %s is a directory, not "
                               "a regular file", rel, root_label);
            break;
        }
        if (fstatat(b.fds[b.depth], comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            int e = errno;
            char *where = beneath_path(&b, comp);
            rc = apx_error_set(err, e == ENOENT ? AP_ENOTFOUND : AP_EIO,
                               "'%s/%s': %s", root_label, where ? where : comp,
                               strerror(e));
            free(where);
            break;
        }
        if (S_ISLNK(st.st_mode)) {
            rc = beneath_follow(&b, comp, &work, &p, last, root_label, rel, &nlinks, err);
            if (rc != AP_OK)
                break;
            continue;
        }
        if (S_ISDIR(st.st_mode) && !last) {
            if ((rc = beneath_descend(&b, comp, root_label, rel, err)) != AP_OK)
                break;
            continue;
        }
        if (!last) {
            rc = apx_error_set(err, AP_EIO, "'%s' in %s: '%s' is not a "
                               "directory", rel, root_label, comp);
            break;
        }
        rc = beneath_open_last(&b, comp, root_label, canon, out_st, err);
        break;
    }
    beneath_pop_to(&b, 0);
    close(b.fds[0]);
    free(work);
    free(b.link);
    free(b.target);
    return rc;
}

int apx_fs_read_file_at(int dir_fd, const char *name, size_t max, char **out,
                        size_t *len, apx_error *err)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd;

    *out = NULL;
    if (len)
        *len = 0;
    if ((fd = apx_fs_open_regular_at(dir_fd, name, name, &st, err)) < 0)
        return fd;
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return apx_error_set(err, AP_ESIZE, "'%s' is larger than %zu bytes",
                             name, max);
    }
    if (!(buf = apx_malloc((size_t)st.st_size + 1))) {
        close(fd);
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return apx_error_set(err, AP_EIO, "read '%s': %s", name,
                                 strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    if (len)
        *len = got;
    return AP_OK;
}

int apx_fs_hash_fd(int fd, char hex[65], uint64_t *size, apx_error *err)
{
    apx_digest *d = apx_digest_new(APX_SHA256);
    int rc = d ? apx_digest_fd(d, fd, size) : AP_ENOMEM;
    if (rc == AP_ENOMEM)
        apx_error_set(err, rc, "out of memory");
    else if (rc == AP_ECANCELLED || rc == AP_EUSER) /* the job's tick (progress.h) */
        apx_error_set(err, rc, "hashing %s", rc == AP_ECANCELLED ? "cancelled" : "aborted");
    else if (rc != AP_OK)
        apx_error_set(err, rc, "read: %s", strerror(errno));
    else if (apx_digest_final_hex(d, hex) != AP_OK)
        rc = apx_error_set(err, AP_ERROR, "digest failed");
    apx_digest_free(d);
    return rc;
}

int apx_fs_copy_atomic(int src_fd, int dir_fd, const char *name, mode_t mode,
                       const char *expect_sha256, char *sha256_out,
                       apx_error *err)
{
    char tmp[64], hex[65];
    apx_digest *d = apx_digest_new(APX_SHA256);
    unsigned char *buf = apx_malloc(IO_BUF);
    uint64_t off = 0;
    int fd = -1, rc = AP_OK;

    if (!d || !buf) {
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
        goto out;
    }
    apx_fs_tmpname(tmp, sizeof tmp);
    fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                             O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = apx_error_set(err, apx_fs_io_status(errno), "create '%s': %s", tmp,
                           strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t r = pread(src_fd, buf, IO_BUF, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = apx_error_set(err, AP_EIO, "read: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        apx_digest_update(d, buf, (size_t)r);
        if (apx_fs_write_all(fd, buf, (size_t)r) != 0) {
            rc = apx_error_set(err, apx_fs_io_status(errno), "write '%s': %s", name,
                               strerror(errno));
            goto fail;
        }
        off += (uint64_t)r;
        /* the job's heartbeat and cancel token (progress.h); not counted
         * as progress: a copy of bytes already accounted for */
        if ((rc = apx_tick(0)) != 0) {
            rc = apx_error_set(err, rc, "copy into '%s': %s", name,
                               rc == AP_ECANCELLED ? "cancelled" : "aborted");
            goto fail;
        }
    }
    apx_digest_final_hex(d, hex);
    if (expect_sha256 && strcmp(hex, expect_sha256) != 0) {
        rc = apx_error_set(err, AP_EDIGEST, "sha256 mismatch (want %s, got %s)",
                           expect_sha256, hex);
        goto fail;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        rc = apx_error_set(err, apx_fs_io_status(errno), "sync '%s': %s", name,
                           strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if (renameat(dir_fd, tmp, dir_fd, name) != 0) {
        rc = apx_error_set(err, apx_fs_io_status(errno), "rename into '%s': %s",
                           name, strerror(errno));
        goto fail;
    }
    fsync(dir_fd);
    if (sha256_out)
        memcpy(sha256_out, hex, 65);
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlinkat(dir_fd, tmp, 0);
out:
    apx_digest_free(d);
    free(buf);
    return rc;
}

static int remove_tree(int dir_fd, const char *name, int depth, apx_error *err)
{
    struct stat st;
    DIR *dir;
    struct dirent *de;
    int fd, rc = AP_OK;

    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? AP_OK
                               : apx_error_set(err, AP_EIO, "stat '%s': %s",
                                               name, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dir_fd, name, 0) != 0 && errno != ENOENT)
            return apx_error_set(err, AP_EIO, "unlink '%s': %s", name,
                                 strerror(errno));
        return AP_OK;
    }
    if (depth > MAX_TREE_DEPTH)
        return apx_error_set(err, AP_EPATH, "'%s': tree too deep", name);
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || !(dir = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return apx_error_set(err, AP_EIO, "open '%s': %s", name,
                             strerror(errno));
    }
    while ((de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if ((rc = remove_tree(dirfd(dir), de->d_name, depth + 1, err)))
            break;
    }
    closedir(dir);
    if (rc == AP_OK && unlinkat(dir_fd, name, AT_REMOVEDIR) != 0 &&
        errno != ENOENT)
        rc = apx_error_set(err, AP_EIO, "rmdir '%s': %s", name,
                           strerror(errno));
    return rc;
}

int apx_fs_remove_tree_at(int dir_fd, const char *name, apx_error *err)
{
    return remove_tree(dir_fd, name, 0, err);
}
