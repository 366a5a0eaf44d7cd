/* libartifactprov — digests (SHA-256, SHA-1) behind a small interface.
 * SPDX-License-Identifier: MIT
 *
 * Default backend: OpenSSL libcrypto EVP (SHA-NI when the CPU has it:
 * about 1.2 GB/s against about 0.2 GB/s for libsodium on our 2-core VM,
 * docs/design-notes.md "SHA-256 through libcrypto, not libsodium").  Built with -DAP_DIGEST_SODIUM=1, SHA-256 goes through libsodium's
 * crypto_hash_sha256 and SHA-1 (git blob ids only, never a security
 * decision on its own) through the small portable implementation below. */
#include "progress.h"
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define APX_DIGEST_FILE_BUF (1u << 20) /* 1 MiB reads */

#if defined(AP_DIGEST_SODIUM) && AP_DIGEST_SODIUM

#include <sodium.h>

/* ---- portable SHA-1 (FIPS 180-4) ------------------------------------- */
typedef struct apx_sha1_ctx {
    uint32_t h[5];
    uint64_t len;          /* bytes hashed */
    unsigned char buf[64];
    size_t used;
} apx_sha1_ctx;

static uint32_t rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(apx_sha1_ctx *c, const unsigned char *p)
{
    uint32_t w[80], a, b, cc, d, e, t;
    unsigned i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = c->h[0];
    b = c->h[1];
    cc = c->h[2];
    d = c->h[3];
    e = c->h[4];
    for (i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & cc) | (~b & d);
            k = 0x5A827999u;
        } else if (i < 40) {
            f = b ^ cc ^ d;
            k = 0x6ED9EBA1u;
        } else if (i < 60) {
            f = (b & cc) | (b & d) | (cc & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ cc ^ d;
            k = 0xCA62C1D6u;
        }
        t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = cc;
        cc = rol32(b, 30);
        b = a;
        a = t;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
}

static void sha1_init(apx_sha1_ctx *c)
{
    static const uint32_t iv[5] = { 0x67452301u, 0xEFCDAB89u, 0x98BADCFEu,
                                    0x10325476u, 0xC3D2E1F0u };
    memcpy(c->h, iv, sizeof iv);
    c->len = 0;
    c->used = 0;
}

static void sha1_update(apx_sha1_ctx *c, const unsigned char *p, size_t n)
{
    c->len += n;
    if (c->used) {
        size_t take = 64 - c->used < n ? 64 - c->used : n;
        memcpy(c->buf + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used < 64)
            return;
        sha1_block(c, c->buf);
        c->used = 0;
    }
    while (n >= 64) {
        sha1_block(c, p);
        p += 64;
        n -= 64;
    }
    memcpy(c->buf, p, n);
    c->used = n;
}

static void sha1_final(apx_sha1_ctx *c, unsigned char out[20])
{
    uint64_t bits = c->len * 8;
    unsigned char pad[72];
    size_t padlen = (c->used < 56 ? 56 : 120) - c->used;
    unsigned i;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (i = 0; i < 8; i++)
        pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(c, pad, padlen + 8);
    for (i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

struct apx_digest {
    apx_digest_alg alg;
    union {
        crypto_hash_sha256_state sha256;
        apx_sha1_ctx sha1;
    } u;
};

const char *apx_digest_backend(void) { return "libsodium"; }

int apx_digest_reset(apx_digest *d)
{
    if (!d)
        return AP_EINVAL;
    if (d->alg == APX_SHA256)
        crypto_hash_sha256_init(&d->u.sha256);
    else
        sha1_init(&d->u.sha1);
    return AP_OK;
}

int apx_digest_update(apx_digest *d, const void *data, size_t n)
{
    if (!d || (!data && n))
        return AP_EINVAL;
    if (!n)
        return AP_OK;
    if (d->alg == APX_SHA256)
        crypto_hash_sha256_update(&d->u.sha256, data, n);
    else
        sha1_update(&d->u.sha1, data, n);
    return AP_OK;
}

int apx_digest_final_hex(apx_digest *d, char *hex_out)
{
    unsigned char md[32];
    if (!d || !hex_out)
        return AP_EINVAL;
    if (d->alg == APX_SHA256) {
        crypto_hash_sha256_final(&d->u.sha256, md);
        apx_hex(md, 32, hex_out);
    } else {
        sha1_final(&d->u.sha1, md);
        apx_hex(md, 20, hex_out);
    }
    return AP_OK;
}

static void backend_free(apx_digest *d) { (void)d; }
static int backend_init(apx_digest *d) { return apx_digest_reset(d); }

#else /* libcrypto */

#include <openssl/evp.h>

struct apx_digest {
    apx_digest_alg alg;
    EVP_MD_CTX *ctx;
};

const char *apx_digest_backend(void) { return "libcrypto"; }

static const EVP_MD *md_of(apx_digest_alg alg)
{
    return alg == APX_SHA256 ? EVP_sha256() : EVP_sha1();
}

int apx_digest_reset(apx_digest *d)
{
    if (!d)
        return AP_EINVAL;
    return EVP_DigestInit_ex(d->ctx, md_of(d->alg), NULL) == 1 ? AP_OK
                                                                : AP_ERROR;
}

int apx_digest_update(apx_digest *d, const void *data, size_t n)
{
    if (!d || (!data && n))
        return AP_EINVAL;
    if (!n)
        return AP_OK;
    return EVP_DigestUpdate(d->ctx, data, n) == 1 ? AP_OK : AP_ERROR;
}

int apx_digest_final_hex(apx_digest *d, char *hex_out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!d || !hex_out)
        return AP_EINVAL;
    if (EVP_DigestFinal_ex(d->ctx, md, &len) != 1)
        return AP_ERROR;
    apx_hex(md, len, hex_out);
    return AP_OK;
}

static void backend_free(apx_digest *d)
{
    EVP_MD_CTX_free(d->ctx);
}

static int backend_init(apx_digest *d)
{
    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx)
        return AP_ENOMEM;
    return apx_digest_reset(d);
}

#endif

apx_digest *apx_digest_new(apx_digest_alg alg)
{
    apx_digest *d;
    if (alg != APX_SHA256 && alg != APX_SHA1)
        return NULL;
    d = apx_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->alg = alg;
    if (backend_init(d) != AP_OK) {
        backend_free(d);
        free(d);
        return NULL;
    }
    return d;
}

int apx_digest_git_blob_head(apx_digest *d, uint64_t size)
{
    char head[48];
    int n = snprintf(head, sizeof head, "blob %llu", (unsigned long long)size);
    return apx_digest_update(d, head, (size_t)n + 1); /* with its NUL */
}

void apx_digest_free(apx_digest *d)
{
    if (!d)
        return;
    backend_free(d);
    free(d);
}

int apx_digest_fd(apx_digest *d, int fd, uint64_t *size)
{
    unsigned char *buf = apx_malloc(APX_DIGEST_FILE_BUF);
    uint64_t off = 0;
    int rc = AP_OK;
    if (!buf)
        return AP_ENOMEM;
    for (;;) {
        ssize_t r = pread(fd, buf, APX_DIGEST_FILE_BUF, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = AP_EIO;
            break;
        }
        if (r == 0)
            break;
        if ((rc = apx_digest_update(d, buf, (size_t)r)) != AP_OK)
            break;
        off += (uint64_t)r;
        /* hashing a large file: the job's heartbeat and cancel token go on
         * (progress.h); the bytes are a re-read, not progress */
        if ((rc = apx_tick(0)) != 0)
            break;
    }
    if (rc == AP_OK && size)
        *size = off;
    {
        int saved = errno;
        free(buf);
        errno = saved;
    }
    return rc;
}

int apx_sha256_file(const char *path, char hex_out[65], uint64_t *size_out)
{
    apx_digest *d;
    int fd, rc;
    if (!path || !hex_out)
        return AP_EINVAL;
    /* Never blocks on a FIFO; anything but a regular file is refused. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return AP_EIO;
    {
        struct stat st;
        int fl;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            errno = EINVAL;
            return AP_EIO;
        }
        if ((fl = fcntl(fd, F_GETFL)) >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    d = apx_digest_new(APX_SHA256);
    rc = d ? apx_digest_fd(d, fd, size_out) : AP_ENOMEM;
    if (rc == AP_OK)
        rc = apx_digest_final_hex(d, hex_out);
    apx_digest_free(d);
    close(fd);
    return rc;
}
