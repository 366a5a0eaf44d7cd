/* apctl — what the commands share while they run: the provisioner they
 * open (with the global options), the cancel token and the signals that
 * set it (SIGINT, SIGTERM), a monotonic clock, and the report of a failed
 * pull.  SPDX-License-Identifier: MIT */
#include "apctl.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

unsigned g_prov_flags;
ap_cancel_token *g_cancel;

static void on_signal(int sig)
{
    (void)sig;
    ap_cancel(g_cancel); /* async-signal-safe */
}

int signals_catch(void)
{
    struct sigaction sa;
    if (!(g_cancel = ap_cancel_token_new()))
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

void signals_release(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    ap_cancel_token_free(g_cancel);
    g_cancel = NULL;
}

void apctl_provisioner_options(ap_provisioner_options *po)
{
    ap_provisioner_options_init(po);
    po->flags = g_prov_flags;
    po->vendor_path = apctl_vendor_path();
}

int open_prov(ap_provisioner **p)
{
    ap_provisioner_options po;
    int rc;
    apctl_provisioner_options(&po);
    rc = ap_provisioner_new(p, &po);
    if (rc != AP_OK) /* no handle: the detail is the thread's last error */
        fprintf(stderr, "apctl: %s\n", T(ap_error_last()->message));
    return rc;
}

double mono_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The failure of a pull, and what may help. */
void pull_failed(int rc, const char *msg)
{
    fprintf(stderr, "apctl: %s\n", T(msg));
    if (rc == AP_EVENDOR && strstr(msg, "no vendor serves"))
        fprintf(stderr, "apctl: vendors are looked for in %s\n",
                T(apctl_vendor_dirs_text()));
}
