/* Unit tests: HF cache publish/lookup/scan and Ollama scan (lib/hfcache.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hfcache.h"
#include "digest.h"
#include "testutil.h"
#include <artifactprov.h>

static char tmpl[] = "/tmp/ap-test-hfcache-XXXXXX";
static char *base;
static const char *C1 = "1111111111111111111111111111111111111111";
static const char *C2 = "2222222222222222222222222222222222222222";

static char *pjoin(const char *a, const char *b)
{
    return apx_path_join(a, b);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b = calloc(1, 4096);
    size_t r;
    assert_non_null(f);
    r = fread(b, 1, 4095, f);
    fclose(f);
    if (n)
        *n = r;
    return b;
}

/* Check the layout rules for one published file. */
static void check_published(const char *cache, const char *folder,
                            const char *commit, const char *relpath,
                            const char *etag, const char *content)
{
    char *repo = pjoin(cache, folder), *snap, *blob, target[PATH_MAX];
    char *real_snap, *real_blob, *data, *rel;
    ssize_t n;
    size_t depth = 0, i;
    struct stat st;
    const char *p;
    rel = apx_asprintf("snapshots/%s/%s", commit, relpath);
    snap = pjoin(repo, rel);
    free(rel);
    rel = apx_asprintf("blobs/%s", etag);
    blob = pjoin(repo, rel);
    free(rel);
    assert_int_equal(lstat(blob, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(snap, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    n = readlink(snap, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_true(target[0] != '/');                /* relative */
    for (p = relpath; *p; p++)
        depth += *p == '/';
    for (i = 0; i < depth + 2; i++)
        assert_memory_equal(target + 3 * i, "../", 3);
    assert_memory_equal(target + 3 * (depth + 2), "blobs/", 6);
    assert_string_equal(target + 3 * (depth + 2) + 6, etag);
    real_snap = realpath(snap, NULL);
    real_blob = realpath(blob, NULL);
    assert_non_null(real_snap);
    assert_string_equal(real_snap, real_blob);
    data = slurp(snap, NULL);
    assert_string_equal(data, content);
    free(data);
    free(real_snap);
    free(real_blob);
    free(snap);
    free(blob);
    free(repo);
}

static void test_publish_and_lookup(void **state)
{
    char *cache = pjoin(base, "hub"), *src = pjoin(base, "blob1");
    char *src2 = pjoin(base, "blob2"), *out = NULL, *refs, *data;
    char etag[65], commit[41];
    const char *sha1 = "0123456789abcdef0123456789abcdef01234567";
    size_t n;
    apx_error err;
    (void)state;
    write_str(src, "weights!");
    write_str(src2, "{\"a\":1}");
    sha_of("weights!", etag);
    assert_int_equal(apx_hf_publish(cache, "model", "org/name", C1, "main",
                                    "sub/dir/model.gguf", etag, src, &out,
                                    &err), AP_OK);
    assert_non_null(strstr(out, "models--org--name/snapshots/"));
    free(out);
    assert_int_equal(apx_hf_publish(cache, NULL, "org/name", C1, "main",
                                    "config.json", sha1, src2, NULL, &err),
                     AP_OK);
    check_published(cache, "models--org--name", C1, "sub/dir/model.gguf", etag,
                    "weights!");
    check_published(cache, "models--org--name", C1, "config.json", sha1,
                    "{\"a\":1}");
    refs = pjoin(cache, "models--org--name/refs/main");
    data = slurp(refs, &n);
    assert_int_equal(n, 40);                      /* no trailing newline */
    assert_memory_equal(data, C1, 40);
    free(data);
    /* Republish (idempotent) and move main to a new commit. */
    assert_int_equal(apx_hf_publish(cache, "model", "org/name", C1, "main",
                                    "sub/dir/model.gguf", etag, src, NULL,
                                    &err), AP_OK);
    assert_int_equal(apx_hf_publish(cache, "model", "org/name", C2, "main",
                                    "sub/dir/model.gguf", etag, src, NULL,
                                    &err), AP_OK);
    data = slurp(refs, &n);
    assert_int_equal(n, 40);
    assert_memory_equal(data, C2, 40);
    free(data);
    free(refs);
    /* no temp names left behind */
    refs = pjoin(cache, "models--org--name/blobs");
    assert_int_equal(count_entries(refs), 2);
    free(refs);
    /* datasets and spaces, repo without org, revision with a slash */
    assert_int_equal(apx_hf_publish(cache, "dataset", "org/ds", C1,
                                    "refs/pr/1", "a.txt", sha1, src2, NULL,
                                    &err), AP_OK);
    check_published(cache, "datasets--org--ds", C1, "a.txt", sha1, "{\"a\":1}");
    refs = pjoin(cache, "datasets--org--ds/refs/refs/pr/1");
    data = slurp(refs, &n);
    assert_int_equal(n, 40);
    free(data);
    free(refs);
    assert_int_equal(apx_hf_publish(cache, "space", "gpt2", C1, NULL, "x",
                                    sha1, src2, NULL, &err), AP_OK);
    check_published(cache, "spaces--gpt2", C1, "x", sha1, "{\"a\":1}");

    /* lookup by branch and by commit */
    assert_int_equal(apx_hf_lookup(cache, "model", "org/name", "main",
                                   "sub/dir/model.gguf", &out, commit, &err),
                     AP_OK);
    assert_string_equal(commit, C2);
    data = slurp(out, NULL);
    assert_string_equal(data, "weights!");
    free(data);
    assert_non_null(strstr(out, "/blobs/"));
    free(out);
    assert_int_equal(apx_hf_lookup(cache, NULL, "org/name", C1, "config.json",
                                   &out, NULL, &err), AP_OK);
    free(out);
    assert_int_equal(apx_hf_lookup(cache, NULL, "org/name", C2, "config.json",
                                   &out, NULL, &err), AP_ENOTFOUND);
    assert_null(out);
    assert_int_equal(apx_hf_lookup(cache, NULL, "org/name", "dev",
                                   "config.json", &out, NULL, &err),
                     AP_ENOTFOUND);
    assert_int_equal(apx_hf_lookup(cache, NULL, "org/other", "main",
                                   "config.json", &out, NULL, &err),
                     AP_ENOTFOUND);
    assert_int_equal(apx_hf_lookup(cache, NULL, "org/name", "main", "../x",
                                   &out, NULL, &err), AP_EPATH);
    free(src);
    free(src2);
    free(cache);
}

static void test_hostile(void **state)
{
    char *cache = pjoin(base, "hub-hostile"), *src = pjoin(base, "hblob");
    char *outside = pjoin(base, "outside-h"), *link;
    const char *sha1 = "0123456789abcdef0123456789abcdef01234567";
    apx_error err;
    (void)state;
    write_str(src, "x");
    assert_int_equal(apx_hf_publish(cache, NULL, "org/n", C1, "main", "../x",
                                    sha1, src, NULL, &err), AP_EPATH);
    assert_int_equal(apx_hf_publish(cache, NULL, "org/n", C1, "main", "/abs",
                                    sha1, src, NULL, &err), AP_EPATH);
    assert_int_equal(apx_hf_publish(cache, NULL, "org/n", C1, "main", "a/../b",
                                    sha1, src, NULL, &err), AP_EPATH);
    assert_int_equal(apx_hf_publish(cache, NULL, "org/n", C1, "../main", "a",
                                    sha1, src, NULL, &err), AP_EPATH);
    assert_int_equal(apx_hf_publish(cache, NULL, "a/b/c", C1, "main", "a",
                                    sha1, src, NULL, &err), AP_EPATH);
    assert_int_equal(apx_hf_publish(cache, NULL, "../b", C1, "main", "a",
                                    sha1, src, NULL, &err), AP_EPATH);
    assert_int_equal(apx_hf_publish(cache, NULL, "a--b/c", C1, "main", "a",
                                    sha1, src, NULL, &err), AP_EPATH);
    assert_int_equal(apx_hf_publish(cache, "weird", "a/b", C1, "main", "a",
                                    sha1, src, NULL, &err), AP_EINVAL);
    assert_int_equal(apx_hf_publish(cache, NULL, "a/b", "../../x", "main", "a",
                                    sha1, src, NULL, &err), AP_EINVAL);
    assert_int_equal(apx_hf_publish(cache, NULL, "a/b", C1, "main", "a",
                                    "../../etc", src, NULL, &err), AP_EINVAL);
    /* A symlink planted at snapshots/ cannot redirect the write. */
    assert_int_equal(mkdir(outside, 0755), 0);
    assert_int_equal(apx_mkdirs(cache), AP_OK);
    link = pjoin(cache, "models--org--n");
    assert_int_equal(mkdir(link, 0755), 0);
    free(link);
    link = pjoin(cache, "models--org--n/snapshots");
    assert_int_equal(symlink(outside, link), 0);
    free(link);
    assert_int_equal(apx_hf_publish(cache, NULL, "org/n", C1, "main", "a",
                                    sha1, src, NULL, &err), AP_EPATH);
    assert_int_equal(count_entries(outside), 0);
    free(outside);
    free(src);
    free(cache);
}

/* Lookups stay inside the cache and never block: a FIFO at refs/main, a
 * snapshot link leaving the cache, a FIFO as the blob. */
static void test_lookup_hostile(void **state)
{
    char *cache = pjoin(base, "hub-lh"), *p, *out = NULL, commit[41];
    char *outside = pjoin(base, "lh-secret");
    apx_error err;
    (void)state;
    alarm(20);
    write_str(outside, "secret");
    p = pjoin(cache, "models--org--lh/refs");
    assert_int_equal(apx_mkdirs(p), AP_OK);
    free(p);
    p = pjoin(cache, "models--org--lh/blobs");
    assert_int_equal(apx_mkdirs(p), AP_OK);
    free(p);
    p = pjoin(cache, "models--org--lh/snapshots/1111111111111111111111111111111111111111");
    assert_int_equal(apx_mkdirs(p), AP_OK);
    free(p);
    p = pjoin(cache, "models--org--lh/refs/main");
    assert_int_equal(mkfifo(p, 0600), 0);
    free(p);
    assert_int_not_equal(apx_hf_lookup(cache, NULL, "org/lh", "main", "a.bin",
                                       &out, commit, &err), AP_OK);
    assert_null(out);
    /* snapshots/<c>/a.bin -> ../../../../lh-secret (outside the cache) */
    p = pjoin(cache, "models--org--lh/snapshots/1111111111111111111111111111111111111111/a.bin");
    assert_int_equal(symlink("../../../../lh-secret", p), 0);
    free(p);
    assert_int_not_equal(apx_hf_lookup(cache, NULL, "org/lh", C1, "a.bin",
                                       &out, commit, &err), AP_OK);
    assert_null(out);
    /* snapshots/<c>/b.bin -> ../../blobs/<sha1>, a FIFO */
    p = pjoin(cache, "models--org--lh/blobs/0123456789abcdef0123456789abcdef01234567");
    assert_int_equal(mkfifo(p, 0600), 0);
    free(p);
    p = pjoin(cache, "models--org--lh/snapshots/1111111111111111111111111111111111111111/b.bin");
    assert_int_equal(symlink("../../blobs/0123456789abcdef0123456789abcdef01234567", p), 0);
    free(p);
    assert_int_not_equal(apx_hf_lookup(cache, NULL, "org/lh", C1, "b.bin",
                                       &out, commit, &err), AP_OK);
    assert_null(out);
    alarm(0);
    free(outside);
    free(cache);
}

typedef struct seen {
    int n;
    int with_etag;
    char last_repo[64];
    int warnings;
    char last_warning[512];
} seen;

static int hf_cb(const apx_hf_file *f, void *user)
{
    seen *s = user;
    char buf[16];
    s->n++;
    if (f->etag)
        s->with_etag++;
    assert_non_null(f->blob_path);
    /* the file is handed over open: what is read is what was resolved */
    assert_true(f->fd >= 0);
    assert_int_equal(pread(f->fd, buf, sizeof buf, 0), 7);
    assert_memory_equal(buf, "scan me", 7);
    assert_non_null(strstr(f->path, f->relpath));
    snprintf(s->last_repo, sizeof s->last_repo, "%s:%s", f->repo_type,
             f->repo_id);
    return 0;
}

static void warn_cb(const char *msg, void *user)
{
    seen *s = user;
    s->warnings++;
    snprintf(s->last_warning, sizeof s->last_warning, "%s", msg);
}

static int stop_cb(const apx_hf_file *f, void *user)
{
    (void)f; (void)user;
    return 1;
}

static void test_scan_hf(void **state)
{
    char *cache = pjoin(base, "hub-scan"), *src = pjoin(base, "sblob");
    char *p, *evil, etag[65];
    const char *sha1 = "0123456789abcdef0123456789abcdef01234567";
    seen s;
    size_t skipped = 0;
    apx_error err;
    (void)state;
    write_str(src, "scan me");
    sha_of("scan me", etag);
    assert_int_equal(apx_hf_publish(cache, NULL, "org/a", C1, "main",
                                    "m.gguf", etag, src, NULL, &err), AP_OK);
    assert_int_equal(apx_hf_publish(cache, NULL, "org/a", C1, "main",
                                    "d/config.json", sha1, src, NULL, &err),
                     AP_OK);
    assert_int_equal(apx_hf_publish(cache, "dataset", "org/d", C2, "main",
                                    "t.csv", sha1, src, NULL, &err), AP_OK);
    /* A snapshot entry escaping the cache is skipped. */
    evil = pjoin(cache, "models--org--a/snapshots/" "1111111111111111111111111111111111111111/evil");
    assert_int_equal(symlink("/etc/passwd", evil), 0);
    free(evil);
    /* Junk at the top level is ignored. */
    p = pjoin(cache, "version.txt");
    write_str(p, "1");
    free(p);
    memset(&s, 0, sizeof s);
    assert_int_equal(apx_hf_scan(cache, hf_cb, &s, warn_cb, &skipped, &err), AP_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.with_etag, 3);
    assert_int_equal(skipped, 1);
    /* ... and the warning names the link and its target */
    assert_int_equal(s.warnings, 1);
    assert_non_null(strstr(s.last_warning, "evil"));
    assert_non_null(strstr(s.last_warning, "/etc/passwd"));
    assert_int_equal(apx_hf_scan(cache, stop_cb, NULL, NULL, NULL, &err), AP_EUSER);
    assert_int_equal(apx_hf_scan("/nonexistent/hub", hf_cb, &s, NULL, NULL, &err),
                     AP_ENOTFOUND);
    free(src);
    free(cache);
}

typedef struct oseen {
    int n;
    size_t layers;
    int present;
    int config;
} oseen;

static int ol_cb(const apx_ollama_model *m, void *user)
{
    oseen *s = user;
    size_t i;
    s->n++;
    assert_string_equal(m->host, "registry.ollama.ai");
    assert_string_equal(m->ns, "library");
    assert_string_equal(m->model, "llama3");
    assert_string_equal(m->tag, "latest");
    s->layers += m->nlayers;
    for (i = 0; i < m->nlayers; i++)
        s->present += m->layers[i].present;
    if (m->config)
        s->config++;
    assert_string_equal(m->layers[0].media_type,
                        "application/vnd.ollama.image.model");
    return 0;
}

static void test_scan_ollama(void **state)
{
    char *root = pjoin(base, "ollama"), *dir, *p, hm[65], ht[65], hc[65];
    char *doc;
    oseen s;
    size_t skipped = 0;
    apx_error err;
    (void)state;
    sha_of("GGUF model bytes", hm);
    sha_of("{{ .Prompt }}", ht);
    sha_of("{\"model_format\":\"gguf\"}", hc);
    dir = pjoin(root, "manifests/registry.ollama.ai/library/llama3");
    assert_int_equal(apx_mkdirs(dir), AP_OK);
    p = pjoin(root, "blobs");
    assert_int_equal(apx_mkdirs(p), AP_OK);
    free(p);
    p = apx_asprintf("%s/blobs/sha256-%s", root, hm);
    write_str(p, "GGUF model bytes");
    free(p);
    p = apx_asprintf("%s/blobs/sha256-%s", root, hc);
    write_str(p, "{\"model_format\":\"gguf\"}");
    free(p);
    doc = apx_asprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker."
        "distribution.manifest.v2+json\",\"config\":{\"mediaType\":"
        "\"application/vnd.docker.container.image.v1+json\",\"digest\":"
        "\"sha256:%s\",\"size\":23},\"layers\":[{\"mediaType\":"
        "\"application/vnd.ollama.image.model\",\"digest\":\"sha256:%s\","
        "\"size\":16},{\"mediaType\":\"application/vnd.ollama.image.template\","
        "\"digest\":\"sha256:%s\",\"size\":13}]}", hc, hm, ht);
    p = pjoin(dir, "latest");
    write_str(p, doc);
    free(p);
    free(doc);
    p = pjoin(dir, "broken");
    write_str(p, "{\"layers\":[{\"digest\":\"md5:x\"}]}");
    free(p);
    p = pjoin(dir, "garbage");
    write_str(p, "nope");
    free(p);
    memset(&s, 0, sizeof s);
    assert_int_equal(apx_ollama_scan(root, ol_cb, &s, NULL, &skipped, &err), AP_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.layers, 2);
    assert_int_equal(s.present, 1);   /* the template blob is missing */
    assert_int_equal(s.config, 1);
    assert_int_equal(skipped, 2);
    free(dir);
    free(root);
}

static void test_defaults(void **state)
{
    char *p = NULL;
    (void)state;
    setenv("HF_HUB_CACHE", "/h/c", 1);
    assert_int_equal(apx_hf_default_cache(&p), AP_OK);
    assert_string_equal(p, "/h/c");
    free(p);
    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", "/hh", 1);
    assert_int_equal(apx_hf_default_cache(&p), AP_OK);
    assert_string_equal(p, "/hh/hub");
    free(p);
    unsetenv("HF_HOME");
    setenv("OLLAMA_MODELS", "/o", 1);
    assert_int_equal(apx_ollama_default_dir(&p), AP_OK);
    assert_string_equal(p, "/o");
    free(p);
    unsetenv("OLLAMA_MODELS");
    setenv("HOME", "/u", 1);
    assert_int_equal(apx_ollama_default_dir(&p), AP_OK);
    assert_string_equal(p, "/u/.ollama/models");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_and_lookup),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_lookup_hostile),
        cmocka_unit_test(test_scan_hf),
        cmocka_unit_test(test_scan_ollama),
        cmocka_unit_test(test_defaults),
    };
    int rc;
    char cmd[128];
    cmocka_set_message_output(CM_OUTPUT_TAP);
    base = mkdtemp(tmpl);
    if (!base)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0 && !rc)
        rc = 1;
    return rc;
}
