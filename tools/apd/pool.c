/* apd — provisioners for catalog and store calls.  A handle is used by one
 * thread at a time: a request takes a free one (or makes one) and gives it
 * back, so a call stuck on a slow disk holds its own handle and no lock.
 * Every one shares the vendor set loaded once by main.c.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <pthread.h>
#include <stdlib.h>

#define POOL_KEEP 8   /* idle handles kept */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static ap_provisioner *idle[POOL_KEEP];
static size_t nidle;

ap_provisioner *apd_prov_get(void)
{
    ap_provisioner *p = NULL;
    pthread_mutex_lock(&mu);
    if (nidle)
        p = idle[--nidle];
    pthread_mutex_unlock(&mu);
    if (!p && ap_provisioner_new(&p, &G.po) != AP_OK)
        return NULL;
    return p;
}

void apd_prov_put(ap_provisioner *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&mu);
    if (nidle < POOL_KEEP) {
        idle[nidle++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&mu);
    ap_provisioner_free(p);
}

void apd_prov_free_all(void)
{
    pthread_mutex_lock(&mu);
    while (nidle)
        ap_provisioner_free(idle[--nidle]);
    pthread_mutex_unlock(&mu);
}
