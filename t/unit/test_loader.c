/* Vendor loader: deliberately broken plugins are refused with a message
 * naming the file and both ABI versions; good ones load; hostile file
 * names from a vendor are refused before anything touches the disk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <artifactprov.h>

static char home[256];
static char vdir[512];

static ap_provisioner *mk(void)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    o.home = home;
    o.flags = AP_PROV_NO_PLUGINS;
    assert_int_equal(ap_provisioner_new(&p, &o), AP_OK);
    return p;
}

static int load(ap_provisioner *p, const char *name)
{
    char path[768];
    snprintf(path, sizeof path, "%s/ap-vendor-%s.so", vdir, name);
    return ap_provisioner_load_vendor(p, path);
}

static void expect_refusal(const char *name, int status, const char *const *needles)
{
    ap_provisioner *p = mk();
    const char *msg;
    assert_int_equal(load(p, name), status);
    msg = ap_provisioner_errmsg(p);
    assert_non_null(strstr(msg, name)); /* names the file */
    for (; *needles; needles++)
        if (!strstr(msg, *needles)) {
            print_error("message '%s' lacks '%s'\n", msg, *needles);
            fail();
        }
    assert_int_equal(ap_provisioner_vendor_count(p), 0);
    ap_provisioner_free(p);
}

static void test_wrong_major(void **s)
{
    const char *n[] = { "built for vendor ABI 2.0", "host speaks 1.1", NULL };
    (void)s;
    expect_refusal("badmajor", AP_EABI, n);
}

static void test_newer_minor(void **s)
{
    const char *n[] = { "built for vendor ABI 1.2", "host speaks 1.1", NULL };
    (void)s;
    expect_refusal("newminor", AP_EABI, n);
}

static void test_short_struct(void **s)
{
    const char *n[] = { "shorter than vendor ABI 1.1 requires", NULL };
    (void)s;
    expect_refusal("short", AP_EABI, n);
}

static void test_missing_symbol(void **s)
{
    const char *n[] = { "ap_vendor_nosym_init not found", "1.1", NULL };
    (void)s;
    expect_refusal("nosym", AP_EVENDOR, n);
}

static void test_missing_resolve(void **s)
{
    const char *n[] = { "no resolve function", NULL };
    (void)s;
    expect_refusal("noresolve", AP_EVENDOR, n);
}

static void test_older_short_but_valid(void **s)
{
    ap_provisioner *p = mk();
    ap_vendor_info vi;
    (void)s;
    assert_int_equal(load(p, "older"), AP_OK);
    assert_int_equal(ap_provisioner_vendor_count(p), 1);
    assert_int_equal(ap_provisioner_vendor_info(p, 0, &vi), AP_OK);
    assert_string_equal(vi.name, "older");
    assert_int_equal(vi.abi_minor, 0);
    assert_string_equal(vi.schemes[0], "older");
    /* loading the same scheme twice is refused and names both */
    assert_int_equal(load(p, "older"), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "already served"));
    ap_provisioner_free(p);
}

static void test_bad_names(void **s)
{
    ap_provisioner *p = mk();
    (void)s;
    assert_int_equal(ap_provisioner_load_vendor(p, "ap-vendor-x.so"), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "current directory"));
    assert_int_equal(ap_provisioner_load_vendor(p, "/nonexistent/libfoo.so"), AP_EVENDOR);
    assert_int_equal(ap_provisioner_load_vendor(p, "/nonexistent/ap-vendor-x.so"), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "cannot load"));
    assert_int_equal(ap_provisioner_load_vendor(p, ""), AP_EINVAL);
    ap_provisioner_free(p);
}

static void test_scan_collects_refusals(void **s)
{
    ap_provisioner_options o = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    const char *const *r;
    int nref = 0;
    (void)s;
    o.home = home;
    o.vendor_path = vdir;
    assert_int_equal(ap_provisioner_new(&p, &o), AP_OK);
    /* gen, hostile and older load; the five broken ones are listed */
    assert_int_equal(ap_provisioner_vendor_count(p), 3);
    for (r = ap_provisioner_refusals(p); *r; r++)
        nref++;
    assert_int_equal(nref, 5);
    ap_provisioner_free(p);
}

static void test_hostile_paths(void **s)
{
    static const char *const kinds[] = { "hostile:dotdot", "hostile:abs",
                                         "hostile:ctl", "hostile:dot" };
    ap_provisioner *p = mk();
    size_t i;
    char outside[600];
    (void)s;
    assert_int_equal(load(p, "hostile"), AP_OK);
    for (i = 0; i < 4; i++) {
        ap_entry *e = (ap_entry *)1;
        assert_int_equal(ap_provision(p, kinds[i], NULL, &e), AP_EPATH);
        assert_null(e);
        assert_non_null(strstr(ap_provisioner_errmsg(p), kinds[i]));
        assert_non_null(strstr(ap_provisioner_errmsg(p), "hostile"));
    }
    snprintf(outside, sizeof outside, "%s/../outside", home);
    assert_int_equal(access(outside, F_OK), -1);
    ap_provisioner_free(p);
}

static void test_unknown_scheme_and_bad_ref(void **s)
{
    ap_provisioner *p = mk();
    (void)s;
    assert_int_equal(ap_provision(p, "nope:x", NULL, NULL), AP_EVENDOR);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "nope:x"));
    assert_int_equal(ap_provision(p, "no scheme here", NULL, NULL), AP_EINVAL);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "hf:ORG/REPO"));
    assert_int_equal(ap_provision(p, "", NULL, NULL), AP_EINVAL);
    ap_provisioner_free(p);
}

static int cancel_midway(const ap_event *ev, void *user)
{
    if (ev->kind == AP_EVENT_PROGRESS && ev->progress->bytes_done >= 1000000)
        ap_cancel(user);
    assert_int_not_equal(ev->job_id, 0);
    return 0;
}

static void test_vendor_download(void **s)
{
    ap_provisioner *p = mk();
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    ap_cancel_token *tok = ap_cancel_token_new();
    ap_entry *e = NULL;
    FILE *f;
    size_t i, n;
    int bad = 0;
    unsigned char buf[4096];
    (void)s;
    assert_int_equal(load(p, "gen"), AP_OK);
    /* the bytes come from the vendor's download(), verified and stored */
    assert_int_equal(ap_provision(p, "gen:300000", NULL, &e), AP_OK);
    assert_int_equal(e->nfiles, 1);
    assert_int_equal(e->files[0].size, 300000);
    f = fopen(e->files[0].path, "rb");
    assert_non_null(f);
    for (i = 0; (n = fread(buf, 1, sizeof buf, f)) > 0; i += n) {
        size_t k;
        for (k = 0; k < n; k++)
            bad += buf[k] != (unsigned char)(((i + k) * 7) % 251);
    }
    fclose(f);
    assert_int_equal(i, 300000);
    assert_int_equal(bad, 0);
    ap_entry_free(e);
    /* a wrong digest is refused and nothing lands */
    assert_int_equal(ap_provision(p, "gen:5000:wrong", NULL, &e), AP_EDIGEST);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "sha256 mismatch"));
    assert_non_null(strstr(ap_provisioner_errmsg(p), "gen:5000:wrong"));
    /* cancel from the event callback, mid-download */
    o.cancel = tok;
    o.on_event = cancel_midway;
    o.event_user = tok;
    o.progress_interval_ms = 1;
    assert_int_equal(ap_provision(p, "gen:50000000", &o, &e), AP_ECANCELLED);
    assert_null(e);
    ap_cancel_token_free(tok);
    ap_provisioner_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_major),
        cmocka_unit_test(test_newer_minor),
        cmocka_unit_test(test_short_struct),
        cmocka_unit_test(test_missing_symbol),
        cmocka_unit_test(test_missing_resolve),
        cmocka_unit_test(test_older_short_but_valid),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_scan_collects_refusals),
        cmocka_unit_test(test_hostile_paths),
        cmocka_unit_test(test_unknown_scheme_and_bad_ref),
        cmocka_unit_test(test_vendor_download),
    };
    const char *b = getenv("AP_BUILD");
    char tmpl[] = "/tmp/aploader.XXXXXX";
    int rc;
    cmocka_set_message_output(CM_OUTPUT_TAP);
    if (!mkdtemp(tmpl))
        return 1;
    snprintf(home, sizeof home, "%s/home", tmpl);
    snprintf(vdir, sizeof vdir, "%s/t/vendors", b ? b : "build");
    if (vdir[0] != '/') {
        char cwd[256];
        if (!getcwd(cwd, sizeof cwd))
            return 1;
        snprintf(vdir, sizeof vdir, "%s/%s/t/vendors", cwd, b ? b : "build");
    }
    ap_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    ap_global_cleanup();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
        if (system(cmd) != 0)
            rc = rc ? rc : 1;
    }
    return rc;
}
