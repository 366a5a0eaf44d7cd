/* The thread-local error channel (ap_error_last() in common.h): calls
 * without a handle and a failed ap_provisioner_new() leave a detailed
 * message; each thread sees its own; handle messages agree with it.
 * Everything here is local: no server, no network.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "../include/artifactprov/jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_tmp[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "%s/aperr.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_tmp))
        return -1;
    return ap_global_init();
}

static int teardown(void **state)
{
    char cmd[512];
    (void)state;
    ap_global_cleanup();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

#define assert_contains(hay, needle) do {                                   \
        const char *h_ = (hay);                                             \
        if (!h_ || !strstr(h_, (needle)))                                   \
            fail_msg("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)",  \
                     (needle));                                             \
    } while (0)

static void test_clear(void **state)
{
    const ap_error *e;
    ap_entry *out = NULL;
    (void)state;
    assert_int_equal(ap_entry_from_json("{", 1, &out), AP_ECORRUPT);
    e = ap_error_last();
    assert_non_null(e);
    assert_int_equal(e->status, AP_ECORRUPT);
    ap_error_clear();
    e = ap_error_last();
    assert_int_equal(e->status, AP_OK);
    assert_non_null(e->message);
    assert_string_equal(e->message, "");
}

static void test_entry_from_json(void **state)
{
    static const char no_version[] = "{\"id\": \"url-0000000000000001\"}";
    static const char bad_status[] =
        "{\"format_version\": 1, \"id\": \"url-0000000000000001\", \"status\": \"odd\"}";
    ap_entry *out = (ap_entry *)1;
    const char *bad = "{\"format_version\": 1, \"id\": ";
    (void)state;
    assert_int_equal(ap_entry_from_json(bad, strlen(bad), &out), AP_ECORRUPT);
    assert_null(out);
    assert_int_equal(ap_error_last()->status, AP_ECORRUPT);
    assert_contains(ap_error_last()->message, "bad JSON");
    assert_contains(ap_error_last()->message, "line 1");

    assert_int_equal(ap_entry_from_json(no_version, strlen(no_version), &out),
                     AP_ECORRUPT);
    assert_contains(ap_error_last()->message, "format_version");

    assert_int_equal(ap_entry_from_json(bad_status, strlen(bad_status), &out),
                     AP_ECORRUPT);
    assert_contains(ap_error_last()->message, "status");

    assert_int_equal(ap_entry_from_json(NULL, 0, &out), AP_EINVAL);
    assert_int_equal(ap_error_last()->status, AP_EINVAL);
    assert_contains(ap_error_last()->message, "ap_entry_from_json");

    assert_int_equal(ap_entry_to_json(NULL, (char **)&out), AP_EINVAL);
    assert_int_equal(ap_error_last()->status, AP_EINVAL);
    assert_contains(ap_error_last()->message, "ap_entry_to_json");
}

static void test_provisioner_new(void **state)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = (ap_provisioner *)1;
    char file[512];
    FILE *f;
    int rc;
    (void)state;
    po.flags = AP_PROV_NO_PLUGINS;
    po.home = "/proc/x";
    rc = ap_provisioner_new(&p, &po);
    assert_int_equal(rc, AP_EIO);
    assert_null(p);
    assert_int_equal(ap_error_last()->status, AP_EIO);
    assert_contains(ap_error_last()->message, "/proc/x");
    assert_contains(ap_error_last()->message, "No such file or directory");

    snprintf(file, sizeof file, "%s/plain", g_tmp);
    assert_non_null(f = fopen(file, "w"));
    fclose(f);
    po.home = file;
    assert_int_equal(ap_provisioner_new(&p, &po), AP_EIO);
    assert_contains(ap_error_last()->message, file);
    assert_contains(ap_error_last()->message, "Not a directory");

    po.struct_size = 1;
    assert_int_equal(ap_provisioner_new(&p, &po), AP_EINVAL);
    assert_int_equal(ap_error_last()->status, AP_EINVAL);
    assert_contains(ap_error_last()->message, "struct_size");
}

/* After a handle's call fails, its errmsg and the thread's error agree. */
static void test_agrees_with_handle(void **state)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_provisioner *p = NULL;
    ap_entry *e = NULL;
    char home[512];
    (void)state;
    snprintf(home, sizeof home, "%s/home-agree", g_tmp);
    po.flags = AP_PROV_NO_PLUGINS;
    po.home = home;
    assert_int_equal(ap_provisioner_new(&p, &po), AP_OK);
    assert_int_not_equal(ap_provision(p, "nope:thing", NULL, &e), AP_OK);
    assert_null(e);
    assert_true(ap_error_last()->status < 0);
    assert_contains(ap_error_last()->message, "nope");
    assert_string_equal(ap_error_last()->message, ap_provisioner_errmsg(p));
    ap_provisioner_free(p);
}

static ap_jobs *new_jobs(const char *name)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_jobs_options jo = AP_JOBS_OPTIONS_INIT;
    ap_jobs *jobs = NULL;
    char home[512];
    snprintf(home, sizeof home, "%s/%s", g_tmp, name);
    po.flags = AP_PROV_NO_PLUGINS;
    po.home = home;
    jo.max_running = 1;
    assert_int_equal(ap_jobs_new(&jobs, &po, &jo), AP_OK);
    return jobs;
}

static void test_jobs(void **state)
{
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_jobs *jobs = new_jobs("home-jobs"), *none = NULL;
    ap_job_info info = AP_JOB_INFO_INIT;
    ap_job_event ev[2] = { AP_JOB_EVENT_INIT, AP_JOB_EVENT_INIT };
    ap_entry *e = NULL;
    ap_job_id id = 0;
    size_t got;
    (void)state;

    assert_int_equal(ap_jobs_cancel(jobs, 4242), AP_ENOTFOUND);
    assert_int_equal(ap_error_last()->status, AP_ENOTFOUND);
    assert_contains(ap_error_last()->message, "job 4242");
    assert_contains(ap_error_last()->message, "no such job");

    assert_int_equal(ap_jobs_info(jobs, 4243, &info), AP_ENOTFOUND);
    assert_contains(ap_error_last()->message, "job 4243");
    assert_int_equal(ap_jobs_wait(jobs, 4244, 0, &info), AP_ENOTFOUND);
    assert_contains(ap_error_last()->message, "job 4244");
    assert_int_equal(ap_jobs_forget(jobs, 4245), AP_ENOTFOUND);
    assert_contains(ap_error_last()->message, "job 4245");
    assert_int_equal(ap_jobs_entry(jobs, 4246, &e), AP_ENOTFOUND);
    assert_contains(ap_error_last()->message, "job 4246");
    assert_int_equal(ap_jobs_events(jobs, 4247, 0, 0, ev, 2, &got), AP_ENOTFOUND);
    assert_contains(ap_error_last()->message, "job 4247");
    ev[0].struct_size = 3;
    assert_int_equal(ap_jobs_events(jobs, 4248, 0, 0, ev, 2, &got), AP_EINVAL);
    assert_int_equal(ap_error_last()->status, AP_EINVAL);
    assert_contains(ap_error_last()->message, "struct_size");

    assert_int_equal(ap_jobs_submit(jobs, "", NULL, &id), AP_EINVAL);
    assert_int_equal(ap_error_last()->status, AP_EINVAL);
    assert_contains(ap_error_last()->message, "empty reference");

    /* a job that failed: entry gives a message naming it */
    assert_int_equal(ap_jobs_submit(jobs, "nope:thing", NULL, &id), AP_OK);
    assert_int_equal(ap_jobs_wait(jobs, id, 20000, &info), AP_OK);
    assert_int_equal(info.state, AP_JOB_FAILED);
    ap_job_info_clear(&info);
    assert_int_equal(ap_jobs_entry(jobs, id, &e), AP_ENOTFOUND);
    assert_null(e);
    assert_contains(ap_error_last()->message, "not DONE");

    ap_jobs_shutdown(jobs);
    assert_int_equal(ap_jobs_submit(jobs, "nope:other", NULL, &id), AP_EBUSY);
    assert_int_equal(ap_error_last()->status, AP_EBUSY);
    assert_contains(ap_error_last()->message, "nope:other");
    assert_contains(ap_error_last()->message, "shutting down");
    ap_jobs_free(jobs);

    /* the registry's store cannot be opened: the provisioner's detail */
    po.flags = AP_PROV_NO_PLUGINS;
    po.home = "/proc/x";
    assert_int_equal(ap_jobs_new(&none, &po, NULL), AP_EIO);
    assert_null(none);
    assert_int_equal(ap_error_last()->status, AP_EIO);
    assert_contains(ap_error_last()->message, "job registry");
    assert_contains(ap_error_last()->message, "/proc/x");
}

/* Two threads fail over and over at the same time, differently: each sees
 * only its own error, and a thread's errors never reach another thread. */
typedef struct {
    pthread_barrier_t *bar;
    int which;
    int bad; /* iterations where the thread saw the other's error */
} th_arg;

#define ROUNDS 200

static void *th_main(void *v)
{
    th_arg *a = v;
    int i;
    for (i = 0; i < ROUNDS; i++) {
        ap_entry *e = NULL;
        pthread_barrier_wait(a->bar);
        if (a->which == 0) {
            const char *doc = "[1, 2";
            if (ap_entry_from_json(doc, strlen(doc), &e) != AP_ECORRUPT)
                a->bad++;
        } else {
            char **null_out = NULL;
            if (ap_entry_to_json(NULL, null_out) != AP_EINVAL)
                a->bad++;
        }
        pthread_barrier_wait(a->bar); /* both have failed: now read */
        if (a->which == 0) {
            if (ap_error_last()->status != AP_ECORRUPT ||
                !strstr(ap_error_last()->message, "bad JSON"))
                a->bad++;
        } else {
            if (ap_error_last()->status != AP_EINVAL ||
                !strstr(ap_error_last()->message, "ap_entry_to_json"))
                a->bad++;
        }
    }
    return NULL;
}

/* ap_classify, a call without a handle, names the file and the cause. */
static void test_classify(void **state)
{
    ap_classify_info info = AP_CLASSIFY_INFO_INIT;
    (void)state;
    ap_error_clear();
    assert_int_equal(ap_classify("/nonexistent-dir/x.gguf", NULL, &info), AP_EIO);
    assert_int_equal(ap_error_last()->status, AP_EIO);
    assert_non_null(strstr(ap_error_last()->message, "/nonexistent-dir/x.gguf"));
    assert_non_null(strstr(ap_error_last()->message, "No such file"));
    ap_classify_info_clear(&info);
}

static void test_two_threads(void **state)
{
    pthread_barrier_t bar;
    pthread_t t[2];
    th_arg a[2];
    int i;
    (void)state;
    ap_error_clear();
    assert_int_equal(pthread_barrier_init(&bar, NULL, 2), 0);
    for (i = 0; i < 2; i++) {
        a[i].bar = &bar;
        a[i].which = i;
        a[i].bad = 0;
        assert_int_equal(pthread_create(&t[i], NULL, th_main, &a[i]), 0);
    }
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&bar);
    assert_int_equal(a[0].bad, 0);
    assert_int_equal(a[1].bad, 0);
    /* the main thread recorded nothing */
    assert_int_equal(ap_error_last()->status, AP_OK);
    assert_string_equal(ap_error_last()->message, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_entry_from_json),
        cmocka_unit_test(test_provisioner_new),
        cmocka_unit_test(test_agrees_with_handle),
        cmocka_unit_test(test_jobs),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_two_threads),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, setup, teardown);
}
