/* apfetch — drive the engine (apx_fetch) from the command line.
 * Used by bench/run.sh and handy for manual tests.  SPDX-License-Identifier: MIT
 *
 *   apfetch [options] URL STAGING [URL STAGING ...]
 *   apfetch [options] -i LIST          (LIST: "URL STAGING [SHA256]" lines)
 * options:
 *   -s SHA256 (first file)   -z SIZE (first file)   -V VALIDATOR
 *   -c CONNS (max_connections)  -p PER_FILE  -k CHUNK  -a ATTEMPTS
 *   -t STALL_MS  -b BACKOFF_MS  -r BYTES_PER_SEC  -C CANCEL_AFTER_MS
 *   -D (drop_partial)  -q (quiet)
 *   apfetch -H FILE    hash FILE (sha256) and print the throughput
 * Prints one JSON line: {"status":..,"message":..,"ms":..,"bytes_fetched":..,
 * "cancel_ms":..,"files":[{"status","sha256","size","bytes_fetched"}]}
 */
#include "digest.h"
#include "engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static ap_cancel_token *g_tok;
static unsigned g_cancel_after;
static uint64_t g_cancel_at;

static void *canceller(void *arg)
{
    struct timespec ts;
    (void)arg;
    ts.tv_sec = g_cancel_after / 1000;
    ts.tv_nsec = (long)(g_cancel_after % 1000) * 1000000L;
    nanosleep(&ts, NULL);
    g_cancel_at = apx_now_ms();
    ap_cancel(g_tok);
    return NULL;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

/* -H FILE: hash one file with the library's SHA-256 and say how fast. */
static int hash_file(const char *path)
{
    char hex[65];
    uint64_t sz = 0, h0 = apx_now_ms(), h1;
    int hr = apx_sha256_file(path, hex, &sz);
    h1 = apx_now_ms();
    printf("{\"status\":%d,\"backend\":\"%s\",\"sha256\":\"%s\","
           "\"size\":%llu,\"ms\":%llu,\"mb_s\":%.0f}\n", hr,
           apx_digest_backend(), hr ? "" : hex,
           (unsigned long long)sz, (unsigned long long)(h1 - h0),
           h1 > h0 ? sz / 1e3 / (double)(h1 - h0) : 0.0);
    return hr ? 1 : 0;
}

/* -i LIST: lines "URL STAGING [SHA256]" appended to the files; the strings
 * they own go to *owned.  0, or -1 when the list cannot be read. */
static int read_list(const char *list, apx_fetch_file **files, size_t *n,
                     size_t *cap, char ***owned, size_t *nowned)
{
    FILE *fp = fopen(list, "r");
    char line[4096];
    if (!fp) {
        perror(list);
        return -1;
    }
    while (fgets(line, sizeof line, fp)) {
        char u[2048], p[1024], h[80];
        apx_fetch_file *f;
        int k = sscanf(line, "%2047s %1023s %79s", u, p, h);
        if (k < 2)
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *files = realloc(*files, *cap * sizeof **files);
            *owned = realloc(*owned, 3 * *cap * sizeof **owned);
        }
        f = &(*files)[*n];
        memset(f, 0, sizeof *f);
        f->url = (*owned)[(*nowned)++] = strdup(u);
        f->staging_path = (*owned)[(*nowned)++] = strdup(p);
        f->label = f->staging_path;
        f->size = AP_SIZE_UNKNOWN;
        if (k == 3)
            f->sha256 = (*owned)[(*nowned)++] = strdup(h);
        (*n)++;
    }
    fclose(fp);
    return 0;
}

/* The result as one JSON line (the first 16 files). */
static void print_result(int rc, const apx_error *err, const apx_fetch_file *files,
                         size_t n, uint64_t ms, uint64_t total_fetched, uint64_t t_end)
{
    size_t i;
    printf("{\"status\":%d,\"message\":", rc);
    json_str(rc ? err->msg : "");
    printf(",\"ms\":%llu,\"bytes_fetched\":%llu",
           (unsigned long long)ms, (unsigned long long)total_fetched);
    if (g_cancel_after && g_cancel_at)
        printf(",\"cancel_ms\":%lld", (long long)(t_end - g_cancel_at));
    printf(",\"files\":[");
    for (i = 0; i < n && i < 16; i++) {
        printf("%s{\"status\":%d,\"sha256\":\"%s\",\"size\":%llu,"
               "\"bytes_fetched\":%llu,\"message\":",
               i ? "," : "", files[i].status, files[i].sha256_out,
               (unsigned long long)files[i].size_out,
               (unsigned long long)files[i].bytes_fetched);
        json_str(files[i].status ? files[i].err.msg : "");
        putchar('}');
    }
    printf("]}\n");
}

int main(int argc, char **argv)
{
    apx_fetch_opts o;
    apx_fetch_file *files = NULL;
    size_t n = 0, cap = 0, i;
    const char *sha = NULL, *val = NULL, *list = NULL;
    uint64_t size = AP_SIZE_UNKNOWN, t0, t1, total_fetched = 0;
    int c, rc;
    apx_error err;
    pthread_t th;
    char **owned = NULL;
    size_t nowned = 0;

    memset(&o, 0, sizeof o);
    while ((c = getopt(argc, argv, "s:z:V:c:p:k:a:t:b:r:C:Di:qH:")) != -1) {
        switch (c) {
        case 'H': return hash_file(optarg);
        case 's': sha = optarg; break;
        case 'z': size = strtoull(optarg, NULL, 10); break;
        case 'V': val = optarg; break;
        case 'c': o.max_connections = (unsigned)atoi(optarg); break;
        case 'p': o.connections_per_file = (unsigned)atoi(optarg); break;
        case 'k': o.chunk_size = strtoull(optarg, NULL, 10); break;
        case 'a': o.max_attempts = (unsigned)atoi(optarg); break;
        case 't': o.stall_timeout_ms = (unsigned)atoi(optarg); break;
        case 'b': o.backoff_base_ms = (unsigned)atoi(optarg); break;
        case 'r': o.max_bytes_per_sec = strtoull(optarg, NULL, 10); break;
        case 'C': g_cancel_after = (unsigned)atoi(optarg); break;
        case 'D': o.drop_partial = 1; break;
        case 'i': list = optarg; break;
        case 'q': break;
        default:
            fprintf(stderr, "usage: apfetch [opts] URL STAGING ...\n");
            return 2;
        }
    }
    if (list && read_list(list, &files, &n, &cap, &owned, &nowned) != 0)
        return 2;
    for (; optind + 1 < argc; optind += 2) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            files = realloc(files, cap * sizeof *files);
        }
        memset(&files[n], 0, sizeof files[n]);
        files[n].url = argv[optind];
        files[n].staging_path = argv[optind + 1];
        files[n].label = argv[optind + 1];
        files[n].size = AP_SIZE_UNKNOWN;
        n++;
    }
    if (!n) {
        fprintf(stderr, "apfetch: nothing to fetch\n");
        return 2;
    }
    files[0].sha256 = sha ? sha : files[0].sha256;
    files[0].size = size;
    files[0].validator = val;
    ap_global_init();
    if (g_cancel_after) {
        g_tok = ap_cancel_token_new();
        o.cancel = g_tok;
        pthread_create(&th, NULL, canceller, NULL);
    }
    t0 = apx_now_ms();
    rc = apx_fetch(&o, files, n, &err);
    t1 = apx_now_ms();
    if (g_cancel_after)
        pthread_join(th, NULL);
    for (i = 0; i < n; i++)
        total_fetched += files[i].bytes_fetched;
    print_result(rc, &err, files, n, t1 - t0, total_fetched, t1);
    for (i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(files);
    ap_cancel_token_free(g_tok);
    ap_global_cleanup();
    return rc == 0 ? 0 : 1;
}
