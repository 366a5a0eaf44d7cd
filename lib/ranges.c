/* libartifactprov — the download engine's range bookkeeping: a file is a
 * sorted list of disjoint byte ranges ("jobs"), gaps cut lazily into
 * chunks, finished neighbours merged.
 * SPDX-License-Identifier: MIT */
#include "fetch.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Jobs */

static int jobs_reserve(ffile *ff, size_t n)
{
    if (n > ff->capjobs) {
        size_t cap = ff->capjobs ? ff->capjobs * 2 : 16;
        job *nj;
        while (cap < n)
            cap *= 2;
        nj = apx_realloc(ff->jobs, cap * sizeof *nj);
        if (!nj)
            return -1;
        ff->jobs = nj;
        ff->capjobs = cap;
    }
    return 0;
}

int job_add(ffile *ff, uint64_t s, uint64_t e, uint64_t got, int st)
{
    job *j;
    if (jobs_reserve(ff, ff->njobs + 1))
        return -1;
    j = &ff->jobs[ff->njobs++];
    if (ff->njobs > ff->f->ranges_peak)
        ff->f->ranges_peak = ff->njobs;
    memset(j, 0, sizeof *j);
    j->start = s;
    j->end = e;
    j->got = got;
    j->state = st;
    return 0;
}

uint64_t chunk_for(const fetch *F, uint64_t remaining)
{
    uint64_t c = F->o.chunk_size, floor_c = c < MIB ? c : MIB, per;
    unsigned conns = F->o.connections_per_file + (F->ad.cap - F->ad.floor);
    per = conns ? (remaining + conns - 1) / conns : remaining;
    if (per < floor_c)
        per = floor_c;
    return per < c ? per : c;
}

/* Add one idle job for the gap [s, e); it is cut into ranges of ff->chunk
 * lazily, when the scheduler starts it (split_job), so the table never
 * grows with the size -- a server announcing 2^50 bytes costs one entry. */
static int add_gap(ffile *ff, uint64_t s, uint64_t e, uint64_t chunk)
{
    (void)chunk;
    return s < e ? job_add(ff, s, e, 0, JOB_IDLE) : 0;
}

/* The job index of every live transfer of ff, after the table moved. */
static void fix_job_indexes(ffile *ff, size_t from)
{
    size_t i;
    for (i = from; i < ff->njobs; i++)
        if (ff->jobs[i].x && ff->jobs[i].state == JOB_ACTIVE)
            ff->jobs[i].x->ji = i;
}

/* Cut an idle, untouched job longer than ff->chunk in two: [s, s+chunk)
 * stays at k, the rest becomes an idle job at k+1. */
int split_job(ffile *ff, size_t k)
{
    job *j = &ff->jobs[k];
    uint64_t s = j->start, e = j->end;
    if (e == UNK || j->got || !ff->chunk || e - s <= ff->chunk ||
        ff->mode == M_STREAM)
        return 0;
    if (jobs_reserve(ff, ff->njobs + 1))
        return -1;
    j = &ff->jobs[k];
    memmove(&ff->jobs[k + 2], &ff->jobs[k + 1],
            (ff->njobs - k - 1) * sizeof *j);
    ff->njobs++;
    if (ff->njobs > ff->f->ranges_peak)
        ff->f->ranges_peak = ff->njobs;
    j->end = s + ff->chunk;
    memset(&ff->jobs[k + 1], 0, sizeof *j);
    ff->jobs[k + 1].start = j->end;
    ff->jobs[k + 1].end = e;
    ff->jobs[k + 1].state = JOB_IDLE;
    ff->jobs[k + 1].not_before = j->not_before;
    fix_job_indexes(ff, k + 2);
    return 0;
}

/* Merge neighbouring finished jobs, so the table holds the live ranges
 * plus the holes left by earlier runs, never one entry per chunk. */
void compact_done(ffile *ff)
{
    size_t i, o = 0;
    int moved = 0;
    if (ff->njobs < 2)
        return;
    for (i = 0; i < ff->njobs; i++) {
        job *j = &ff->jobs[i];
        if (o > 0) {
            job *p = &ff->jobs[o - 1];
            if (p->state == JOB_DONE && j->state == JOB_DONE &&
                p->end != UNK && p->end == j->start &&
                p->got == p->end - p->start && j->end != UNK &&
                j->got == j->end - j->start) {
                p->end = j->end;
                p->got += j->got;
                moved = 1;
                continue;
            }
        }
        if (o != i) {
            ff->jobs[o] = *j;
            moved = 1;
        }
        o++;
    }
    ff->njobs = o;
    if (moved) {
        fix_job_indexes(ff, 0);
        ff->prefix_job = 0;
    }
}

/* Cover [0, total) with jobs: existing jobs are kept (they are sorted and
 * disjoint), gaps become idle jobs.  Fixes the job index of active xfers. */
int fill_gaps(ffile *ff, uint64_t total)
{
    job *old = ff->jobs;
    size_t nold = ff->njobs, i;
    uint64_t pos = 0, missing = 0, chunk;
    for (i = 0; i < nold; i++) {
        if (old[i].start > pos)
            missing += old[i].start - pos;
        pos = old[i].end;
    }
    if (total > pos)
        missing += total - pos;
    chunk = chunk_for(ff->F, missing);
    ff->chunk = chunk;
    ff->jobs = NULL;
    ff->njobs = ff->capjobs = 0;
    pos = 0;
    for (i = 0; i < nold; i++) {
        if (old[i].start > pos && add_gap(ff, pos, old[i].start, chunk))
            goto oom;
        if (jobs_reserve(ff, ff->njobs + 1))
            goto oom;
        ff->jobs[ff->njobs] = old[i];
        if (old[i].x)
            old[i].x->ji = ff->njobs;
        ff->njobs++;
        if (ff->njobs > ff->f->ranges_peak)
            ff->f->ranges_peak = ff->njobs;
        pos = old[i].end;
    }
    if (total > pos && add_gap(ff, pos, total, chunk))
        goto oom;
    free(old);
    ff->prefix_job = 0;
    return 0;
oom:
    free(ff->jobs);
    ff->jobs = old;
    ff->njobs = ff->capjobs = nold;
    return -1;
}
