/* SHA-256 throughput of the two digest backends (docs/design-notes.md,
 * "SHA-256 through libcrypto, not libsodium"): 512 MiB of random bytes in
 * 1 MiB updates, three runs.  Not part of the build:
 *   cc -O2 -o /tmp/sha256-backends bench/sha256-backends.c -lcrypto -lsodium
 *   /tmp/sha256-backends
 * SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    const size_t n = (size_t)1 << 20, rounds = 512;
    unsigned char *b = malloc(n), out[EVP_MAX_MD_SIZE];
    unsigned ol;
    int rep;
    if (!b || sodium_init() < 0)
        return 1;
    randombytes_buf(b, n);
    for (rep = 0; rep < 3; rep++) {
        double t = now(), a, d;
        size_t i;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        crypto_hash_sha256_state s;
        if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
            return 1;
        for (i = 0; i < rounds; i++)
            EVP_DigestUpdate(c, b, n);
        EVP_DigestFinal_ex(c, out, &ol);
        EVP_MD_CTX_free(c);
        a = now() - t;
        t = now();
        crypto_hash_sha256_init(&s);
        for (i = 0; i < rounds; i++)
            crypto_hash_sha256_update(&s, b, n);
        crypto_hash_sha256_final(&s, out);
        d = now() - t;
        printf("libcrypto EVP_sha256: %.0f MB/s   libsodium crypto_hash_sha256: %.0f MB/s\n",
               (double)(rounds * n) / 1e6 / a, (double)(rounds * n) / 1e6 / d);
    }
    free(b);
    return 0;
}
