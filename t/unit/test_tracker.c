/* Tracker: job id on every event, rate-limited progress, heartbeat from a
 * fake clock (no sleeps), ETA, abort through the sink. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <artifactprov.h>
#include <artifactprov/sys/tracker.h> /* the mutators */
#include "../../lib/progress.h"

typedef struct rec {
    int n;
    ap_event_kind kinds[256];
    ap_job_id jobs[256];
    int status[256];
    ap_log_level level[256];
    size_t size[256];
    uint64_t done[256];
    double rate[256], eta[256];
    char msg[256][64];
    int abort_at;
} rec;

static uint64_t fake_now;
static uint64_t fake_clock(void *u) { (void)u; return fake_now; }

static int sink(const ap_event *ev, void *user)
{
    rec *r = user;
    if (r->n < 256) {
        r->kinds[r->n] = ev->kind;
        r->jobs[r->n] = ev->job_id;
        r->status[r->n] = ev->status;
        r->level[r->n] = ev->level;
        r->size[r->n] = ev->struct_size;
        r->done[r->n] = ev->progress->bytes_done;
        r->rate[r->n] = ev->progress->rate;
        r->eta[r->n] = ev->progress->eta;
        snprintf(r->msg[r->n], 64, "%s", ev->message ? ev->message : "");
        assert_int_equal(ev->progress->job_id, ev->job_id);
        assert_string_equal(ev->artifact, "hf:o/r/f");
    }
    r->n++;
    return r->abort_at && r->n >= r->abort_at;
}

static ap_tracker *mk_sink(ap_event_cb cb, void *user, unsigned hb)
{
    ap_tracker_options o = AP_TRACKER_OPTIONS_INIT;
    ap_tracker *t = NULL;
    o.heartbeat_ms = hb;
    o.progress_interval_ms = 100;
    o.sink = cb;
    o.sink_user = user;
    o.clock = fake_clock;
    fake_now = 1000000;
    assert_int_equal(ap_tracker_new(&t, 42, "hf:o/r/f", &o), AP_OK);
    return t;
}

static ap_tracker *mk(rec *r, unsigned hb)
{
    return mk_sink(sink, r, hb);
}

static void test_progress_rate_limited(void **s)
{
    rec r;
    ap_tracker *t;
    int i;
    (void)s;
    memset(&r, 0, sizeof r);
    t = mk(&r, 5000);
    ap_tracker_add_total(t, 10000000, 1);
    ap_tracker_set_file(t, "f", 0, 10000000);
    /* 100 advances 10 ms apart → at most ~11 events (one per 100 ms). */
    for (i = 0; i < 100; i++) {
        fake_now += 10;
        assert_int_equal(ap_tracker_advance(t, 10000), 0);
    }
    assert_true(r.n >= 9 && r.n <= 11);
    for (i = 0; i < r.n; i++) {
        assert_int_equal(r.kinds[i], AP_EVENT_PROGRESS);
        assert_int_equal(r.jobs[i], 42);
    }
    assert_int_equal(r.done[r.n - 1] <= 1000000, 1);
    /* 10000 bytes per 10 ms = 1 MB/s; the smoothed rate converges there. */
    assert_true(r.rate[r.n - 1] > 900000.0 && r.rate[r.n - 1] < 1100000.0);
    /* ETA: 9 MB left at 1 MB/s ≈ 9 s. */
    assert_true(r.eta[r.n - 1] > 8.0 && r.eta[r.n - 1] < 10.5);
    ap_tracker_free(t);
}

static void test_heartbeat_during_stall(void **s)
{
    rec r;
    ap_tracker *t;
    int i, hb = 0;
    (void)s;
    memset(&r, 0, sizeof r);
    t = mk(&r, 1000);
    ap_tracker_add_total(t, 1000, 1);
    fake_now += 50;
    ap_tracker_advance(t, 100);
    /* 12 s with no byte: one heartbeat per second, job id kept. */
    for (i = 0; i < 120; i++) {
        fake_now += 100;
        assert_int_equal(ap_tracker_tick(t), 0);
        assert_true(ap_tracker_next_due_ms(t) <= 1000);
    }
    for (i = 0; i < r.n; i++)
        if (r.kinds[i] == AP_EVENT_HEARTBEAT) {
            hb++;
            assert_int_equal(r.jobs[i], 42);
        }
    assert_true(hb >= 11 && hb <= 12);
    assert_string_equal(r.msg[r.n - 1], "no data for 12 s");
    /* the rate decays while nothing arrives */
    assert_true(r.rate[r.n - 1] < 10.0);
    ap_tracker_free(t);
}

static void test_heartbeat_interval_option(void **s)
{
    rec r;
    ap_tracker *t;
    int i;
    (void)s;
    memset(&r, 0, sizeof r);
    t = mk(&r, 250);
    for (i = 0; i < 40; i++) { /* 4 s */
        fake_now += 100;
        ap_tracker_tick(t);
    }
    assert_true(r.n >= 13 && r.n <= 16);
    ap_tracker_free(t);
}

static void test_abort_from_sink(void **s)
{
    rec r;
    ap_tracker *t;
    (void)s;
    memset(&r, 0, sizeof r);
    r.abort_at = 2;
    t = mk(&r, 1000);
    fake_now += 200;
    assert_int_equal(ap_tracker_advance(t, 1), 0);
    fake_now += 200;
    assert_int_equal(ap_tracker_advance(t, 1), AP_EUSER);
    assert_int_equal(ap_tracker_emit(t, AP_EVENT_DONE, NULL, 0, NULL), AP_EUSER);
    /* no handle carries it: the thread's last error names job and cause */
    assert_int_equal(ap_error_last()->status, AP_EUSER);
    assert_non_null(strstr(ap_error_last()->message, "hf:o/r/f (job 42)"));
    assert_non_null(strstr(ap_error_last()->message, "abort"));
    ap_tracker_free(t);
}

static void test_snapshot_and_files(void **s)
{
    rec r;
    ap_tracker *t;
    ap_progress p;
    (void)s;
    memset(&r, 0, sizeof r);
    t = mk(&r, 1000);
    ap_tracker_snapshot(t, &p);
    assert_true(p.percent < 0);
    assert_true(p.eta < 0);
    ap_tracker_add_total(t, 200, 2);
    ap_tracker_set_file(t, "a", 0, 100);
    ap_tracker_advance(t, 100);
    ap_tracker_file_done(t, "a");
    ap_tracker_snapshot(t, &p);
    assert_int_equal(p.files_done, 1);
    assert_int_equal(p.files_total, 2);
    assert_true(p.percent > 49.9 && p.percent < 50.1);
    assert_int_equal(p.job_id, 42);
    assert_int_equal(r.kinds[r.n - 1], AP_EVENT_FILE_DONE);
    ap_tracker_free(t);
    ap_error_clear();
    assert_int_equal(ap_tracker_new(NULL, 1, "x", NULL), AP_EINVAL);
    assert_int_equal(ap_error_last()->status, AP_EINVAL);
    assert_non_null(strstr(ap_error_last()->message, "ap_tracker_new"));
}

/* A log event's level is its own member, never carried in `status`; the
 * other kinds get their kind's level. */
static void test_log_level(void **s)
{
    rec r;
    ap_tracker *t;
    (void)s;
    memset(&r, 0, sizeof r);
    t = mk(&r, 100000);
    assert_int_equal(ap_tracker_log(t, AP_LOG_WARN, "w.bin", AP_EDIGEST,
                                    "local copy not used"), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.kinds[0], AP_EVENT_LOG);
    assert_true(r.size[0] >= offsetof(ap_event, level) + sizeof(ap_log_level));
    assert_int_equal(r.level[0], AP_LOG_WARN);
    assert_int_equal(r.status[0], AP_EDIGEST);   /* the cause, not the level */
    assert_string_equal(r.msg[0], "local copy not used");
    assert_int_equal(ap_tracker_log(t, AP_LOG_DEBUG, NULL, AP_OK, "detail"), 0);
    assert_int_equal(r.level[1], AP_LOG_DEBUG);
    assert_int_equal(r.status[1], AP_OK);
    assert_int_equal(ap_tracker_log(t, (ap_log_level)77, NULL, AP_OK, "odd"), 0);
    assert_int_equal(r.level[2], AP_LOG_ERROR); /* out of range: not hidden */
    /* other kinds: their kind's level */
    assert_int_equal(ap_tracker_emit(t, AP_EVENT_LOG, NULL, AP_OK, "note"), 0);
    assert_int_equal(r.level[3], AP_LOG_INFO);
    assert_int_equal(ap_tracker_emit(t, AP_EVENT_RETRY, NULL, AP_ENETWORK, "again"), 0);
    assert_int_equal(r.level[4], AP_LOG_WARN);
    assert_int_equal(ap_tracker_emit(t, AP_EVENT_ERROR, NULL, AP_EIO, "bad"), 0);
    assert_int_equal(r.level[5], AP_LOG_ERROR);
    assert_int_equal(ap_tracker_emit(t, AP_EVENT_DONE, NULL, 0, NULL), 0);
    assert_int_equal(r.level[6], AP_LOG_INFO);
    ap_tracker_add_total(t, 10, 1);
    fake_now += 1000;
    assert_int_equal(ap_tracker_advance(t, 10), 0);
    assert_int_equal(r.kinds[7], AP_EVENT_PROGRESS);
    assert_int_equal(r.level[7], AP_LOG_DEBUG);
    assert_string_equal(ap_log_level_name(AP_LOG_WARN), "warn");
    assert_string_equal(ap_log_level_name(AP_LOG_ERROR), "error");
    assert_string_equal(ap_log_level_name(AP_LOG_INFO), "info");
    assert_string_equal(ap_log_level_name(AP_LOG_DEBUG), "debug");
    ap_tracker_free(t);
}

/* The heartbeat says what the job does (phase and subject); bytes already
 * in place count as done without moving the rate or fetched_bytes. */
static void test_phase_and_present(void **state)
{
    rec r;
    ap_tracker *t;
    ap_progress p;
    (void)state;
    memset(&r, 0, sizeof r);
    t = mk(&r, 1000);
    apx_tracker_phase(t, "resolving", "hf:o/r/f");
    fake_now += 1000;
    assert_int_equal(ap_tracker_tick(t), 0);
    assert_string_equal(r.msg[r.n - 1], "resolving hf:o/r/f");
    apx_tracker_phase(t, "waiting", "f.gguf");
    fake_now += 1000;
    assert_int_equal(ap_tracker_tick(t), 0);
    assert_string_equal(r.msg[r.n - 1], "waiting for another download of f.gguf");
    ap_tracker_add_total(t, 1000, 2);
    apx_tracker_present(t, 600, 1); /* one file already in the store */
    ap_tracker_set_file(t, "f.gguf", 0, 400);
    apx_tracker_phase(t, "downloading", "f.gguf");
    assert_int_equal(ap_tracker_advance(t, 168), 0);
    fake_now += 1000;
    assert_int_equal(ap_tracker_tick(t), 0);
    assert_string_equal(r.msg[r.n - 1], "downloading f.gguf, 42 %");
    ap_tracker_snapshot(t, &p);
    assert_int_equal(p.bytes_done, 768);
    assert_int_equal(p.fetched_bytes, 168);
    assert_int_equal(p.files_done, 1);
    assert_string_equal(p.phase, "downloading");
    /* a restart discards bytes; a learnt size grows the total */
    apx_tracker_adjust(t, -168, 500);
    ap_tracker_snapshot(t, &p);
    assert_int_equal(p.bytes_done, 600);
    assert_int_equal(p.bytes_total, 1500);
    assert_int_equal(p.fetched_bytes, 168);
    apx_tracker_present(t, 900, 1);
    ap_tracker_snapshot(t, &p);
    assert_true(p.percent == 100.0);
    ap_tracker_free(t);
}

/* ap_event_to_json: one compact object; percent/eta null when unknown,
 * invalid UTF-8 from a server's text repaired (U+FFFD) rather than the
 * event lost, credentials in a URL removed. */
static void test_event_json(void **state)
{
    ap_progress p;
    ap_event ev;
    char *js = NULL;
    (void)state;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.job_id = 9;
    p.artifact = "hf:o/r";
    p.bytes_done = 5;
    p.percent = -1;
    p.eta = -1;
    p.phase = "resolving";
    memset(&ev, 0, sizeof ev);
    ev.struct_size = sizeof ev;
    ev.kind = AP_EVENT_HEARTBEAT;
    ev.job_id = 9;
    ev.artifact = "hf:o/r";
    ev.message = "bad \xff byte from https://u:secret@h/x";
    ev.progress = &p;
    ev.level = AP_LOG_DEBUG;
    assert_int_equal(ap_event_to_json(&ev, &js), AP_OK);
    assert_non_null(strstr(js, "\"event\":\"heartbeat\""));
    assert_non_null(strstr(js, "\"job\":9,"));
    assert_non_null(strstr(js, "\"phase\":\"resolving\""));
    assert_non_null(strstr(js, "\"percent\":null"));
    assert_non_null(strstr(js, "\"bytes_done\":5,"));
    assert_non_null(strstr(js, "bad \xEF\xBF\xBD byte"));
    assert_null(strstr(js, "secret"));
    assert_null(strchr(js, '\n'));
    ap_free(js);
    assert_int_equal(ap_event_to_json(NULL, &js), AP_EINVAL);
    /* the same repair, and the sizes of messages, for the tools */
    js = ap_utf8_repair("a\xff\xc0\xaf" "b\xE2\x82\xAC");
    assert_string_equal(js, "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "b\xE2\x82\xAC");
    ap_free(js);
    {
        char b[32];
        assert_int_equal(ap_format_size(1000000, b, sizeof b), 9);
        assert_string_equal(b, "976.6 KiB");
        ap_format_size(512, b, sizeof b);
        assert_string_equal(b, "512 B");
    }
}

/* Two files moving in turn, 5 ms apart: each has its own PROGRESS events
 * (its own rate limit), about itself, with its digest; the snapshot call
 * lists the active files; a finished file leaves the list; at most 64 are
 * kept however many files start. */
typedef struct perfile {
    int n[2];
    uint64_t last[2];
    int grew[2];
    int bad;
} perfile;

static int perfile_sink(const ap_event *ev, void *user)
{
    perfile *pf = user;
    const ap_progress *p = ev->progress;
    int k;
    if (ev->kind != AP_EVENT_PROGRESS)
        return 0;
    k = p->file && !strcmp(p->file, "b.bin");
    if (!p->file || strcmp(ev->file, p->file) || p->file_total != 1000 ||
        !AP_PROGRESS_HAS(p, file_sha256) || !p->file_sha256 ||
        p->file_sha256[0] != (k ? 'b' : 'a'))
        pf->bad++;
    if (p->file_done > pf->last[k])
        pf->grew[k]++;
    pf->last[k] = p->file_done;
    pf->n[k]++;
    return 0;
}

static void test_per_file_progress(void **state)
{
    ap_tracker *t;
    ap_file_progress fp[64];
    perfile pf;
    char name[32];
    int i;
    (void)state;
    memset(&pf, 0, sizeof pf);
    memset(fp, 0, sizeof fp);
    t = mk_sink(perfile_sink, &pf, 100000);
    ap_tracker_add_total(t, 2000, 2);
    for (i = 0; i < 100; i++) {
        fake_now += 5;
        ap_tracker_set_file(t, i % 2 ? "b.bin" : "a.bin", (uint64_t)(i / 2) * 10, 1000);
        apx_tracker_file_sha256(t, i % 2 ? "bbbb" : "aaaa");
        assert_int_equal(ap_tracker_advance(t, 10), 0);
    }
    /* 500 ms: about 5 events each, however the calls interleave */
    assert_int_equal(pf.bad, 0);
    assert_true(pf.n[0] >= 4 && pf.n[0] <= 6);
    assert_true(pf.n[1] >= 4 && pf.n[1] <= 6);
    assert_true(pf.grew[0] >= 4 && pf.grew[1] >= 4);
    assert_int_equal(ap_tracker_active_files(t, fp, 4), 2);
    assert_string_equal(fp[0].file, "a.bin");
    assert_string_equal(fp[0].sha256, "aaaa");
    assert_int_equal(fp[0].done, 500);
    assert_int_equal(fp[1].total, 1000);
    assert_int_equal(ap_tracker_file_done(t, "a.bin"), 0);
    assert_int_equal(ap_tracker_active_files(t, fp, 4), 1);
    assert_string_equal(fp[0].file, "b.bin");
    for (i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "f%d", i);
        fake_now++;
        ap_tracker_set_file(t, name, 0, 1);
    }
    assert_int_equal(ap_tracker_active_files(t, NULL, 0), 64);
    assert_int_equal(ap_tracker_active_files(t, fp, 64), 64);
    for (i = 0; i < 64; i++) /* the oldest went first: f936 .. f999 stay */
        assert_true(fp[i].file[0] == 'f' && atoi(fp[i].file + 1) >= 936);
    ap_tracker_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_rate_limited),
        cmocka_unit_test(test_heartbeat_during_stall),
        cmocka_unit_test(test_heartbeat_interval_option),
        cmocka_unit_test(test_abort_from_sink),
        cmocka_unit_test(test_snapshot_and_files),
        cmocka_unit_test(test_log_level),
        cmocka_unit_test(test_phase_and_present),
        cmocka_unit_test(test_event_json),
        cmocka_unit_test(test_per_file_progress),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
