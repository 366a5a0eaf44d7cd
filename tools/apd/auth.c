/* apd — who may talk to it: the Host header must name the address apd is
 * bound to (DNS rebinding), cross-origin browser requests are refused,
 * state-changing requests must be application/json (a browser form or a
 * "simple" cross-origin request cannot send that), and with --token-file
 * every request but /healthz carries "Authorization: Bearer TOKEN",
 * compared in constant time.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *header(apd_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* The Host header names the bound address: "HOST:PORT" with HOST the
 * name or address given to --listen, the numeric address it resolved to,
 * or, on loopback, "localhost" (IPv6 in brackets).  A wildcard bind accepts any host (the port still must
 * match). */
static int host_ok(const char *h)
{
    char host[300];
    const char *colon;
    size_t n;
    if (!h || !*h)
        return 0;
    colon = strrchr(h, ':');
    if (!colon || (h[0] == '[' && colon < strchr(h, ']')))
        return 0; /* the port is always given: apd never listens on 80 */
    if (atoi(colon + 1) != G.port || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return 0;
    n = (size_t)(colon - h);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n >= sizeof host)
        return 0;
    memcpy(host, h, n);
    host[n] = '\0';
    if (G.any_host)
        return 1;
    return strcasecmp(host, G.bound_host) == 0 || strcasecmp(host, G.bound_addr) == 0 ||
           (G.loopback && strcasecmp(host, "localhost") == 0);
}

/* A browser sends Origin on cross-origin requests (and on same-origin
 * POSTs): it must be http://HOST where HOST is the Host header. */
static int origin_ok(apd_req *rq, const char *host)
{
    const char *o = header(rq, "Origin"), *site = header(rq, "Sec-Fetch-Site");
    if (site && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0)
        return 0;
    if (!o)
        return 1;
    return strncmp(o, "http://", 7) == 0 && strcasecmp(o + 7, host) == 0;
}

static int token_ok(apd_req *rq)
{
    const char *a = header(rq, "Authorization");
    unsigned char h[32];
    if (!G.has_token || strcmp(rq->url, "/healthz") == 0)
        return 1;
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return 0;
    /* hashes of equal length: the comparison says nothing of the length */
    crypto_generichash(h, sizeof h, (const unsigned char *)a + 7, strlen(a + 7), NULL, 0);
    return sodium_memcmp(h, G.token_hash, sizeof h) == 0;
}

static int is_json_type(const char *ct)
{
    size_t n = strlen("application/json");
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int apd_auth_check(apd_req *rq, enum MHD_Result *res)
{
    const char *host = header(rq, "Host");
    if (!host_ok(host)) {
        *res = apd_reply_error(rq, 421, "refused: the Host header '%.100s' is not the "
                               "address apd listens on (port %d)", host ? host : "",
                               G.port);
        return 0;
    }
    if (!origin_ok(rq, host)) {
        *res = apd_reply_error(rq, 403, "refused: a cross-origin request (Origin '%.100s')",
                               header(rq, "Origin") ? header(rq, "Origin") : "");
        return 0;
    }
    if (!token_ok(rq)) {
        *res = apd_reply_error(rq, 401, "refused: this apd requires "
                               "'Authorization: Bearer TOKEN' (--token-file)");
        return 0;
    }
    if (!apd_method(rq, "GET") && !apd_method(rq, "HEAD") &&
        !is_json_type(header(rq, "Content-Type"))) {
        *res = apd_reply_error(rq, 415, "refused: a %s request must have "
                               "'Content-Type: application/json'", rq->method);
        return 0;
    }
    return 1;
}

/* The token is the file's first line. */
int apd_auth_load_token(const char *path)
{
    char buf[1024];
    size_t n;
    FILE *f = fopen(path, "r");
    if (!f) {
        apd_log("--token-file %s: %s", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    n = strlen(buf);
    if (n < 16) {
        apd_log("--token-file %s: the token must have at least 16 characters", path);
        sodium_memzero(buf, sizeof buf);
        return -1;
    }
    crypto_generichash(G.token_hash, sizeof G.token_hash, (unsigned char *)buf, n,
                       NULL, 0);
    sodium_memzero(buf, sizeof buf);
    G.has_token = 1;
    return 0;
}
