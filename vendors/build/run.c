/* libartifactprov — the build vendor: running the recipe's command.
 *
 * The command runs in its own process group (setpgid) with its working
 * directory a fresh work directory, stdin /dev/null, stdout and stderr one
 * pipe.  Every line it prints becomes a log event (bounded, made safe); a
 * line `progress DONE/TOTAL` is reported through host->progress instead.
 * The loop polls the pipe at least every 100 ms, checks host->is_cancelled
 * and heartbeats through host->progress.  Cancel: SIGTERM to the group,
 * SIGKILL after the grace period, reap, remove the work directory.
 * SPDX-License-Identifier: MIT */
#include "build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_SHOWN 1000   /* longer output lines are cut */
#define TAIL_LINES 5          /* last lines quoted in a failure */
#define GRACE_MS_DEFAULT 5000

/* ---- removing a work directory ------------------------------------------- */

static void rm_at(int dfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (S_ISDIR(st.st_mode) && depth < 64) {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *e;
        if (fd >= 0) {
            (void)fchmod(fd, 0700); /* a read-only directory the command made */
            if ((d = fdopendir(fd))) {
                while ((e = readdir(d)))
                    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        rm_at(dirfd(d), e->d_name, depth + 1);
                closedir(d);
            } else
                close(fd);
        }
        (void)unlinkat(dfd, name, AT_REMOVEDIR);
    } else
        (void)unlinkat(dfd, name, 0);
}

void brm_rf(const char *dir)
{
    if (dir && *dir)
        rm_at(AT_FDCWD, dir, 0);
}

/* ---- output lines ------------------------------------------------------- */

typedef struct lines {
    char cur[LINE_MAX_SHOWN + 4];
    size_t n;
    int cut;                       /* the current line was too long */
    char tail[TAIL_LINES][201];
    size_t ntail;                  /* lines seen (the last TAIL_LINES kept) */
    uint64_t done, total;          /* the last `progress DONE/TOTAL` */
} lines;

static int parse_progress(const char *s, uint64_t *done, uint64_t *total)
{
    unsigned long long d, t;
    int n = 0;
    if (sscanf(s, "progress %llu/%llu%n", &d, &t, &n) != 2)
        return 0;
    while (s[n] == ' ')
        n++;
    if (s[n] || t == 0 || d > t || strncmp(s, "progress ", 9) != 0)
        return 0;
    *done = d;
    *total = t;
    return 1;
}

static void line_end(const ap_host *h, ap_vendor_call *call, const char *name, lines *l)
{
    uint64_t d, t;
    l->cur[l->n] = '\0';
    if (parse_progress(l->cur, &d, &t)) {
        l->done = d;
        l->total = t;
        if (AP_HOST_HAS(h, progress))
            (void)h->progress(call, d, t);
    } else {
        if (l->cut)
            memcpy(l->cur + l->n, "...", 4);
        if (AP_HOST_HAS(h, log))
            h->log(call, AP_LOG_INFO, "build %s: %s", name, l->cur);
        {
            char *dst = l->tail[l->ntail % TAIL_LINES];
            size_t n = strlen(l->cur);
            if (n > sizeof l->tail[0] - 1)
                n = sizeof l->tail[0] - 1;
            memcpy(dst, l->cur, n);
            dst[n] = '\0';
        }
        l->ntail++;
    }
    l->n = 0;
    l->cut = 0;
}

/* Feed bytes of output: control characters and non-ASCII bytes become '?'
 * (a tab a space), a line longer than LINE_MAX_SHOWN is cut. */
static void feed(const ap_host *h, ap_vendor_call *call, const char *name, lines *l,
                 const char *buf, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            line_end(h, call, name, l);
            continue;
        }
        if (c == '\r')
            continue;
        if (l->n >= LINE_MAX_SHOWN) {
            l->cut = 1;
            continue;
        }
        l->cur[l->n++] = c == '\t' ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
}

/* ---- the child ---------------------------------------------------------- */

static char *env_pair(const char *k, const char *v)
{
    size_t n = strlen(k) + strlen(v) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s=%s", k, v);
    return s;
}

/* The child runs only async-signal-safe calls between fork and exec (the
 * provisioning process may have other threads holding malloc's locks):
 * the candidate paths are made before the fork, messages are written
 * piecewise with write(2). */
static void put(int fd, const char *s)
{
    (void)!write(fd, s, strlen(s));
}

static void child_fail(int fd, const char *what, const char *arg)
{
    char num[16];
    int e = errno, i = (int)sizeof num - 1;
    num[i] = '\0';
    do
        num[--i] = (char)('0' + e % 10);
    while ((e /= 10) && i > 0);
    put(fd, "cannot run ");
    put(fd, arg);
    put(fd, ": ");
    put(fd, what);
    put(fd, " (errno ");
    put(fd, num + i);
    put(fd, ")\n");
    _exit(127);
}

/* In the child, after fork: never returns.  cand: the paths to try for
 * argv[0], NULL-terminated. */
static void child_exec(const char *workdir, int out, char **argv, char **envp,
                       char **cand)
{
    int nul, sig, err = ENOENT;
    size_t i;
    sigset_t none;
    (void)setpgid(0, 0);
#ifdef __linux__
    /* the provisioning process killed outright: do not run on unattended */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    for (sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)signal(sig, SIG_DFL);
    if (chdir(workdir) != 0)
        child_fail(out, "chdir to the work directory", workdir);
    nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        child_fail(out, "redirect", argv[0]);
    if (close_range(3, ~0u, 0) != 0) {
        int fd;
        for (fd = 3; fd < 65536; fd++)
            (void)close(fd);
    }
    for (i = 0; cand[i]; i++) {
        execve(cand[i], argv, envp);
        if (errno != ENOENT && errno != ENOTDIR)
            err = errno;
    }
    errno = err;
    child_fail(2, strchr(argv[0], '/') ? "exec" : "exec (searched the recipe's PATH)",
               argv[0]);
}

/* The paths to try for argv0: itself when it has a '/', else each entry
 * of PATH (the command's own environment's) joined with it. */
static char **candidates(const char *argv0, const char *path)
{
    size_t n = 2, k = 0;
    const char *p;
    char **v;
    for (p = path; p && *p; p++)
        n += *p == ':';
    if (!(v = calloc(n + 1, sizeof *v)))
        return NULL;
    if (strchr(argv0, '/')) {
        if (!(v[0] = strdup(argv0))) {
            free(v);
            return NULL;
        }
        return v;
    }
    for (p = path; p && *p;) {
        size_t len = strcspn(p, ":");
        if (len && asprintf(&v[k], "%.*s/%s", (int)len, p, argv0) >= 0)
            k++;
        else if (len)
            v[k] = NULL;
        p += len;
        if (*p == ':')
            p++;
    }
    return v;
}

/* ---- the parent --------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The command has exited (left as a zombie for waitpid).  ECHILD counts as
 * exited: a process that ignores SIGCHLD has its children reaped for it. */
static int exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == ECHILD;
    return si.si_pid == pid;
}

/* Read what the pipe holds (waiting at most ms); 1 at EOF. */
static int pump(const ap_host *h, ap_vendor_call *call, const char *name, lines *l,
                int fd, int ms)
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    char buf[8192];
    ssize_t n;
    if (poll(&pfd, 1, ms) <= 0)
        return 0;
    n = read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        return 1;
    if (n > 0)
        feed(h, call, name, l, buf, (size_t)n);
    return 0;
}

static unsigned grace_ms(const ap_host *h, ap_vendor_call *call)
{
    const char *v = AP_HOST_HAS(h, option) ? h->option(call, "build_grace_ms") : NULL;
    char *end;
    unsigned long x;
    if (!v || !*v)
        return GRACE_MS_DEFAULT;
    x = strtoul(v, &end, 10);
    return *end || x > 600000 ? GRACE_MS_DEFAULT : (unsigned)x;
}

/* The message quoting the last lines of output. */
static void tail_text(const lines *l, char *out, size_t cap)
{
    size_t i, first = l->ntail > TAIL_LINES ? l->ntail - TAIL_LINES : 0, o = 0;
    out[0] = '\0';
    if (!l->ntail) {
        snprintf(out, cap, "; it printed nothing");
        return;
    }
    o = (size_t)snprintf(out, cap, "; its last output: ");
    for (i = first; i < l->ntail && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i > first ? " | " : "",
                              l->tail[i % TAIL_LINES]);
}

/* The command's environment into envp (*ne entries so far, all freed by
 * the caller): PATH, HOME and AP_BUILD_DIR (the work directory),
 * AP_BUILD_KEY, AP_INPUT_<NAME> for each single-file input, then the
 * recipe's own variables, placeholders expanded. */
static int make_env(const ap_host *h, ap_vendor_call *call, const char *ref, brun *run,
                    const char *pathv, char **envp, size_t *ne)
{
    size_t i;
    envp[(*ne)++] = env_pair("PATH", pathv);
    envp[(*ne)++] = env_pair("HOME", run->workdir);
    envp[(*ne)++] = env_pair("AP_BUILD_DIR", run->workdir);
    envp[(*ne)++] = env_pair("AP_BUILD_KEY", run->key);
    for (i = 0; i < run->r.nin; i++) {
        /* AP_INPUT_<NAME>: the file of a single-file input */
        size_t k, hits = 0, at = 0;
        for (k = 0; k < run->nfiles; k++)
            if (strcmp(run->files[k].input, run->r.in_names[i]) == 0) {
                hits++;
                at = k;
            }
        if (hits == 1) {
            char key[80];
            snprintf(key, sizeof key, "AP_INPUT_%s", run->r.in_names[i]);
            envp[(*ne)++] = env_pair(key, run->files[at].blob);
        }
    }
    for (i = 0; i < run->r.nenv; i++) {
        char *v;
        if (strcmp(run->r.env_keys[i], "PATH") == 0)
            continue;
        if (!(v = bexpand(h, call, ref, run, run->r.env_vals[i], run->workdir, 0)))
            return AP_EINVAL;
        envp[(*ne)++] = env_pair(run->r.env_keys[i], v);
        free(v);
    }
    for (i = 0; i < *ne; i++)
        if (!envp[i])
            return h->set_error(call, AP_ENOMEM, "out of memory");
    return AP_OK;
}

/* A cancelled build: SIGTERM to the command's process group, its output
 * still read for the grace period, then SIGKILL. */
static void stop_group(const ap_host *h, ap_vendor_call *call, brun *run, lines *l,
                       pid_t pid, int fd, int eof)
{
    long long t0 = now_ms();
    unsigned grace = grace_ms(h, call);
    if (AP_HOST_HAS(h, log))
        h->log(call, AP_LOG_WARN, "build %s: cancelled: SIGTERM to process group %d",
               run->r.name, (int)pid);
    (void)kill(-pid, SIGTERM);
    while (!exited(pid) && now_ms() - t0 < grace)
        if (!eof && pump(h, call, run->r.name, l, fd, 50))
            eof = 1;
        else if (eof) {
            struct pollfd none;
            (void)poll(&none, 0, 50);
        }
    if (!exited(pid) && AP_HOST_HAS(h, log))
        h->log(call, AP_LOG_WARN, "build %s: still running after %u ms: SIGKILL",
               run->r.name, grace);
    (void)kill(-pid, SIGKILL);
}

/* Every output must be a regular file in the work directory. */
static int check_outputs(const ap_host *h, ap_vendor_call *call, brun *run,
                         const char *tail)
{
    size_t i;
    int rc = AP_OK;
    for (i = 0; rc == AP_OK && i < run->r.nout; i++) {
        char *p = NULL;
        struct stat sb;
        if (asprintf(&p, "%s/%s", run->workdir, run->r.outputs[i]) < 0)
            return h->set_error(call, AP_ENOMEM, "out of memory");
        if (lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            const char *why = S_ISLNK(sb.st_mode) ? "a symbolic link" : "not a regular file";
            if (lstat(p, &sb) != 0)
                why = strerror(errno);
            rc = h->set_error(call, AP_ENOTFOUND, "the build command succeeded but "
                              "did not make the output '%s' as a regular file (%s)%s",
                              run->r.outputs[i], why, tail);
        }
        free(p);
    }
    return rc;
}

/* The build's work directory (run->workdir): under the "build_dir" option,
 * else $TMPDIR, else /tmp. */
static int make_workdir(const ap_host *h, ap_vendor_call *call, brun *run)
{
    const char *base;
    char *tmpl = NULL;
    int rc;

    base = AP_HOST_HAS(h, option) ? h->option(call, "build_dir") : NULL;
    if (!base || !*base)
        base = h->getenv(call, "TMPDIR");
    if (!base || base[0] != '/')
        base = "/tmp";
    if (asprintf(&tmpl, "%s/ap-build-XXXXXX", base) < 0) {
        tmpl = NULL;
        return h->set_error(call, AP_ENOMEM, "out of memory");
    }
    if (!mkdtemp(tmpl)) {
        rc = h->set_error(call, AP_EIO, "cannot create a work directory in %s: %s",
                          base, strerror(errno));
        free(tmpl);
        return rc;
    }
    run->workdir = tmpl;
    return AP_OK;
}

/* The command's argv, placeholders expanded ("/bin/sh -c CMD" for a shell
 * recipe). */
static int make_argv(const ap_host *h, ap_vendor_call *call, const char *ref, brun *run,
                     char **argv)
{
    size_t i;
    if (run->r.shell) {
        argv[0] = strdup("/bin/sh");
        argv[1] = strdup("-c");
        argv[2] = bexpand(h, call, ref, run, run->r.argv[0], run->workdir, 1);
        if (!argv[0] || !argv[1] || !argv[2])
            return argv[2] ? h->set_error(call, AP_ENOMEM, "out of memory") : AP_EINVAL;
        return AP_OK;
    }
    for (i = 0; i < run->r.argc; i++)
        if (!(argv[i] = bexpand(h, call, ref, run, run->r.argv[i], run->workdir, 0)))
            return AP_EINVAL;
    return AP_OK;
}

/* The child's output read until it exited and its pipe is drained (or
 * held by an escaped process), polling cancel and progress; 1 when
 * cancelled (*eof: the pipe was closed). */
static int watch_child(const ap_host *h, ap_vendor_call *call, brun *run, lines *l,
                       pid_t pid, int fd, int *eof)
{
    long long t_exit = -1;
    for (;;) {
        if (!*eof && pump(h, call, run->r.name, l, fd, 100))
            *eof = 1;
        if (*eof && t_exit < 0) {
            /* the pipe is closed: wait for the exit, still polling cancel */
            struct pollfd none;
            (void)poll(&none, 0, exited(pid) ? 0 : 100);
        }
        if (t_exit < 0 && exited(pid)) {
            /* the leader is done (a zombie keeps the group id reserved):
             * what else of the group still runs is killed */
            (void)kill(-pid, SIGKILL);
            t_exit = now_ms();
        }
        if (t_exit >= 0 && (*eof || now_ms() - t_exit > 1000))
            return 0; /* output drained (or held by an escaped process) */
        if (h->is_cancelled(call) ||
            (AP_HOST_HAS(h, progress) && h->progress(call, l->done, l->total)))
            return 1;
    }
}

/* The build's status from the command's exit (`status`) and its outputs. */
static int outcome(const ap_host *h, ap_vendor_call *call, brun *run, lines *l, pid_t pid,
                   int status, int cancelled)
{
    char tail[1200];
    if (l->n)
        line_end(h, call, run->r.name, l); /* a last line without newline */
    tail_text(l, tail, sizeof tail);
    if (cancelled)
        return h->set_error(call, AP_ECANCELLED, "cancelled while building (the "
                            "command's process group %d was stopped, its work "
                            "directory removed)", (int)pid);
    if (WIFSIGNALED(status))
        return h->set_error(call, AP_EVENDOR, "the build command was killed by "
                            "signal %d%s", WTERMSIG(status), tail);
    if (WEXITSTATUS(status) != 0)
        return h->set_error(call, AP_EVENDOR, "the build command exited with "
                            "status %d%s", WEXITSTATUS(status), tail);
    return check_outputs(h, call, run, tail);
}

int brun_build(bstate *st, ap_vendor_call *call, const char *ref, brun *run)
{
    const ap_host *h = st->h;
    const char *pathv = "/usr/local/bin:/usr/bin:/bin";
    char **argv = NULL, **envp = NULL, **cand = NULL;
    size_t i, ne = 0, nenv_max;
    int pipefd[2] = { -1, -1 }, rc = AP_OK, status = 0, eof = 0, cancelled = 0;
    pid_t pid = -1;
    lines *l = NULL;

    if ((rc = make_workdir(h, call, run)) != AP_OK)
        return rc;
    /* argv and environment, placeholders expanded */
    l = calloc(1, sizeof *l);
    argv = calloc(run->r.shell ? 4 : run->r.argc + 1, sizeof *argv);
    nenv_max = run->r.nenv + run->r.nin + 8;
    envp = calloc(nenv_max, sizeof *envp);
    if (!l || !argv || !envp) {
        rc = h->set_error(call, AP_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = make_argv(h, call, ref, run, argv)) != AP_OK)
        goto out;
    for (i = 0; i < run->r.nenv; i++)
        if (strcmp(run->r.env_keys[i], "PATH") == 0)
            pathv = run->r.env_vals[i];
    if ((rc = make_env(h, call, ref, run, pathv, envp, &ne)) != AP_OK)
        goto out;
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        rc = h->set_error(call, AP_EIO, "pipe: %s", strerror(errno));
        goto out;
    }
    if (AP_HOST_HAS(h, log))
        h->log(call, AP_LOG_INFO, "build %s: running %s in %s (key %.12s)", run->r.name,
               run->r.shell ? "a shell command" : run->r.argv[0], run->workdir, run->key);
    if (!(cand = candidates(argv[0], pathv))) {
        rc = h->set_error(call, AP_ENOMEM, "out of memory");
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        rc = h->set_error(call, AP_EIO, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        close(pipefd[0]);
        child_exec(run->workdir, pipefd[1], argv, envp, cand);
    }
    (void)setpgid(pid, pid); /* also here: no window before the child's own */
    close(pipefd[1]);
    pipefd[1] = -1;
    if ((cancelled = watch_child(h, call, run, l, pid, pipefd[0], &eof)))
        stop_group(h, call, run, l, pid, pipefd[0], eof);
    {
        pid_t w;
        while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
            ;
        if (w < 0 && !cancelled) {
            rc = h->set_error(call, AP_EVENDOR, "the build command's exit status is "
                              "lost (%s: is SIGCHLD ignored by this process?)",
                              strerror(errno));
            goto out;
        }
    }
    rc = outcome(h, call, run, l, pid, status, cancelled);
out:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    for (i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
    for (i = 0; envp && i < ne; i++)
        free(envp[i]);
    for (i = 0; cand && cand[i]; i++)
        free(cand[i]);
    free(cand);
    free(envp);
    free(l);
    if (rc != AP_OK) {
        brm_rf(run->workdir);
        free(run->workdir);
        run->workdir = NULL;
    }
    return rc;
}
