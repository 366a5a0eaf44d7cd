/* libartifactprov — minisign signatures, verified with libsodium's Ed25519
 * and BLAKE2b (format: minisign.h).
 * SPDX-License-Identifier: MIT */
#include "minisign.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define READ_CHUNK (1u << 20)

void apx_minisign_key_id_hex(const unsigned char id[8], char out[17])
{
    static const char hx[] = "0123456789ABCDEF";
    int i;
    /* minisign prints the id as a little-endian 64-bit number. */
    for (i = 0; i < 8; i++) {
        out[2 * i] = hx[id[7 - i] >> 4];
        out[2 * i + 1] = hx[id[7 - i] & 15];
    }
    out[16] = '\0';
}

/* The next line of [*p, end): start and length without "\r\n"; advances. */
static int next_line(const char **p, const char *end, const char **line, size_t *n)
{
    const char *s = *p, *nl;
    if (s >= end)
        return 0;
    nl = memchr(s, '\n', (size_t)(end - s));
    *line = s;
    *n = nl ? (size_t)(nl - s) : (size_t)(end - s);
    *p = nl ? nl + 1 : end;
    if (*n > 0 && s[*n - 1] == '\r')
        (*n)--;
    return 1;
}

static int starts(const char *line, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(line, prefix, k) == 0;
}

/* Decode one base64 line into exactly want bytes. */
static int b64_exact(const char *line, size_t n, unsigned char *out, size_t want)
{
    unsigned char buf[128];
    size_t got = 0;
    if (want > sizeof buf ||
        sodium_base642bin(buf, sizeof buf, line, n, " \t", &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != want)
        return -1;
    memcpy(out, buf, want);
    return 0;
}

int apx_minisign_key_parse(const char *text, const char *label, apx_minisign_key *key,
                           apx_error *err)
{
    const char *p = text, *end, *line = NULL;
    size_t n = 0, tl;
    unsigned char raw[42];
    int found = 0;
    if (!text || !key)
        return apx_error_set(err, AP_EINVAL, "minisign key: no key given");
    tl = strnlen(text, APX_MINISIGN_KEY_TEXT_MAX + 1);
    if (tl > APX_MINISIGN_KEY_TEXT_MAX)
        return apx_error_set(err, AP_EINVAL, "minisign key %s: longer than %d bytes, "
                             "not a public key", label, APX_MINISIGN_KEY_TEXT_MAX);
    end = text + tl;
    while (next_line(&p, end, &line, &n)) {
        if (n == 0 || starts(line, n, "untrusted comment:"))
            continue;
        found = 1;
        break;
    }
    if (!found || b64_exact(line, n, raw, sizeof raw) != 0)
        return apx_error_set(err, AP_EINVAL, "minisign key %s: not a minisign public "
                             "key (want the base64 line of a .pub file)", label);
    if (raw[0] != 'E' || raw[1] != 'd')
        return apx_error_set(err, AP_EINVAL, "minisign key %s: algorithm '%c%c' is not "
                             "Ed25519 ('Ed')", label, raw[0] >= 32 && raw[0] < 127 ? raw[0] : '?',
                             raw[1] >= 32 && raw[1] < 127 ? raw[1] : '?');
    memcpy(key->id, raw + 2, 8);
    memcpy(key->pk, raw + 10, 32);
    return AP_OK;
}

void apx_minisig_clear(apx_minisig *sig)
{
    if (!sig)
        return;
    free(sig->trusted_comment);
    memset(sig, 0, sizeof *sig);
}

int apx_minisig_parse(const char *text, size_t len, const char *label, apx_minisig *sig,
                      apx_error *err)
{
    const char *p = text, *end = text + len, *line;
    size_t n;
    unsigned char raw[74];
    memset(sig, 0, sizeof *sig);
    if (len > APX_MINISIGN_SIG_TEXT_MAX)
        return apx_error_set(err, AP_EINVAL, "signature %s: %zu bytes, more than a "
                             "minisign signature has", label, len);
    if (!next_line(&p, end, &line, &n) || !starts(line, n, "untrusted comment:"))
        return apx_error_set(err, AP_EINVAL, "signature %s: not a minisign signature "
                             "(no 'untrusted comment:' line)", label);
    if (!next_line(&p, end, &line, &n) || b64_exact(line, n, raw, sizeof raw) != 0)
        return apx_error_set(err, AP_EINVAL, "signature %s: the signature line is not "
                             "base64 of 74 bytes", label);
    if (raw[0] == 'E' && raw[1] == 'D')
        sig->prehashed = 1;
    else if (raw[0] == 'E' && raw[1] == 'd')
        sig->prehashed = 0;
    else
        return apx_error_set(err, AP_EINVAL, "signature %s: unknown algorithm (want "
                             "'ED' or 'Ed')", label);
    memcpy(sig->key_id, raw + 2, 8);
    memcpy(sig->sig, raw + 10, 64);
    if (!next_line(&p, end, &line, &n) || !starts(line, n, "trusted comment: "))
        return apx_error_set(err, AP_EINVAL, "signature %s: no 'trusted comment: ' line",
                             label);
    line += strlen("trusted comment: ");
    n -= strlen("trusted comment: ");
    if (memchr(line, '\0', n))
        return apx_error_set(err, AP_EINVAL, "signature %s: NUL in the trusted comment",
                             label);
    if (!(sig->trusted_comment = apx_strndup(line, n)))
        return apx_error_set(err, AP_ENOMEM, "signature %s: out of memory", label);
    if (!next_line(&p, end, &line, &n) || b64_exact(line, n, sig->global_sig, 64) != 0) {
        apx_minisig_clear(sig);
        return apx_error_set(err, AP_EINVAL, "signature %s: the trusted comment's "
                             "signature is not base64 of 64 bytes", label);
    }
    return AP_OK;
}

static int prehash(int fd, unsigned char out[64], const char *label,
                   int (*cancelled)(void *), void *user, apx_error *err)
{
    crypto_generichash_state st;
    unsigned char *buf = apx_malloc(READ_CHUNK);
    off_t off = 0;
    int rc = AP_OK;
    if (!buf)
        return apx_error_set(err, AP_ENOMEM, "verifying %s: out of memory", label);
    crypto_generichash_init(&st, NULL, 0, 64);
    for (;;) {
        ssize_t r;
        if (cancelled && cancelled(user)) {
            rc = apx_error_set(err, AP_ECANCELLED, "verifying %s: cancelled", label);
            break;
        }
        r = pread(fd, buf, READ_CHUNK, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = apx_error_set(err, AP_EIO, "verifying %s: read: %s", label, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        crypto_generichash_update(&st, buf, (size_t)r);
        off += r;
    }
    if (rc == AP_OK)
        crypto_generichash_final(&st, out, 64);
    free(buf);
    return rc;
}

int apx_minisign_verify_fd(const apx_minisign_key *key, const apx_minisig *sig, int fd,
                           const char *label, int (*cancelled)(void *), void *user,
                           apx_error *err)
{
    char want[17], got[17];
    unsigned char *msg;
    size_t tlen;
    int ok;
    if (apx_sodium_ready() != 0)
        return apx_error_set(err, AP_ERROR, "verifying %s: libsodium unusable", label);
    if (sodium_memcmp(key->id, sig->key_id, 8) != 0) {
        apx_minisign_key_id_hex(key->id, want);
        apx_minisign_key_id_hex(sig->key_id, got);
        return apx_error_set(err, AP_EAUTH, "%s: signed by minisign key %s, not by the "
                             "trusted key %s", label, got, want);
    }
    if (sig->prehashed) {
        unsigned char h[64];
        int rc = prehash(fd, h, label, cancelled, user, err);
        if (rc != AP_OK)
            return rc;
        ok = crypto_sign_verify_detached(sig->sig, h, sizeof h, key->pk) == 0;
    } else {
        struct stat st;
        void *map = NULL;
        if (fstat(fd, &st) != 0)
            return apx_error_set(err, AP_EIO, "verifying %s: fstat: %s", label,
                                 strerror(errno));
        if (st.st_size > 0) {
            map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (map == MAP_FAILED)
                return apx_error_set(err, AP_EIO, "verifying %s: mmap: %s", label,
                                     strerror(errno));
        }
        ok = crypto_sign_verify_detached(sig->sig, map ? map : (const void *)"",
                                         (unsigned long long)st.st_size, key->pk) == 0;
        if (map)
            munmap(map, (size_t)st.st_size);
    }
    apx_minisign_key_id_hex(key->id, want);
    if (!ok)
        return apx_error_set(err, AP_EDIGEST, "%s: minisign signature does not verify "
                             "with key %s: the file is not the one signed", label, want);
    tlen = strlen(sig->trusted_comment);
    if (!(msg = apx_malloc(64 + tlen + 1)))
        return apx_error_set(err, AP_ENOMEM, "verifying %s: out of memory", label);
    memcpy(msg, sig->sig, 64);
    memcpy(msg + 64, sig->trusted_comment, tlen);
    ok = crypto_sign_verify_detached(sig->global_sig, msg, 64 + tlen, key->pk) == 0;
    free(msg);
    if (!ok)
        return apx_error_set(err, AP_EDIGEST, "%s: the trusted comment of its minisign "
                             "signature does not verify with key %s (comment altered)",
                             label, want);
    return AP_OK;
}
