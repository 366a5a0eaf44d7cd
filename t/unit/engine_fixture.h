/* Shared by the engine tests (test_engine.c: transfers, faults, resume;
 * test_engine_hostile.c: hostile servers, issue 8): the fake hub's files
 * and faults, starting and stopping it, one fetch (`run`) and its checks,
 * the request log, and an event sink counting retries.  Header-only
 * (static functions), included by one test file at a time.
 * SPDX-License-Identifier: MIT */
#ifndef AP_T_ENGINE_FIXTURE_H
#define AP_T_ENGINE_FIXTURE_H

#include "digest.h"
#include "engine.h"
#include "http_client.h"
#include "fakehub_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Not every test uses every helper. */
#define EF_FN static __attribute__((unused))

static fakehub FH;

#define KB 1024u

/* name, size, seed, faults JSON (or NULL) */
static const fx_spec SPECS[] = {
    { "basic", 2000003, 1, NULL },
    { "small", 1000, 2, NULL },
    { "empty", 0, 3, NULL },
    { "drop", 2 * 1024 * 1024, 4, "{\"drop_at\": 1500000, \"times\": 1}" },
    { "stall", 1024 * 1024, 5,
      "{\"stall_at\": 600000, \"stall_secs\": 6, \"times\": 1}" },
    { "s503", 600000, 6, "{\"status\": 503, \"retry_after\": 1, \"times\": 2}" },
    { "a429", 600000, 7, "{\"status\": 429, \"retry_after\": 0}" },
    { "a503", 600000, 8, "{\"status\": 503}" },
    { "wronglen1", 700000, 9, "{\"wrong_length\": true, \"times\": 1}" },
    { "wronglen", 700000, 10, "{\"wrong_length\": true, \"no_ranges\": true}" },
    { "corrupt", 1000000, 11, "{\"corrupt_at\": 777777}" },
    { "ignrange", 1500000, 12, "{\"ignore_range\": true}" },
    { "badcr", 1500000, 13, "{\"bad_content_range\": true}" },
    { "resume", 3 * 1024 * 1024, 14, "{\"drop_at\": 2000000, \"times\": 1}" },
    { "valch", 2 * 1024 * 1024, 15, "{\"drop_at\": 1200000, \"times\": 1}" },
    { "slow", 4 * 1024 * 1024, 16, "{\"throttle_bps\": 1000000}" },
    { "slow2", 4 * 1024 * 1024, 17, "{\"throttle_bps\": 1000000}" },
    { "m0", 300000, 20, NULL },
    { "m1", 1300000, 21, NULL },
    { "m2", 1, 22, NULL },
    { "m3", 900001, 23, NULL },
    { "m4", 2200000, 24, NULL },
    { "chunked", 800000, 25, "{\"no_ranges\": true, \"no_length\": true}" },
    { "trunc", 1200000, 26, "{\"truncate_to\": 100000, \"times\": 2}" },
    { "noranges", 1200000, 27, "{\"no_ranges\": true}" },
    { "dropnr", 1200000, 28,
      "{\"no_ranges\": true, \"drop_at\": 500000, \"times\": 1}" },
    { "resume2", 3 * 1024 * 1024, 29, "{\"drop_at\": 1000000, \"times\": 1}" },
    /* hostile servers (issue 8) */
    { "hugetot", 1024 * 1024, 30, "{\"fake_total\": 1125899906842624}" },
    { "hugelen", 1024 * 1024, 31,
      "{\"no_ranges\": true, \"fake_total\": 1125899906842624}" },
    { "endless", 100000, 32, "{\"endless\": true}" },
    { "nrdrop", 600000, 33,
      "{\"no_ranges\": true, \"no_length\": true, \"drop_at\": 100000}" },
    { "trickle", 5000, 34, "{\"trickle\": 0.2}" },
    { "capped", 600000, 35, NULL },
    { "planted", 300000, 36, NULL },
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

EF_FN const fx_spec *spec_of(const char *name)
{
    return fx_spec_of(SPECS, NSPECS, name);
}

EF_FN int server_up(void **state)
{
    (void)state;
    ap_global_init();
    return fx_start(&FH, "engine",
                    "\"tokens\": {\"tok\": [\"*\"]},\n"
                    " \"repos\": {\"org/m\": {\"files\": {\"w.bin\": {\"lfs\": true,"
                    " \"generate\": {\"size\": 300000, \"seed\": 99}},"
                    " \"r.txt\": {\"content\": \"x\", \"faults\":"
                    " {\"redirect_to\": \"{files}/files/small\"}}}},\n"
                    "  \"org/priv\": {\"private\": true, \"files\": {\"a.txt\":"
                    " {\"content\": \"hello\"}}}}",
                    SPECS, NSPECS);
}

EF_FN int server_down(void **state)
{
    (void)state;
    ap_global_cleanup();
    return fx_stop(&FH);
}

/* ---- helpers ----------------------------------------------------------- */

typedef struct run {
    apx_fetch_opts o;
    apx_fetch_file f;
    char url[512], staging[512], want[65];
    apx_error err;
    int rc;
    uint64_t ms;
} run;

EF_FN void run_init(run *r, const char *name)
{
    const fx_spec *s = spec_of(name);
    memset(r, 0, sizeof *r);
    snprintf(r->url, sizeof r->url, "%s/files/%s", FH.files, name);
    snprintf(r->staging, sizeof r->staging, "%s/staging/%s.part", FH.dir, name);
    r->o.chunk_size = 256 * KB;
    r->o.max_connections = 4;
    r->o.backoff_base_ms = 20;
    r->o.stall_timeout_ms = 5000;
    r->f.label = name;
    r->f.url = r->url;
    r->f.staging_path = r->staging;
    r->f.size = AP_SIZE_UNKNOWN;
    if (s)
        fx_expected_sha(s, r->want);
}

EF_FN int run_go(run *r)
{
    uint64_t t0 = apx_now_ms();
    r->rc = apx_fetch(&r->o, &r->f, 1, &r->err);
    r->ms = apx_now_ms() - t0;
    if (r->rc != AP_OK)
        fprintf(stderr, "# %s: rc %d: %s\n", r->f.label, r->rc, r->err.msg);
    return r->rc;
}

EF_FN void assert_file_ok(run *r)
{
    char hex[65];
    uint64_t size = 0;
    const fx_spec *s = spec_of(r->f.label);
    assert_int_equal(r->rc, AP_OK);
    assert_int_equal(r->f.status, AP_OK);
    assert_string_equal(r->f.sha256_out, r->want);
    assert_int_equal(apx_sha256_file(r->staging, hex, &size), AP_OK);
    assert_string_equal(hex, r->want);
    assert_int_equal(size, s->size);
    assert_int_equal(r->f.size_out, s->size);
}

EF_FN int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

EF_FN char *state_path(const run *r, char *buf, size_t n)
{
    snprintf(buf, n, "%s.state", r->staging);
    return buf;
}

/* Count log lines containing all of a, b (b may be NULL). */
EF_FN int log_count(const char *a, const char *b)
{
    FILE *fp = fopen(FH.log, "r");
    char line[8192];
    int n = 0;
    if (!fp)
        return 0;
    while (fgets(line, sizeof line, fp))
        if (strstr(line, a) && (!b || strstr(line, b)))
            n++;
    fclose(fp);
    return n;
}


static int g_retries, g_heartbeats;
static char g_retry_msg[512];

EF_FN int sink(const ap_event *ev, void *user)
{
    (void)user;
    if (ev->kind == AP_EVENT_RETRY) {
        g_retries++;
        snprintf(g_retry_msg, sizeof g_retry_msg, "%s",
                 ev->message ? ev->message : "");
    }
    if (ev->kind == AP_EVENT_HEARTBEAT)
        g_heartbeats++;
    assert_int_equal(ev->job_id, 42);
    return 0;
}

#endif
