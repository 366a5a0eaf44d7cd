/* The one progress model through the public API (ap_provision with an
 * event sink), against t/fixtures/fakehub.py: sizes learnt from the
 * response, resumed and imported bytes counted as done, heartbeats and
 * cancellation while a vendor resolves and while a file is imported, the
 * catalog's downloading -> ready lifecycle seen from another handle, and
 * ap_event_to_json() parsed back.  SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "digest.h"
#include "internal.h"
#include "fakehub_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG_SIZE (48u << 20)
#define COMMIT "abababababababababababababababababababab"

static fakehub FH;
static char g_vendors[512];
static char g_big[256], g_big_sha[65];

static const fx_spec SPECS[] = {
    { "u.bin", 3000000, 21, NULL },
    { "drop.bin", 3000000, 22, "{\"drop_at\": 1300000, \"times\": 1}" },
    { "slow.bin", 1500000, 23, "{\"throttle_bps\": 600000}" },
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

static int server_up(void **state)
{
    const char *build = getenv("AP_BUILD");
    char top[1024], tmpl[] = "/tmp/ap-test-progress-big-XXXXXX";
    unsigned char *buf;
    size_t i;
    int fd;
    (void)state;
    if (ap_global_init() != AP_OK)
        return -1;
    snprintf(g_vendors, sizeof g_vendors, "%s/vendors", build ? build : "build");
    /* the big file the HF cache holds (imported, never downloaded) */
    if ((fd = mkstemp(tmpl)) < 0 || !(buf = malloc(1u << 20)))
        return -1;
    for (i = 0; i < (1u << 20); i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    for (i = 0; i < BIG_SIZE >> 20; i++) {
        buf[0] = (unsigned char)i;
        if (write(fd, buf, 1u << 20) != (ssize_t)(1u << 20))
            return -1;
    }
    free(buf);
    close(fd);
    snprintf(g_big, sizeof g_big, "%s", tmpl);
    if (apx_sha256_file(g_big, g_big_sha, NULL) != AP_OK)
        return -1;
    snprintf(top, sizeof top,
             "\"repos\": {"
             "\"org/slow\": {\"api_faults\": {\"stall_at\": 0, \"stall_secs\": 4},"
             " \"files\": {\"a.txt\": {\"content\": \"x\"}}},"
             "\"org/two\": {\"files\": {\"config.json\": {\"content\": \"{}\"},"
             " \"w.bin\": {\"generate\": {\"size\": 12000000, \"seed\": 5}, \"lfs\": true}}},"
             "\"org/big\": {\"refs\": {\"main\": \"" COMMIT "\"}, \"commits\": {\"" COMMIT
             "\": {\"files\": {\"big.bin\": {\"source\": \"%s\", \"lfs\": true}}}}}}",
             g_big);
    return fx_start(&FH, "progress", top, SPECS, NSPECS);
}

static int server_down(void **state)
{
    (void)state;
    unlink(g_big);
    ap_global_cleanup();
    return fx_stop(&FH);
}

static ap_provisioner *prov_at(const char *name)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    char home[256];
    snprintf(home, sizeof home, "%s/%s", FH.dir, name);
    po.home = home;
    po.vendor_path = g_vendors;
    assert_int_equal(ap_provisioner_new(&p, &po), AP_OK);
    return p;
}

/* ---- a recording sink ----------------------------------------------------- */

typedef struct seen {
    ap_cancel_token *cancel_on;  /* cancel it at the first event matching: */
    const char *cancel_phase;    /* a heartbeat in this phase */
    unsigned heartbeats, hb_resolving, hb_importing, before_resolve;
    int resolved, ended;
    int hb_job_ok;
    ap_job_id job;
    char hb_msg[256];
    uint64_t max_total_running; /* largest total of a progress event not at the end */
    ap_progress last;           /* the final event's progress */
    char *final_json;           /* ap_event_to_json of the final event */
} seen;

static int on_event(const ap_event *ev, void *user)
{
    seen *s = user;
    const ap_progress *p = ev->progress;
    if (ev->kind == AP_EVENT_RESOLVE)
        s->resolved = 1;
    if (ev->kind == AP_EVENT_HEARTBEAT) {
        s->heartbeats++;
        s->hb_job_ok = ev->job_id == s->job && p->job_id == s->job;
        if (!s->resolved)
            s->before_resolve++;
        if (p->phase && !strcmp(p->phase, "resolving")) {
            s->hb_resolving++;
            snprintf(s->hb_msg, sizeof s->hb_msg, "%s", ev->message ? ev->message : "");
        }
        if (p->phase && !strcmp(p->phase, "importing"))
            s->hb_importing++;
        if (s->cancel_on && p->phase && !strcmp(p->phase, s->cancel_phase))
            ap_cancel(s->cancel_on);
    }
    if (ev->kind == AP_EVENT_PROGRESS && p->bytes_done < p->bytes_total &&
        p->bytes_total > s->max_total_running)
        s->max_total_running = p->bytes_total;
    if (ev->kind == AP_EVENT_DONE || ev->kind == AP_EVENT_ERROR ||
        ev->kind == AP_EVENT_CANCELLED) {
        s->ended = 1;
        s->last = *p;
        s->last.artifact = s->last.file = s->last.phase = NULL;
        free(s->final_json);
        s->final_json = NULL;
        assert_int_equal(ap_event_to_json(ev, &s->final_json), AP_OK);
    }
    return 0;
}

static void url_of(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/files/%s", FH.files, name); /* no size, no digest */
}

/* ---- tests ---------------------------------------------------------------- */

/* A plain URL: the vendor knows no size; the response does.  The total is
 * known while the bytes arrive, and the job ends at 100 %. */
static void test_url_size_from_response(void **state)
{
    ap_provisioner *p = prov_at("url");
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    seen s;
    ap_entry *e = NULL;
    char ref[512];
    json_t *j;
    (void)state;
    memset(&s, 0, sizeof s);
    url_of("u.bin", ref, sizeof ref);
    o.on_event = on_event;
    o.event_user = &s;
    o.job_id = s.job = 7;
    o.chunk_size = 256 * 1024;
    o.max_connections = 2;
    assert_int_equal(ap_provision(p, ref, &o, &e), AP_OK);
    assert_int_equal(s.max_total_running, 3000000);
    assert_int_equal(s.last.bytes_total, 3000000);
    assert_int_equal(s.last.bytes_done, 3000000);
    assert_true(s.last.percent == 100.0);
    assert_int_equal(s.last.fetched_bytes, 3000000);
    assert_int_equal(s.last.files_done, 1);
    assert_int_equal(s.last.files_total, 1);
    /* the same figures in the event's JSON */
    assert_non_null(s.final_json);
    j = json_loads(s.final_json, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "done");
    assert_int_equal(json_integer_value(json_object_get(j, "job")), 7);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_total")), 3000000);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_done")), 3000000);
    assert_int_equal(json_integer_value(json_object_get(j, "fetched_bytes")), 3000000);
    assert_true(json_real_value(json_object_get(j, "percent")) == 100.0);
    assert_string_equal(json_string_value(json_object_get(j, "artifact")), ref);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    json_decref(j);
    free(s.final_json);
    ap_entry_free(e);
    ap_provisioner_free(p);
}

/* A pull that failed half-way leaves its staging file; the next pull
 * resumes it, counts the resumed bytes as done and ends at 100 %, and
 * fetched_bytes says what was transferred. */
static void test_resumed_ends_at_100(void **state)
{
    ap_provisioner *p = prov_at("resume");
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    seen s;
    ap_entry *e = NULL;
    char ref[512];
    (void)state;
    memset(&s, 0, sizeof s);
    url_of("drop.bin", ref, sizeof ref);
    o.on_event = on_event;
    o.event_user = &s;
    o.chunk_size = 256 * 1024;
    o.max_connections = 1;
    o.max_attempts = 1;
    assert_int_not_equal(ap_provision(p, ref, &o, NULL), AP_OK);
    assert_true(s.last.bytes_done > 0 && s.last.bytes_done < 3000000);
    {
        /* the entry says failed, and so does its file */
        ap_entry **list = NULL;
        size_t n = 0;
        assert_int_equal(ap_catalog_list(ap_provisioner_catalog(p), NULL, &list, &n), AP_OK);
        assert_int_equal(n, 1);
        assert_int_equal(list[0]->status, AP_ENTRY_FAILED);
        assert_int_equal(ap_entry_file_count(list[0]), 1);
        assert_int_equal(ap_entry_file_at(list[0], 0)->status, AP_FILE_FAILED);
        ap_entry_list_free(list, n);
    }
    free(s.final_json);
    memset(&s, 0, sizeof s);
    o.max_attempts = 3;
    assert_int_equal(ap_provision(p, ref, &o, &e), AP_OK);
    assert_int_equal(s.last.bytes_total, 3000000);
    assert_int_equal(s.last.bytes_done, 3000000);
    assert_true(s.last.percent == 100.0);
    /* resumed: less than the file was transferred the second time */
    assert_true(s.last.fetched_bytes > 0 && s.last.fetched_bytes < 3000000);
    assert_int_equal(e->fetched_bytes, s.last.fetched_bytes);
    assert_int_equal(ap_entry_file_at(e, 0)->status, AP_FILE_READY);
    free(s.final_json);
    ap_entry_free(e);
    ap_provisioner_free(p);
}

/* The hub takes 4 s to answer the API call: heartbeats say "resolving
 * hf:org/slow" with the job id meanwhile. */
static void test_heartbeats_while_resolving(void **state)
{
    ap_provisioner *p = prov_at("resolve");
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    seen s;
    ap_entry *e = NULL;
    (void)state;
    memset(&s, 0, sizeof s);
    setenv("HF_ENDPOINT", FH.hub, 1);
    o.on_event = on_event;
    o.event_user = &s;
    o.job_id = s.job = 41;
    o.heartbeat_ms = 200;
    assert_int_equal(ap_provision(p, "hf:org/slow", &o, &e), AP_OK);
    assert_true(s.before_resolve >= 2);
    assert_true(s.hb_resolving >= 2);
    assert_true(s.hb_job_ok);
    assert_string_equal(s.hb_msg, "resolving hf:org/slow");
    assert_true(s.last.percent == 100.0);
    free(s.final_json);
    ap_entry_free(e);
    ap_provisioner_free(p);
}

/* A cancel while the vendor waits for the hub ends the job as cancelled,
 * without waiting for the answer (the fixture answers after 4 s; the
 * token is triggered at the first heartbeat, 200 ms in). */
static void test_cancel_while_resolving(void **state)
{
    ap_provisioner *p = prov_at("resolve-cancel");
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    seen s;
    ap_entry *e = NULL;
    (void)state;
    memset(&s, 0, sizeof s);
    setenv("HF_ENDPOINT", FH.hub, 1);
    s.cancel_on = ap_cancel_token_new();
    s.cancel_phase = "resolving";
    o.on_event = on_event;
    o.event_user = &s;
    o.cancel = s.cancel_on;
    o.heartbeat_ms = 200;
    assert_int_equal(ap_provision(p, "hf:org/slow", &o, &e), AP_ECANCELLED);
    assert_null(e);
    assert_false(s.resolved);
    assert_true(s.hb_resolving >= 1);
    assert_non_null(strstr(ap_provisioner_errmsg(p), "cancel"));
    free(s.final_json);
    ap_cancel_token_free(s.cancel_on);
    ap_provisioner_free(p);
}

/* Lay out an HF cache holding big.bin of org/big (the layout the vendor
 * reads: blobs/<sha256>, snapshots/<commit>/<file> -> ../../blobs/...). */
static void make_hf_cache(char *dir, size_t n)
{
    char path[1024], cmd[4096];
    snprintf(dir, n, "%s/hfc", FH.dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/models--org--big/blobs' '%s/models--org--big/snapshots/" COMMIT
             "' '%s/models--org--big/refs' && cp '%s' '%s/models--org--big/blobs/%s' && "
             "ln -sf ../../blobs/%s '%s/models--org--big/snapshots/" COMMIT "/big.bin' && "
             "printf " COMMIT " > '%s/models--org--big/refs/main'",
             dir, dir, dir, g_big, dir, g_big_sha, g_big_sha, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/models--org--big/blobs/%s", dir, g_big_sha);
    assert_int_equal(access(path, R_OK), 0);
}

/* A file the HF cache holds is imported: the import counts as done (and
 * transfers nothing), heartbeats say "importing", and a cancel stops the
 * copy: the job ends cancelled and the blob does not land. */
static void test_import_counts_and_cancels(void **state)
{
    ap_provisioner *p;
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    seen s;
    ap_entry *e = NULL;
    char hfc[256];
    (void)state;
    setenv("HF_ENDPOINT", FH.hub, 1);
    make_hf_cache(hfc, sizeof hfc);
    setenv("HF_HUB_CACHE", hfc, 1);

    /* cancelled at the first heartbeat of the import */
    p = prov_at("import-cancel");
    memset(&s, 0, sizeof s);
    s.cancel_on = ap_cancel_token_new();
    s.cancel_phase = "importing";
    o.on_event = on_event;
    o.event_user = &s;
    o.cancel = s.cancel_on;
    o.heartbeat_ms = 1; /* a heartbeat at every block the copy reads */
    assert_int_equal(ap_provision(p, "hf:org/big/big.bin", &o, &e), AP_ECANCELLED);
    assert_null(e);
    assert_true(s.hb_importing >= 1);
    assert_true(s.last.bytes_done < BIG_SIZE);
    assert_int_equal(ap_store_has_blob(ap_provisioner_store(p), g_big_sha), 0);
    free(s.final_json);
    ap_cancel_token_free(s.cancel_on);
    ap_provisioner_free(p);

    /* not cancelled: imported, 100 %, nothing fetched */
    p = prov_at("import");
    memset(&s, 0, sizeof s);
    o.cancel = NULL;
    o.heartbeat_ms = 0;
    assert_int_equal(ap_provision(p, "hf:org/big/big.bin", &o, &e), AP_OK);
    assert_int_equal(s.last.bytes_total, BIG_SIZE);
    assert_int_equal(s.last.bytes_done, BIG_SIZE);
    assert_true(s.last.percent == 100.0);
    assert_int_equal(s.last.fetched_bytes, 0);
    assert_int_equal(e->fetched_bytes, 0);
    assert_int_equal(ap_store_has_blob(ap_provisioner_store(p), g_big_sha), 1);
    free(s.final_json);
    ap_entry_free(e);
    ap_provisioner_free(p);
    unsetenv("HF_HUB_CACHE");
}

/* ---- the catalog lifecycle, seen from another handle ------------------------ */

typedef struct watch {
    char home[256];
    volatile int stop;
    unsigned downloading, growths, shrinks;
    uint64_t last_done, last_total;
} watch;

static void *watcher(void *arg)
{
    watch *w = arg;
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    po.home = w->home;
    po.flags = AP_PROV_NO_PLUGINS;
    if (ap_provisioner_new(&p, &po) != AP_OK)
        return NULL;
    while (!w->stop) {
        ap_entry **list = NULL;
        size_t n = 0;
        if (ap_catalog_list(ap_provisioner_catalog(p), NULL, &list, &n) == AP_OK && n == 1 &&
            list[0]->status == AP_ENTRY_DOWNLOADING) {
            w->downloading++;
            if (list[0]->done_bytes > w->last_done)
                w->growths++;
            if (list[0]->done_bytes < w->last_done)
                w->shrinks++;
            w->last_done = list[0]->done_bytes;
            w->last_total = list[0]->total_size;
        }
        ap_entry_list_free(list, n);
        usleep(20000); /* a poll interval, not a progress assumption */
    }
    ap_provisioner_free(p);
    return NULL;
}

static void test_catalog_lifecycle(void **state)
{
    ap_provisioner *p = prov_at("lifecycle");
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    ap_entry *e = NULL, *got = NULL;
    pthread_t th;
    watch w;
    char ref[512];
    (void)state;
    memset(&w, 0, sizeof w);
    snprintf(w.home, sizeof w.home, "%s/lifecycle", FH.dir);
    url_of("slow.bin", ref, sizeof ref);
    o.max_connections = 1;
    o.heartbeat_ms = 100;
    assert_int_equal(pthread_create(&th, NULL, watcher, &w), 0);
    assert_int_equal(ap_provision(p, ref, &o, &e), AP_OK);
    w.stop = 1;
    pthread_join(th, NULL);
    /* seen downloading, its done bytes growing, never shrinking, with the
     * total the response announced */
    assert_true(w.downloading >= 1);
    assert_true(w.growths >= 1);
    assert_int_equal(w.shrinks, 0);
    assert_true(w.last_done > 0 && w.last_done <= 1500000);
    assert_int_equal(w.last_total, 1500000);
    /* then ready, all bytes done */
    assert_int_equal(ap_catalog_get(ap_provisioner_catalog(p), e->id, &got), AP_OK);
    assert_int_equal(got->status, AP_ENTRY_READY);
    assert_int_equal(got->done_bytes, 1500000);
    assert_int_equal(got->total_size, 1500000);
    ap_entry_free(got);
    ap_entry_free(e);
    ap_provisioner_free(p);
}

/* A repository recorded by a sync, then one of its files pulled: ONE
 * entry -- the pull records into the repository's entry (and returns it),
 * which lists the file as pending, then ready (with the bytes the pull
 * committed), and becomes ready once every file is; the catalog holds no
 * other entry, and the file's reference finds it. */
static void test_sync_then_pull_file(void **state)
{
    ap_provisioner *p = prov_at("sync");
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    ap_entry *repo = NULL, *file = NULL, *now = NULL;
    const ap_entry_file *w = NULL;
    size_t i, k;
    (void)state;
    setenv("HF_ENDPOINT", FH.hub, 1);
    o.flags = AP_PROVISION_METADATA_ONLY;
    assert_int_equal(ap_provision(p, "hf:org/two", &o, &repo), AP_OK);
    assert_int_equal(repo->status, AP_ENTRY_PENDING);
    for (i = 0; i < ap_entry_file_count(repo); i++)
        if (!strcmp(ap_entry_file_at(repo, i)->name, "w.bin"))
            w = ap_entry_file_at(repo, i);
    assert_non_null(w);
    assert_int_equal(w->status, AP_FILE_PENDING);
    o.flags = 0;
    assert_int_equal(ap_provision(p, "hf:org/two/w.bin", &o, &file), AP_OK);
    assert_string_equal(file->id, repo->id);
    assert_int_equal(file->status, AP_ENTRY_READY);
    {
        ap_entry **list = NULL, *byref = NULL;
        size_t n = 0;
        assert_int_equal(ap_catalog_list(ap_provisioner_catalog(p), NULL, &list, &n), AP_OK);
        assert_int_equal(n, 1);
        assert_string_equal(list[0]->id, repo->id);
        ap_entry_list_free(list, n);
        assert_int_equal(ap_catalog_get(ap_provisioner_catalog(p), "hf:org/two/w.bin",
                                        &byref), AP_OK);
        assert_string_equal(byref->id, repo->id);
        ap_entry_free(byref);
    }
    assert_int_equal(ap_catalog_get(ap_provisioner_catalog(p), repo->id, &now), AP_OK);
    assert_int_equal(now->status, AP_ENTRY_READY);
    for (i = 0; i < ap_entry_file_count(now); i++) {
        const ap_entry_file *f = ap_entry_file_at(now, i);
        assert_int_equal(f->status, AP_FILE_READY);
        assert_true(f->present);
        if (!strcmp(f->name, "w.bin")) {
            char got[65];
            for (k = 0; k < ap_entry_file_count(file); k++)
                if (!strcmp(ap_entry_file_at(file, k)->name, "w.bin"))
                    assert_string_equal(f->sha256, ap_entry_file_at(file, k)->sha256);
            assert_int_equal(apx_sha256_file(f->path, got, NULL), AP_OK);
            assert_string_equal(got, f->sha256);
        }
    }
    ap_entry_free(now);
    ap_entry_free(file);
    ap_entry_free(repo);
    ap_provisioner_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_size_from_response),
        cmocka_unit_test(test_resumed_ends_at_100),
        cmocka_unit_test(test_heartbeats_while_resolving),
        cmocka_unit_test(test_cancel_while_resolving),
        cmocka_unit_test(test_import_counts_and_cancels),
        cmocka_unit_test(test_catalog_lifecycle),
        cmocka_unit_test(test_sync_then_pull_file),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, server_up, server_down);
}
