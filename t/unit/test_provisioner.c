/* Unit tests of the provisioner (lib/provisioner.c and the files split from
 * it), through the public API against t/fixtures/fakehub.py on loopback,
 * with the Hugging Face vendor loaded from its plugin (AP_BUILD/vendors) or
 * compiled in (the static-linking path of the ABI).  Two hubs: one with a
 * snapshot of many files (cancellation), one with the repositories of
 * hf_fixture.h (the pulls that test_hf_vendor.c makes through a mock host).
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "artifactprov.h"
#include "fakehub_fixture.h"

#include "../../vendors/huggingface/hf.c"
#include "../../vendors/huggingface/ref.c"
#include "../../vendors/huggingface/util.c"
#include "../../vendors/common/text.c"
#include "../../vendors/huggingface/select.c"
#include "../../vendors/huggingface/cache.c"
#include "../../vendors/huggingface/publish.c"
#include "../../vendors/huggingface/scan.c"
#include "../../vendors/huggingface/fromcat.c"
#include "../../vendors/huggingface/msg.c"
#include "../../vendors/huggingface/manifest.c"
#include "../../vendors/huggingface/cachedir.c"
#include "../../vendors/common/env.c"
#include "hf_fixture.h"

#define SNAP_COMMIT "1111111111111111111111111111111111111111"
#define SNAP_FILES 150   /* several batches under the descriptor limit below */

static fakehub FX;   /* the snapshot of many files */
static fakehub HFX;  /* the repositories of hf_fixture.h */
static long HF_MARK;
static char SO[512];

/* ---- a snapshot of many small files ------------------------------------- */

static char *snapshot_config(size_t n)
{
    size_t cap = 256 + n * 80, used, i;
    char *top = malloc(cap);
    if (!top)
        return NULL;
    used = (size_t)snprintf(top, cap, "\"repos\": {\"org/many\": {\"refs\": {\"main\": \""
                            SNAP_COMMIT "\"}, \"commits\": {\"" SNAP_COMMIT
                            "\": {\"files\": {");
    for (i = 0; i < n; i++)
        used += (size_t)snprintf(top + used, cap - used,
                                 "%s\"d%zu/f%04zu.txt\": {\"content\": \"small file %zu\\n\"}",
                                 i ? ", " : "", i / 100, i, i);
    snprintf(top + used, cap - used, "}}}}}");
    return top;
}

/* The hub of hf_fixture.h's repositories (config_fmt without its braces:
 * fx_start adds them). */
static int start_hf_hub(void)
{
    int n = snprintf(NULL, 0, config_fmt, ""), rc;
    char *cfg = malloc((size_t)n + 1);
    if (!cfg)
        return -1;
    snprintf(cfg, (size_t)n + 1, config_fmt, "");
    cfg[n - 1] = '\0';
    rc = fx_start(&HFX, "prov-hf", cfg + 1, NULL, 0);
    free(cfg);
    return rc;
}

static void log_mark(void)
{
    HF_MARK = hf_log_size(HFX.log);
}

static json_t *log_since(const char *needle)
{
    return hf_log_since(HFX.log, HF_MARK, needle);
}

static int setup(void **state)
{
    const char *b = getenv("AP_BUILD");
    char *top = snapshot_config(SNAP_FILES);
    struct stat st;
    (void)state;
    snprintf(SO, sizeof SO, "%s/vendors/ap-vendor-huggingface.so", b ? b : "build");
    if (!top || stat(SO, &st) != 0 || fx_start(&FX, "prov", top, NULL, 0) != 0) {
        free(top);
        fprintf(stderr, "# no fake hub or no plugin %s\n", SO);
        return -1;
    }
    free(top);
    if (start_hf_hub() != 0) {
        fprintf(stderr, "# the second fake hub did not start\n");
        return -1;
    }
    setenv("HF_ENDPOINT", FX.hub, 1);
    unsetenv("HF_TOKEN");
    unsetenv("HF_HUB_OFFLINE");
    setenv("HF_HOME", FX.dir, 1); /* never the user's cache */
    return ap_global_init() == AP_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ap_global_cleanup();
    unsetenv("HF_ENDPOINT");
    return fx_stop(&HFX) | fx_stop(&FX);
}

static ap_provisioner *new_prov(const char *home)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    o.home = home;
    o.flags = AP_PROV_NO_PLUGINS;
    assert_int_equal(AP_OK, ap_provisioner_new(&p, &o));
    if (ap_provisioner_load_vendor(p, SO) != AP_OK)
        fail_msg("load %s: %s", SO, ap_provisioner_errmsg(p));
    return p;
}

/* ---- cancellation in every phase of a many-file pull -------------------- */

/* Cancels the token at the event of kind `at` number `nth`, then counts
 * what the job still reports: a file finished after the cancel means a
 * loop over the files did not look at the token. */
typedef struct cancel_at {
    ap_cancel_token *tok;
    ap_event_kind at;
    unsigned nth, seen, done_after, file_done;
    int cancelled_event;
} cancel_at;

static int cancel_cb(const ap_event *ev, void *user)
{
    cancel_at *c = user;
    if (ev->kind == AP_EVENT_FILE_DONE) {
        c->file_done++;
        if (ap_cancel_is_set(c->tok))
            c->done_after++;
    }
    if (ev->kind == AP_EVENT_CANCELLED)
        c->cancelled_event = 1;
    if (ev->kind == c->at && ++c->seen == c->nth)
        ap_cancel(c->tok);
    return 0;
}

/* Views of the snapshot on disk. */
static size_t views_on_disk(const char *home)
{
    char path[512];
    size_t n = 0, i;
    struct stat st;
    for (i = 0; i < SNAP_FILES; i++) {
        snprintf(path, sizeof path, "%s/models/huggingface/org/many/d%zu/f%04zu.txt",
                 home, i / 100, i);
        n += stat(path, &st) == 0;
    }
    return n;
}

static int pull_cancelled_at(ap_provisioner *p, ap_event_kind at, unsigned nth,
                             cancel_at *c, ap_entry **e)
{
    ap_provision_options po = AP_PROVISION_OPTIONS_INIT;
    int rc;
    memset(c, 0, sizeof *c);
    c->tok = ap_cancel_token_new();
    assert_non_null(c->tok);
    c->at = at;
    c->nth = nth;
    po.cancel = c->tok;
    po.on_event = cancel_cb;
    po.event_user = c;
    *e = NULL;
    rc = ap_provision(p, "hf:org/many", &po, e);
    ap_cancel_token_free(c->tok);
    c->tok = NULL;
    return rc;
}

static void expect_cancelled(ap_provisioner *p, int rc, const cancel_at *c, const char *phase)
{
    if (rc != AP_ECANCELLED)
        fail_msg("cancel in %s: status %s (%s), %u files done, %u after the cancel", phase,
                 ap_strerror(rc), ap_provisioner_errmsg(p), c->file_done, c->done_after);
    assert_true(strstr(ap_provisioner_errmsg(p), "hf:org/many") != NULL);
    assert_true(strstr(ap_provisioner_errmsg(p), "cancelled") != NULL);
    assert_int_equal(1, c->cancelled_event);
    assert_int_equal(0, c->done_after);
}

static void test_cancel_each_phase(void **state)
{
    ap_provision_options po = AP_PROVISION_OPTIONS_INIT;
    ap_provisioner *p;
    ap_entry *e = NULL;
    cancel_at c;
    char home[300];
    int rc;
    struct rlimit rl;
    (void)state;
    /* 256 descriptors: batches of a few dozen files (the provisioner sizes
     * them from what RLIMIT_NOFILE leaves) */
    assert_int_equal(0, getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur > 256)
        rl.rlim_cur = 256;
    assert_int_equal(0, setrlimit(RLIMIT_NOFILE, &rl));
    snprintf(home, sizeof home, "%s/store-cancel", FX.dir);
    p = new_prov(home);

    /* Fetch and commit: at the first file stored, no other file of its
     * batch is committed and no other batch starts. */
    rc = pull_cancelled_at(p, AP_EVENT_FILE_DONE, 1, &c, &e);
    expect_cancelled(p, rc, &c, "the commits of a batch");
    assert_int_equal(1, c.file_done);
    assert_int_equal(0, views_on_disk(home));
    assert_null(e);

    /* Finish: cancelled at the last file stored, the views are not all
     * built and the pull does not end ready. */
    rc = pull_cancelled_at(p, AP_EVENT_FILE_DONE, SNAP_FILES - 1, &c, &e);
    expect_cancelled(p, rc, &c, "the views");
    assert_true(views_on_disk(home) < SNAP_FILES);
    assert_null(e);

    /* Plan: every file is in the store; cancelled once the reference is
     * resolved, nothing is linked or recorded as ready. */
    rc = pull_cancelled_at(p, AP_EVENT_RESOLVE, 1, &c, &e);
    expect_cancelled(p, rc, &c, "the plan");
    assert_true(views_on_disk(home) < SNAP_FILES);
    assert_null(e);

    /* Nothing stored was lost: the next pull ends ready with every file. */
    rc = ap_provision(p, "hf:org/many", &po, &e);
    if (rc != AP_OK)
        fail_msg("pull after the cancels: %s", ap_provisioner_errmsg(p));
    assert_int_equal(SNAP_FILES, e->nfiles);
    assert_int_equal(AP_ENTRY_READY, e->status);
    assert_int_equal(SNAP_FILES, views_on_disk(home));
    ap_entry_free(e);
    ap_provisioner_free(p);
}

static ap_provisioner *new_prov_static(const char *home)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    o.home = home;
    o.flags = AP_PROV_NO_PLUGINS;
    assert_int_equal(AP_OK, ap_provisioner_new(&p, &o));
    assert_int_equal(AP_OK, ap_provisioner_register_vendor(p, ap_vendor_huggingface_init,
                                                           "static"));
    return p;
}

/* The provisioner with the statically linked vendor: files on disk with
 * the digests the hub generated them with, the token never sent to the
 * CDN, a file of a repository, gated and private repositories. */
static void test_provision(void **state)
{
    ap_provision_options po = AP_PROVISION_OPTIONS_INIT;
    ap_provisioner *p;
    ap_entry *e = NULL;
    char home[300], want[65], got[65];
    uint64_t size;
    size_t i;
    json_t *log;
    int rc;
    (void)state;
    assert_int_equal(AP_OK, ap_global_init());
    snprintf(home, sizeof home, "%s/store", HFX.dir);
    setenv("HF_ENDPOINT", HFX.hub, 1);
    setenv("HF_TOKEN", "tok_good", 1);
    unsetenv("HF_HUB_OFFLINE");
    p = new_prov_static(home);

    log_mark();
    rc = ap_provision(p, "hf:org/model:Q5_K_M", &po, &e);
    if (rc != AP_OK)
        fail_msg("ap_provision: %s", ap_provisioner_errmsg(p));
    assert_non_null(e);
    assert_int_equal(2, e->nfiles);
    assert_string_equal(CM1, e->revision);
    for (i = 0; i < e->nfiles; i++) {
        const ap_entry_file *f = &e->files[i];
        int seed = strstr(f->name, "00001") ? 3 : 4;
        size_t sz = seed == 3 ? 7000 : 6000;
        gen_sha256(sz, seed, want);
        assert_string_equal(want, f->sha256);
        assert_int_equal(sz, f->size);
        assert_non_null(f->path);
        assert_int_equal(0, file_sha256(f->path, got, &size));
        assert_string_equal(want, got);
        assert_int_equal(sz, size);
    }
    ap_entry_free(e);
    e = NULL;
    /* The token never reached the CDN. */
    log = log_since(NULL);
    for (i = 0; i < json_array_size(log); i++) {
        json_t *le = json_array_get(log, i);
        if (strcmp(json_string_value(json_object_get(le, "server")), "cdn") == 0)
            assert_null(json_object_get(json_object_get(le, "headers"), "authorization"));
    }
    json_decref(log);

    rc = ap_provision(p, "hf:org/model/config.json", &po, &e);
    if (rc != AP_OK)
        fail_msg("ap_provision: %s", ap_provisioner_errmsg(p));
    assert_int_equal(1, e->nfiles);
    assert_int_equal(strlen(CONFIG1), e->files[0].size);
    {
        char buf[128] = "";
        FILE *f = fopen(e->files[0].path, "rb");
        assert_non_null(f);
        assert_int_equal(strlen(CONFIG1), fread(buf, 1, sizeof buf, f));
        fclose(f);
        assert_string_equal(CONFIG1, buf);
    }
    ap_entry_free(e);
    e = NULL;

    rc = ap_provision(p, "hf:org/gated", &po, &e);
    assert_int_equal(AP_OK, rc);
    ap_entry_free(e);
    e = NULL;

    rc = ap_provision(p, "hf:org/model/confg.json", &po, &e);
    assert_int_equal(AP_ENOTFOUND, rc);
    assert_contains(ap_provisioner_errmsg(p), "close names: 'config.json'");
    ap_entry_free(e);
    e = NULL;

    unsetenv("HF_TOKEN");
    rc = ap_provision(p, "hf:org/private", &po, &e);
    assert_int_equal(AP_ENOTFOUND, rc);
    assert_contains(ap_provisioner_errmsg(p), "set HF_TOKEN");
    ap_entry_free(e);

    ap_provisioner_free(p);
    unsetenv("HF_ENDPOINT");
    ap_global_cleanup();
}

/* The plugin itself: built with jansson only, loaded with dlopen. */
static void test_provision_plugin(void **state)
{
    ap_provision_options po = AP_PROVISION_OPTIONS_INIT;
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    ap_vendor_info vi = { sizeof vi, NULL, NULL, NULL, NULL, NULL, 0, 0 };
    ap_entry *e = NULL;
    const char *b = getenv("AP_BUILD");
    char so[512], home[300];
    struct stat st;
    int rc;
    (void)state;
    snprintf(so, sizeof so, "%s/vendors/ap-vendor-huggingface.so", b ? b : "build");
    if (stat(so, &st) != 0)
        skip();
    assert_int_equal(AP_OK, ap_global_init());
    snprintf(home, sizeof home, "%s/store-plugin", HFX.dir);
    o.home = home;
    o.flags = AP_PROV_NO_PLUGINS;
    assert_int_equal(AP_OK, ap_provisioner_new(&p, &o));
    rc = ap_provisioner_load_vendor(p, so);
    if (rc != AP_OK)
        fail_msg("load %s: %s", so, ap_provisioner_errmsg(p));
    assert_int_equal(1, ap_provisioner_vendor_count(p));
    assert_int_equal(AP_OK, ap_provisioner_vendor_info(p, 0, &vi));
    assert_string_equal("huggingface", vi.name);
    setenv("HF_ENDPOINT", HFX.hub, 1);
    unsetenv("HF_TOKEN");
    rc = ap_provision(p, "huggingface:org/model@v1.0/config.json", &po, &e);
    if (rc != AP_OK)
        fail_msg("ap_provision: %s", ap_provisioner_errmsg(p));
    assert_int_equal(1, e->nfiles);
    assert_string_equal(CM2, e->revision);
    assert_int_equal(strlen(CONFIG2), e->files[0].size);
    ap_entry_free(e);
    ap_provisioner_free(p);
    unsetenv("HF_ENDPOINT");
    ap_global_cleanup();
}

/* Offline through the library: the HF cache blob is imported, no HTTP. */
static void test_provision_offline(void **state)
{
    ap_provision_options po = AP_PROVISION_OPTIONS_INIT;
    ap_provisioner *p;
    ap_entry *e = NULL;
    char cache[300], home[300], tmp[600], blob[700], link[700], sha[65], got[65];
    uint64_t size;
    json_t *log;
    int rc;
    (void)state;
    assert_int_equal(AP_OK, ap_global_init());
    snprintf(cache, sizeof cache, "%s/hfcache2", HFX.dir);
    snprintf(home, sizeof home, "%s/store-offline", HFX.dir);
    snprintf(tmp, sizeof tmp, "%s/models--org--offl/blobs", cache);
    mk(tmp);
    snprintf(tmp, sizeof tmp, "%s/models--org--offl/snapshots/" CM3, cache);
    mk(tmp);
    snprintf(tmp, sizeof tmp, "%s/models--org--offl/refs", cache);
    mk(tmp);
    snprintf(tmp, sizeof tmp, "%s/models--org--offl/refs/main", cache);
    assert_int_equal(0, write_file(tmp, CM3, 40));
    snprintf(tmp, sizeof tmp, "%s/models--org--offl/blobs/tmp", cache);
    assert_int_equal(0, write_file(tmp, "offline weights", 15));
    assert_int_equal(0, file_sha256(tmp, sha, &size));
    snprintf(blob, sizeof blob, "%s/models--org--offl/blobs/%s", cache, sha);
    assert_int_equal(0, rename(tmp, blob));
    snprintf(link, sizeof link, "%s/models--org--offl/snapshots/" CM3 "/w.Q8_0.gguf", cache);
    snprintf(tmp, sizeof tmp, "../../blobs/%s", sha);
    assert_int_equal(0, symlink(tmp, link));

    setenv("HF_HUB_OFFLINE", "1", 1);
    setenv("HF_HUB_CACHE", cache, 1);
    setenv("HF_ENDPOINT", HFX.hub, 1);
    p = new_prov_static(home);
    log_mark();
    rc = ap_provision(p, "hf:org/offl:Q8_0", &po, &e);
    if (rc != AP_OK)
        fail_msg("ap_provision: %s", ap_provisioner_errmsg(p));
    assert_int_equal(1, e->nfiles);
    assert_string_equal(CM3, e->revision);
    assert_string_equal(sha, e->files[0].sha256);
    assert_int_equal(0, file_sha256(e->files[0].path, got, &size));
    assert_string_equal(sha, got);
    ap_entry_free(e);
    e = NULL;
    rc = ap_provision(p, "hf:org/other", &po, &e);
    assert_int_equal(AP_EOFFLINE, rc);
    assert_contains(ap_provisioner_errmsg(p), "not in the HF cache");
    ap_entry_free(e);
    log = log_since(NULL);
    assert_int_equal(0, json_array_size(log));
    json_decref(log);
    ap_provisioner_free(p);
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_ENDPOINT");
    ap_global_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_each_phase),
        cmocka_unit_test(test_provision),
        cmocka_unit_test(test_provision_plugin),
        cmocka_unit_test(test_provision_offline),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, setup, teardown);
}
