/* apctl — exit statuses scripts can act on.
 * SPDX-License-Identifier: MIT
 *
 * Every ap_status has its class, so a script can tell a retry worth making
 * (4) from one that will fail the same way (3), a damaged download (5)
 * from a mistake on the command line (2).  t/unit/test_apctl_exit.c checks
 * the map, status by status. */
#include "apctl.h"

const char apctl_exit_help[] =
    "exit status:\n"
    "  0    success\n"
    "  1    other failure (local I/O, no space left, ...)\n"
    "  2    usage: unknown command or option, bad value, malformed reference\n"
    "  3    not found or refused (permanent): no such repository, file or\n"
    "       entry, authentication, gated, no vendor, unsupported, offline\n"
    "  4    network or server trouble (worth a retry): connection, timeout,\n"
    "       HTTP error status, rate limit, truncated body, bad answer,\n"
    "       store busy\n"
    "  5    integrity: the bytes do not match their digest, corrupt stored data\n"
    "  130  cancelled (Ctrl-C, SIGTERM)\n";

int apctl_exit_code(int status)
{
    switch ((ap_status)status) {
    case AP_OK:
        return APCTL_EXIT_OK;
    case AP_EINVAL:
        return APCTL_EXIT_USAGE;
    case AP_ENOTFOUND:
    case AP_EAUTH:
    case AP_EGATED:
    case AP_EVENDOR:
    case AP_EABI:
    case AP_EUNSUPPORTED:
    case AP_EOFFLINE:
    case AP_EPATH:
    case AP_EEXIST:
        return APCTL_EXIT_REFUSED;
    case AP_ENETWORK:
    case AP_EHTTP:
    case AP_EPROTOCOL:
    case AP_ERATELIMIT:
    case AP_ETIMEDOUT:
    case AP_EBUSY:
    case AP_ESIZE: /* a body cut short: the engine's retries ran out */
        return APCTL_EXIT_TEMPORARY;
    case AP_EDIGEST:
    case AP_ECORRUPT:
        return APCTL_EXIT_INTEGRITY;
    case AP_ECANCELLED:
        return APCTL_EXIT_CANCELLED;
    case AP_ERROR:
    case AP_ENOMEM:
    case AP_EIO:
    case AP_ENOSPC:
    case AP_EUSER:
        return APCTL_EXIT_FAILURE;
    }
    return APCTL_EXIT_FAILURE; /* a status newer than this program */
}
