/* apctl — command line front end of libartifactprov: global options, the
 * command table, dispatch.
 * SPDX-License-Identifier: MIT
 *
 * `apctl --help` lists the commands and the exit statuses (exitcodes.c);
 * man/apctl.1 describes them. */
#include "apctl.h"

#include <signal.h>
#include <string.h>

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

/* `apctl help [CMD]`: the same text as `apctl CMD --help`. */
int cmd_help(int argc, char **argv)
{
    apctl_args a = { "help", argc, 0, argv, 0 };
    const char *what = NULL, *v;
    while (apctl_next(&a, NULL, &v) == 0)
        if (what)
            apctl_usage_error("help", "one command at a time");
        else
            what = v;
    if (command_help(what, stdout) != 0)
        apctl_usage_error(NULL, "unknown command '%s'", what);
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
