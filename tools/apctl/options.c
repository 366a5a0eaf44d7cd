/* apctl — the option parser of every command.
 * SPDX-License-Identifier: MIT
 *
 * Each command lists its options in a table; anything else that starts
 * with '-' is refused (exit 2), and --help / -h prints that command's help
 * and exits 0 before the command does anything.  "--" ends the options.
 * Values: `--name VALUE` or `--name=VALUE` (OPT_REQ), `--name[=VALUE]`
 * only with '=' (OPT_OPTIONAL); a short alias takes `-o VALUE` or
 * `-oVALUE`. */
#include "apctl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void apctl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    char msg[512];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "apctl%s%s: %s\n", cmd ? " " : "", cmd ? cmd : "", T(msg));
    fprintf(stderr, "apctl: `apctl %s%s--help` lists the options\n", cmd ? cmd : "",
            cmd ? " " : "");
    exit(APCTL_EXIT_USAGE);
}

static void help_and_exit(const char *cmd)
{
    command_help(cmd, stdout);
    exit(APCTL_EXIT_OK);
}

int apctl_next(apctl_args *a, const apctl_opt *opts, const char **val)
{
    const char *arg;
    size_t k;
    *val = NULL;
    if (a->i == 0) { /* --help anywhere among the options wins: nothing runs */
        int j;
        for (j = 1; j < a->argc && strcmp(a->argv[j], "--") != 0; j++)
            if (strcmp(a->argv[j], "--help") == 0 || strcmp(a->argv[j], "-h") == 0)
                help_and_exit(a->cmd);
    }
    if (++a->i >= a->argc)
        return -1;
    arg = a->argv[a->i];
    if (a->no_more_opts || arg[0] != '-' || !arg[1]) {
        *val = arg;
        return 0;
    }
    if (strcmp(arg, "--") == 0) {
        a->no_more_opts = 1;
        return apctl_next(a, opts, val);
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
        help_and_exit(a->cmd);
    for (k = 0; opts && opts[k].name; k++) {
        const apctl_opt *o = &opts[k];
        size_t n = strlen(o->name);
        if (o->alias && strncmp(arg, o->alias, strlen(o->alias)) == 0) {
            size_t an = strlen(o->alias);
            if (!arg[an]) {
                if (o->arg == OPT_REQ) {
                    if (a->i + 1 >= a->argc)
                        apctl_usage_error(a->cmd, "%s needs a value", o->alias);
                    *val = a->argv[++a->i];
                }
                return o->id;
            }
            if (o->arg == OPT_REQ) { /* -oVALUE */
                *val = arg + an;
                return o->id;
            }
        }
        if (strncmp(arg, o->name, n) != 0 || (arg[n] && arg[n] != '='))
            continue;
        if (arg[n] == '=') {
            if (o->arg == OPT_NONE)
                apctl_usage_error(a->cmd, "%s takes no value", o->name);
            *val = arg + n + 1;
        } else if (o->arg == OPT_REQ) {
            if (a->i + 1 >= a->argc)
                apctl_usage_error(a->cmd, "%s needs a value", o->name);
            *val = a->argv[++a->i];
        }
        return o->id;
    }
    apctl_usage_error(a->cmd, "unknown option %s", arg);
}

uint64_t apctl_num(const char *cmd, const char *opt, const char *val, int sizes)
{
    uint64_t v;
    if ((sizes ? apctl_parse_size(val, &v) : apctl_parse_uint(val, &v)) != 0)
        apctl_usage_error(cmd, sizes ? "%s needs a size (a number of bytes, or with a "
                          "suffix: 512K, 10M, 1G), not '%s'"
                          : "%s needs a number, not '%s'", opt, val ? val : "");
    return v;
}
