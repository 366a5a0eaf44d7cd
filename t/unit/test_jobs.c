/* The job registry (include/artifactprov/jobs.h) against
 * t/fixtures/fakehub.py: concurrent jobs, cancellation, cross-job dedup,
 * events tagged with the right job id, heartbeats during a stall.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "digest.h"
#include "internal.h"
#include "../include/artifactprov/jobs.h"
#include "fakehub_fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static fakehub FH;
static char g_vendors[512];
static int g_slow; /* under valgrind: relax timing bounds */

static const fx_spec SPECS[] = {
    { "a.bin", 1500000, 1, NULL },
    { "b.bin", 700000, 2, NULL },
    { "c.bin", 300001, 3, NULL },
    { "slow.bin", 4000000, 4, "{\"throttle_bps\": 200000}" },
    { "slow2.bin", 4000000, 14, "{\"throttle_bps\": 200000}" },
    { "d1.bin", 1000000, 5, "{\"throttle_bps\": 2000000}" },
    { "d2.bin", 1000000, 5, "{\"throttle_bps\": 2000000}" },
    { "d3.bin", 1000000, 6, "{\"throttle_bps\": 2000000}" },
    { "m1.bin", 800000, 7, "{\"throttle_bps\": 1000000}" },
    { "m2.bin", 800000, 8, "{\"throttle_bps\": 1000000}" },
    { "stall.bin", 600000, 9,
      "{\"stall_at\": 300000, \"stall_secs\": 2, \"times\": 1}" },
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

static const fx_spec *spec_of(const char *name)
{
    return fx_spec_of(SPECS, NSPECS, name);
}

/* "<files>/files/<name>#sha256=<hex>" */
static void ref_of(const char *name, char *out, size_t n)
{
    char hex[65];
    fx_expected_sha(spec_of(name), hex);
    snprintf(out, n, "%s/files/%s#sha256=%s", FH.files, name, hex);
}

static int server_up(void **state)
{
    const char *build = getenv("AP_BUILD"), *pre = getenv("LD_PRELOAD");
    (void)state;
    g_slow = pre && strstr(pre, "vgpreload") != NULL;
    if (ap_global_init() != AP_OK)
        return -1;
    snprintf(g_vendors, sizeof g_vendors, "%s/vendors", build ? build : "build");
    return fx_start(&FH, "jobs", NULL, SPECS, NSPECS);
}

static int server_down(void **state)
{
    (void)state;
    ap_global_cleanup();
    return fx_stop(&FH);
}

static uint64_t log_bytes(const char *name)
{
    return fx_log_bytes(&FH, name);
}

/* log_bytes(a) + log_bytes(b), once the server has logged at least `want`
 * (a response's line is written after its last byte is sent, which can be
 * a moment after the client has it) or 3 s passed. */
static uint64_t log_bytes_settled(const char *a, const char *b, uint64_t want)
{
    uint64_t sum = 0;
    int i;
    for (i = 0; i < 60; i++) {
        sum = log_bytes(a) + (b ? log_bytes(b) : 0);
        if (sum >= want)
            break;
        usleep(50000);
    }
    usleep(100000); /* and nothing more arrives */
    return log_bytes(a) + (b ? log_bytes(b) : 0);
}

/* ---- the sink: records every event, checks per-job serialisation ------- */

#define MAX_REC 20000
typedef struct rec {
    ap_job_id id;
    ap_event_kind kind;
    char artifact[512];
    pthread_t thread;
} rec;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static rec *g_rec;
static size_t g_nrec;
static int g_overlap;            /* two sink calls for one job at once */
static int g_badprog;            /* progress missing or with another id */
static ap_job_id g_inside[64];   /* jobs whose sink call is in progress */

static int sink(const ap_event *ev, void *user)
{
    size_t i, slot = 64;
    (void)user;
    pthread_mutex_lock(&g_mu);
    for (i = 0; i < 64; i++)
        if (g_inside[i] == ev->job_id)
            g_overlap = 1;
    for (i = 0; i < 64 && slot == 64; i++)
        if (!g_inside[i])
            slot = i;
    if (slot < 64)
        g_inside[slot] = ev->job_id;
    if (g_rec && g_nrec < MAX_REC) {
        rec *r = &g_rec[g_nrec++];
        r->id = ev->job_id;
        r->kind = ev->kind;
        snprintf(r->artifact, sizeof r->artifact, "%s",
                 ev->artifact ? ev->artifact : "(null)");
        r->thread = pthread_self();
        if (!ev->progress || ev->progress->job_id != ev->job_id)
            g_badprog = 1; /* no cmocka assertion off the main thread */
    }
    pthread_mutex_unlock(&g_mu);
    usleep(200); /* widen the window for overlaps */
    pthread_mutex_lock(&g_mu);
    if (slot < 64)
        g_inside[slot] = 0;
    pthread_mutex_unlock(&g_mu);
    return 0;
}

static ap_jobs *new_jobs(const char *home_name, unsigned max_running)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_jobs_options jo = AP_JOBS_OPTIONS_INIT;
    ap_jobs *jobs = NULL;
    char home[256];
    snprintf(home, sizeof home, "%s/%s", FH.dir, home_name);
    po.home = home;
    po.vendor_path = g_vendors;
    jo.max_running = max_running;
    jo.sink = sink;
    assert_int_equal(ap_jobs_new(&jobs, &po, &jo), AP_OK);
    return jobs;
}

static void small_chunks(ap_provision_options *o)
{
    ap_provision_options_init(o);
    o->chunk_size = 256 * 1024;
    o->max_connections = 2;
}

/* The file the job's entry points at has the expected bytes. */
static void assert_entry_bytes(ap_jobs *jobs, ap_job_id id, const char *name)
{
    ap_entry *e = NULL;
    char want[65], got[65];
    uint64_t size = 0;
    fx_expected_sha(spec_of(name), want);
    assert_int_equal(ap_jobs_entry(jobs, id, &e), AP_OK);
    assert_int_equal(e->status, AP_ENTRY_READY);
    assert_int_equal(e->nfiles, 1);
    assert_non_null(e->files[0].path);
    assert_int_equal(apx_sha256_file(e->files[0].path, got, &size), AP_OK);
    assert_string_equal(got, want);
    assert_int_equal(size, spec_of(name)->size);
    ap_entry_free(e);
}

/* ---- tests -------------------------------------------------------------- */

static void test_three_jobs(void **state)
{
    static const char *names[] = { "a.bin", "b.bin", "c.bin" };
    ap_jobs *jobs = new_jobs("h-three", 4);
    ap_provision_options o;
    ap_job_id ids[3], *list = NULL;
    size_t i, n = 0;
    char ref[512];
    (void)state;
    small_chunks(&o);
    for (i = 0; i < 3; i++) {
        ref_of(names[i], ref, sizeof ref);
        assert_int_equal(ap_jobs_submit(jobs, ref, &o, &ids[i]), AP_OK);
        assert_true(ids[i] > 0);
    }
    assert_true(ids[0] != ids[1] && ids[1] != ids[2]);
    for (i = 0; i < 3; i++) {
        ap_job_info info = AP_JOB_INFO_INIT;
        assert_int_equal(ap_jobs_wait(jobs, ids[i], 30000, &info), AP_OK);
        if (info.state != AP_JOB_DONE)
            fprintf(stderr, "# job %llu: %s\n", (unsigned long long)ids[i],
                    info.message ? info.message : "?");
        assert_int_equal(info.state, AP_JOB_DONE);
        assert_int_equal(info.status, AP_OK);
        assert_non_null(info.entry_id);
        assert_null(info.message);
        assert_int_equal(info.progress.bytes_done, spec_of(names[i])->size);
        assert_int_equal(info.progress.fetched_bytes, spec_of(names[i])->size);
        assert_true(info.started >= info.submitted && info.finished >= info.started);
        assert_string_equal(ap_job_state_name(info.state), "done");
        ap_job_info_clear(&info);
        assert_null(info.ref);
        assert_entry_bytes(jobs, ids[i], names[i]);
    }
    assert_int_equal(ap_jobs_list(jobs, &list, &n), AP_OK);
    assert_int_equal(n, 3);
    for (i = 0; i < 3; i++)
        assert_true(list[i] == ids[i]);
    ap_free(list);
    /* forget, then it is gone */
    assert_int_equal(ap_jobs_forget(jobs, ids[0]), AP_OK);
    {
        ap_job_info info = AP_JOB_INFO_INIT;
        assert_int_equal(ap_jobs_info(jobs, ids[0], &info), AP_ENOTFOUND);
        assert_int_equal(ap_jobs_wait(jobs, ids[0], 0, NULL), AP_ENOTFOUND);
        assert_int_equal(ap_jobs_cancel(jobs, ids[0]), AP_ENOTFOUND);
        assert_int_equal(ap_jobs_cancel(jobs, ids[1]), AP_OK); /* done: no-op */
        assert_int_equal(ap_jobs_info(jobs, ids[1], &info), AP_OK);
        assert_int_equal(info.state, AP_JOB_DONE);
        ap_job_info_clear(&info);
    }
    ap_jobs_free(jobs);
}

/* Wait (through the event ring) until the job has received bytes. */
static void wait_for_bytes(ap_jobs *jobs, ap_job_id id)
{
    uint64_t seq = 0;
    int loops = 0;
    for (;;) {
        ap_job_event ev[8];
        size_t got = 0, i;
        int seen = 0;
        ev[0].struct_size = sizeof ev[0];
        assert_int_equal(ap_jobs_events(jobs, id, seq, 1000, ev, 8, &got), AP_OK);
        for (i = 0; i < got; i++) {
            assert_true(ev[i].job_id == id);
            assert_false(ev[i].final);
            seq = ev[i].seq;
            seen |= ev[i].progress.bytes_done > 0;
        }
        ap_job_events_clear(ev, got);
        if (seen)
            return;
        assert_true(++loops < 30);
    }
}

static void test_cancel_running(void **state)
{
    ap_jobs *jobs = new_jobs("h-cancel", 2);
    ap_provision_options o;
    ap_job_info info = AP_JOB_INFO_INIT;
    ap_job_event ev[4];
    ap_job_id id;
    uint64_t t0, ms;
    size_t got = 0;
    char ref[512];
    (void)state;
    small_chunks(&o);
    o.max_connections = 1;
    ref_of("slow.bin", ref, sizeof ref);
    assert_int_equal(ap_jobs_submit(jobs, ref, &o, &id), AP_OK);
    wait_for_bytes(jobs, id);
    assert_int_equal(ap_jobs_wait(jobs, id, 0, &info), AP_ETIMEDOUT);
    assert_int_equal(info.state, AP_JOB_RUNNING);
    assert_true(info.progress.bytes_done > 0 && info.progress.bytes_done < 4000000);
    /* the vendor did not know the size: the response told the tracker */
    assert_int_equal(info.progress.bytes_total, 4000000);
    assert_true(info.progress.percent > 0 && info.progress.percent < 100);
    assert_non_null(info.progress.phase);
    assert_string_equal(info.progress.phase, "downloading");
    assert_string_equal(info.progress.file, "files/slow.bin");
    assert_non_null(info.progress.artifact);
    assert_string_equal(info.progress.artifact, ref);
    ap_job_info_clear(&info);

    t0 = apx_now_ms();
    assert_int_equal(ap_jobs_cancel(jobs, id), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, id, 5000, &info), AP_OK);
    ms = apx_now_ms() - t0;
    fprintf(stderr, "# cancel took %llu ms\n", (unsigned long long)ms);
    assert_true(ms < (g_slow ? 3000u : 500u));
    assert_int_equal(info.state, AP_JOB_CANCELLED);
    assert_int_equal(info.status, AP_ECANCELLED);
    assert_non_null(info.message);
    assert_null(info.entry_id);
    ap_job_info_clear(&info);

    /* the last event is a final CANCELLED */
    assert_int_equal(ap_jobs_info(jobs, id, &info), AP_OK);
    ev[0].struct_size = sizeof ev[0];
    assert_int_equal(ap_jobs_events(jobs, id, info.last_seq - 1, 0, ev, 4, &got), AP_OK);
    assert_int_equal(got, 1);
    assert_int_equal(ev[0].kind, AP_EVENT_CANCELLED);
    assert_int_equal(ev[0].status, AP_ECANCELLED);
    assert_true(ev[0].final);
    assert_true(ev[0].seq == info.last_seq);
    ap_job_events_clear(ev, got);
    /* after the final event: at once, nothing */
    t0 = apx_now_ms();
    assert_int_equal(ap_jobs_events(jobs, id, info.last_seq, 5000, ev, 4, &got), AP_OK);
    assert_int_equal(got, 0);
    assert_true(apx_now_ms() - t0 < 1000);
    ap_job_info_clear(&info);
    ap_jobs_free(jobs);
}

static void test_cancel_queued_and_free(void **state)
{
    ap_jobs *jobs = new_jobs("h-queue", 1);
    ap_provision_options o;
    ap_job_info info = AP_JOB_INFO_INIT;
    ap_job_event ev[4];
    ap_job_id a, b, c;
    size_t got = 0;
    uint64_t t0;
    char ref[512], ref2[512];
    (void)state;
    small_chunks(&o);
    o.max_connections = 1;
    ref_of("slow.bin", ref, sizeof ref);
    ref_of("slow2.bin", ref2, sizeof ref2);
    assert_int_equal(ap_jobs_submit(jobs, ref, &o, &a), AP_OK);
    assert_int_equal(ap_jobs_submit(jobs, ref2, &o, &b), AP_OK);
    assert_int_equal(ap_jobs_submit(jobs, ref2, &o, &c), AP_OK);
    wait_for_bytes(jobs, a);
    assert_int_equal(ap_jobs_info(jobs, b, &info), AP_OK);
    assert_int_equal(info.state, AP_JOB_QUEUED);
    assert_int_equal(info.last_seq, 0);
    ap_job_info_clear(&info);
    /* a queued job is cancelled at once, with a final event */
    assert_int_equal(ap_jobs_cancel(jobs, b), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, b, 0, &info), AP_OK);
    assert_int_equal(info.state, AP_JOB_CANCELLED);
    assert_int_equal(info.status, AP_ECANCELLED);
    assert_int_equal(info.started, 0);
    ap_job_info_clear(&info);
    ev[0].struct_size = sizeof ev[0];
    assert_int_equal(ap_jobs_events(jobs, b, 0, 0, ev, 4, &got), AP_OK);
    assert_int_equal(got, 1);
    assert_int_equal(ev[0].kind, AP_EVENT_CANCELLED);
    assert_true(ev[0].final && ev[0].seq == 1 && ev[0].job_id == b);
    ap_job_events_clear(ev, got);
    /* forgetting a running job is refused */
    assert_int_equal(ap_jobs_forget(jobs, a), AP_EBUSY);
    /* free with one running and one queued job: prompt, no leak */
    t0 = apx_now_ms();
    ap_jobs_free(jobs);
    assert_true(apx_now_ms() - t0 < (g_slow ? 3000u : 1000u));
}

/* Two jobs want the same blob at the same time: it crosses the wire once,
 * whether they name it by the same reference or by two URLs. */
static void test_dedup(void **state)
{
    ap_jobs *jobs = new_jobs("h-dedup", 4);
    ap_provision_options o;
    ap_job_info ia = AP_JOB_INFO_INIT, ib = AP_JOB_INFO_INIT;
    ap_job_id a, b;
    char ref[512], ref2[512];
    (void)state;
    small_chunks(&o);
    o.max_connections = 1;

    /* two URLs, same bytes: the per-blob lock */
    ref_of("d1.bin", ref, sizeof ref);
    ref_of("d2.bin", ref2, sizeof ref2);
    assert_int_equal(ap_jobs_submit(jobs, ref, &o, &a), AP_OK);
    assert_int_equal(ap_jobs_submit(jobs, ref2, &o, &b), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, a, 30000, &ia), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, b, 30000, &ib), AP_OK);
    assert_int_equal(ia.state, AP_JOB_DONE);
    assert_int_equal(ib.state, AP_JOB_DONE);
    assert_int_equal(log_bytes_settled("d1.bin", "d2.bin", 1000000), 1000000);
    assert_int_equal(ia.progress.fetched_bytes + ib.progress.fetched_bytes, 1000000);
    assert_entry_bytes(jobs, a, "d1.bin");
    assert_entry_bytes(jobs, b, "d2.bin");
    ap_job_info_clear(&ia);
    ap_job_info_clear(&ib);

    /* the same reference twice: the entry lock, then the blob is there */
    ref_of("d3.bin", ref, sizeof ref);
    assert_int_equal(ap_jobs_submit(jobs, ref, &o, &a), AP_OK);
    assert_int_equal(ap_jobs_submit(jobs, ref, &o, &b), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, a, 30000, &ia), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, b, 30000, &ib), AP_OK);
    assert_int_equal(ia.state, AP_JOB_DONE);
    assert_int_equal(ib.state, AP_JOB_DONE);
    assert_int_equal(log_bytes_settled("d3.bin", NULL, 1000000), 1000000);
    assert_int_equal(ia.progress.fetched_bytes + ib.progress.fetched_bytes, 1000000);
    assert_string_equal(ia.entry_id, ib.entry_id);
    /* done means the whole artifact is there, fetched or found */
    assert_int_equal(ia.progress.bytes_done, 1000000);
    assert_int_equal(ib.progress.bytes_done, 1000000);
    assert_int_equal(ib.progress.bytes_total, 1000000);
    ap_job_info_clear(&ia);
    ap_job_info_clear(&ib);
    ap_jobs_free(jobs);
}

/* Events of two concurrent jobs: each carries its own job id and ref, on
 * the sink and in the ring, never interleaved within one job. */
static void test_events_not_mixed(void **state)
{
    ap_jobs *jobs = new_jobs("h-mixed", 4);
    ap_provision_options o;
    ap_job_id ids[2];
    char refs[2][512];
    size_t i, k, nev[2] = { 0, 0 };
    pthread_t th[2];
    int have_th[2] = { 0, 0 };
    (void)state;
    small_chunks(&o);
    o.max_connections = 2;
    o.progress_interval_ms = 20;
    o.heartbeat_ms = 100;
    pthread_mutex_lock(&g_mu);
    g_rec = calloc(MAX_REC, sizeof *g_rec);
    g_nrec = 0;
    g_overlap = 0;
    pthread_mutex_unlock(&g_mu);
    assert_non_null(g_rec);
    ref_of("m1.bin", refs[0], sizeof refs[0]);
    ref_of("m2.bin", refs[1], sizeof refs[1]);
    for (i = 0; i < 2; i++)
        assert_int_equal(ap_jobs_submit(jobs, refs[i], &o, &ids[i]), AP_OK);
    /* follow both rings to their final event */
    for (i = 0; i < 2; i++) {
        uint64_t seq = 0;
        int fin = 0, loops = 0;
        while (!fin) {
            ap_job_event ev[16];
            size_t got = 0;
            ev[0].struct_size = sizeof ev[0];
            assert_int_equal(ap_jobs_events(jobs, ids[i], seq, 2000, ev, 16, &got), AP_OK);
            for (k = 0; k < got; k++) {
                assert_true(ev[k].job_id == ids[i]);
                assert_true(ev[k].seq == seq + 1); /* no gap, in order */
                seq = ev[k].seq;
                assert_false(fin);
                fin = ev[k].final;
                if (fin)
                    assert_int_equal(ev[k].kind, AP_EVENT_DONE);
            }
            ap_job_events_clear(ev, got);
            assert_true(++loops < 200);
        }
        assert_true(seq > 3);
    }
    pthread_mutex_lock(&g_mu);
    assert_false(g_overlap);
    assert_false(g_badprog);
    for (k = 0; k < g_nrec; k++) {
        rec *r = &g_rec[k];
        for (i = 0; i < 2; i++)
            if (r->id == ids[i])
                break;
        assert_true(i < 2);
        assert_string_equal(r->artifact, refs[i]);
        nev[i]++;
        /* every event of a job comes from its one worker thread */
        if (!have_th[i]) {
            th[i] = r->thread;
            have_th[i] = 1;
        } else {
            assert_true(pthread_equal(th[i], r->thread));
        }
    }
    assert_true(nev[0] > 3 && nev[1] > 3);
    assert_false(pthread_equal(th[0], th[1])); /* they ran concurrently */
    free(g_rec);
    g_rec = NULL;
    pthread_mutex_unlock(&g_mu);
    ap_jobs_free(jobs);
}

/* A transfer stalls for 2 s: heartbeats keep coming, tagged with the job. */
static void test_heartbeat_during_stall(void **state)
{
    ap_jobs *jobs = new_jobs("h-stall", 2);
    ap_provision_options o;
    ap_job_id id;
    uint64_t seq = 0, last_ms = 0, max_gap = 0;
    int fin = 0, loops = 0, hb_stalled = 0;
    char ref[512];
    (void)state;
    small_chunks(&o);
    o.max_connections = 1;
    o.chunk_size = 8u << 20;
    o.heartbeat_ms = 200;
    ref_of("stall.bin", ref, sizeof ref);
    assert_int_equal(ap_jobs_submit(jobs, ref, &o, &id), AP_OK);
    while (!fin) {
        ap_job_event ev[16];
        size_t got = 0, k;
        ev[0].struct_size = sizeof ev[0];
        assert_int_equal(ap_jobs_events(jobs, id, seq, 3000, ev, 16, &got), AP_OK);
        for (k = 0; k < got; k++) {
            uint64_t now = (uint64_t)ev[k].time_ms;
            assert_true(ev[k].job_id == id);
            seq = ev[k].seq;
            fin = ev[k].final;
            if (fin)
                assert_int_equal(ev[k].kind, AP_EVENT_DONE);
            if (ev[k].kind == AP_EVENT_HEARTBEAT && ev[k].progress.bytes_done > 0 &&
                ev[k].progress.bytes_done < 600000)
                hb_stalled++;
            if (last_ms && ev[k].progress.bytes_done > 0 && ev[k].progress.bytes_done < 600000 &&
                now - last_ms > max_gap)
                max_gap = now - last_ms;
            last_ms = now;
        }
        ap_job_events_clear(ev, got);
        assert_true(++loops < 200);
    }
    fprintf(stderr, "# %d heartbeats during the stall, longest silence %llu ms\n",
            hb_stalled, (unsigned long long)max_gap);
    assert_true(hb_stalled >= 5);
    assert_true(max_gap < (g_slow ? 1500u : 600u));
    ap_jobs_free(jobs);
}

static void test_bad_input(void **state)
{
    ap_jobs *jobs = new_jobs("h-bad", 1);
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    ap_job_info info = AP_JOB_INFO_INIT;
    ap_job_event ev[2];
    ap_jobs *none = NULL;
    ap_jobs_options jo = AP_JOBS_OPTIONS_INIT;
    ap_job_id id = 99;
    size_t got = 0;
    const char *inc[] = { "*.gguf", NULL };
    char ref[512];
    (void)state;
    assert_int_equal(ap_jobs_submit(jobs, "", NULL, &id), AP_EINVAL);
    assert_int_equal(id, 0);
    assert_int_equal(ap_jobs_submit(jobs, NULL, NULL, &id), AP_EINVAL);
    assert_int_equal(ap_jobs_submit(NULL, "x:y", NULL, &id), AP_EINVAL);
    o.struct_size = 4;
    assert_int_equal(ap_jobs_submit(jobs, "x:y", &o, &id), AP_EINVAL);
    jo.struct_size = 2;
    assert_int_equal(ap_jobs_new(&none, NULL, &jo), AP_EINVAL);
    assert_null(none);
    assert_int_equal(ap_jobs_info(jobs, 12345, &info), AP_ENOTFOUND);
    ev[0].struct_size = sizeof ev[0];
    assert_int_equal(ap_jobs_events(jobs, 12345, 0, 0, ev, 2, &got), AP_ENOTFOUND);
    ev[0].struct_size = 3;
    assert_int_equal(ap_jobs_events(jobs, 12345, 0, 0, ev, 2, &got), AP_EINVAL);
    /* an unknown scheme fails when it runs, with a message and an event */
    assert_int_equal(ap_jobs_submit(jobs, "nope:thing", NULL, &id), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, id, 10000, &info), AP_OK);
    assert_int_equal(info.state, AP_JOB_FAILED);
    assert_int_equal(info.status, AP_EVENDOR);
    assert_non_null(strstr(info.message, "nope"));
    ap_job_info_clear(&info);
    ev[0].struct_size = sizeof ev[0];
    assert_int_equal(ap_jobs_events(jobs, id, 0, 0, ev, 2, &got), AP_OK);
    assert_int_equal(got, 1);
    assert_int_equal(ev[0].kind, AP_EVENT_ERROR);
    assert_true(ev[0].final);
    assert_non_null(strstr(ev[0].message, "nope"));
    assert_int_equal(ev[0].level, AP_LOG_ERROR); /* its own level member */
    ap_job_events_clear(ev, got);
    /* a caller whose elements are smaller (here: no room for the
     * progress): they are filled up to their size, the member after them
     * is not touched, and no string is lost (the clear frees what fits) */
    {
        struct {
            ap_job_event e;
            unsigned char guard[16];
        } old;
        memset(&old, 0xA5, sizeof old);
        old.e.struct_size = offsetof(ap_job_event, progress);
        assert_int_equal(ap_jobs_events(jobs, id, 0, 0, &old.e, 1, &got), AP_OK);
        assert_int_equal(got, 1);
        assert_int_equal(old.e.kind, AP_EVENT_ERROR);
        assert_int_equal(old.e.level, AP_LOG_ERROR);
        assert_int_equal(old.e.struct_size, offsetof(ap_job_event, progress));
        assert_int_equal(((unsigned char *)&old.e)[offsetof(ap_job_event, progress)], 0xA5);
        ap_job_events_clear(&old.e, got);
    }
    /* include filters are copied: the caller's array may go away */
    ref_of("c.bin", ref, sizeof ref);
    o.struct_size = sizeof o;
    o.include = inc;
    assert_int_equal(ap_jobs_submit(jobs, ref, &o, &id), AP_OK);
    inc[0] = "garbage";
    assert_int_equal(ap_jobs_wait(jobs, id, 10000, &info), AP_OK);
    assert_int_equal(info.state, AP_JOB_FAILED);
    assert_int_equal(info.status, AP_ENOTFOUND);
    assert_non_null(strstr(info.message, "include/exclude"));
    ap_job_info_clear(&info);
    /* after shutdown nothing is accepted */
    ap_jobs_shutdown(jobs);
    assert_int_equal(ap_jobs_submit(jobs, ref, NULL, &id), AP_EBUSY);
    ap_jobs_free(jobs);
}

/* An older caller's smaller info struct is filled up to its size only. */
static void test_small_struct(void **state)
{
    ap_jobs *jobs = new_jobs("h-small", 1);
    struct {
        ap_job_info info;
        unsigned char guard[16];
    } s;
    ap_job_id id;
    char ref[512];
    (void)state;
    ref_of("c.bin", ref, sizeof ref);
    assert_int_equal(ap_jobs_submit(jobs, ref, NULL, &id), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, id, 10000, NULL), AP_OK);
    memset(&s, 0xAB, sizeof s);
    s.info.struct_size = offsetof(ap_job_info, progress);
    assert_int_equal(ap_jobs_info(jobs, id, &s.info), AP_OK);
    assert_int_equal(s.info.state, AP_JOB_DONE);
    assert_int_equal(s.info.struct_size, offsetof(ap_job_info, progress));
    assert_true(((unsigned char *)&s.info)[offsetof(ap_job_info, progress)] == 0xAB);
    ap_job_info_clear(&s.info);
    ap_jobs_free(jobs);
}

/* first_id: a program that keeps an earlier registry's history starts
 * past its ids; an older caller's options (without the member) start at 1. */
static void test_first_id(void **state)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    struct {
        ap_jobs_options o;
        unsigned char garbage[16];
    } jo;
    ap_jobs *jobs = NULL;
    ap_job_info info = AP_JOB_INFO_INIT;
    ap_job_id id = 0;
    char home[256];
    (void)state;
    snprintf(home, sizeof home, "%s/h-first", FH.dir);
    po.home = home;
    po.vendor_path = g_vendors;
    ap_jobs_options_init(&jo.o);
    assert_int_equal(jo.o.first_id, 0);
    jo.o.first_id = 1000;
    assert_int_equal(ap_jobs_new(&jobs, &po, &jo.o), AP_OK);
    assert_int_equal(ap_jobs_submit(jobs, "nope:thing", NULL, &id), AP_OK);
    assert_int_equal(id, 1000);
    assert_int_equal(ap_jobs_wait(jobs, id, 10000, &info), AP_OK);
    assert_int_equal(info.id, 1000);
    ap_job_info_clear(&info);
    assert_int_equal(ap_jobs_submit(jobs, "nope:thing", NULL, &id), AP_OK);
    assert_int_equal(id, 1001);
    ap_jobs_free(jobs);
    /* a caller built before the member: what follows its struct is not read */
    memset(&jo, 0x5A, sizeof jo);
    ap_jobs_options_init(&jo.o);
    jo.o.struct_size = offsetof(ap_jobs_options, first_id);
    memset(&jo.o.first_id, 0x5A, sizeof jo.o.first_id);
    assert_int_equal(ap_jobs_new(&jobs, &po, &jo.o), AP_OK);
    assert_int_equal(ap_jobs_submit(jobs, "nope:thing", NULL, &id), AP_OK);
    assert_int_equal(id, 1);
    ap_jobs_free(jobs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_jobs),
        cmocka_unit_test(test_cancel_running),
        cmocka_unit_test(test_cancel_queued_and_free),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_events_not_mixed),
        cmocka_unit_test(test_heartbeat_during_stall),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_small_struct),
        cmocka_unit_test(test_first_id),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, server_up, server_down);
}
