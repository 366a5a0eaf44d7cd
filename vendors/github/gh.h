/* libartifactprov — GitHub releases vendor, private interface.
 *
 * Layout: gh.c holds every contact with the vendor ABI (entry point, the
 * descriptor, create/destroy, the file entries handed to the host); the
 * other files hold the logic: ref.c (references, globs), sums.c (checksum
 * files, minisign documents), api.c (API requests, rate limits, errors),
 * release.c (release and asset selection, verification sources).
 * Everything has hidden visibility (the Makefile builds vendors with
 * -fvisibility=hidden) and the ghv_ prefix, so the sources can also be
 * compiled into a test program next to the library.
 * SPDX-License-Identifier: MIT */
#ifndef AP_VENDOR_GH_H
#define AP_VENDOR_GH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>
#include <stdint.h>

#include "artifactprov/vendor.h"

#include "../common/apv.h"

#define GHV_VERSION "0.1.0"
#define GHV_DEFAULT_API "https://api.github.com"
#define GHV_GRAMMAR "gh:OWNER/REPO[@TAG]/ASSET-GLOB or gh:OWNER/REPO[@TAG]"
#define GHV_API_VERSION "2022-11-28"
#define GHV_UA "User-Agent: libartifactprov/" AP_VERSION_STRING \
               " ap-vendor-github/" GHV_VERSION
#define GHV_API_MAX_BODY (16u * 1024u * 1024u)
#define GHV_SUMS_MAX_BODY (1u * 1024u * 1024u)   /* checksum files */
#define GHV_SIG_MAX_BODY (64u * 1024u)           /* .minisig documents */
#define GHV_MAX_PAGES 100u                       /* /releases pages walked */
#define GHV_MAX_RATE_RETRIES 3u
#define GHV_DEFAULT_RATE_WAIT 60u                /* seconds */

/* ---- references and globs (ref.c) ---------------------------------------- */

typedef struct ghv_ref {
    char *owner;
    char *repo;
    char *tag;       /* decoded; NULL = latest release */
    int tag_glob;    /* tag contains * ? or [ */
    char *glob;      /* asset glob; NULL = every asset but companions */
} ghv_ref;

/* Parse "gh:..." or "github:...".  AP_OK, AP_EINVAL (why in err) or
 * AP_ENOMEM. */
int ghv_ref_parse(const char *ref, ghv_ref *out, char *err, size_t errlen);
void ghv_ref_clear(ghv_ref *r);
/* "gh:OWNER/REPO@TAG[/GLOB]" naming the resolved tag; malloc'd or NULL. */
char *ghv_ref_canonical(const ghv_ref *r, const char *tag);
/* 1 when s contains a glob character (* ? [). */
int ghv_has_glob(const char *s);
/* fnmatch(3) without flags: 1 on a match. */
int ghv_glob_match(const char *glob, const char *name);
/* Percent-encode all but A-Z a-z 0-9 - . _ ~; malloc'd or NULL. */
char *ghv_pct_encode(const char *s);

/* ---- checksum files and signatures (sums.c) -------------------------------- */

/* Look `name` up in a coreutils checksum document ("HEX  name" text mode,
 * "HEX *name" binary mode, "\\"-escaped names, "./" prefixes ignored).  When
 * `bare_ok` a document whose only content is one digest (a NAME.sha256 file
 * without a name) also answers.  On success writes the lower-case digest
 * (64 hex) into out[65] and returns 1; 0 when the name is not listed. */
int ghv_sums_lookup(const char *doc, size_t len, const char *name, int bare_ok,
                    char out[65]);
/* 1 when doc looks like a minisign signature document (an untrusted comment
 * line, a base64 line, a "trusted comment: " line, a base64 line). */
int ghv_minisig_wellformed(const char *doc, size_t len);
/* 1 when an asset name is a checksum or signature companion
 * (SHA256SUMS, *checksums.txt, *.sha256, *.minisig, *.sig, *.asc). */
int ghv_is_companion(const char *name);

/* ---- the resolve context ---------------------------------------------------- */

typedef struct ghv_asset {
    char *name;
    char *api_url;        /* assets[].url */
    uint64_t size;        /* AP_SIZE_UNKNOWN when absent */
    char digest[65];      /* from the asset's "digest" field, or "" */
    /* what resolve decided */
    int selected;
    char sha256[65];      /* the digest the host verifies, or "" */
    const char *verified_by; /* "digest", a checksum file name, "minisign" or NULL */
    char *signature;      /* .minisig text (minisign path) or NULL */
} ghv_asset;

typedef struct ghv_release {
    char *tag;
    char *commitish;      /* target_commitish, or NULL */
    ghv_asset *assets;
    size_t n;
} ghv_release;

/* A fetched checksum document, kept for the resolve's duration. */
typedef struct ghv_doc {
    char *name;           /* asset name */
    char *body;           /* NULL when it could not be fetched */
    size_t len;
} ghv_doc;

typedef struct ghv_ctx {
    const ap_host *host;
    ap_vendor_call *call;
    const char *ref;      /* as given, for messages */
    ghv_ref r;
    char *api;            /* API base, no trailing '/' */
    char api_host[256];   /* its host name (the token's bearer_host) */
    char *token;          /* NULL when none */
    const char *token_src;
    unsigned rate_wait;   /* seconds we may wait for a rate limit */
    int require_verified;
    char *minisign_key;   /* public key text, or NULL */
    const char *minisign_src;
    ghv_release rel;
    ghv_doc *docs;
    size_t ndocs;
} ghv_ctx;

/* Options: host->option(key), else the environment variable
 * AP_GITHUB_<KEY in upper case>.  NULL when unset or empty. */
const char *ghv_option(ghv_ctx *c, const char *key);
const char *ghv_env(ghv_ctx *c, const char *name);
/* 1 for "1", "true", "yes", "on" (any case). */
int ghv_truthy(const char *v);

/* Set the call's error, prefixed with the reference: "<ref>: ...". */
int ghv_fail(ghv_ctx *c, int status, const char *fmt, ...) AP_PRINTF(3, 4);
/* Log through the host, prefixed likewise. */
void ghv_log(ghv_ctx *c, int level, const char *fmt, ...) AP_PRINTF(3, 4);

/* ---- the API (api.c) ------------------------------------------------------- */

/* Set up c->api, c->api_host, c->token, options.  AP_OK or a failure set. */
int ghv_setup(ghv_ctx *c);
void ghv_ctx_clear(ghv_ctx *c);
/* GET an API URL (absolute) with the API headers and the token, waiting out
 * short rate limits.  On AP_OK *out is the response, whatever its status
 * except a rate limit (that fails with AP_ERATELIMIT, or AP_ECANCELLED when
 * cancelled during a wait). */
int ghv_api_get(ghv_ctx *c, const char *url, const char *accept, size_t max_body,
                ap_http_response **out);
/* The error for an unexpected API answer (401, 403, 5xx...), naming `what`. */
int ghv_api_error(ghv_ctx *c, const ap_http_response *resp, const char *what);
/* 1 when both URLs have the same scheme://authority. */
int ghv_same_origin(const char *a, const char *b);
/* Wait `secs` seconds polling host->is_cancelled every 100 ms.  AP_OK or
 * AP_ECANCELLED (error set). */
int ghv_wait(ghv_ctx *c, unsigned secs);
/* "2026-11-30 17:05:00 UTC" for an epoch time into out. */
void ghv_utc(int64_t t, char *out, size_t outlen);

/* ---- release selection and verification (release.c) ---------------------------- */

/* Find the release (latest, tagged or globbed) into c->rel. */
int ghv_find_release(ghv_ctx *c);
/* Mark the assets to pull; a 404-like failure lists the asset names. */
int ghv_select_assets(ghv_ctx *c);
/* Decide each selected asset's verification (digest field, checksum file,
 * minisign signature, else unverified: warned, or refused under
 * require_verified). */
int ghv_verify_plan(ghv_ctx *c, int host_verifies_signatures);
void ghv_release_clear(ghv_release *r);

#endif
