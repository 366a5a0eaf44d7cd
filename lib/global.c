/* libartifactprov — global init and cleanup, the version, the names of log
 * levels and event kinds.  SPDX-License-Identifier: MIT */
#include "internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned init_count;

AP_EXPORT int ap_global_init(void)
{
    int rc = AP_OK;
    pthread_mutex_lock(&init_lock);
    if (init_count == 0) {
        CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (cc != CURLE_OK)
            rc = apx_error_set(NULL, AP_ERROR, "ap_global_init: libcurl: %s",
                               curl_easy_strerror(cc));
        else if (apx_sodium_ready() < 0) {
            curl_global_cleanup();
            rc = apx_error_set(NULL, AP_ERROR, "ap_global_init: libsodium could not "
                               "be initialised");
        }
    }
    if (rc == AP_OK)
        init_count++;
    pthread_mutex_unlock(&init_lock);
    return rc;
}

AP_EXPORT void ap_global_cleanup(void)
{
    pthread_mutex_lock(&init_lock);
    if (init_count > 0 && --init_count == 0)
        curl_global_cleanup();
    pthread_mutex_unlock(&init_lock);
}

AP_EXPORT const char *ap_version(void) { return AP_VERSION_STRING; }
AP_EXPORT unsigned ap_version_num(void) { return AP_VERSION_NUM; }

AP_EXPORT const char *ap_log_level_name(ap_log_level level)
{
    switch (level) {
    case AP_LOG_ERROR: return "error";
    case AP_LOG_WARN: return "warn";
    case AP_LOG_INFO: return "info";
    case AP_LOG_DEBUG: return "debug";
    }
    return "unknown";
}

ap_log_level apx_event_level(ap_event_kind kind)
{
    switch (kind) {
    case AP_EVENT_ERROR: return AP_LOG_ERROR;
    case AP_EVENT_RETRY:
    case AP_EVENT_CANCELLED: return AP_LOG_WARN;
    case AP_EVENT_PROGRESS:
    case AP_EVENT_HEARTBEAT: return AP_LOG_DEBUG;
    case AP_EVENT_RESOLVE:
    case AP_EVENT_START:
    case AP_EVENT_FILE_DONE:
    case AP_EVENT_DONE:
    case AP_EVENT_LOG: break;
    }
    return AP_LOG_INFO;
}

AP_EXPORT const char *ap_event_kind_name(ap_event_kind kind)
{
    switch (kind) {
    case AP_EVENT_RESOLVE: return "resolve";
    case AP_EVENT_START: return "start";
    case AP_EVENT_PROGRESS: return "progress";
    case AP_EVENT_HEARTBEAT: return "heartbeat";
    case AP_EVENT_FILE_DONE: return "file_done";
    case AP_EVENT_DONE: return "done";
    case AP_EVENT_ERROR: return "error";
    case AP_EVENT_CANCELLED: return "cancelled";
    case AP_EVENT_RETRY: return "retry";
    case AP_EVENT_LOG: return "log";
    }
    return "unknown";
}
