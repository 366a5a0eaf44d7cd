/* Digest tests: known vectors for SHA-256, SHA-1 and git blob ids, for the
 * libcrypto backend (the library's) and the libsodium backend (digest.c
 * compiled a second time into this test under other names).
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "digest.h"

/* ---- second copy of lib/digest.c, libsodium backend, renamed ---------- */
#define apx_digest_new sod_digest_new
#define apx_digest_free sod_digest_free
#define apx_digest_reset sod_digest_reset
#define apx_digest_update sod_digest_update
#define apx_digest_final_hex sod_digest_final_hex
#define apx_digest_backend sod_digest_backend
#define apx_sha256_file sod_sha256_file
#define apx_digest_fd sod_digest_fd
#define apx_digest_git_blob_head sod_digest_git_blob_head
#define apx_digest sod_digest_t
typedef struct sod_digest_t sod_digest_t;
#undef AP_DIGEST_SODIUM
#define AP_DIGEST_SODIUM 1
#include "../../lib/digest.c"
#undef apx_digest_new
#undef apx_digest_free
#undef apx_digest_reset
#undef apx_digest_update
#undef apx_digest_final_hex
#undef apx_digest_backend
#undef apx_sha256_file
#undef apx_digest_fd
#undef apx_digest_git_blob_head
#undef apx_digest
/* ----------------------------------------------------------------------- */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct backend {
    const char *name;
    void *(*dnew)(apx_digest_alg);
    void (*dfree)(void *);
    int (*reset)(void *);
    int (*update)(void *, const void *, size_t);
    int (*final)(void *, char *);
    const char *(*bname)(void);
    int (*file)(const char *, char[65], uint64_t *);
} backend;

/* adapters (the two backends have distinct struct types) */
static void *c_new(apx_digest_alg a) { return apx_digest_new(a); }
static void c_free(void *d) { apx_digest_free(d); }
static int c_reset(void *d) { return apx_digest_reset(d); }
static int c_update(void *d, const void *p, size_t n)
{
    return apx_digest_update(d, p, n);
}
static int c_final(void *d, char *h) { return apx_digest_final_hex(d, h); }
static void *s_new(apx_digest_alg a) { return sod_digest_new(a); }
static void s_free(void *d) { sod_digest_free(d); }
static int s_reset(void *d) { return sod_digest_reset(d); }
static int s_update(void *d, const void *p, size_t n)
{
    return sod_digest_update(d, p, n);
}
static int s_final(void *d, char *h) { return sod_digest_final_hex(d, h); }

static const backend BACKENDS[2] = {
    { "libcrypto", c_new, c_free, c_reset, c_update, c_final,
      apx_digest_backend, apx_sha256_file },
    { "libsodium", s_new, s_free, s_reset, s_update, s_final,
      sod_digest_backend, sod_sha256_file },
};

static const char MSG448[] =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char MSG896[] =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

static const struct vec {
    apx_digest_alg alg;
    const char *msg;
    size_t repeat; /* msg repeated */
    const char *hex;
} VECS[] = {
    { APX_SHA256, "", 1,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { APX_SHA256, "abc", 1,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { APX_SHA256, MSG448, 1,
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    { APX_SHA256, MSG896, 1,
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
    { APX_SHA256, "a", 1000000,
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
    { APX_SHA1, "", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
    { APX_SHA1, "abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d" },
    { APX_SHA1, MSG448, 1, "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
    { APX_SHA1, MSG896, 1, "a49b2446a02c645bf419f995b67091253a04a259" },
    { APX_SHA1, "a", 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
};

static void check_vectors(const backend *b, size_t step)
{
    size_t i, r;
    for (i = 0; i < sizeof VECS / sizeof VECS[0]; i++) {
        const struct vec *v = &VECS[i];
        void *d = b->dnew(v->alg);
        char hex[65];
        size_t len = strlen(v->msg);
        assert_non_null(d);
        for (r = 0; r < v->repeat; r++) {
            size_t off = 0;
            if (step == 0 || len == 0) {
                assert_int_equal(b->update(d, v->msg, len), AP_OK);
                continue;
            }
            while (off < len) {
                size_t n = len - off < step ? len - off : step;
                assert_int_equal(b->update(d, v->msg + off, n), AP_OK);
                off += n;
            }
        }
        assert_int_equal(b->final(d, hex), AP_OK);
        assert_string_equal(hex, v->hex);
        /* reset gives a fresh state */
        assert_int_equal(b->reset(d), AP_OK);
        assert_int_equal(b->update(d, "abc", 3), AP_OK);
        assert_int_equal(b->final(d, hex), AP_OK);
        assert_string_equal(hex, v->alg == APX_SHA256
                                     ? VECS[1].hex
                                     : VECS[6].hex);
        b->dfree(d);
    }
}

static void test_vectors(void **state)
{
    size_t k;
    (void)state;
    for (k = 0; k < 2; k++) {
        check_vectors(&BACKENDS[k], 0);
        check_vectors(&BACKENDS[k], 1);  /* byte at a time */
        check_vectors(&BACKENDS[k], 63); /* straddles blocks */
    }
    /* The library's backend is libcrypto unless built with AP_DIGEST=sodium
     * (the Makefile passes AP_DIGEST to the tests' environment). */
    {
        const char *want = getenv("AP_DIGEST");
        assert_string_equal(BACKENDS[0].bname(),
                            want && strcmp(want, "sodium") == 0 ? "libsodium" : "libcrypto");
    }
    assert_string_equal(BACKENDS[1].bname(), "libsodium");
}

static void git_blob(const backend *b, const char *data, char hex[41])
{
    void *d = b->dnew(APX_SHA1);
    char hdr[32];
    int n = snprintf(hdr, sizeof hdr, "blob %zu", strlen(data));
    b->update(d, hdr, (size_t)n + 1);
    b->update(d, data, strlen(data));
    b->final(d, hex);
    b->dfree(d);
}

static void test_git_blob_ids(void **state)
{
    size_t k;
    char hex[41];
    (void)state;
    for (k = 0; k < 2; k++) {
        /* git hash-object of an empty file and of "hello world\n" */
        git_blob(&BACKENDS[k], "", hex);
        assert_string_equal(hex, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        git_blob(&BACKENDS[k], "hello world\n", hex);
        assert_string_equal(hex, "3b18e512dba79e4c8300dd08aeb37f8e728b8dad");
    }
}

static void test_sha256_file(void **state)
{
    char path[] = "/tmp/ap-test-digest-XXXXXX", hex[65];
    int fd = mkstemp(path);
    size_t k;
    uint64_t size = 0;
    char *buf = malloc(3u << 20);
    (void)state;
    assert_true(fd >= 0);
    memset(buf, 'a', 3u << 20);
    /* 1,000,000 'a' (one read), then 3 MiB + 1 (several 1 MiB reads) */
    assert_int_equal(write(fd, buf, 1000000), 1000000);
    for (k = 0; k < 2; k++) {
        assert_int_equal(BACKENDS[k].file(path, hex, &size), AP_OK);
        assert_int_equal(size, 1000000);
        assert_string_equal(hex, VECS[4].hex);
    }
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, buf, (3u << 20), 0), (ssize_t)(3u << 20));
    assert_int_equal(pwrite(fd, "b", 1, 3u << 20), 1);
    {
        char h0[65], h1[65];
        void *d = BACKENDS[0].dnew(APX_SHA256);
        BACKENDS[0].update(d, buf, 3u << 20);
        BACKENDS[0].update(d, "b", 1);
        BACKENDS[0].final(d, h0);
        BACKENDS[0].dfree(d);
        assert_int_equal(BACKENDS[0].file(path, hex, &size), AP_OK);
        assert_int_equal(BACKENDS[1].file(path, h1, NULL), AP_OK);
        assert_string_equal(hex, h0);
        assert_string_equal(h1, h0);
        assert_int_equal(size, (3u << 20) + 1);
    }
    close(fd);
    unlink(path);
    free(buf);
    assert_int_equal(apx_sha256_file("/nonexistent/x", hex, NULL), AP_EIO);
    assert_int_equal(apx_sha256_file(NULL, hex, NULL), AP_EINVAL);
}

static void test_bad_args(void **state)
{
    (void)state;
    assert_null(apx_digest_new((apx_digest_alg)7));
    assert_null(sod_digest_new((apx_digest_alg)7));
    assert_int_equal(apx_digest_update(NULL, "x", 1), AP_EINVAL);
    assert_int_equal(apx_digest_reset(NULL), AP_EINVAL);
    apx_digest_free(NULL);
    sod_digest_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_git_blob_ids),
        cmocka_unit_test(test_sha256_file),
        cmocka_unit_test(test_bad_args),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    ap_global_init();
    {
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        ap_global_cleanup();
        return rc;
    }
}
