/* Unit tests of the provisioner (lib/provisioner.c and the files split from
 * it), through the public API against t/fixtures/fakehub.py on loopback,
 * with the Hugging Face vendor loaded from its plugin (AP_BUILD/vendors).
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

#define SNAP_COMMIT "1111111111111111111111111111111111111111"
#define SNAP_FILES 150   /* several batches under the descriptor limit below */

static fakehub FX;
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
    return fx_stop(&FX);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_each_phase),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, setup, teardown);
}
