/* libartifactprov — the build vendor (build:PATH/TO/RECIPE.json): shared
 * declarations.  SPDX-License-Identifier: MIT */
#ifndef AP_VENDOR_BUILD_H
#define AP_VENDOR_BUILD_H

#include <artifactprov/vendor.h>

#include "../common/apv.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define BUILD_HIDDEN __attribute__((visibility("hidden")))


/* One file of a provisioned input. */
typedef struct binput_file {
    char *input;   /* the recipe's input name */
    char *path;    /* relative path in the input's artifact */
    char *blob;    /* the store's copy (read only) */
    char *sha256;
} binput_file;

/* A parsed, validated recipe. */
typedef struct brecipe {
    char *path;            /* absolute (realpath) */
    char *name;            /* artifact name */
    int shell;
    char **argv;           /* shell: argv[0] is the command line */
    size_t argc;
    char **env_keys, **env_vals;
    size_t nenv;
    char **in_names, **in_refs;   /* sorted by name */
    size_t nin;
    char **outputs;
    size_t nout;
} brecipe;

/* A resolved build waiting for (or in) its downloads, one per call. */
typedef struct brun {
    ap_vendor_call *call;
    brecipe r;
    binput_file *files;
    size_t nfiles;
    char key[65];
    char *workdir;         /* set once built */
    int state;             /* 0 not run, 1 built, <0 failed with that status */
    char *errmsg;          /* the failure, repeated for later outputs */
    size_t copied;
    struct brun *next;
} brun;

typedef struct bstate {
    const ap_host *h;
    pthread_mutex_t mu;
    brun *runs;
} bstate;

BUILD_HIDDEN void brecipe_free(brecipe *r);
BUILD_HIDDEN int brecipe_parse(const ap_host *h, ap_vendor_call *call, const char *ref,
                               const char *path, const char *bytes, size_t len,
                               brecipe *r);
/* Expand {input:NAME}, {input:NAME/PATH} and {workdir} in `s`; quote the
 * substituted values for /bin/sh when `quote`.  NULL with the call's error
 * set on an unknown input or file (workdir NULL: only checks). */
BUILD_HIDDEN char *bexpand(const ap_host *h, ap_vendor_call *call, const char *ref,
                           const brun *run, const char *s, const char *workdir,
                           int quote);
/* Run the command in a fresh work directory; on AP_OK run->workdir holds
 * the outputs. */
BUILD_HIDDEN int brun_build(bstate *st, ap_vendor_call *call, const char *ref,
                            brun *run);
/* Remove a work directory and everything below it (links not followed). */
BUILD_HIDDEN void brm_rf(const char *dir);

#endif
