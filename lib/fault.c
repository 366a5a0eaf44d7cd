/* libartifactprov — test-only fault hooks; see fault.h and docs/TESTING.md.
 * This file compiles to nothing unless AP_FAULT_INJECTION is defined, so a
 * normal build has no fault symbol at all (t/integration/crash_matrix.t
 * checks with nm).  SPDX-License-Identifier: MIT */
#include "fault.h"

#ifdef AP_FAULT_INJECTION
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong point_hits;

void apx_fault_point(const char *name)
{
    const char *spec = getenv("AP_FAULT_KILL_AT");
    size_t n;
    unsigned long want = 1, hit;
    char line[160];
    int len;

    if (!spec || !name)
        return;
    n = strlen(name);
    if (strncmp(spec, name, n) != 0)
        return;
    if (spec[n] == ':') {
        char *end;
        want = strtoul(spec + n + 1, &end, 10);
        if (*end || want == 0)
            return;
    } else if (spec[n] != '\0') {
        return;
    }
    /* Only points of this name are counted (the spec names one point). */
    hit = atomic_fetch_add(&point_hits, 1) + 1;
    if (hit != want)
        return;
    len = snprintf(line, sizeof line, "ap-fault: SIGKILL at %s:%lu\n", name, hit);
    if (len > 0)
        (void)!write(STDERR_FILENO, line, (size_t)len);
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

static atomic_ulong alloc_fail_at, alloc_count, alloc_hit;

void apx_fault_alloc_fail_at(unsigned long n)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&alloc_hit, 0);
    atomic_store(&alloc_fail_at, n);
}

int apx_fault_alloc_fails(void)
{
    unsigned long at = atomic_load(&alloc_fail_at), c;
    if (at == 0)
        return 0;
    c = atomic_fetch_add(&alloc_count, 1) + 1;
    if (c != at)
        return 0;
    atomic_store(&alloc_hit, 1);
    return 1;
}

unsigned long apx_fault_alloc_count(void) { return atomic_load(&alloc_count); }
int apx_fault_alloc_hit(void) { return (int)atomic_load(&alloc_hit); }
#else
/* ISO C forbids an empty translation unit. */
typedef int apx_fault_compiled_out;
#endif
