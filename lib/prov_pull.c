/* libartifactprov — one provision: the pull's activity hook and event sink, its cancel
 * checks, messages, waiting locks and signature checks (see prov_pull.h).
 * SPDX-License-Identifier: MIT */
#include "prov_pull.h"
#include "digest.h"
#include "fs.h"
#include "store_internal.h"
#include "fault.h"
#include "progress.h"
#include "minisign.h"
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <dirent.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>


/* Check the bytes at `path` (a staging file or a blob) against the file's
 * minisign signature and trusted key (ap_vendor_file.signature), with
 * heartbeats and cancel.  AP_OK when the file carries no signature. */
int apx_pull_check_signature(pull *j, const apx_mfile *m, const char *path, apx_error *err)
{
    apx_minisign_key key;
    apx_minisig sig;
    int fd, rc;
    if (!m->signature)
        return AP_OK;
    apx_tracker_phase(j->tracker, "verifying", m->path);
    if ((rc = apx_minisign_key_parse(m->public_key, "(trusted key)", &key, err)) != AP_OK)
        return rc;
    if ((rc = apx_minisig_parse(m->signature, strlen(m->signature), m->path, &sig,
                                err)) != AP_OK)
        return rc;
    if ((fd = apx_fs_open_regular(path, NULL, err)) < 0) {
        apx_minisig_clear(&sig);
        return fd;
    }
    rc = apx_minisign_verify_fd(&key, &sig, fd, m->path, apx_pull_sig_cancelled, j, err);
    close(fd);
    apx_minisig_clear(&sig);
    return rc;
}

/* The thread's activity hook while the pull runs (progress.h): every
 * blocking loop -- the vendor's HTTP calls and their retry waits, imports
 * and copies, hashing -- keeps the heartbeat going and stops on a cancel. */
int apx_pull_tick(void *user, uint64_t bytes)
{
    pull *j = user;
    if (ap_cancel_is_set(j->o->cancel))
        return AP_ECANCELLED;
    if (bytes && j->count_io) {
        apx_tracker_present(j->tracker, bytes, 0);
        j->io_counted += bytes;
    }
    if (ap_tracker_tick(j->tracker))
        return AP_EUSER;
    return 0;
}

int apx_pull_sig_cancelled(void *user)
{
    return apx_pull_tick(user, 0) != 0;
}

/* Done bytes of the pull now. */
uint64_t apx_pull_done_now(const pull *j)
{
    ap_progress p;
    ap_tracker_snapshot(j->tracker, &p);
    return p.bytes_done;
}

/* A file is in place (imported, downloaded by the vendor): its bytes count
 * as done, whatever the loop that placed it reported since `before` (the
 * done bytes then).  `known`: its size was in the total from the start. */
void apx_pull_settle_file(pull *j, uint64_t before, uint64_t size, int known)
{
    uint64_t d = apx_pull_done_now(j) - before;
    if (!known)
        apx_tracker_adjust(j->tracker, 0, (int64_t)size);
    apx_tracker_adjust(j->tracker, (int64_t)size - (int64_t)d, 0);
}

/* The tracker's sink: forward to the user, and keep the catalog's view of
 * the download current without writing a document per chunk. */
int apx_pull_sink(const ap_event *ev, void *user)
{
    pull *j = user;
    int rc = 0;
    if (j->o->on_event)
        rc = j->o->on_event(ev, j->o->event_user);
    if (j->entry && !j->keep &&
        (ev->kind == AP_EVENT_PROGRESS || ev->kind == AP_EVENT_HEARTBEAT)) {
        uint64_t now = apx_now_ms();
        j->entry->done_bytes = ev->progress->bytes_done;
        if (ev->progress->bytes_total > j->entry->total_size)
            j->entry->total_size = ev->progress->bytes_total; /* learnt from the server */
        /* at most once a second, and never more than a tenth of the time:
         * the document of a 100,000-file entry takes a while to write */
        if (now - j->last_put_ms >= 1000 && now - j->last_put_ms >= 10 * j->put_cost_ms) {
            j->entry->updated = apx_wall_s();
            (void)ap_catalog_put(j->prov->catalog, j->entry);
            j->last_put_ms = apx_now_ms();
            j->put_cost_ms = j->last_put_ms - now;
        }
    }
    return rc;
}


int apx_pull_fail(pull *j, int status, const char *fmt, ...)
{
    va_list ap;
    char *m = j->prov->err.msg;
    size_t n = strlen(j->ref);
    va_start(ap, fmt);
    apx_error_vset(&j->prov->err, status, fmt, ap);
    va_end(ap);
    /* "REF: REF: cause" says the reference once: a plain URL's reference is
     * the URL that a transfer's message opens with too */
    if (n && strncmp(m, j->ref, n) == 0 && strncmp(m + n, ": ", 2) == 0 &&
        strncmp(m + n + 2, j->ref, n) == 0 && strncmp(m + 2 * n + 2, ": ", 2) == 0)
        memmove(m, m + n + 2, strlen(m + n + 2) + 1);
    return status;
}

/* Every loop over the files of a pull calls this once per file: a cancel
 * (AP_ECANCELLED) or an event callback's abort (AP_EUSER) stops it with
 * the pull's message, and the heartbeat goes on meanwhile (apx_pull_tick). */
int apx_pull_stopped(pull *j)
{
    int rc = apx_tick(0);
    if (rc == AP_ECANCELLED)
        return apx_pull_fail(j, rc, "%s: cancelled", j->ref);
    if (rc != 0)
        return apx_pull_fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    return AP_OK;
}

/* Take a store lock (exclusive, or shared), waiting as long as another pull
 * or process holds it, but stay cancellable and keep the heartbeat going
 * meanwhile. */
int apx_pull_lock_waiting(pull *j, const char *name, const char *what, int shared,
                        int *fd)
{
    int rc, said = 0, cfd = ap_cancel_token_fd(j->o->cancel);
    while ((rc = shared ? apx_store_lock_shared(j->prov->store, name, 1, fd)
                        : ap_store_trylock(j->prov->store, name, fd)) == AP_EBUSY) {
        struct pollfd pfd = { cfd, POLLIN, 0 };
        if (!said++) {
            char msg[256];
            apx_tracker_phase(j->tracker, "waiting", what);
            snprintf(msg, sizeof msg, "waiting for another download of %s", what);
            if (ap_tracker_log(j->tracker, AP_LOG_INFO, NULL, AP_OK, msg))
                return apx_pull_fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
        }
        if (cfd >= 0)
            (void)poll(&pfd, 1, 50);
        else {
            struct timespec ts = { 0, 50 * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (ap_cancel_is_set(j->o->cancel))
            return apx_pull_fail(j, AP_ECANCELLED, "%s: cancelled", j->ref);
        if (ap_tracker_tick(j->tracker))
            return apx_pull_fail(j, AP_EUSER, "%s: aborted by the event callback", j->ref);
    }
    if (said)
        apx_tracker_phase(j->tracker, "preparing", j->ref); /* the wait is over */
    return rc;
}
