/* apctl — command line front end of libartifactprov: global options, the
 * command table, dispatch.
 * SPDX-License-Identifier: MIT
 *
 * `apctl --help` lists the commands and the exit statuses (exitcodes.c);
 * man/apctl.1 describes them. */
#include "apctl.h"

#include <signal.h>
#include <string.h>

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

static int cmd_pull_full(int argc, char **argv) { return cmd_pull(argc, argv, 0); }
static int cmd_sync(int argc, char **argv)
{
    return cmd_pull(argc, argv, AP_PROVISION_METADATA_ONLY);
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    { "pull", cmd_pull_full }, { "sync", cmd_sync }, { "scan", cmd_scan },
    { "ls", cmd_ls }, { "show", cmd_show }, { "path", cmd_path }, { "rm", cmd_rm },
    { "verify", cmd_verify }, { "gc", cmd_gc }, { "vendors", cmd_vendors },
    { "version", cmd_version }, { "help", cmd_help },
};

int cmd_version(int argc, char **argv)
{
    apctl_args a = { "version", argc, 0, argv, 0 };
    const char *v;
    if (apctl_next(&a, NULL, &v) == 0)
        apctl_usage_error("version", "unexpected argument '%s'", v);
    printf("apctl %s (libartifactprov %s, vendor ABI %d)\n", AP_VERSION_STRING,
           ap_version(), AP_VENDOR_ABI_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd;
    size_t k;
    int rc;
    while (argc > 1 && strcmp(argv[1], "--link") == 0) {
        g_prov_flags |= AP_PROV_LINK_IMPORTS;
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd) {
        usage(stderr);
        return APCTL_EXIT_USAGE;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0)
        cmd = "version";
    for (k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(cmd, commands[k].name) == 0)
            break;
    if (k == sizeof commands / sizeof commands[0]) {
        fprintf(stderr, "apctl: unknown command '%s'\n", T(cmd));
        usage(stderr);
        return APCTL_EXIT_USAGE;
    }
    if (ap_global_init() != AP_OK) {
        fprintf(stderr, "apctl: library initialisation failed: %s\n",
                T(ap_error_last()->message));
        return APCTL_EXIT_FAILURE;
    }
    rc = commands[k].run(argc - 1, argv + 1);
    ap_global_cleanup();
    return rc;
}
