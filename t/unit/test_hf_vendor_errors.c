/* The Hugging Face vendor against t/fixtures/fakehub.py, through the mock
 * host of hf_vendor_fixture.h: hub errors, rate limits, offline mode (the
 * HF cache).  Skips (TAP "skip") when python3 or the fake hub cannot start.
 * SPDX-License-Identifier: MIT */
#include "hf_vendor_fixture.h"

/* ---- errors ---------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    ap_vendor_call c;
    (void)state;

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/nope/x.gguf"));
    assert_contains(c.err, "hf:org/nope/x.gguf: ");
    assert_contains(c.err, "not found, or private/gated and no valid token (set HF_TOKEN)");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/private"));
    assert_contains(c.err, "set HF_TOKEN");
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "tok_limited");
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/private/a.txt"));
    assert_contains(c.err, "your token (from HF_TOKEN) has no access");
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HUGGING_FACE_HUB_TOKEN", "tok_good");
    assert_int_equal(AP_OK, run(&c, "hf:org/private/a.txt"));
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_EGATED, run(&c, "hf:org/gated/w.gguf"));
    {
        char want[300];
        snprintf(want, sizeof want, "gated: accept the licence at %s/org/gated and set "
                 "HF_TOKEN", FX.hub);
        assert_contains(c.err, want);
    }
    call_clear(&c);

    call_init(&c);  /* the snapshot checks access before the engine starts */
    assert_int_equal(AP_EGATED, run(&c, "hf:org/gated"));
    assert_int_equal(0, c.nfiles);
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "tok_denied");
    assert_int_equal(AP_EGATED, run(&c, "hf:org/gated"));
    assert_contains(c.err, "has not been granted access");
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "tok_good");
    assert_int_equal(AP_OK, run(&c, "hf:org/gated"));
    assert_int_equal(2, c.nfiles);
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "tok_bad");
    assert_int_equal(AP_EAUTH, run(&c, "hf:org/model/config.json"));
    assert_contains(c.err, "token refused");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model@nope/config.json"));
    assert_contains(c.err, "revision 'nope' not found");
    call_clear(&c);
    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model@nope"));
    assert_contains(c.err, "revision 'nope' not found");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model/confg.json"));
    assert_contains(c.err, "file 'confg.json' not found at revision main (commit 1a2b3c4d5e6f)");
    assert_contains(c.err, "close names: 'config.json'");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/disabled/a.txt"));
    assert_contains(c.err, "disabled");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_EHTTP, run(&c, "hf:org/broken"));
    assert_contains(c.err, "HTTP 503");
    call_clear(&c);

    /* Not a hub: the plain file server answers 404 without X-Repo-Commit. */
    call_init(&c);
    call_setenv(&c, "HF_ENDPOINT", FX.files);
    assert_int_equal(AP_EPROTOCOL, run(&c, "hf:org/model/config.json"));
    assert_contains(c.err, "is not a Hugging Face endpoint (no X-Repo-Commit)");
    call_clear(&c);
    call_init(&c);
    call_setenv(&c, "HF_ENDPOINT", FX.files);
    assert_int_equal(AP_EPROTOCOL, run(&c, "hf:org/model"));
    assert_contains(c.err, "is not a Hugging Face endpoint");
    call_clear(&c);

    /* Cancelled before anything. */
    call_init(&c);
    c.cancelled = 1;
    assert_int_equal(AP_ECANCELLED, run(&c, "hf:org/model"));
    assert_int_equal(0, c.nhttp);
    call_clear(&c);
}

static void test_rate_limit(void **state)
{
    ap_vendor_call c;
    (void)state;
    assert_int_equal(0, write_config("\"rate_limit\":{\"after\":0,\"retry_after\":7},"));
    call_init(&c);
    assert_int_equal(AP_ERATELIMIT, run(&c, "hf:org/model/config.json"));
    assert_contains(c.err, "rate limited by");
    assert_contains(c.err, "retry after 7 s");
    call_clear(&c);
    assert_int_equal(0, write_config(""));
    usleep(20000);
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model/config.json"));
    call_clear(&c);
}

/* ---- offline ------------------------------------------------------------------------------ */

static void test_offline(void **state)
{
    ap_vendor_call c;
    char cache[300], p[600], q[600], sha[65], sha1[41];
    const mfile *f;
    (void)state;
    snprintf(cache, sizeof cache, "%s/hfcache", FX.dir);
    gen_sha256(10, 1, sha);
    git_sha1(CONFIG1, sha1);
    snprintf(p, sizeof p, "%s/models--org--model/blobs", cache);
    mk(p);
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/" CM1 "/sub", cache);
    mk(p);
    snprintf(p, sizeof p, "%s/models--org--model/refs", cache);
    mk(p);
    snprintf(p, sizeof p, "%s/models--org--model/refs/main", cache);
    assert_int_equal(0, write_file(p, CM1, 40));
    snprintf(p, sizeof p, "%s/models--org--model/blobs/%s", cache, sha);
    assert_int_equal(0, write_file(p, "0123456789", 10));
    snprintf(p, sizeof p, "%s/models--org--model/blobs/%s", cache, sha1);
    assert_int_equal(0, write_file(p, CONFIG1, strlen(CONFIG1)));
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/" CM1 "/sub/m.Q4_K_M.gguf",
             cache);
    snprintf(q, sizeof q, "../../../blobs/%s", sha);
    assert_int_equal(0, symlink(q, p));
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/" CM1 "/config.json", cache);
    snprintf(q, sizeof q, "../../blobs/%s", sha1);
    assert_int_equal(0, symlink(q, p));
    snprintf(p, sizeof p, "%s/models--org--model/.no_exist/" CM1, cache);
    mk(p);
    snprintf(p, sizeof p, "%s/models--org--model/.no_exist/" CM1 "/gone.txt", cache);
    assert_int_equal(0, write_file(p, "", 0));

    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    assert_int_equal(AP_OK, run(&c, "hf:org/model"));
    assert_int_equal(0, c.nhttp);
    assert_int_equal(2, c.nfiles);
    f = find(&c, "sub/m.Q4_K_M.gguf");
    assert_string_equal(sha, f->sha256);
    assert_int_equal(10, f->size);
    snprintf(p, sizeof p, "file://%s/models--org--model/blobs/%s", cache, sha);
    assert_string_equal(p, f->url);
    assert_null(f->bearer);
    f = find(&c, "config.json");
    assert_string_equal(sha1, f->git_sha1);
    assert_string_equal(CM1, c.revision);
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "true");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    call_setenv(&c, "HF_ENDPOINT", "http://127.0.0.1:1");
    assert_int_equal(AP_OK, run(&c, "hf:org/model:Q4_K_M"));
    assert_int_equal(1, c.nfiles);
    assert_int_equal(AP_OK, (call_clear(&c), call_init(&c),
                             call_setenv(&c, "HF_HUB_OFFLINE", "yes"),
                             call_setenv(&c, "HF_HUB_CACHE", cache),
                             run(&c, "hf:org/model@" CM1 "/config.json")));
    assert_int_equal(1, c.nfiles);
    call_clear(&c);

    /* HF_HOME/hub is the default cache. */
    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HOME", FX.dir);
    assert_int_equal(AP_EOFFLINE, run(&c, "hf:org/model"));
    snprintf(p, sizeof p, "offline (HF_HUB_OFFLINE=1) and hf:org/model is not in the HF "
             "cache %s/hub", FX.dir);
    assert_contains(c.err, p);
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    assert_int_equal(AP_EOFFLINE, run(&c, "hf:org/model/missing.txt"));
    assert_int_equal(0, c.nhttp);
    call_clear(&c);
    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model/gone.txt"));
    call_clear(&c);
    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    assert_int_equal(AP_EOFFLINE, run(&c, "hf:org/model@v9"));
    assert_int_equal(AP_EOFFLINE, (call_clear(&c), call_init(&c),
                                   call_setenv(&c, "HF_HUB_OFFLINE", "1"),
                                   call_setenv(&c, "HF_HUB_CACHE", cache),
                                   run(&c, "hf:datasets/org/model")));
    assert_int_equal(0, c.nhttp);
    call_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_offline),
    };
    return hf_vendor_run("hf_vendor_errors", tests, sizeof tests / sizeof tests[0]);
}
