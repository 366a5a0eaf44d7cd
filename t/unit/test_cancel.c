/* Cancel token: thread-safe, async-signal-safe, pollable, reusable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <artifactprov.h>

static void *canceller(void *arg)
{
    struct timespec ts = { 0, 20 * 1000000 };
    nanosleep(&ts, NULL);
    ap_cancel(arg);
    return NULL;
}

static void test_cross_thread_wakes_poll(void **s)
{
    ap_cancel_token *t = ap_cancel_token_new();
    pthread_t th;
    struct pollfd pfd;
    (void)s;
    assert_non_null(t);
    assert_int_equal(ap_cancel_is_set(t), 0);
    pfd.fd = ap_cancel_token_fd(t);
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(pthread_create(&th, NULL, canceller, t), 0);
    assert_int_equal(poll(&pfd, 1, 5000), 1); /* woken by the other thread */
    pthread_join(th, NULL);
    assert_int_equal(ap_cancel_is_set(t), 1);
    ap_cancel(t); /* idempotent */
    ap_cancel_reset(t);
    assert_int_equal(ap_cancel_is_set(t), 0);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    ap_cancel_token_free(t);
}

static ap_cancel_token *sig_token;
static void handler(int sig) { (void)sig; ap_cancel(sig_token); }

static void test_from_signal_handler(void **s)
{
    (void)s;
    sig_token = ap_cancel_token_new();
    signal(SIGUSR1, handler);
    raise(SIGUSR1);
    assert_int_equal(ap_cancel_is_set(sig_token), 1);
    signal(SIGUSR1, SIG_DFL);
    ap_cancel_token_free(sig_token);
    ap_cancel(NULL);
    assert_int_equal(ap_cancel_is_set(NULL), 0);
    ap_cancel_token_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_thread_wakes_poll),
        cmocka_unit_test(test_from_signal_handler),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
