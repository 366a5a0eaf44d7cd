/* libartifactprov — test-only fault hooks (docs/TESTING.md).
 *
 * APX_FAULT("name") marks a named point on the way of a pull (resolve,
 * mid-chunk, verify, commit-rename, catalog-write, hf-publish).  In a normal
 * build it is ((void)0): no code, no symbol.  In a fault build
 * (-DAP_FAULT_INJECTION=1, build/fault/) it calls apx_fault_point(), which
 * kills the process with SIGKILL when the environment variable
 * AP_FAULT_KILL_AT is "name" (the first time the point is reached) or
 * "name:N" (the Nth time).  Before dying it writes one line
 * "ap-fault: SIGKILL at name:N" to stderr, so a test can tell which point
 * stopped the process.
 *
 * Allocation failures: in a fault build apx_malloc, apx_calloc,
 * apx_realloc (and so apx_strdup, apx_strndup, apx_asprintf) ask
 * apx_fault_alloc_fails() first; after apx_fault_alloc_fail_at(n) the nth
 * allocation counted from that call fails (returns NULL), and only that
 * one.  SPDX-License-Identifier: MIT */
#ifndef AP_FAULT_H
#define AP_FAULT_H

#include "internal.h"

#ifdef AP_FAULT_INJECTION
APX_HIDDEN void apx_fault_point(const char *name);
/* Fail the nth allocation from now on (1 = the next one); 0 turns it off
 * and resets the counters. */
APX_HIDDEN void apx_fault_alloc_fail_at(unsigned long n);
/* 1 when this allocation is to fail (counts it). */
APX_HIDDEN int apx_fault_alloc_fails(void);
/* Allocations counted since apx_fault_alloc_fail_at(), and whether the
 * failure was injected. */
APX_HIDDEN unsigned long apx_fault_alloc_count(void);
APX_HIDDEN int apx_fault_alloc_hit(void);
#define APX_FAULT(name) apx_fault_point(name)
#define APX_FAULT_IF(cond, name) ((cond) ? apx_fault_point(name) : (void)0)
#else
#define APX_FAULT(name) ((void)0)
#define APX_FAULT_IF(cond, name) ((void)0)
#endif

#endif
