/* libartifactprov — internal helpers shared by lib/ sources.
 * Internal symbols use the apx_ prefix and hidden visibility: the version
 * script exports ap_* only.  SPDX-License-Identifier: MIT */
#ifndef AP_INTERNAL_H
#define AP_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define AP_BUILDING_LIBRARY 1

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../include/artifactprov.h"
#include "../include/artifactprov/sys/store.h"
#include "../include/artifactprov/sys/tracker.h"

#define APX_HIDDEN __attribute__((visibility("hidden")))
#define APX_ERRMSG_MAX 1024

/* A detailed error: status plus message naming the artifact and cause. */
typedef struct apx_error {
    int status;
    char msg[APX_ERRMSG_MAX];
} apx_error;

/* Set e (may be NULL) and return status, for tail calls.  A negative status
 * also becomes the calling thread's last error (ap_error_last()); with
 * e == NULL only the thread's last error is set (handle-less calls). */
APX_HIDDEN int apx_error_set(apx_error *e, int status, const char *fmt, ...)
    AP_PRINTF(3, 4);
APX_HIDDEN int apx_error_vset(apx_error *e, int status, const char *fmt,
                              va_list ap);
/* Prefix the existing message: "<prefix>: <old message>". */
APX_HIDDEN void apx_error_prefix(apx_error *e, const char *fmt, ...)
    AP_PRINTF(2, 3);
/* Clears e only: the thread's last error keeps the latest failure. */
APX_HIDDEN void apx_error_clear(apx_error *e);
/* Copy e (when it holds a failure) into the thread's last error. */
APX_HIDDEN void apx_error_publish(const apx_error *e);
/* Empty the thread's last error: at the entry of a public call that must
 * not report an older failure as its own. */
APX_HIDDEN void apx_error_tls_reset(void);
/* Return status; when it is a failure the thread's last error does not
 * already describe, record it with ap_strerror()'s text.  For the exits of
 * public calls that entered with apx_error_tls_reset(). */
APX_HIDDEN int apx_error_tls_ret(int status);

/* The level an event of `kind` gets unless it says otherwise (LOG: INFO). */
APX_HIDDEN ap_log_level apx_event_level(ap_event_kind kind);

/* Allocation: all library memory goes through these (ap_free frees it). */
APX_HIDDEN void *apx_malloc(size_t n);
APX_HIDDEN void *apx_calloc(size_t n, size_t size);
APX_HIDDEN void *apx_realloc(void *p, size_t n);
APX_HIDDEN char *apx_strdup(const char *s);     /* NULL in, NULL out */
APX_HIDDEN char *apx_strndup(const char *s, size_t n);
APX_HIDDEN char *apx_asprintf(const char *fmt, ...) AP_PRINTF(1, 2);

/* Monotonic milliseconds / wall-clock seconds. */
APX_HIDDEN uint64_t apx_now_ms(void);
APX_HIDDEN int64_t apx_wall_s(void);

/* Join a and b with exactly one '/' between them; apx_malloc'd. */
APX_HIDDEN char *apx_path_join(const char *a, const char *b);
/* mkdir -p with mode 0755; AP_OK or AP_EIO (errno kept). */
APX_HIDDEN int apx_mkdirs(const char *path);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
APX_HIDDEN void apx_hex(const unsigned char *in, size_t n, char *out);
/* The value of a hex digit (either case), or -1. */
APX_HIDDEN int apx_hexval(int c);
/* 1 if s is exactly n lower-case hex digits (then its end). */
APX_HIDDEN int apx_is_lower_hex(const char *s, size_t n);
/* 1 if s is exactly 64 lower-case hex digits. */
APX_HIDDEN int apx_is_sha256_hex(const char *s);

/* libsodium (lib/secret.c): initialised once per process on first use, also
 * when the application never called ap_global_init(); 0 when usable, -1
 * when sodium_init() failed (no entropy source). */
APX_HIDDEN int apx_sodium_ready(void);
/* n unpredictable bytes from libsodium's CSPRNG (randombytes_buf): AP_OK,
 * or AP_ERROR (buf untouched) when libsodium could not be initialised. */
APX_HIDDEN int apx_random_bytes(void *buf, size_t n);
/* Zero n bytes in a way the compiler cannot optimise out (sodium_memzero):
 * for buffers that held credentials. */
APX_HIDDEN void apx_wipe(void *buf, size_t n);

/* A copy of url with any "user:password@" of its authority replaced by
 * "***@", for messages, logs and stored documents (apx_malloc'd; NULL in,
 * NULL out).  Credentials in an endpoint URL are never printed or stored. */
APX_HIDDEN char *apx_url_redact(const char *url);
/* 1 when the n bytes at s are valid UTF-8 (RFC 3629; NUL bytes count as
 * characters), else 0 (lib/text.c). */
APX_HIDDEN int apx_utf8_valid(const char *s, size_t n);
/* Copy text, replacing the userinfo ("user:pass") of every URL in it by
 * three stars; truncates to dstsz.  apx_error_vset and event messages use
 * it, so no message carries a URL's password. */
APX_HIDDEN void apx_text_redact(char *dst, size_t dstsz, const char *src);

#endif
