/* libartifactprov — a job's engine session (mirrors and their failures, a
 * connection cache kept across the job's engine calls).
 * SPDX-License-Identifier: MIT */
#include "session.h"

#include <curl/curl.h>
#include <stdlib.h>

struct apx_session {
    apx_mirrors *ms;   /* NULL: none */
    CURLSH *share;     /* NULL: each call has its own connections */
};

int apx_session_new(const char *const *specs, const char *env,
                    apx_session **out, apx_error *err)
{
    apx_session *s;
    int rc;
    *out = NULL;
    s = apx_calloc(1, sizeof *s);
    if (!s)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    rc = apx_mirrors_parse(specs, env, &s->ms, err);
    if (rc != AP_OK) {
        free(s);
        return rc;
    }
    /* Without a share (out of memory) the calls still work, each with its
     * own connections: nothing is lost but the reuse. */
    s->share = curl_share_init();
    if (s->share &&
        (curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
         curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
         curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)) {
        curl_share_cleanup(s->share);
        s->share = NULL;
    }
    *out = s;
    return AP_OK;
}

void apx_session_free(apx_session *s)
{
    if (!s)
        return;
    apx_mirrors_free(s->ms);
    if (s->share)
        curl_share_cleanup(s->share);
    free(s);
}

int apx_session_fetch(apx_session *s, const apx_fetch_opts *opts,
                      apx_fetch_file *files, size_t n, apx_error *err)
{
    apx_fetch_opts o = *opts;
    o.share = s->share;
    return apx_fetch_mirrored(&o, s->ms, files, n, err);
}
