/* bench/json_parse.c — one JSON document parsed by jansson (json_loadb, a
 * tree of values) and by yajl (event callbacks that only count), the same
 * bytes, RUNS times each, alternating: why the catalog and the
 * safetensors header read JSON with yajl (docs/design-notes.md).
 * Build and run (a 100,000-file catalog document from
 * t/helpers/catalog_entry.py):
 *   cc -O2 -o /tmp/json_parse bench/json_parse.c $(pkg-config --cflags --libs jansson yajl)
 *   /tmp/json_parse "$(python3 t/helpers/catalog_entry.py /tmp/h 100000)" 3
 * Prints each run's seconds and the ratio of the best runs; asserts nothing.
 * SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <yajl/yajl_parse.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long tokens;

static int count(void *ctx) { (void)ctx; tokens++; return 1; }
static int count_bool(void *ctx, int b) { (void)b; return count(ctx); }
static int count_int(void *ctx, long long v) { (void)v; return count(ctx); }
static int count_dbl(void *ctx, double d) { (void)d; return count(ctx); }
static int count_str(void *ctx, const unsigned char *s, size_t n)
{
    (void)s;
    (void)n;
    return count(ctx);
}

static const yajl_callbacks counters = {
    count, count_bool, count_int, count_dbl, NULL, count_str,
    count, count_str, count, count, count
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    FILE *f;
    char *buf;
    long size;
    int runs = argc > 2 ? atoi(argv[2]) : 3, r;
    double best_y = 1e9, best_j = 1e9;
    if (argc < 2 || !(f = fopen(argv[1], "rb"))) {
        fprintf(stderr, "usage: json_parse FILE [RUNS]\n");
        return 2;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    if (size <= 0 || !(buf = malloc((size_t)size)) ||
        fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "json_parse: cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);
    for (r = 0; r < runs; r++) {
        double t0 = now(), ty, tj;
        yajl_handle h = yajl_alloc(&counters, NULL, NULL);
        json_error_t err;
        json_t *j;
        int ok = yajl_parse(h, (unsigned char *)buf, (size_t)size) == yajl_status_ok &&
                 yajl_complete_parse(h) == yajl_status_ok;
        yajl_free(h);
        ty = now() - t0;
        t0 = now();
        j = json_loadb(buf, (size_t)size, 0, &err);
        tj = now() - t0;
        if (!ok || !j) {
            fprintf(stderr, "json_parse: %s is not JSON\n", argv[1]);
            return 1;
        }
        json_decref(j);
        printf("run %d: yajl events %.3f s (%ld tokens), jansson tree %.3f s\n", r + 1,
               ty, tokens, tj);
        tokens = 0;
        best_y = ty < best_y ? ty : best_y;
        best_j = tj < best_j ? tj : best_j;
    }
    printf("%ld bytes: best yajl %.3f s, best jansson %.3f s: jansson/yajl %.1fx\n", size,
           best_y, best_j, best_j / best_y);
    return 0;
}
