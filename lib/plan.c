/* libartifactprov — notes about a plan before anything is fetched.
 * SPDX-License-Identifier: MIT
 *
 * A reference to a whole repository may name several GGUF quantisations of
 * one model (x.Q4_K_M.gguf, x.Q8_0.gguf, ...), when the user usually wants
 * one.  Right after the RESOLVE event, the provisioner calls
 * apx_plan_note(): when the files still to fetch hold GGUF files of two or
 * more precisions (from their names, as ap_classify() reads them; the
 * parts of a split file count once), it emits one LOG event at INFO level,
 * file NULL, status AP_OK, whose message gives the total size, each
 * precision with its size, and the grammar of the vendor (its `usage`)
 * through which a reference names one.  No vendor is named: the grammar is
 * the vendor's own text.  docs/engine.md "Plan notes". */
#include "internal.h"
#include "formats.h"
#include "progress.h"

#include <artifactprov/sys/tracker.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define PLAN_MAX_QUANTS 32

void apx_plan_note(ap_tracker *t, const ap_entry *e, const char *usage)
{
    struct { char prec[16]; uint64_t size; } q[PLAN_MAX_QUANTS];
    size_t nq = 0, i, k, used;
    uint64_t total = 0;
    char msg[2048], sz[32];
    int n;
    if (!t || !e)
        return;
    for (i = 0; i < ap_entry_file_count(e); i++) {
        const ap_entry_file *f = ap_entry_file_at(e, i);
        const char *kind, *format;
        char prec[16];
        if (f->present)
            continue;
        total += f->size;
        apx_classify_name(f->name, &kind, &format, prec);
        if (!format || strcmp(format, "gguf") != 0 || !prec[0])
            continue;
        for (k = 0; k < nq && strcmp(q[k].prec, prec) != 0; k++)
            ;
        if (k == nq) {
            if (nq == PLAN_MAX_QUANTS)
                continue;
            memcpy(q[nq].prec, prec, sizeof prec);
            q[nq++].size = 0;
        }
        q[k].size += f->size;
    }
    if (nq < 2)
        return;
    ap_format_size(total, sz, sizeof sz);
    n = snprintf(msg, sizeof msg, "%zu GGUF quantisations to fetch, %s in all:", nq, sz);
    used = n > 0 ? (size_t)n : 0;
    for (k = 0; k < nq && used < sizeof msg; k++) {
        char *c;
        for (c = q[k].prec; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        ap_format_size(q[k].size, sz, sizeof sz);
        n = snprintf(msg + used, sizeof msg - used, "%s %s (%s)", k ? "," : "",
                     q[k].prec, sz);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < sizeof msg)
        snprintf(msg + used, sizeof msg - used, "; a reference naming one quantisation "
                 "fetches only it (%s)", usage && *usage ? usage : "see the vendor's "
                 "reference grammar");
    (void)ap_tracker_log(t, AP_LOG_INFO, NULL, AP_OK, msg);
}
