/* Unit tests: importing foreign caches through the vendors' `scan`
 * (ap_provisioner_scan) — the HF cache walk of vendors/huggingface and the
 * Ollama store walk of vendors/ollama, with the host keeping the trust
 * (digests from the bytes, links leading out and FIFOs refused, claims
 * checked) — the one default-directory rule of each vendor, and the Ollama
 * vendor's resolve from the local store.  The plugins are loaded from
 * $AP_BUILD/vendors. */
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

#include "digest.h"
#include "testutil.h"
#include <artifactprov.h>

static char tmpl[] = "/tmp/ap-test-hfcache-XXXXXX";
static char *base;
static char vdir[600];
static const char *C1 = "1111111111111111111111111111111111111111";
static const char *C2 = "2222222222222222222222222222222222222222";

static ap_provisioner *mk(const char *name)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    char *home = apx_path_join(base, name);
    o.home = home;
    o.vendor_path = vdir;
    assert_int_equal(ap_provisioner_new(&p, &o), AP_OK);
    free(home);
    return p;
}

static void git_of(const char *data, char hex[41])
{
    apx_digest *d = apx_digest_new(APX_SHA1);
    char head[48];
    int n = snprintf(head, sizeof head, "blob %zu", strlen(data));
    assert_non_null(d);
    apx_digest_update(d, head, (size_t)n + 1);
    apx_digest_update(d, data, strlen(data));
    assert_int_equal(apx_digest_final_hex(d, hex), AP_OK);
    apx_digest_free(d);
}

static void mkdirs_of(const char *root, const char *rel)
{
    char *p = apx_path_join(root, rel);
    assert_int_equal(apx_mkdirs(p), AP_OK);
    free(p);
}

static void put(const char *root, const char *rel, const char *content)
{
    char *p = apx_path_join(root, rel);
    write_str(p, content);
    free(p);
}

static void link_at(const char *root, const char *rel, const char *target)
{
    char *p = apx_path_join(root, rel);
    assert_int_equal(symlink(target, p), 0);
    free(p);
}

static int any_warning(ap_provisioner *p, const char *a, const char *b)
{
    size_t i;
    for (i = 0; i < ap_provisioner_warning_count(p); i++) {
        const char *w = ap_provisioner_warning(p, i);
        if (strstr(w, a) && (!b || strstr(w, b)))
            return 1;
    }
    return 0;
}

/* An HF cache as huggingface_hub lays it out, with a planted blob and a
 * link leading out. */
static char *make_hf_cache(const char *name)
{
    char *cache = apx_path_join(base, name), sha[65], git[41], rel[256];
    sha_of("scan me", sha);
    git_of("regular", git);
    mkdirs_of(cache, "models--org--a/blobs");
    snprintf(rel, sizeof rel, "models--org--a/snapshots/%s/d", C1);
    mkdirs_of(cache, rel);
    snprintf(rel, sizeof rel, "models--org--a/blobs/%s", sha);
    put(cache, rel, "scan me");
    snprintf(rel, sizeof rel, "models--org--a/blobs/%s", git);
    put(cache, rel, "regular");
    /* a blob whose bytes are not what its name claims */
    put(cache, "models--org--a/blobs/"
               "00000000000000000000000000000000000000000000000000000000000000ab",
        "planted");
    snprintf(rel, sizeof rel, "models--org--a/snapshots/%s/m.gguf", C1);
    {
        char t[128];
        snprintf(t, sizeof t, "../../blobs/%s", sha);
        link_at(cache, rel, t);
        snprintf(rel, sizeof rel, "models--org--a/snapshots/%s/d/config.json", C1);
        snprintf(t, sizeof t, "../../../blobs/%s", git);
        link_at(cache, rel, t);
    }
    snprintf(rel, sizeof rel, "models--org--a/snapshots/%s/bad.bin", C1);
    link_at(cache, rel, "../../blobs/"
                        "00000000000000000000000000000000000000000000000000000000000000ab");
    snprintf(rel, sizeof rel, "models--org--a/snapshots/%s/evil", C1);
    link_at(cache, rel, "/etc/passwd");
    /* a dataset, a regular file in the snapshot itself (no link) */
    snprintf(rel, sizeof rel, "datasets--org--d/snapshots/%s", C2);
    mkdirs_of(cache, rel);
    snprintf(rel, sizeof rel, "datasets--org--d/snapshots/%s/t.csv", C2);
    put(cache, rel, "a,b\n1,2\n");
    put(cache, "version.txt", "1");      /* junk at the top level */
    return cache;
}

static void test_scan_hf(void **state)
{
    ap_provisioner *p = mk("h-scan");
    ap_scan_stats st = { sizeof st, 0, 0, 0, 0 };
    char *cache = make_hf_cache("hub-scan"), sha[65], git[41], ref[128];
    ap_entry *e = NULL;
    size_t i;
    (void)state;
    sha_of("scan me", sha);
    git_of("regular", git);
    assert_int_equal(ap_provisioner_scan(p, "hf", cache, &st), AP_OK);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.files, 3);
    assert_int_equal(st.skipped, 2);
    /* the link leading out, named with its target; the planted blob, with
     * want and got */
    assert_true(any_warning(p, "evil", "/etc/passwd"));
    assert_true(any_warning(p, "bad.bin", "mismatch"));
    assert_int_equal(ap_store_has_blob(ap_provisioner_store(p), sha), 1);
    snprintf(ref, sizeof ref, "hf:org/a@%s", C1);
    assert_int_equal(ap_catalog_get(ap_provisioner_catalog(p), ref, &e), AP_OK);
    assert_int_equal(e->status, AP_ENTRY_READY);
    assert_string_equal(e->vendor, "huggingface");
    assert_string_equal(e->name, "org/a");
    assert_string_equal(e->revision, C1);
    assert_int_equal(e->nfiles, 2);
    for (i = 0; i < e->nfiles; i++) {
        if (strcmp(e->files[i].name, "d/config.json") == 0)
            /* the git id recorded is the one computed from the bytes */
            assert_string_equal(e->files[i].git_sha1, git);
        else
            assert_string_equal(e->files[i].name, "m.gguf");
    }
    ap_entry_free(e);
    snprintf(ref, sizeof ref, "hf:datasets/org/d@%s", C2);
    assert_int_equal(ap_catalog_get(ap_provisioner_catalog(p), ref, &e), AP_OK);
    assert_string_equal(e->files[0].name, "t.csv");
    ap_entry_free(e);
    /* by vendor name too; a vendor that cannot scan; no such vendor */
    assert_int_equal(ap_provisioner_scan(p, "huggingface", cache, NULL), AP_OK);
    assert_int_equal(ap_provisioner_scan(p, "url", cache, NULL), AP_EUNSUPPORTED);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "cannot import"));
    assert_int_equal(ap_provisioner_scan(p, "nosuch", cache, NULL), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "nosuch"));
    assert_int_equal(ap_provisioner_scan(p, "hf", "/nonexistent/hub", NULL), AP_ENOTFOUND);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "/nonexistent/hub"));
    ap_provisioner_free(p);
    free(cache);
}

/* A FIFO as a blob and as a snapshot file: never opened, the scan ends. */
static void test_scan_hf_fifo(void **state)
{
    ap_provisioner *p = mk("h-fifo");
    ap_scan_stats st = { sizeof st, 0, 0, 0, 0 };
    char *cache = apx_path_join(base, "hub-fifo"), rel[256], *f;
    (void)state;
    alarm(20);
    snprintf(rel, sizeof rel, "models--org--f/snapshots/%s", C1);
    mkdirs_of(cache, rel);
    mkdirs_of(cache, "models--org--f/blobs");
    f = apx_path_join(cache, "models--org--f/blobs/0123456789abcdef0123456789abcdef01234567");
    assert_int_equal(mkfifo(f, 0600), 0);
    free(f);
    snprintf(rel, sizeof rel, "models--org--f/snapshots/%s/a.bin", C1);
    link_at(cache, rel, "../../blobs/0123456789abcdef0123456789abcdef01234567");
    snprintf(rel, sizeof rel, "%s/models--org--f/snapshots/%s/fifo", cache, C1);
    assert_int_equal(mkfifo(rel, 0600), 0);
    assert_int_equal(ap_provisioner_scan(p, "hf", cache, &st), AP_OK);
    assert_int_equal(st.files, 0);
    assert_int_equal(st.skipped, 2);
    alarm(0);
    ap_provisioner_free(p);
    free(cache);
}

/* One rule for the HF cache directory: HF_HUB_CACHE, else HF_HOME/hub,
 * else XDG_CACHE_HOME/huggingface/hub, else HOME/.cache/huggingface/hub. */
static void test_hf_default_dir(void **state)
{
    static const struct { const char *var, *sub; } rules[] = {
        { "HF_HUB_CACHE", "" }, { "HF_HOME", "hub" },
        { "XDG_CACHE_HOME", "huggingface/hub" }, { "HOME", ".cache/huggingface/hub" },
    };
    size_t k;
    (void)state;
    for (k = 0; k < 4; k++) {
        char name[128], *dir, *cache;
        ap_provisioner *p;
        ap_scan_stats st = { sizeof st, 0, 0, 0, 0 };
        snprintf(name, sizeof name, "dflt%zu%s%s", k, *rules[k].sub ? "/" : "",
                 rules[k].sub);
        cache = make_hf_cache(name);        /* base/dfltK[/SUB] */
        snprintf(name, sizeof name, "dflt%zu", k);
        dir = apx_path_join(base, name);
        unsetenv("HF_HUB_CACHE");
        unsetenv("HUGGINGFACE_HUB_CACHE");
        unsetenv("HF_HOME");
        unsetenv("XDG_CACHE_HOME");
        setenv("HOME", "/nonexistent-home", 1);
        setenv(rules[k].var, dir, 1);
        p = mk("h-dflt");
        assert_int_equal(ap_provisioner_scan(p, "hf", NULL, &st), AP_OK);
        if (st.entries != 2)
            print_error("rule %s: %zu entries\n", rules[k].var, st.entries);
        assert_int_equal(st.entries, 2);
        ap_provisioner_free(p);
        unsetenv(rules[k].var);
        free(dir);
        free(cache);
    }
}

static char *make_ollama_store(const char *name, char hm[65], char hc[65])
{
    char *root = apx_path_join(base, name), rel[200], ht[65], *doc;
    sha_of("GGUF model bytes", hm);
    sha_of("{{ .Prompt }}", ht);
    sha_of("{\"model_format\":\"gguf\"}", hc);
    mkdirs_of(root, "manifests/registry.ollama.ai/library/llama3");
    mkdirs_of(root, "manifests/registry.ollama.ai/library/tiny");
    mkdirs_of(root, "blobs");
    snprintf(rel, sizeof rel, "blobs/sha256-%s", hm);
    put(root, rel, "GGUF model bytes");
    snprintf(rel, sizeof rel, "blobs/sha256-%s", hc);
    put(root, rel, "{\"model_format\":\"gguf\"}");
    doc = apx_asprintf(
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":"
        "\"application/vnd.docker.container.image.v1+json\",\"digest\":"
        "\"sha256:%s\",\"size\":23},\"layers\":[{\"mediaType\":"
        "\"application/vnd.ollama.image.model\",\"digest\":\"sha256:%s\","
        "\"size\":16},{\"mediaType\":\"application/vnd.ollama.image.template\","
        "\"digest\":\"sha256:%s\",\"size\":13}]}", hc, hm, ht);
    put(root, "manifests/registry.ollama.ai/library/llama3/latest", doc);
    free(doc);
    doc = apx_asprintf(
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":"
        "\"application/vnd.docker.container.image.v1+json\",\"digest\":"
        "\"sha256:%s\",\"size\":23},\"layers\":[{\"mediaType\":"
        "\"application/vnd.ollama.image.model\",\"digest\":\"sha256:%s\","
        "\"size\":16}]}", hc, hm);
    put(root, "manifests/registry.ollama.ai/library/tiny/q4", doc);
    free(doc);
    put(root, "manifests/registry.ollama.ai/library/llama3/broken",
        "{\"layers\":[{\"digest\":\"md5:x\"}]}");
    put(root, "manifests/registry.ollama.ai/library/llama3/garbage", "nope");
    return root;
}

static void test_scan_ollama(void **state)
{
    ap_provisioner *p = mk("h-oscan");
    ap_scan_stats st = { sizeof st, 0, 0, 0, 0 };
    char hm[65], hc[65], *root = make_ollama_store("ollama", hm, hc);
    ap_entry *e = NULL;
    (void)state;
    assert_int_equal(ap_provisioner_scan(p, "ollama", root, &st), AP_OK);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.files, 6);   /* llama3: manifest + model + config; tiny: the same */
    assert_int_equal(st.skipped, 3); /* broken, garbage, the missing template */
    assert_true(any_warning(p, "broken", "malformed"));
    assert_true(any_warning(p, "garbage", "not JSON"));
    assert_int_equal(ap_catalog_get(ap_provisioner_catalog(p),
                                    "ollama:registry.ollama.ai/library/llama3:latest", &e),
                     AP_OK);
    assert_string_equal(e->vendor, "ollama");
    assert_string_equal(e->name, "registry.ollama.ai/library/llama3/latest");
    assert_int_equal(e->nfiles, 3);
    ap_entry_free(e);
    assert_int_equal(ap_store_has_blob(ap_provisioner_store(p), hm), 1);
    ap_provisioner_free(p);
    free(root);
}

/* ollama:MODEL[:TAG] is served from the local store when it holds the
 * manifest (no registry request); a model it lacks goes to the registry. */
static void test_ollama_resolve_local(void **state)
{
    ap_provisioner *p = mk("h-oresolve");
    char hm[65], hc[65], *root = make_ollama_store("ollama2", hm, hc), got[65];
    ap_entry *e = NULL;
    uint64_t size = 0;
    size_t i;
    (void)state;
    setenv("OLLAMA_MODELS", root, 1);
    assert_int_equal(ap_provision(p, "ollama:tiny:q4", NULL, &e), AP_OK);
    assert_int_equal(e->nfiles, 3);
    for (i = 0; i < e->nfiles; i++) {
        assert_int_equal(apx_sha256_file(e->files[i].path, got, &size), AP_OK);
        if (strcmp(e->files[i].name, "manifest.json") != 0)
            assert_string_equal(got, strcmp(e->files[i].name, "model.gguf") == 0 ? hm : hc);
    }
    ap_entry_free(e);
    /* not in the store: the registry (here a closed loopback port) */
    assert_int_equal(ap_provision(p, "ollama:http://127.0.0.1:1/library/nothere", NULL, &e),
                     AP_ENETWORK);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "ollama:http://127.0.0.1:1/library/nothere"));
    assert_non_null(strstr(ap_provisioner_errmsg(p), "/v2/library/nothere/manifests/latest"));
    assert_int_equal(ap_provision(p, "ollama:a/b/c/d", NULL, &e), AP_EINVAL);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "ollama:[SCHEME://][HOST/][NS/]MODEL[:TAG]"));
    unsetenv("OLLAMA_MODELS");
    ap_provisioner_free(p);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_hf),
        cmocka_unit_test(test_scan_hf_fifo),
        cmocka_unit_test(test_hf_default_dir),
        cmocka_unit_test(test_scan_ollama),
        cmocka_unit_test(test_ollama_resolve_local),
    };
    const char *b = getenv("AP_BUILD");
    int rc;
    cmocka_set_message_output(CM_OUTPUT_TAP);
    base = mkdtemp(tmpl);
    if (!base)
        return 1;
    snprintf(vdir, sizeof vdir, "%s/vendors", b ? b : "build");
    if (vdir[0] != '/') {
        char cwd[256];
        if (!getcwd(cwd, sizeof cwd))
            return 1;
        snprintf(vdir, sizeof vdir, "%s/%s/vendors", cwd, b ? b : "build");
    }
    unsetenv("AP_VENDOR_PATH");
    unsetenv("HF_HUB_OFFLINE");
    ap_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    ap_global_cleanup();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0)
            rc = rc ? rc : 1;
    }
    return rc;
}
