/* libartifactprov — random bytes and the wiping of secrets, through
 * libsodium (initialised once per process, whoever asks first).
 * SPDX-License-Identifier: MIT */
#include "internal.h"

#include <pthread.h>
#include <sodium.h>

/* libsodium: sodium_init() once per process, whoever asks first (the store
 * makes temporary names before, or without, ap_global_init()). */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_state;

static void sodium_start(void)
{
    sodium_state = sodium_init() < 0 ? -1 : 0;
}

int apx_sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_start);
    return sodium_state;
}

int apx_random_bytes(void *buf, size_t n)
{
    if (apx_sodium_ready() < 0)
        return AP_ERROR;
    randombytes_buf(buf, n);
    return AP_OK;
}

void apx_wipe(void *buf, size_t n)
{
    sodium_memzero(buf, n);
}
