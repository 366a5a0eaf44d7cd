/* libartifactprov — code the in-tree vendors share (vendors/common/, apv_
 * prefix), compiled into each vendor .so that uses it, with hidden
 * visibility: a vendor still needs only the installed public headers and
 * jansson (docs/vendor-abi.md, "Code the in-tree vendors share").
 * SPDX-License-Identifier: MIT */
#ifndef AP_VENDOR_COMMON_APV_H
#define AP_VENDOR_COMMON_APV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <artifactprov/vendor.h>

#define APV_HIDDEN __attribute__((visibility("hidden")))

/* ---- SHA-256 (sha256.c) ------------------------------------------------- */

typedef struct apv_sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t n;
} apv_sha256;

APV_HIDDEN void apv_sha256_init(apv_sha256 *s);
APV_HIDDEN void apv_sha256_update(apv_sha256 *s, const void *data, size_t len);
/* The digest as 64 lower-case hex digits and a NUL; s is used up. */
APV_HIDDEN void apv_sha256_hex(apv_sha256 *s, char out[65]);
/* The same for one buffer. */
APV_HIDDEN void apv_sha256_buf_hex(const void *buf, size_t len, char out[65]);

/* ---- strings (text.c) -------------------------------------------------- */

/* vasprintf into a malloc'd string; NULL when out of memory. */
APV_HIDDEN char *apv_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Percent-decode s[0..n) into a new string; NULL with *bad set when an
 * escape is malformed (or, with reject_ctl, decodes to a control
 * character); NULL with *bad 0 when out of memory. */
APV_HIDDEN char *apv_pct_decode(const char *s, size_t n, int reject_ctl, int *bad);

/* The call's error (host->set_error) or log line (host->log, when the host
 * has one), "<ref>: <the formatted text>". apv_vfail returns `status`. */
APV_HIDDEN int apv_vfail(const ap_host *h, ap_vendor_call *call, const char *ref,
                         int status, const char *fmt, va_list ap);
APV_HIDDEN void apv_vlog(const ap_host *h, ap_vendor_call *call, const char *ref,
                         int level, const char *fmt, va_list ap);

/* ---- the environment (env.c) ------------------------------------------ */

/* The variable through the host's getenv; NULL when unset or empty. */
APV_HIDDEN const char *apv_env(const ap_host *h, ap_vendor_call *call, const char *name);

/* One way to find a directory: the value of `var`, followed by `suffix`. */
typedef struct apv_env_dir {
    const char *var, *suffix;
} apv_env_dir;
/* The directory of the first of n rules whose variable is set (not
 * empty), malloc'd; NULL when none is set, or when out of memory (*oom
 * set to 1). */
APV_HIDDEN char *apv_dir_from_env(const ap_host *h, ap_vendor_call *call,
                                  const apv_env_dir *rules, size_t n, int *oom);

#endif
