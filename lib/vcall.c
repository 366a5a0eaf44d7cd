/* libartifactprov — a call of a vendor (ap_vendor_call) as the library
 * keeps it: made for one reference, with the files the vendor added,
 * cleared after.  Used by the provisioner, its plan and interop.
 * SPDX-License-Identifier: MIT */
#include "prov.h"

#include <stdlib.h>
#include <string.h>

void apx_call_init(ap_vendor_call *call, ap_provisioner *prov, apx_vendor *v,
                   const char *ref, ap_cancel_token *cancel)
{
    memset(call, 0, sizeof *call);
    call->prov = prov;
    call->vendor = v;
    call->ref = ref;
    call->cancel = cancel;
}

void apx_call_clear(ap_vendor_call *call)
{
    size_t i;
    for (i = 0; i < call->nfiles; i++)
        apx_mfile_clear(&call->files[i]);
    free(call->files);
    free(call->name);
    free(call->revision);
    free(call->canonical);
    call->files = NULL;
    call->nfiles = call->cap = 0;
    call->name = call->revision = call->canonical = NULL;
}

void apx_mfile_clear(apx_mfile *f)
{
    size_t i;
    free(f->path);
    free(f->sha256);
    free(f->git_sha1);
    free(f->url);
    if (f->bearer) /* tokens are wiped, not just freed */
        apx_wipe(f->bearer, strlen(f->bearer));
    free(f->bearer);
    free(f->bearer_host);
    free(f->etag);
    free(f->local_path);
    free(f->describe);
    free(f->local_root);
    free(f->signature);
    free(f->public_key);
    for (i = 0; f->headers && f->headers[i]; i++)
        free(f->headers[i]);
    free(f->headers);
    memset(f, 0, sizeof *f);
}
