/* Shared by the C tests that need t/fixtures/fakehub.py: start and stop
 * it, write its config for a set of generated files, compute the digest of
 * those files, and read its request log.  Header-only (static functions),
 * included by one test file at a time.  SPDX-License-Identifier: MIT */
#ifndef AP_T_FAKEHUB_FIXTURE_H
#define AP_T_FAKEHUB_FIXTURE_H

#include "digest.h"
#include "child_tie.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Not every test uses every helper. */
#define FX_FN static __attribute__((unused))

/* One generated file of the `files` server: name, size, seed, faults JSON
 * (or NULL). */
typedef struct fx_spec {
    const char *name;
    uint64_t size;
    int seed;
    const char *faults;
} fx_spec;

typedef struct fakehub {
    char dir[64];                  /* temp dir: config, log, ready file */
    char files[128], hub[128], cdn[128];
    char log[256];
    pid_t pid;
    int watch_fd;                  /* write end of the hub's --stdin-watch pipe */
} fakehub;

FX_FN const fx_spec *fx_spec_of(const fx_spec *specs, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    return NULL;
}

/* The fake hub's generator: block i = sha256("<seed>:<i>"), cut to size. */
FX_FN void fx_expected_sha(const fx_spec *s, char hex[65])
{
    apx_digest *all = apx_digest_new(APX_SHA256);
    apx_digest *blk = apx_digest_new(APX_SHA256);
    uint64_t done = 0, i = 0;
    while (done < s->size) {
        char in[64], bh[65];
        unsigned char b[32];
        int k, n = snprintf(in, sizeof in, "%d:%llu", s->seed, (unsigned long long)i++);
        apx_digest_reset(blk);
        apx_digest_update(blk, in, (size_t)n);
        apx_digest_final_hex(blk, bh);
        for (k = 0; k < 32; k++) {
            unsigned v;
            sscanf(bh + 2 * k, "%2x", &v);
            b[k] = (unsigned char)v;
        }
        n = s->size - done < 32 ? (int)(s->size - done) : 32;
        apx_digest_update(all, b, (size_t)n);
        done += (uint64_t)n;
    }
    apx_digest_final_hex(all, hex);
    apx_digest_free(all);
    apx_digest_free(blk);
}

/* The value of "key":"..." in the ready line. */
FX_FN int fx_extract(const char *line, const char *key, char *out, size_t n)
{
    char pat[32];
    const char *p, *e;
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    p = strstr(line, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= n)
        return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

/* Write the config (`top` is extra top-level JSON members, e.g.
 * "\"repos\": {...}", or NULL) and start the server in a new temp dir
 * named after `tag`.  0 on success. */
FX_FN int fx_start(fakehub *fh, const char *tag, const char *top,
                    const fx_spec *specs, size_t n)
{
    char ready[256], cfg[256], line[1024] = "", script[512];
    const char *src = getenv("AP_SRC");
    FILE *fp;
    size_t i;
    memset(fh, 0, sizeof *fh);
    snprintf(fh->dir, sizeof fh->dir, "/tmp/ap-test-%s-XXXXXX", tag);
    if (!mkdtemp(fh->dir))
        return -1;
    snprintf(cfg, sizeof cfg, "%s/cfg.json", fh->dir);
    if (!(fp = fopen(cfg, "w")))
        return -1;
    fprintf(fp, "{%s%s\"files\": {\n", top ? top : "", top ? ",\n " : "");
    for (i = 0; i < n; i++)
        fprintf(fp, "  \"%s\": {\"generate\": {\"size\": %llu, \"seed\": %d}%s%s}%s\n",
                specs[i].name, (unsigned long long)specs[i].size, specs[i].seed,
                specs[i].faults ? ", \"faults\": " : "",
                specs[i].faults ? specs[i].faults : "", i + 1 < n ? "," : "");
    fprintf(fp, "}}\n");
    fclose(fp);
    snprintf(ready, sizeof ready, "%s/ready", fh->dir);
    snprintf(fh->log, sizeof fh->log, "%s/log.jsonl", fh->dir);
    snprintf(script, sizeof script, "%s/t/fixtures/fakehub.py", src ? src : ".");
    {
        int wp[2];
        pid_t parent = getpid();
        fh->watch_fd = -1;
        if (ct_watch_pipe(wp) != 0)
            return -1;
        fh->pid = fork();
        if (fh->pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            ct_tie_to_parent(parent);   /* child_tie.h: dies with the test */
            dup2(wp[0], 0);             /* dup2 clears close-on-exec */
            dup2(fd, 1);
            execlp("python3", "python3", script, "--config", cfg, "--log", fh->log,
                   "--ready-file", ready, "--stdin-watch", (char *)NULL);
            _exit(127);
        }
        close(wp[0]);
        if (fh->pid < 0) {
            close(wp[1]);
            return -1;
        }
        fh->watch_fd = wp[1];
    }
    for (i = 0; i < 500; i++) {
        if ((fp = fopen(ready, "r"))) {
            if (!fgets(line, sizeof line, fp))
                line[0] = '\0';
            fclose(fp);
            if (line[0])
                break;
        }
        usleep(20000);
    }
    if (fx_extract(line, "files", fh->files, sizeof fh->files) ||
        fx_extract(line, "hub", fh->hub, sizeof fh->hub) ||
        fx_extract(line, "cdn", fh->cdn, sizeof fh->cdn)) {
        fprintf(stderr, "# fakehub did not start (%s)\n", script);
        return -1;
    }
    return 0;
}

/* Stop the server and remove its temp dir.  0 on success. */
FX_FN int fx_stop(fakehub *fh)
{
    char cmd[128];
    if (fh->pid > 0) {
        kill(fh->pid, SIGTERM);
        waitpid(fh->pid, NULL, 0);
        fh->pid = 0;
    }
    if (fh->watch_fd > 0) {
        close(fh->watch_fd);
        fh->watch_fd = -1;
    }
    if (!fh->dir[0])
        return 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fh->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Sum of the body bytes the files server logged for /files/<name>. */
FX_FN uint64_t fx_log_bytes(const fakehub *fh, const char *name)
{
    FILE *fp = fopen(fh->log, "r");
    char line[8192], pat[128];
    uint64_t sum = 0;
    if (!fp)
        return 0;
    snprintf(pat, sizeof pat, "\"path\":\"/files/%s\"", name);
    while (fgets(line, sizeof line, fp)) {
        const char *b = strstr(line, "\"bytes\":");
        if (strstr(line, pat) && b)
            sum += strtoull(b + 8, NULL, 10);
    }
    fclose(fp);
    return sum;
}

#endif
