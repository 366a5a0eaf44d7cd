/* libartifactprov — the download engine's range bookkeeping: a file is a
 * sorted list of disjoint byte ranges, gaps cut lazily into
 * chunks, finished neighbours merged.
 * SPDX-License-Identifier: MIT */
#include "fetch.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Ranges */

static int ranges_reserve(ffile *ff, size_t n)
{
    if (n > ff->capranges) {
        size_t cap = ff->capranges ? ff->capranges * 2 : 16;
        range *nj;
        while (cap < n)
            cap *= 2;
        nj = apx_realloc(ff->ranges, cap * sizeof *nj);
        if (!nj)
            return -1;
        ff->ranges = nj;
        ff->capranges = cap;
    }
    return 0;
}

int range_add(ffile *ff, uint64_t s, uint64_t e, uint64_t got, int st)
{
    range *j;
    if (ranges_reserve(ff, ff->nranges + 1))
        return -1;
    j = &ff->ranges[ff->nranges++];
    if (ff->nranges > ff->f->ranges_peak)
        ff->f->ranges_peak = ff->nranges;
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

/* Add one idle range for the gap [s, e); it is cut into ranges of ff->chunk
 * lazily, when the scheduler starts it (split_range), so the table never
 * grows with the size -- a server announcing 2^50 bytes costs one entry. */
static int add_gap(ffile *ff, uint64_t s, uint64_t e, uint64_t chunk)
{
    (void)chunk;
    return s < e ? range_add(ff, s, e, 0, RANGE_IDLE) : 0;
}

/* The range index of every live transfer of ff, after the table moved. */
static void fix_range_indexes(ffile *ff, size_t from)
{
    size_t i;
    for (i = from; i < ff->nranges; i++)
        if (ff->ranges[i].x && ff->ranges[i].state == RANGE_ACTIVE)
            ff->ranges[i].x->ji = i;
}

/* Cut an idle, untouched range longer than ff->chunk in two: [s, s+chunk)
 * stays at k, the rest becomes an idle range at k+1. */
int split_range(ffile *ff, size_t k)
{
    range *j = &ff->ranges[k];
    uint64_t s = j->start, e = j->end;
    if (e == UNK || j->got || !ff->chunk || e - s <= ff->chunk ||
        ff->mode == M_STREAM)
        return 0;
    if (ranges_reserve(ff, ff->nranges + 1))
        return -1;
    j = &ff->ranges[k];
    memmove(&ff->ranges[k + 2], &ff->ranges[k + 1],
            (ff->nranges - k - 1) * sizeof *j);
    ff->nranges++;
    if (ff->nranges > ff->f->ranges_peak)
        ff->f->ranges_peak = ff->nranges;
    j->end = s + ff->chunk;
    memset(&ff->ranges[k + 1], 0, sizeof *j);
    ff->ranges[k + 1].start = j->end;
    ff->ranges[k + 1].end = e;
    ff->ranges[k + 1].state = RANGE_IDLE;
    ff->ranges[k + 1].not_before = j->not_before;
    fix_range_indexes(ff, k + 2);
    return 0;
}

/* Merge neighbouring finished ranges, so the table holds the live ranges
 * plus the holes left by earlier runs, never one entry per chunk. */
void compact_done(ffile *ff)
{
    size_t i, o = 0;
    int moved = 0;
    if (ff->nranges < 2)
        return;
    for (i = 0; i < ff->nranges; i++) {
        range *j = &ff->ranges[i];
        if (o > 0) {
            range *p = &ff->ranges[o - 1];
            if (p->state == RANGE_DONE && j->state == RANGE_DONE &&
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
            ff->ranges[o] = *j;
            moved = 1;
        }
        o++;
    }
    ff->nranges = o;
    if (moved) {
        fix_range_indexes(ff, 0);
        ff->prefix_range = 0;
    }
}

/* Cover [0, total) with ranges: existing ranges are kept (they are sorted and
 * disjoint), gaps become idle ranges.  Fixes the range index of active xfers. */
int fill_gaps(ffile *ff, uint64_t total)
{
    range *old = ff->ranges;
    size_t nold = ff->nranges, i;
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
    ff->ranges = NULL;
    ff->nranges = ff->capranges = 0;
    pos = 0;
    for (i = 0; i < nold; i++) {
        if (old[i].start > pos && add_gap(ff, pos, old[i].start, chunk))
            goto oom;
        if (ranges_reserve(ff, ff->nranges + 1))
            goto oom;
        ff->ranges[ff->nranges] = old[i];
        if (old[i].x)
            old[i].x->ji = ff->nranges;
        ff->nranges++;
        if (ff->nranges > ff->f->ranges_peak)
            ff->f->ranges_peak = ff->nranges;
        pos = old[i].end;
    }
    if (total > pos && add_gap(ff, pos, total, chunk))
        goto oom;
    free(old);
    ff->prefix_range = 0;
    return 0;
oom:
    free(ff->ranges);
    ff->ranges = old;
    ff->nranges = ff->capranges = nold;
    return -1;
}

/* The file (re)starts with its probe: one ranged request for the first
 * chunk -- the whole file when it is smaller -- that learns the size and
 * whether the server honours ranges.  0, or -1 when out of memory. */
int range_probe(ffile *ff)
{
    uint64_t c = ff->F->o.chunk_size;
    ff->mode = M_PROBE;
    return range_add(ff, 0, ff->expect != UNK && ff->expect < c ? ff->expect : c,
                     0, RANGE_IDLE);
}
