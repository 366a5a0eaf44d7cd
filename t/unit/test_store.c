/* Unit tests: the content-addressed store (lib/store.c).  TAP via cmocka. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <ftw.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "digest.h"
#include "testutil.h"
#include "fs.h"
#include <artifactprov.h>

static char tmpl[] = "/tmp/ap-test-store-XXXXXX";
static char *base;

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    if (n)
        *n = (size_t)len;
    return buf;
}

static ap_store *open_store(const char *sub)
{
    ap_store *s = NULL;
    char *root = apx_path_join(base, sub);
    assert_int_equal(ap_store_open(&s, root), AP_OK);
    free(root);
    return s;
}

/* Stage `data` under key and return the staging path. */
static char *stage(ap_store *s, const char *key, const char *data)
{
    char *p = NULL, *side;
    assert_int_equal(ap_store_staging_path(s, key, &p), AP_OK);
    write_file(p, data, strlen(data));
    side = apx_asprintf("%s.state", p);
    write_file(side, "{}", 2);
    free(side);
    return p;
}

static void test_path_validate(void **state)
{
    char big[5000];
    (void)state;
    assert_int_equal(ap_path_validate("a"), AP_OK);
    assert_int_equal(ap_path_validate("a/b.c"), AP_OK);
    assert_int_equal(ap_path_validate("org/repo"), AP_OK);
    assert_int_equal(ap_path_validate("..a/b..c/.d"), AP_OK);
    assert_int_equal(ap_path_validate(NULL), AP_EPATH);
    assert_int_equal(ap_path_validate(""), AP_EPATH);
    assert_int_equal(ap_path_validate("../x"), AP_EPATH);
    assert_int_equal(ap_path_validate("a/../x"), AP_EPATH);
    assert_int_equal(ap_path_validate("a/.."), AP_EPATH);
    assert_int_equal(ap_path_validate("/abs"), AP_EPATH);
    assert_int_equal(ap_path_validate("a//b"), AP_EPATH);
    assert_int_equal(ap_path_validate("a/./b"), AP_EPATH);
    assert_int_equal(ap_path_validate("."), AP_EPATH);
    assert_int_equal(ap_path_validate("a/"), AP_EPATH);
    assert_int_equal(ap_path_validate("a\\b"), AP_EPATH);
    assert_int_equal(ap_path_validate("a\x01"), AP_EPATH);
    assert_int_equal(ap_path_validate("a\nb"), AP_EPATH);
    assert_int_equal(ap_path_validate("a\x7f"), AP_EPATH);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(ap_path_validate(big), AP_EPATH);
}

static void test_layout_and_paths(void **state)
{
    ap_store *s = open_store("layout");
    char *p = NULL, *q, hex[65];
    const char *dirs[] = { "blobs/sha256", "staging", "catalog", "models",
                           "locks" };
    size_t i;
    uint64_t free_b = 0;
    (void)state;
    for (i = 0; i < 5; i++) {
        struct stat st;
        q = apx_path_join(ap_store_root(s), dirs[i]);
        assert_int_equal(stat(q, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        free(q);
    }
    assert_int_equal(ap_store_staging_path(s, "https://x/y", &p), AP_OK);
    sha_of("https://x/y", hex);
    q = apx_asprintf("%s/staging/%s.part", ap_store_root(s), hex);
    assert_string_equal(p, q);
    free(p);
    free(q);
    assert_int_equal(ap_store_blob_path(s, hex, &p), AP_OK);
    q = apx_asprintf("%s/blobs/sha256/%.2s/%s", ap_store_root(s), hex, hex);
    assert_string_equal(p, q);
    free(p);
    free(q);
    assert_int_equal(ap_store_blob_path(s, "ABC", &p), AP_EINVAL);
    assert_null(p);
    assert_int_equal(ap_store_free_space(s, &free_b), AP_OK);
    assert_true(free_b > 0);
    ap_store_close(s);
}

static void test_default_root(void **state)
{
    char *r = NULL;
    (void)state;
    setenv("AP_HOME", "/x/ap", 1);
    assert_int_equal(ap_store_default_root(&r), AP_OK);
    assert_string_equal(r, "/x/ap");
    ap_free(r);
    unsetenv("AP_HOME");
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    assert_int_equal(ap_store_default_root(&r), AP_OK);
    assert_string_equal(r, "/x/cache/artifactprov");
    ap_free(r);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(ap_store_default_root(&r), AP_OK);
    assert_string_equal(r, "/home/u/.cache/artifactprov");
    ap_free(r);
}

static void test_commit_and_dedup(void **state)
{
    ap_store *s = open_store("commit");
    char hex[65], *st1, *st2, *blob = NULL, *side, *data, *dir;
    struct stat a, b;
    size_t n;
    (void)state;
    sha_of("hello blob", hex);
    st1 = stage(s, "k1", "hello blob");
    assert_int_equal(ap_store_has_blob(s, hex), 0);
    assert_int_equal(ap_store_commit(s, st1, hex, 0), AP_OK);
    assert_int_equal(ap_store_has_blob(s, hex), 1);
    assert_int_equal(ap_store_blob_path(s, hex, &blob), AP_OK);
    data = read_file(blob, &n);
    assert_int_equal(n, 10);
    assert_memory_equal(data, "hello blob", 10);
    free(data);
    assert_int_equal(stat(blob, &a), 0);
    assert_int_equal(a.st_mode & 07777, 0444);
    assert_false(exists(st1));
    side = apx_asprintf("%s.state", st1);
    assert_false(exists(side));
    free(side);

    /* Second commit of the same digest: staging discarded, blob untouched. */
    st2 = stage(s, "k2", "hello blob");
    assert_int_equal(ap_store_commit(s, st2, hex, 1), AP_OK);
    assert_false(exists(st2));
    side = apx_asprintf("%s.state", st2);
    assert_false(exists(side));
    free(side);
    assert_int_equal(stat(blob, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    dir = apx_asprintf("%s/blobs/sha256/%.2s", ap_store_root(s), hex);
    assert_int_equal(count_entries(dir), 1);
    free(dir);
    free(st1);
    free(st2);
    free(blob);
    ap_store_close(s);
}

static void test_commit_wrong_digest(void **state)
{
    ap_store *s = open_store("wrong");
    char want[65], *st, *blob = NULL, *dir;
    (void)state;
    sha_of("the real bytes", want);
    st = stage(s, "k", "tampered bytes");
    assert_int_equal(ap_store_commit(s, st, want, 0), AP_EDIGEST);
    assert_non_null(strstr(ap_store_errmsg(s), "mismatch"));
    assert_int_equal(ap_store_has_blob(s, want), 0);
    assert_int_equal(ap_store_blob_path(s, want, &blob), AP_OK);
    assert_false(exists(blob));
    dir = apx_asprintf("%s/blobs/sha256/%.2s", ap_store_root(s), want);
    assert_int_equal(count_entries(dir), 0);   /* nothing half-visible */
    assert_false(exists(st));
    free(dir);
    free(blob);
    free(st);
    /* Bad hex and missing staging are refused cleanly. */
    assert_int_equal(ap_store_commit(s, "/nonexistent/x", want, 0),
                     AP_ENOTFOUND);
    assert_int_equal(ap_store_commit(s, "/etc/hostname", "zz", 0), AP_EINVAL);
    ap_store_close(s);
}

static void test_concurrent_commit(void **state)
{
    int round;
    (void)state;
    for (round = 0; round < 10; round++) {
        char content[64], hex[65], *dir, sub[16];
        ap_store *s;
        snprintf(sub, sizeof sub, "race%d", round);
        s = open_store(sub);
        pid_t pids[2];
        int i, status;
        snprintf(content, sizeof content, "race content %d", round);
        sha_of(content, hex);
        for (i = 0; i < 2; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                ap_store *cs = NULL;
                char key[32], *p = NULL;
                int rc;
                if (ap_store_open(&cs, ap_store_root(s)) != AP_OK)
                    _exit(2);
                snprintf(key, sizeof key, "k%d-%d", round, i);
                ap_store_staging_path(cs, key, &p);
                FILE *f = fopen(p, "wb");
                fputs(content, f);
                fclose(f);
                rc = ap_store_commit(cs, p, hex, i);
                free(p);
                ap_store_close(cs);
                ap_store_close(s);      /* the parent's copy */
                _exit(rc == AP_OK ? 0 : 1);
            }
        }
        for (i = 0; i < 2; i++) {
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
        assert_int_equal(ap_store_has_blob(s, hex), 1);
        dir = apx_asprintf("%s/blobs/sha256/%.2s", ap_store_root(s), hex);
        assert_int_equal(count_entries(dir), 1);
        free(dir);
        dir = apx_asprintf("%s/staging", ap_store_root(s));
        assert_int_equal(count_entries(dir), 0);
        free(dir);
        ap_store_close(s);
    }
}

static void test_import(void **state)
{
    ap_store *s = open_store("import");
    char *src = apx_path_join(base, "import-src.bin"), hex[65], got[65];
    char *blob = NULL, wrong[65];
    struct stat a, b;
    (void)state;
    write_file(src, "imported data", 13);
    sha_of("imported data", hex);
    assert_int_equal(ap_store_import(s, src, NULL, AP_IMPORT_LINK, got),
                     AP_OK);
    assert_string_equal(got, hex);
    assert_int_equal(ap_store_blob_path(s, hex, &blob), AP_OK);
    assert_int_equal(stat(src, &a), 0);
    assert_int_equal(stat(blob, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);        /* hard link, no copy */
    free(blob);
    /* Copy import, verified against the expected digest. */
    write_file(src, "other data", 10);
    sha_of("not it", wrong);
    assert_int_equal(ap_store_import(s, src, wrong, 0, got), AP_EDIGEST);
    assert_int_equal(ap_store_has_blob(s, wrong), 0);
    sha_of("other data", hex);
    assert_int_equal(ap_store_import(s, src, hex, 0, got), AP_OK);
    assert_int_equal(ap_store_blob_path(s, hex, &blob), AP_OK);
    assert_int_equal(stat(blob, &b), 0);
    assert_int_equal(b.st_mode & 0777, 0444);
    assert_int_equal(stat(src, &a), 0);
    assert_true(a.st_ino != b.st_ino);
    free(blob);
    free(src);
    ap_store_close(s);
}

/* Imports never share the source's inode unless asked (AP_IMPORT_LINK),
 * keep no more read permission than the source had, never block on a
 * FIFO, and never treat a FIFO planted at a blob path as the blob.  Each
 * blocking case runs under alarm(): a regression kills the test instead of
 * hanging it. */
static void test_import_hostile(void **state)
{
    ap_store *s = open_store("import-hostile");
    char *src = apx_path_join(base, "ih-src.bin");
    char *fifo = apx_path_join(base, "ih-fifo");
    char *blob = NULL, *dir, *staging, *data, hex[65], got[65];
    struct stat a, b;
    size_t n;
    int fd;
    (void)state;
    alarm(20);
    /* default: a copy (or reflink), not the inode of the source */
    write_file(src, "private model bytes", 19);
    assert_int_equal(chmod(src, 0600), 0);
    sha_of("private model bytes", hex);
    assert_int_equal(ap_store_import(s, src, hex, 0, got), AP_OK);
    assert_string_equal(got, hex);
    assert_int_equal(ap_store_blob_path(s, hex, &blob), AP_OK);
    assert_int_equal(stat(src, &a), 0);
    assert_int_equal(stat(blob, &b), 0);
    assert_true(a.st_ino != b.st_ino);
    /* a private (0600) file does not become world-readable */
    assert_int_equal(b.st_mode & 0777, 0400);
    /* an in-place write into the source leaves the blob alone */
    fd = open(src, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "XX", 2, 3), 2);
    close(fd);
    data = read_file(blob, &n);
    assert_int_equal(n, 19);
    assert_memory_equal(data, "private model bytes", 19);
    free(data);
    free(blob);
    /* a FIFO as the source: refused at once */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_not_equal(ap_store_import(s, fifo, NULL, 0, got), AP_OK);
    assert_non_null(strstr(ap_store_errmsg(s), "FIFO"));
    /* a FIFO at a blob path: neither commit nor import takes it for the
     * blob, and verify reports it without blocking */
    sha_of("fifo blob", hex);
    dir = apx_asprintf("%s/blobs/sha256/%.2s", ap_store_root(s), hex);
    mkdir(dir, 0755);
    assert_int_equal(ap_store_blob_path(s, hex, &blob), AP_OK);
    assert_int_equal(mkfifo(blob, 0600), 0);
    staging = stage(s, "fifo-blob", "fifo blob");
    assert_int_equal(ap_store_commit(s, staging, hex, 0), AP_ECORRUPT);
    assert_non_null(strstr(ap_store_errmsg(s), "FIFO"));
    write_file(src, "fifo blob", 9);
    assert_int_equal(ap_store_import(s, src, NULL, 0, got), AP_ECORRUPT);
    {
        size_t checked = 0, bad = 0;
        assert_int_equal(ap_store_verify(s, AP_VERIFY_REMOVE, NULL, NULL, &checked,
                                         &bad), AP_OK);
        assert_int_equal(bad, 1);
        assert_false(exists(blob));
    }
    alarm(0);
    free(staging);
    free(dir);
    free(blob);
    free(fifo);
    free(src);
    ap_store_close(s);
}

/* apx_fs_read_file_at (used by the catalog) refuses a FIFO at once. */
static void test_read_file_fifo(void **state)
{
    char *dir = apx_path_join(base, "rf"), *fifo = apx_path_join(dir, "doc.json");
    char *out = NULL;
    size_t len = 0;
    apx_error err;
    int dfd;
    (void)state;
    alarm(20);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    apx_error_clear(&err);
    assert_int_equal(apx_fs_read_file_at(dfd, "doc.json", 1024, &out, &len, &err),
                     AP_EIO);
    assert_null(out);
    assert_non_null(strstr(err.msg, "FIFO"));
    close(dfd);
    alarm(0);
    free(fifo);
    free(dir);
}

/* apx_fs_open_beneath: links are followed only while they stay below the
 * root; the refusal names the link and its target. */
static void test_open_beneath(void **state)
{
    char *root = apx_path_join(base, "beneath"), *p, *canon = NULL;
    char *outside = apx_path_join(base, "beneath-outside");
    struct stat st;
    apx_error err;
    int rfd, fd;
    (void)state;
    alarm(20);
    assert_int_equal(mkdir(root, 0755), 0);
    p = apx_asprintf("%s/dir", root);
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = apx_asprintf("%s/dir/f", root);
    write_file(p, "inside", 6);
    free(p);
    write_file(outside, "secret", 6);
    rfd = open(root, O_RDONLY | O_DIRECTORY);
    assert_true(rfd >= 0);
#define LINK(target, name) do { char *l_ = apx_asprintf("%s/%s", root, name); \
        assert_int_equal(symlink(target, l_), 0); free(l_); } while (0)
    LINK("dir/f", "rel");
    LINK("../dir/./f", "dir/up");
    LINK("../beneath-outside", "esc");
    LINK("../../beneath-outside", "dir/esc");
    LINK("/etc/hostname", "abs-out");
    LINK("loop2", "loop1");
    LINK("loop1", "loop2");
    LINK("dir", "dirlink");
    p = apx_asprintf("%s/dir/f", root);
    LINK(p, "abs-in");
    free(p);
    p = apx_asprintf("%s/fifo", root);
    assert_int_equal(mkfifo(p, 0600), 0);
    free(p);
    LINK("fifo", "to-fifo");
#undef LINK
    /* inside: fine, canonical path returned */
    fd = apx_fs_open_beneath(rfd, "ROOT", "rel", &canon, &st, &err);
    assert_true(fd >= 0);
    assert_string_equal(canon, "dir/f");
    assert_int_equal(st.st_size, 6);
    close(fd);
    free(canon);
    fd = apx_fs_open_beneath(rfd, "ROOT", "dir/up", &canon, NULL, &err);
    assert_true(fd >= 0);
    assert_string_equal(canon, "dir/f");
    close(fd);
    free(canon);
    fd = apx_fs_open_beneath(rfd, "ROOT", "dirlink/f", &canon, NULL, &err);
    assert_true(fd >= 0);
    assert_string_equal(canon, "dir/f");
    close(fd);
    free(canon);
    fd = apx_fs_open_beneath(rfd, "ROOT", "abs-in", &canon, NULL, &err);
    assert_true(fd >= 0);
    assert_string_equal(canon, "dir/f");
    close(fd);
    free(canon);
    /* out: refused, naming the link and its target */
    apx_error_clear(&err);
    assert_int_equal(apx_fs_open_beneath(rfd, "ROOT", "esc", &canon, NULL, &err),
                     AP_EPATH);
    assert_null(canon);
    assert_non_null(strstr(err.msg, "ROOT/esc"));
    assert_non_null(strstr(err.msg, "../beneath-outside"));
    assert_int_equal(apx_fs_open_beneath(rfd, "ROOT", "dir/esc", NULL, NULL, &err),
                     AP_EPATH);
    assert_non_null(strstr(err.msg, "ROOT/dir/esc"));
    assert_int_equal(apx_fs_open_beneath(rfd, "ROOT", "abs-out", NULL, NULL, &err),
                     AP_EPATH);
    assert_non_null(strstr(err.msg, "/etc/hostname"));
    assert_int_equal(apx_fs_open_beneath(rfd, "ROOT", "dir/../../x", NULL, NULL,
                                         &err), AP_EPATH);
    assert_int_equal(apx_fs_open_beneath(rfd, "ROOT", "loop1", NULL, NULL, &err),
                     AP_EPATH);
    /* not a regular file: refused without blocking */
    assert_int_equal(apx_fs_open_beneath(rfd, "ROOT", "to-fifo", NULL, NULL, &err),
                     AP_EIO);
    assert_non_null(strstr(err.msg, "FIFO"));
    assert_int_equal(apx_fs_open_beneath(rfd, "ROOT", "dirlink", NULL, NULL, &err),
                     AP_EIO);
    assert_int_equal(apx_fs_open_beneath(rfd, "ROOT", "nothere", NULL, NULL, &err),
                     AP_ENOTFOUND);
    close(rfd);
    alarm(0);
    free(outside);
    free(root);
}

static void commit_data(ap_store *s, const char *key, const char *data,
                        char hex[65])
{
    char *st;
    sha_of(data, hex);
    st = stage(s, key, data);
    assert_int_equal(ap_store_commit(s, st, hex, 0), AP_OK);
    free(st);
}

static void test_view(void **state)
{
    ap_store *s = open_store("view");
    char h1[65], h2[65], *vp = NULL, *blob = NULL, *data, *dir;
    struct stat a, b;
    (void)state;
    commit_data(s, "a", "view one", h1);
    commit_data(s, "b", "view two", h2);
    assert_int_equal(ap_store_link_view(s, "hf", "org/repo", "sub/f.gguf", h1,
                                        &vp), AP_OK);
    dir = apx_asprintf("%s/models/hf/org/repo/sub/f.gguf", ap_store_root(s));
    assert_string_equal(vp, dir);
    free(dir);
    assert_int_equal(ap_store_blob_path(s, h1, &blob), AP_OK);
    assert_int_equal(stat(vp, &a), 0);
    assert_int_equal(stat(blob, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    /* Idempotent, then replaced atomically by another blob. */
    assert_int_equal(ap_store_link_view(s, "hf", "org/repo", "sub/f.gguf", h1,
                                        NULL), AP_OK);
    assert_int_equal(ap_store_link_view(s, "hf", "org/repo", "sub/f.gguf", h2,
                                        NULL), AP_OK);
    data = read_file(vp, NULL);
    assert_string_equal(data, "view two");
    free(data);
    dir = apx_asprintf("%s/models/hf/org/repo/sub", ap_store_root(s));
    assert_int_equal(count_entries(dir), 1);    /* no temp names left */
    free(dir);
    /* Missing blob and hostile names. */
    assert_int_equal(ap_store_link_view(s, "hf", "org/repo", "x",
                                        "0000000000000000000000000000000000000000000000000000000000000000",
                                        NULL), AP_ENOTFOUND);
    assert_int_equal(ap_store_link_view(s, "h/f", "r", "x", h1, NULL), AP_EPATH);
    assert_int_equal(ap_store_link_view(s, "..", "r", "x", h1, NULL), AP_EPATH);
    assert_int_equal(ap_store_link_view(s, "hf", "../r", "x", h1, NULL),
                     AP_EPATH);
    assert_int_equal(ap_store_link_view(s, "hf", "r", "/abs", h1, NULL),
                     AP_EPATH);
    assert_int_equal(ap_store_link_view(s, "hf", "r", "a//b", h1, NULL),
                     AP_EPATH);
    assert_int_equal(ap_store_link_view(s, "hf", "r", "a/./b", h1, NULL),
                     AP_EPATH);
    assert_int_equal(ap_store_link_view(s, "hf", "r", "a\x01", h1, NULL),
                     AP_EPATH);
    /* Unlink removes the whole view and its empty parents. */
    assert_int_equal(ap_store_unlink_view(s, "hf", "org/repo"), AP_OK);
    assert_false(exists(vp));
    dir = apx_asprintf("%s/models", ap_store_root(s));
    assert_int_equal(count_entries(dir), 0);
    free(dir);
    assert_int_equal(ap_store_has_blob(s, h1), 1);
    assert_int_equal(ap_store_unlink_view(s, "hf", "org/repo"), AP_OK);
    free(vp);
    free(blob);
    ap_store_close(s);
}

static void test_view_planted_symlink(void **state)
{
    ap_store *s = open_store("planted");
    char h[65], *outside = apx_path_join(base, "outside"), *link;
    (void)state;
    commit_data(s, "a", "planted", h);
    assert_int_equal(mkdir(outside, 0755), 0);
    /* models/evil -> outside */
    link = apx_asprintf("%s/models/evil", ap_store_root(s));
    assert_int_equal(symlink(outside, link), 0);
    free(link);
    assert_int_equal(ap_store_link_view(s, "evil", "x", "f", h, NULL),
                     AP_EPATH);
    assert_int_equal(count_entries(outside), 0);
    /* models/hf/org -> outside (deeper component) */
    link = apx_asprintf("%s/models/hf", ap_store_root(s));
    assert_int_equal(mkdir(link, 0755), 0);
    free(link);
    link = apx_asprintf("%s/models/hf/org", ap_store_root(s));
    assert_int_equal(symlink(outside, link), 0);
    free(link);
    assert_int_equal(ap_store_link_view(s, "hf", "org/repo", "f", h, NULL),
                     AP_EPATH);
    assert_int_equal(count_entries(outside), 0);
    /* Unlinking through the planted link touches nothing outside either. */
    link = apx_path_join(outside, "keep");
    write_file(link, "x", 1);
    assert_int_equal(ap_store_unlink_view(s, "hf", "org/repo"), AP_EPATH);
    assert_true(exists(link));
    free(link);
    free(outside);
    ap_store_close(s);
}

typedef struct rep {
    int n;
    char what[8][16];
    uint64_t bytes;
} rep;

static int report_cb(const char *what, const char *path, uint64_t bytes,
                     void *user)
{
    rep *r = user;
    assert_non_null(path);
    if (r->n < 8)
        snprintf(r->what[r->n], sizeof r->what[0], "%s", what);
    r->n++;
    r->bytes += bytes;
    return 0;
}

static void test_verify(void **state)
{
    ap_store *s = open_store("verify");
    char h1[65], h2[65], *blob = NULL;
    size_t checked = 0, bad = 0;
    rep r;
    int fd;
    (void)state;
    commit_data(s, "a", "verify one", h1);
    commit_data(s, "b", "verify two", h2);
    assert_int_equal(ap_store_verify(s, 0, NULL, NULL, &checked, &bad), AP_OK);
    assert_int_equal(checked, 2);
    assert_int_equal(bad, 0);
    assert_int_equal(ap_store_blob_path(s, h2, &blob), AP_OK);
    assert_int_equal(chmod(blob, 0644), 0);
    fd = open(blob, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 3), 1);
    close(fd);
    memset(&r, 0, sizeof r);
    assert_int_equal(ap_store_verify(s, 0, report_cb, &r, &checked, &bad),
                     AP_OK);
    assert_int_equal(checked, 2);
    assert_int_equal(bad, 1);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.what[0], "corrupt");
    assert_true(exists(blob));
    assert_int_equal(ap_store_verify(s, AP_VERIFY_REMOVE, NULL, NULL, &checked,
                                     &bad), AP_OK);
    assert_int_equal(bad, 1);
    assert_false(exists(blob));
    assert_int_equal(ap_store_has_blob(s, h1), 1);
    free(blob);
    ap_store_close(s);
}

static void test_gc(void **state)
{
    ap_store *s = open_store("gc");
    char hk[65], hu[65], hl[65], *old, *oldside, *fresh, *blob = NULL;
    const char *keep[1];
    struct timespec ts[2];
    uint64_t freed = 0;
    rep r;
    int lfd = -1;
    (void)state;
    commit_data(s, "a", "keep me", hk);
    commit_data(s, "b", "drop me!", hu);          /* 8 bytes */
    commit_data(s, "c", "locked one", hl);
    old = stage(s, "old", "stale partial");       /* 13 bytes + 2 sidecar */
    oldside = apx_asprintf("%s.state", old);
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= 7200;
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, old, ts, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, oldside, ts, 0), 0);
    fresh = stage(s, "fresh", "live partial");
    keep[0] = hk;
    assert_int_equal(ap_store_lock(s, hl, &lfd), AP_OK);
    memset(&r, 0, sizeof r);
    assert_int_equal(ap_store_gc(s, keep, 1, 3600, report_cb, &r, &freed),
                     AP_OK);
    ap_store_unlock(lfd);
    assert_int_equal(freed, 8 + 13 + 2);
    assert_int_equal(r.n, 2);
    assert_int_equal(ap_store_has_blob(s, hk), 1);
    assert_int_equal(ap_store_has_blob(s, hu), 0);
    assert_int_equal(ap_store_has_blob(s, hl), 1);   /* lock held: skipped */
    assert_false(exists(old));
    assert_false(exists(oldside));
    assert_true(exists(fresh));
    assert_int_equal(ap_store_blob_path(s, hu, &blob), AP_OK);
    assert_false(exists(blob));
    free(blob);
    /* Unlocked now: goes on the next run. */
    assert_int_equal(ap_store_gc(s, keep, 1, 3600, NULL, NULL, &freed), AP_OK);
    assert_int_equal(freed, 10);
    assert_int_equal(ap_store_has_blob(s, hl), 0);
    assert_int_equal(ap_store_remove_blob(s, hk), AP_OK);
    assert_int_equal(ap_store_remove_blob(s, hk), AP_ENOTFOUND);
    free(old);
    free(oldside);
    free(fresh);
    ap_store_close(s);
}

static void test_lock_names(void **state)
{
    ap_store *s = open_store("locks");
    int fd = -1;
    (void)state;
    assert_int_equal(ap_store_lock(s, "../evil", &fd), AP_EINVAL);
    assert_int_equal(fd, -1);
    assert_int_equal(ap_store_lock(s, "entry-1", &fd), AP_OK);
    assert_true(fd >= 0);
    ap_store_unlock(fd);
    ap_store_close(s);
}

/* Temporary names: ".ap-tmp-<pid>-" and 24 lowercase hex digits (96 bits
 * from libsodium's randombytes_buf), at most 47 characters, never the same
 * twice across threads of one process nor between a parent and its child
 * (a child forked after names were drawn does not repeat the parent's). */
#define TMPN_THREADS 4
#define TMPN_EACH 2000
static char tmpn[TMPN_THREADS * TMPN_EACH + 1][48];

static void *tmpn_thread(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg, i;
    for (i = 0; i < TMPN_EACH; i++)
        apx_fs_tmpname(tmpn[t * TMPN_EACH + i], sizeof tmpn[0]);
    return NULL;
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

static void test_tmpname(void **state)
{
    pthread_t th[TMPN_THREADS];
    char prefix[32];
    size_t i, j, n = TMPN_THREADS * TMPN_EACH;
    int pfd[2], st;
    pid_t pid;
    (void)state;
    for (i = 0; i < TMPN_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, tmpn_thread, (void *)(uintptr_t)i), 0);
    for (i = 0; i < TMPN_THREADS; i++)
        pthread_join(th[i], NULL);
    snprintf(prefix, sizeof prefix, ".ap-tmp-%ld-", (long)getpid());
    for (i = 0; i < n; i++) {
        const char *h = tmpn[i] + strlen(prefix);
        assert_int_equal(strncmp(tmpn[i], prefix, strlen(prefix)), 0);
        assert_int_equal(strlen(h), 24);
        for (j = 0; j < 24; j++)
            assert_non_null(strchr("0123456789abcdef", h[j]));
    }
    /* a forked child's next name */
    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char nm[48];
        apx_fs_tmpname(nm, sizeof nm);
        /* compare the random part only: the pid differs anyway */
        _exit(write(pfd[1], strrchr(nm, '-') + 1, 25) == 25 ? 0 : 1);
    }
    close(pfd[1]);
    {
        char child[25];
        ssize_t r = read(pfd[0], child, sizeof child);
        close(pfd[0]);
        waitpid(pid, &st, 0);
        assert_int_equal(r, 25);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        snprintf(tmpn[n], sizeof tmpn[0], "%s%s", prefix, child);
    }
    qsort(tmpn, n + 1, sizeof tmpn[0], cmp_name);
    for (i = 1; i <= n; i++)
        if (!strcmp(tmpn[i - 1], tmpn[i]))
            fail_msg("temporary name drawn twice: %s", tmpn[i]);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    chmod(p, 0755);
    return remove(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_validate),
        cmocka_unit_test(test_layout_and_paths),
        cmocka_unit_test(test_default_root),
        cmocka_unit_test(test_commit_and_dedup),
        cmocka_unit_test(test_commit_wrong_digest),
        cmocka_unit_test(test_concurrent_commit),
        cmocka_unit_test(test_import),
        cmocka_unit_test(test_import_hostile),
        cmocka_unit_test(test_read_file_fifo),
        cmocka_unit_test(test_open_beneath),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_view_planted_symlink),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_gc),
        cmocka_unit_test(test_lock_names),
        cmocka_unit_test(test_tmpname),
    };
    int rc;
    cmocka_set_message_output(CM_OUTPUT_TAP);
    base = mkdtemp(tmpl);
    if (!base)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
