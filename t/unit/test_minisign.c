/* minisign verification (lib/minisign.c) against real keys and signatures
 * made by Debian's `minisign` tool in a temporary directory: a good
 * prehashed signature, a good legacy one, a tampered file, a wrong key, a
 * tampered trusted comment, malformed keys and signatures, cancellation.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "minisign.h"
#include "testutil.h"

static char dir[] = "/tmp/ap-minisign-XXXXXX";

static char *path_of(const char *name)
{
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

static void run(const char *fmt, ...) AP_PRINTF(1, 2);
static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 16);
    size_t n;
    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int setup(void **state)
{
    int i;
    FILE *f;
    (void)state;
    assert_int_equal(ap_global_init(), AP_OK);
    assert_non_null(mkdtemp(dir));
    run("cd %s && minisign -G -W -p k.pub -s k.key >/dev/null 2>&1 && "
        "minisign -G -W -p other.pub -s other.key >/dev/null 2>&1", dir);
    f = fopen(path_of("model.bin"), "wb");
    assert_non_null(f);
    for (i = 0; i < 300000; i++)   /* a few MiB: more than one read chunk */
        fprintf(f, "line %d of the model\n", i);
    fclose(f);
    run("cd %s && minisign -S -s k.key -m model.bin -t 'file:model.bin' >/dev/null 2>&1 && "
        "minisign -S -l -s k.key -m model.bin -x legacy.minisig >/dev/null 2>&1 && "
        "minisign -S -s other.key -m model.bin -x other.minisig >/dev/null 2>&1", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    run("rm -rf %s", dir);
    ap_global_cleanup();
    return 0;
}

static int verify(const char *pub, const char *sigfile, const char *file, apx_error *err,
                  char **comment)
{
    apx_minisign_key key;
    apx_minisig sig;
    size_t len;
    char *kt = slurp(path_of(pub), NULL), *st = slurp(path_of(sigfile), &len);
    int fd, rc;
    rc = apx_minisign_key_parse(kt, pub, &key, err);
    if (rc == AP_OK)
        rc = apx_minisig_parse(st, len, sigfile, &sig, err);
    if (rc == AP_OK) {
        fd = open(path_of(file), O_RDONLY);
        assert_true(fd >= 0);
        rc = apx_minisign_verify_fd(&key, &sig, fd, file, NULL, NULL, err);
        close(fd);
        if (comment)
            *comment = strdup(sig.trusted_comment);
        apx_minisig_clear(&sig);
    }
    free(kt);
    free(st);
    return rc;
}

static void test_good_prehashed(void **state)
{
    apx_error err = { 0, "" };
    char *comment = NULL;
    (void)state;
    assert_int_equal(verify("k.pub", "model.bin.minisig", "model.bin", &err, &comment), AP_OK);
    assert_string_equal(comment, "file:model.bin");
    free(comment);
}

static void test_good_legacy(void **state)
{
    apx_error err = { 0, "" };
    (void)state;
    assert_int_equal(verify("k.pub", "legacy.minisig", "model.bin", &err, NULL), AP_OK);
}

static void test_key_line_alone(void **state)
{
    apx_minisign_key a, b;
    apx_error err = { 0, "" };
    char *kt = slurp(path_of("k.pub"), NULL);
    const char *line2 = strchr(kt, '\n') + 1;
    (void)state;
    assert_int_equal(apx_minisign_key_parse(kt, "k.pub", &a, &err), AP_OK);
    assert_int_equal(apx_minisign_key_parse(line2, "key", &b, &err), AP_OK);
    assert_memory_equal(&a, &b, sizeof a);
    free(kt);
}

static void test_tampered_file(void **state)
{
    apx_error err = { 0, "" };
    (void)state;
    run("cd %s && cp model.bin bad.bin && printf X | dd of=bad.bin bs=1 seek=1000 "
        "conv=notrunc 2>/dev/null && cp model.bin.minisig bad.bin.minisig && "
        "cp legacy.minisig bad.legacy.minisig", dir);
    assert_int_equal(verify("k.pub", "bad.bin.minisig", "bad.bin", &err, NULL), AP_EDIGEST);
    assert_non_null(strstr(err.msg, "bad.bin: minisign signature does not verify"));
    assert_int_equal(verify("k.pub", "bad.legacy.minisig", "bad.bin", &err, NULL),
                     AP_EDIGEST);
}

static void test_wrong_key(void **state)
{
    apx_error err = { 0, "" };
    (void)state;
    /* Signed by another key: the key ids differ. */
    assert_int_equal(verify("k.pub", "other.minisig", "model.bin", &err, NULL), AP_EAUTH);
    assert_non_null(strstr(err.msg, "not by the trusted key"));
    /* A key id forged to match: the signature itself fails. */
    {
        char *kt = slurp(path_of("k.pub"), NULL), *ot = slurp(path_of("other.pub"), NULL);
        apx_minisign_key k, o;
        apx_minisig sig;
        size_t len;
        char *st = slurp(path_of("other.minisig"), &len);
        int fd = open(path_of("model.bin"), O_RDONLY);
        assert_int_equal(apx_minisign_key_parse(kt, "k", &k, &err), AP_OK);
        assert_int_equal(apx_minisign_key_parse(ot, "o", &o, &err), AP_OK);
        assert_int_equal(apx_minisig_parse(st, len, "other.minisig", &sig, &err), AP_OK);
        memcpy(sig.key_id, k.id, 8);
        assert_int_equal(apx_minisign_verify_fd(&k, &sig, fd, "model.bin", NULL, NULL, &err),
                         AP_EDIGEST);
        apx_minisig_clear(&sig);
        close(fd);
        free(kt);
        free(ot);
        free(st);
    }
}

static void test_tampered_comment(void **state)
{
    apx_error err = { 0, "" };
    (void)state;
    run("cd %s && sed 's/^trusted comment: file:model.bin$/trusted comment: file:evil.bin/' "
        "model.bin.minisig > comment.minisig && ! cmp -s comment.minisig model.bin.minisig",
        dir);
    assert_int_equal(verify("k.pub", "comment.minisig", "model.bin", &err, NULL), AP_EDIGEST);
    assert_non_null(strstr(err.msg, "trusted comment"));
}

static void test_malformed(void **state)
{
    apx_minisign_key key;
    apx_minisig sig;
    apx_error err = { 0, "" };
    static const char *bad_sigs[] = {
        "",
        "untrusted comment: x\n",
        "untrusted comment: x\nnot base64!!\ntrusted comment: y\nAAAA\n",
        "untrusted comment: x\nRWQ=\ntrusted comment: y\nAAAA\n",
        "hello\nworld\n",
    };
    size_t i;
    (void)state;
    assert_int_equal(apx_minisign_key_parse("", "empty", &key, &err), AP_EINVAL);
    assert_int_equal(apx_minisign_key_parse("untrusted comment: x\nAAAA\n", "short", &key,
                                            &err), AP_EINVAL);
    assert_non_null(strstr(err.msg, "short"));
    for (i = 0; i < sizeof bad_sigs / sizeof *bad_sigs; i++) {
        assert_int_equal(apx_minisig_parse(bad_sigs[i], strlen(bad_sigs[i]), "s", &sig, &err),
                         AP_EINVAL);
        assert_null(sig.trusted_comment);
    }
    /* A good signature whose last line is cut. */
    {
        size_t len;
        char *st = slurp(path_of("model.bin.minisig"), &len);
        char *last = strrchr(st, '\n');
        *last = '\0';
        last = strrchr(st, '\n');
        assert_int_equal(apx_minisig_parse(st, (size_t)(last - st) + 1, "cut", &sig, &err),
                         AP_EINVAL);
        free(st);
    }
}

static int cancel_now(void *user)
{
    (void)user;
    return 1;
}

static void test_cancel(void **state)
{
    apx_error err = { 0, "" };
    apx_minisign_key key;
    apx_minisig sig;
    size_t len;
    char *kt = slurp(path_of("k.pub"), NULL), *st = slurp(path_of("model.bin.minisig"), &len);
    int fd = open(path_of("model.bin"), O_RDONLY);
    (void)state;
    assert_int_equal(apx_minisign_key_parse(kt, "k", &key, &err), AP_OK);
    assert_int_equal(apx_minisig_parse(st, len, "sig", &sig, &err), AP_OK);
    assert_int_equal(apx_minisign_verify_fd(&key, &sig, fd, "model.bin", cancel_now, NULL,
                                            &err), AP_ECANCELLED);
    apx_minisig_clear(&sig);
    close(fd);
    free(kt);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_prehashed),
        cmocka_unit_test(test_good_legacy),
        cmocka_unit_test(test_key_line_alone),
        cmocka_unit_test(test_tampered_file),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_tampered_comment),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_cancel),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, setup, teardown);
}
