/* The Hugging Face vendor against t/fixtures/fakehub.py, through the mock
 * host of hf_vendor_fixture.h: the descriptor, refs, single files,
 * snapshots, quants and repo types.  Errors, rate limits and offline are in
 * test_hf_vendor_errors.c; the tests through the real library (the
 * provisioner with this vendor) in test_provisioner.c.
 * Skips (TAP "skip") when python3 or the fake hub cannot start.
 * SPDX-License-Identifier: MIT */
#include "hf_vendor_fixture.h"

/* ---- tests: descriptor and ABI ------------------------------------------------------- */

static void test_descriptor(void **state)
{
    const ap_vendor *v = ap_vendor_huggingface_init(&mock_host);
    ap_host h = mock_host;
    void *st = (void *)1;
    (void)state;
    assert_non_null(v);
    assert_int_equal(sizeof(ap_vendor), v->struct_size);
    assert_int_equal(AP_VENDOR_ABI_VERSION, v->abi_version);
    assert_non_null(strstr(v->usage, "hf:"));
    assert_string_equal("huggingface", v->name);
    assert_string_equal("hf", v->schemes[0]);
    assert_string_equal("huggingface", v->schemes[1]);
    assert_null(v->schemes[2]);
    assert_null(v->download);
    assert_non_null(v->resolve);
    h.abi_version = AP_VENDOR_ABI_VERSION + 1;
    assert_null(ap_vendor_huggingface_init(&h));
    assert_int_equal(AP_EABI, v->create(&h, &st));
    assert_null(st);
    h = mock_host;
    h.struct_size = offsetof(ap_host, getenv);
    assert_null(ap_vendor_huggingface_init(&h));
    h = mock_host;
    h.http = NULL;
    assert_null(ap_vendor_huggingface_init(&h));
    assert_null(ap_vendor_huggingface_init(NULL));
    /* A host without log/option/progress is fine. */
    h = mock_host;
    h.log = NULL;
    h.option = NULL;
    h.struct_size = offsetof(ap_host, progress);
    assert_non_null(ap_vendor_huggingface_init(&h));
}

static void test_bad_ref(void **state)
{
    ap_vendor_call c;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_EINVAL, run(&c, "hf:org"));
    assert_contains(c.err, "hf:org: bad Hugging Face reference");
    assert_contains(c.err, "hf:[datasets/|spaces/|models/]ORG/REPO[@REV][:QUANT]");
    assert_int_equal(0, c.nhttp);
    call_clear(&c);
}

/* ---- single files ----------------------------------------------------------------- */

static void test_file_lfs(void **state)
{
    ap_vendor_call c;
    char want[65], url[512];
    const mfile *f;
    json_t *log;
    size_t i;
    (void)state;
    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "  tok_good\n");
    assert_int_equal(AP_OK, run(&c, "hf:org/model/m.Q4_K_M.gguf"));
    assert_int_equal(1, c.nfiles);
    f = find(&c, "m.Q4_K_M.gguf");
    gen_sha256(100000, 1, want);
    assert_string_equal(want, f->sha256);
    assert_null(f->git_sha1);
    assert_int_equal(100000, f->size);
    snprintf(url, sizeof url, "%s/org/model/resolve/" CM1 "/m.Q4_K_M.gguf", FX.hub);
    assert_string_equal(url, f->url);
    assert_string_equal("tok_good", f->bearer);
    assert_string_equal("127.0.0.1", f->bearer_host);
    assert_int_equal(0, f->flags & AP_VFILE_METADATA);
    assert_int_equal(1, f->nheaders); /* User-Agent; the engine adds Accept-Encoding */
    assert_string_equal("org/model", c.name);
    assert_string_equal(CM1, c.revision);
    assert_string_equal("hf:org/model/m.Q4_K_M.gguf", c.canonical);
    /* One HEAD, not following the redirect (no CDN request), with the
     * token, identity encoding and our User-Agent. */
    log = log_since(NULL);
    assert_int_equal(1, json_array_size(log));
    for (i = 0; i < json_array_size(log); i++) {
        json_t *e = json_array_get(log, i), *h = json_object_get(e, "headers");
        assert_string_equal("hub", json_string_value(json_object_get(e, "server")));
        assert_string_equal("HEAD", json_string_value(json_object_get(e, "method")));
        assert_string_equal("Bearer tok_good",
                            json_string_value(json_object_get(h, "authorization")));
        assert_string_equal("identity",
                            json_string_value(json_object_get(h, "accept-encoding")));
        assert_contains(json_string_value(json_object_get(h, "user-agent")),
                        "libartifactprov/" AP_VERSION_STRING);
    }
    json_decref(log);
    call_clear(&c);
}

static void test_file_regular(void **state)
{
    ap_vendor_call c;
    char want[41];
    const mfile *f;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "huggingface:org/model/config.json"));
    f = find(&c, "config.json");
    git_sha1(CONFIG1, want);
    assert_string_equal(want, f->git_sha1);
    assert_null(f->sha256);
    assert_int_equal(strlen(CONFIG1), f->size);
    assert_true(f->flags & AP_VFILE_METADATA);
    assert_null(f->bearer);       /* no token anywhere */
    assert_null(f->bearer_host);
    assert_string_equal(CM1, c.revision);
    call_clear(&c);

    /* A revision by tag, and refs/pr/1 percent-encoded in the URL. */
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model@v1.0/config.json"));
    git_sha1(CONFIG2, want);
    assert_string_equal(want, find(&c, "config.json")->git_sha1);
    assert_string_equal(CM2, c.revision);
    call_clear(&c);
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model@refs/pr/1/config.json"));
    assert_string_equal(CM2, c.revision);
    {
        json_t *log = log_since("/resolve/refs%2Fpr%2F1/config.json");
        assert_int_equal(1, json_array_size(log));
        json_decref(log);
    }
    assert_contains(find(&c, "config.json")->url, "/resolve/" CM2 "/config.json");
    call_clear(&c);
    /* Short commit. */
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model@9f8e7d6/config.json"));
    assert_string_equal(CM2, c.revision);
    call_clear(&c);
}

static void test_file_encoding(void **state)
{
    ap_vendor_call c;
    const mfile *f;
    json_t *log;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model/dir with space/a+b.txt"));
    f = find(&c, "dir with space/a+b.txt");
    assert_contains(f->url, "/resolve/" CM1 "/dir%20with%20space/a%2Bb.txt");
    assert_int_equal(4, f->size);
    log = log_since("/dir%20with%20space/a%2Bb.txt");
    assert_int_equal(1, json_array_size(log));
    json_decref(log);
    call_clear(&c);
}

static void test_file_renamed(void **state)
{
    ap_vendor_call c;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/old/m.Q8_0.gguf"));
    assert_string_equal("org/model", c.name);
    assert_string_equal("hf:org/model/m.Q8_0.gguf", c.canonical);
    assert_contains(find(&c, "m.Q8_0.gguf")->url, "/org/model/resolve/" CM1 "/m.Q8_0.gguf");
    assert_int_equal(150000, find(&c, "m.Q8_0.gguf")->size);
    call_clear(&c);
}

/* ---- snapshots and quants ----------------------------------------------------------------- */

static void test_snapshot(void **state)
{
    ap_vendor_call c;
    char want[65];
    const mfile *f;
    json_t *log;
    (void)state;
    call_init(&c);
    call_setenv(&c, "HF_HOME", FX.dir);
    {
        char tok[300];
        snprintf(tok, sizeof tok, "%s/token", FX.dir);
        assert_int_equal(0, write_file(tok, "\n tok_good \n", 12));
    }
    assert_int_equal(AP_OK, run(&c, "hf:org/model"));
    assert_int_equal(8, c.nfiles);
    f = find(&c, "model.safetensors");
    gen_sha256(5000, 9, want);
    assert_string_equal(want, f->sha256);
    assert_int_equal(0, f->flags & AP_VFILE_METADATA);   /* a weight */
    assert_string_equal("tok_good", f->bearer);          /* from $HF_HOME/token */
    f = find(&c, "tokenizer.json");
    assert_non_null(f->git_sha1);
    assert_true(f->flags & AP_VFILE_METADATA);
    assert_int_equal(2, f->size);
    find(&c, "sub/m-Q5_K_M-00002-of-00002.gguf");
    find(&c, "dir with space/a+b.txt");
    assert_string_equal(CM1, c.revision);
    assert_string_equal("hf:org/model", c.canonical);
    /* 8 files + 2 directories at 2 per page: 5 tree pages. */
    log = log_since("/tree/");
    assert_int_equal(5, json_array_size(log));
    json_decref(log);
    log = log_since("/api/models/org/model/revision/main");
    assert_int_equal(1, json_array_size(log));
    json_decref(log);
    call_clear(&c);

    /* Renamed, at a revision. */
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/old@v1.0"));
    assert_int_equal(1, c.nfiles);
    assert_string_equal(CM2, c.revision);
    assert_string_equal("org/model", c.name);
    call_clear(&c);
}

static void test_quant(void **state)
{
    ap_vendor_call c;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model:q4_k_m"));
    assert_int_equal(1, c.nfiles);
    find(&c, "m.Q4_K_M.gguf");
    /* a single pick is named by the file it picked: the entry of
     * hf:org/model/m.Q4_K_M.gguf (docs/vendor-huggingface.md) */
    assert_string_equal("hf:org/model/m.Q4_K_M.gguf", c.canonical);
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model:Q5_K_M"));
    assert_int_equal(2, c.nfiles);
    find(&c, "sub/m-Q5_K_M-00001-of-00002.gguf");
    find(&c, "sub/m-Q5_K_M-00002-of-00002.gguf");
    /* several split parts: named by the tag */
    assert_string_equal("hf:org/model:Q5_K_M", c.canonical);
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model:default"));
    assert_int_equal(1, c.nfiles);
    find(&c, "m.Q4_K_M.gguf");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model:Q3_K_S"));
    assert_contains(c.err, "hf:org/model:Q3_K_S: no GGUF file for quant 'Q3_K_S'; "
                           "available: Q4_K_M, Q5_K_M, Q8_0");
    assert_int_equal(0, c.nfiles);
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/splitbad:Q4_0"));
    assert_contains(c.err, "part 2 of 3 is missing");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/plain:Q4_0"));
    assert_contains(c.err, "no GGUF file");
    call_clear(&c);
}

static void test_repo_types(void **state)
{
    ap_vendor_call c;
    json_t *log;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:datasets/org/data"));
    assert_int_equal(1, c.nfiles);
    assert_string_equal("datasets/org/data", c.name);
    assert_contains(find(&c, "data/train.csv")->url, "/datasets/org/data/resolve/");
    log = log_since("/api/datasets/org/data/");
    assert_int_equal(2, json_array_size(log));
    json_decref(log);
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:datasets/org/data/data/train.csv"));
    assert_contains(find(&c, "data/train.csv")->url, "/datasets/org/data/resolve/");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:spaces/org/app/app.py"));
    assert_string_equal("spaces/org/app", c.name);
    assert_contains(find(&c, "app.py")->url, "/spaces/org/app/resolve/");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/data/data/train.csv")); /* not a model */
    call_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_bad_ref),
        cmocka_unit_test(test_file_lfs),
        cmocka_unit_test(test_file_regular),
        cmocka_unit_test(test_file_encoding),
        cmocka_unit_test(test_file_renamed),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_quant),
        cmocka_unit_test(test_repo_types),
    };
    return hf_vendor_run("hf_vendor", tests, sizeof tests / sizeof tests[0]);
}
