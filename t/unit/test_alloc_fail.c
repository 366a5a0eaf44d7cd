/* Allocation-failure loop (docs/TESTING.md): a full ap_provision of a small
 * file from t/fixtures/fakehub.py — provisioner creation, the pull, the
 * entry and the teardown — with the Nth allocation failing, for N = 1, 2,
 * … until a run completes without reaching the Nth allocation.  Each run
 * must end in a clean error (an ap_status, with a message) or succeed,
 * never crash; CI runs it under ASan/LSan and valgrind, so a leak on any
 * error path fails it too.  After each failed run, a pull without the fault
 * in the same AP_HOME must end ready with the exact bytes: the failure
 * left nothing corrupt behind.
 *
 * The hook is lib/fault.h's apx_fault_alloc_fail_at(), compiled only into
 * the fault build: this test links build/fault/libartifactprov.a (see the
 * Makefile).  apx_malloc/calloc/realloc (and strdup, strndup, asprintf)
 * count.  With AP_ALLOC_FAIL_JANSSON=1, jansson's allocations are routed
 * through the same counter too (json_set_alloc_funcs; that covers the
 * dlopen'd vendors' JSON): not by default, because jansson 2.14 itself
 * does not survive a failed allocation in its parser (heap overflow in
 * json_loads, seen under valgrind) — see docs/TESTING.md.  libcurl's and
 * libcrypto's own allocations are not counted.
 * AP_ALLOC_FAIL_STEP=K (default 1) tries every Kth N only, and
 * AP_ALLOC_FAIL_FROM=N starts at N, for a quick look at one failure.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "digest.h"
#include "internal.h"
#include "fault.h"
#include "formats.h"
#include "fakehub_fixture.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef AP_FAULT_INJECTION
#error "test_alloc_fail needs the fault build (-DAP_FAULT_INJECTION, build/fault/)"
#endif

static fakehub FH;
static char g_vendors[512];

static const fx_spec SPECS[] = {
    { "small.bin", 70000, 21, NULL },
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

static void *counted_malloc(size_t n)
{
    return apx_fault_alloc_fails() ? NULL : malloc(n);
}

static int server_up(void **state)
{
    const char *build = getenv("AP_BUILD");
    (void)state;
    if (getenv("AP_ALLOC_FAIL_JANSSON") && strcmp(getenv("AP_ALLOC_FAIL_JANSSON"), "1") == 0)
        json_set_alloc_funcs(counted_malloc, free);
    if (ap_global_init() != AP_OK)
        return -1;
    snprintf(g_vendors, sizeof g_vendors, "%s/vendors", build ? build : "build");
    return fx_start(&FH, "allocfail", NULL, SPECS, NSPECS);
}

static int server_down(void **state)
{
    (void)state;
    ap_global_cleanup();
    return fx_stop(&FH);
}

static int is_status(int rc)
{
    return rc <= AP_ERROR && rc >= AP_ETIMEDOUT;
}

/* One full run: provisioner, pull, entry, teardown.  Returns the status;
 * *why gets the first error message (static buffer). */
static int one_run(const char *home, const char *ref, char *why, size_t why_n,
                   int check_bytes, const char *want)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    int rc;
    po.home = home;
    po.vendor_path = g_vendors;
    o.max_attempts = 1;
    why[0] = '\0';
    rc = ap_provisioner_new(&p, &po);
    if (rc != AP_OK) {
        snprintf(why, why_n, "ap_provisioner_new: %s", ap_strerror(rc));
        assert_null(p);
        return rc;
    }
    rc = ap_provision(p, ref, &o, &e);
    if (rc != AP_OK) {
        const char *m = ap_provisioner_errmsg(p);
        snprintf(why, why_n, "%s", m ? m : "");
        assert_null(e);
    } else {
        assert_non_null(e);
        if (check_bytes) {
            char got[65];
            uint64_t size = 0;
            assert_int_equal(e->status, AP_ENTRY_READY);
            assert_int_equal(e->nfiles, 1);
            assert_int_equal(apx_sha256_file(e->files[0].path, got, &size), AP_OK);
            assert_string_equal(got, want);
        }
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
    return rc;
}

/* The catalog of home records ref as ready with the wanted digest (what
 * ap_provision returned AP_OK for must be what the catalog says). */
static void assert_catalog_ready(unsigned long n, const char *home, const char *ref,
                                 const char *want)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    int rc;
    po.home = home;
    po.vendor_path = g_vendors;
    assert_int_equal(ap_provisioner_new(&p, &po), AP_OK);
    rc = ap_catalog_get(ap_provisioner_catalog(p), ref, &e);
    if (rc != AP_OK || e->status != AP_ENTRY_READY || e->nfiles != 1 ||
        !e->files[0].sha256 || strcmp(e->files[0].sha256, want) != 0) {
        char msg[APX_ERRMSG_MAX + 128];
        snprintf(msg, sizeof msg, "%s (%s)",
                 rc != AP_OK ? "nothing" : ap_entry_status_name(e->status),
                 rc != AP_OK ? ap_catalog_errmsg(ap_provisioner_catalog(p)) : "status/digest");
        ap_entry_free(e);
        ap_provisioner_free(p);
        fail_msg("N=%lu: ap_provision returned AP_OK but the catalog says %s; in %s/catalog",
                 n, msg, home);
    }
    ap_entry_free(e);
    ap_provisioner_free(p);
}

static void test_every_allocation_fails_cleanly(void **state)
{
    const char *step_env = getenv("AP_ALLOC_FAIL_STEP");
    const char *from_env = getenv("AP_ALLOC_FAIL_FROM");
    unsigned long n, step = step_env ? strtoul(step_env, NULL, 10) : 1, failed = 0;
    char want[65], ref[512], home[256], why[APX_ERRMSG_MAX + 64];
    (void)state;
    if (step == 0)
        step = 1;
    fx_expected_sha(&SPECS[0], want);
    snprintf(ref, sizeof ref, "%s/files/small.bin#sha256=%s", FH.files, want);
    for (n = from_env ? strtoul(from_env, NULL, 10) : 1; n >= 1; n += step) {
        int rc, hit;
        snprintf(home, sizeof home, "%s/h-%lu", FH.dir, n);
        apx_fault_alloc_fail_at(n);
        rc = one_run(home, ref, why, sizeof why, 0, want);
        hit = apx_fault_alloc_hit();
        apx_fault_alloc_fail_at(0);
        if (!hit) {
            /* The whole run needs fewer than n allocations: done. */
            if (rc != AP_OK)
                fail_msg("N=%lu: no allocation failed, yet status %d: %s", n, rc, why);
            print_message("# %lu runs, %lu of them ended in an error; a full run "
                          "makes %lu counted allocations\n", (n - 1) / step + 1,
                          failed, n - 1);
            break;
        }
        if (rc != AP_OK) {
            failed++;
            if (!is_status(rc))
                fail_msg("N=%lu: status %d is not an ap_status", n, rc);
            if (!why[0])
                fail_msg("N=%lu: status %d (%s) without a message", n, rc, ap_strerror(rc));
            /* A failed pull's message names the artifact. */
            if (strncmp(why, "ap_provisioner_new:", 19) != 0 && !strstr(why, "small.bin"))
                fail_msg("N=%lu: status %d, the message does not name the reference: %s",
                         n, rc, why);
        }
        else
            assert_catalog_ready(n, home, ref, want);
        /* Nothing the failure left behind stops a clean pull. */
        rc = one_run(home, ref, why, sizeof why, 1, want);
        if (rc != AP_OK)
            fail_msg("N=%lu: the pull after the failed one: status %d: %s", n, rc, why);
        if (n > 200000)
            fail_msg("no end after %lu allocations", n);
    }
    assert_true(n > 1);
}

/* The safetensors reader (lib/safetensors.c) with the Nth allocation
 * failing: its own (the context, the piece buffer growing for a string
 * longer than a piece, the keyed hash sets) and yajl's, which go through
 * apx_malloc/apx_realloc too.  yajl 2.1 does not check for NULL, so the
 * reader leaves it by longjmp and frees its blocks: each run must end in
 * AP_OK or AP_ENOMEM with a message, never a crash, and leak nothing
 * (ASan/LSan, valgrind). */
static void test_safetensors_allocation_fails(void **state)
{
    static const char head[] = "{\"__metadata__\":{\"a\":[[{\"b\":\"\\u00e9\\n\"}]],"
                               "\"long\":\"";
    static const char tail[] = "\"},\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],"
                               "\"data_offsets\":[0,12]},\"v\":{\"dtype\":\"F32\","
                               "\"shape\":[1],\"data_offsets\":[12,16],\"x\":{}}}";
    size_t fill = 70000, hl = sizeof head - 1 + 2 * fill + sizeof tail - 1, i;
    unsigned char *f = calloc(1, 8 + hl + 16);
    unsigned long n;
    apx_model_info info;
    apx_error err;
    (void)state;
    assert_non_null(f);
    for (i = 0; i < 8; i++)
        f[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(f + 8, head, sizeof head - 1);
    for (i = 0; i < fill; i++)          /* escapes: yajl decodes into its buffer */
        memcpy(f + 8 + sizeof head - 1 + 2 * i, "\\t", 2);
    memcpy(f + 8 + sizeof head - 1 + 2 * fill, tail, sizeof tail - 1);
    for (n = 1; n < 100000; n++) {
        apx_src src = { f, -1, 8 + hl + 16 };
        int rc, hit;
        memset(&err, 0, sizeof err);
        apx_fault_alloc_fail_at(n);
        rc = apx_safetensors_parse(&src, &info, &err);
        hit = apx_fault_alloc_hit();
        apx_fault_alloc_fail_at(0);
        if (!hit) {
            assert_int_equal(rc, AP_OK);
            assert_string_equal(info.precision, "bf16");
            assert_int_equal(info.parameters, 7);
            print_message("# safetensors: %lu allocations, each failed once\n", n - 1);
            break;
        }
        if (rc != AP_ENOMEM || !strstr(err.msg, "out of memory"))
            fail_msg("N=%lu: status %d (%s)", n, rc, err.msg);
    }
    assert_true(n > 3);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_allocation_fails),
        cmocka_unit_test(test_every_allocation_fails_cleanly),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, server_up, server_down);
}
