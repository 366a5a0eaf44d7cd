/* apd — an HTTP daemon over the libartifactprov job registry, on
 * libmicrohttpd.  SPDX-License-Identifier: MIT
 *
 *   apd [--listen HOST:PORT] [--port-file FILE] [--home DIR]
 *       [--vendor-path PATH] [--state-dir DIR] [--token-file FILE]
 *       [--max-jobs N] [--max-conns N] [--heartbeat MS]
 *
 * The /v1 API, an Ollama-compatible subset (/api/pull, /api/tags,
 * /api/delete) and /healthz: docs/daemon.md, apd(8).  SIGTERM or SIGINT:
 * stop accepting, cancel the jobs, let event streams deliver their final
 * event, join, exit 0.  Environment: AP_HOME (store root), AP_VENDOR_PATH,
 * and what the vendors read (HF_ENDPOINT, HF_TOKEN, OLLAMA_MODELS, ...). */
#include "apd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bind and listen on HOST:PORT ([V6]:PORT); records what it is bound to
 * in G for the Host check. */
static int listen_on(const char *spec)
{
    char host[256], port[16];
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    size_t hl;
    int fd = -1, one = 1, rc;

    if (!colon || colon == spec || strlen(colon + 1) >= sizeof port ||
        (size_t)(colon - spec) >= sizeof host) {
        apd_log("bad --listen '%s' (want HOST:PORT)", spec);
        return -1;
    }
    hl = (size_t)(colon - spec);
    memcpy(host, spec, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    snprintf(port, sizeof port, "%s", colon + 1);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        apd_log("--listen %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        apd_log("cannot listen on %s: %s", spec, strerror(errno));
        return -1;
    }
    snprintf(G.bound_host, sizeof G.bound_host, "%s", host);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
            G.port = ntohs(s6->sin6_port);
            G.any_host = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
            inet_ntop(AF_INET6, &s6->sin6_addr, G.bound_addr, sizeof G.bound_addr);
            G.loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
        } else {
            const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
            G.port = ntohs(s4->sin_port);
            G.any_host = s4->sin_addr.s_addr == htonl(INADDR_ANY);
            inet_ntop(AF_INET, &s4->sin_addr, G.bound_addr, sizeof G.bound_addr);
            G.loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
        }
    }
    return fd;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *f;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: apd [--listen HOST:PORT] [--port-file FILE] [--home DIR]\n"
          "           [--vendor-path PATH] [--state-dir DIR] [--token-file FILE]\n"
          "           [--max-jobs N] [--max-conns N] [--heartbeat MS] [--history N]\n"
          "  --listen       address to serve (default 127.0.0.1:7420; port 0 picks one)\n"
          "  --port-file    write the port chosen to FILE once listening\n"
          "  --home         store root (default $AP_HOME, else the XDG cache)\n"
          "  --vendor-path  plugin directories (default $AP_VENDOR_PATH, then the\n"
          "                 install directory)\n"
          "  --state-dir    job history (default STORE-ROOT/apd-jobs)\n"
          "  --token-file   require 'Authorization: Bearer TOKEN', TOKEN the file's\n"
          "                 first line (at least 16 characters)\n"
          "  --max-jobs     jobs running at once (default 4)\n"
          "  --max-conns    connections served at once (default 64)\n"
          "  --heartbeat    heartbeat interval of jobs, ms (default 1000)\n"
          "  --history      finished jobs kept in the history, older ones pruned\n"
          "                 (default 1000)\n", f);
}

static int num_arg(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *e;
    unsigned long v = strtoul(s, &e, 10);
    if (!*s || *e || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

typedef struct args {
    const char *listen, *port_file, *state_dir, *token_file;
    unsigned max_conns;
    unsigned history;
} args;

static int parse_args(int argc, char **argv, args *a, ap_jobs_options *jo)
{
    int i;
    for (i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(k, "-h") == 0 || strcmp(k, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v)
            bad = 1;
        else if (strcmp(k, "--listen") == 0)
            a->listen = v;
        else if (strcmp(k, "--port-file") == 0)
            a->port_file = v;
        else if (strcmp(k, "--home") == 0)
            G.po.home = v;
        else if (strcmp(k, "--vendor-path") == 0)
            G.po.vendor_path = v;
        else if (strcmp(k, "--state-dir") == 0)
            a->state_dir = v;
        else if (strcmp(k, "--token-file") == 0)
            a->token_file = v;
        else if (strcmp(k, "--max-jobs") == 0)
            bad = num_arg(v, 1, 64, &jo->max_running);
        else if (strcmp(k, "--max-conns") == 0)
            bad = num_arg(v, 1, 4096, &a->max_conns);
        else if (strcmp(k, "--heartbeat") == 0)
            bad = num_arg(v, 50, 600000, &G.heartbeat_ms);
        else if (strcmp(k, "--history") == 0)
            bad = num_arg(v, 1, 10000000, &a->history);
        else
            bad = 1;
        if (bad) {
            apd_log("bad argument '%s'", k);
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* The vendors, the history, the registry; 0 or -1 (logged). */
static int open_all(const args *a, ap_jobs_options *jo)
{
    char dir[4096];
    ap_provisioner *p;
    ap_job_id max_id = 0;
    const char *const *refused;
    if (ap_vendor_set_new(&G.vendors) != AP_OK ||
        ap_vendor_set_load_path(G.vendors, G.po.vendor_path) != AP_OK) {
        apd_log("cannot load the vendors: %s", ap_error_last()->message);
        return -1;
    }
    for (refused = ap_vendor_set_refusals(G.vendors); refused && *refused; refused++)
        apd_log("vendor refused: %s", *refused);
    G.po.vendors = G.vendors;
    if (!(p = apd_prov_get())) {
        apd_log("%s", ap_error_last()->message);
        return -1;
    }
    if (a->state_dir)
        snprintf(dir, sizeof dir, "%s", a->state_dir);
    else
        snprintf(dir, sizeof dir, "%s/apd-jobs", ap_store_root(ap_provisioner_store(p)));
    apd_prov_put(p);
    if (apd_history_open(dir, a->history, &max_id) != 0)
        return -1;
    jo->sink = apd_history_sink;
    jo->first_id = max_id + 1;
    /* the registry remembers no more finished jobs than the history keeps
     * (its own default, 256, when that is fewer) */
    jo->max_finished = a->history < 256 ? a->history : 256;
    if (ap_jobs_new(&G.jobs, &G.po, jo) != AP_OK) {
        apd_log("%s", ap_error_last()->message);
        return -1;
    }
    return 0;
}

static void close_all(void)
{
    ap_jobs_free(G.jobs);
    apd_prov_free_all();
    apd_history_close();
    ap_vendor_set_free(G.vendors);
    ap_global_cleanup();
}

int main(int argc, char **argv)
{
    args a = { "127.0.0.1:7420", NULL, NULL, NULL, 64, APD_HISTORY_DEFAULT };
    ap_jobs_options jo = AP_JOBS_OPTIONS_INIT;
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    struct MHD_Daemon *d;
    sigset_t sigs;
    int lfd, sig = 0, rc;

    G.po = po;
    G.heartbeat_ms = 1000;
    if ((rc = parse_args(argc, argv, &a, &jo)) >= 0)
        return rc;
    /* every thread (workers, connections) inherits these blocked: the
     * main thread takes them with sigwait */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (ap_global_init() != AP_OK || sodium_init() < 0) {
        apd_log("cannot initialise: %s", ap_error_last()->message);
        return 1;
    }
    if ((a.token_file && apd_auth_load_token(a.token_file) != 0) || open_all(&a, &jo) != 0) {
        close_all();
        return 1;
    }
    if ((lfd = listen_on(a.listen)) < 0) {
        close_all();
        return 1;
    }
    if (!(d = apd_http_start(lfd, a.max_conns))) {
        apd_log("cannot start the HTTP server on %s", a.listen);
        close(lfd);
        close_all();
        return 1;
    }
    if (a.port_file && write_port_file(a.port_file, G.port) != 0) {
        apd_log("cannot write the port file %s: %s", a.port_file, strerror(errno));
        MHD_stop_daemon(d); /* closes lfd */
        close_all();
        return 1;
    }
    apd_log("listening on %s (port %d)%s", a.listen, G.port,
            G.has_token ? ", bearer token required" : "");
    while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
        ;
    apd_log("stopping (signal %d)", sig);
    atomic_store(&G.stop_ms, (long long)apd_now_ms());
    atomic_store(&G.stop, 1);
    lfd = MHD_quiesce_daemon(d); /* accept no more; lfd is ours to close */
    ap_jobs_shutdown(G.jobs);    /* streams get their final events */
    apd_streams_drain(APD_STOP_GRACE_MS);
    MHD_stop_daemon(d);          /* joins every connection */
    if (lfd >= 0)
        close(lfd);
    close_all();
    apd_log("stopped");
    return 0;
}
