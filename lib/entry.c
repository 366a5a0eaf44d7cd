/* libartifactprov — catalog entries as values: their status names, files
 * and ids.  The JSON document that stores one is lib/entry_json.c; no file
 * system here: lib/catalog.c reads and writes the documents.
 * SPDX-License-Identifier: MIT */
#include "internal.h"
#include "digest.h"
#include "formats.h"
#include "fs.h"
#include "entry.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ID 200

/* ---- entries ------------------------------------------------------------- */

AP_EXPORT const char *ap_entry_status_name(ap_entry_status status)
{
    switch (status) {
    case AP_ENTRY_PENDING: return "pending";
    case AP_ENTRY_DOWNLOADING: return "downloading";
    case AP_ENTRY_READY: return "ready";
    case AP_ENTRY_FAILED: return "failed";
    case AP_ENTRY_CANCELLED: return "cancelled";
    }
    return "unknown";
}

int apx_entry_status_from_name(const char *s, ap_entry_status *out)
{
    int i;
    for (i = AP_ENTRY_PENDING; i <= AP_ENTRY_CANCELLED; i++)
        if (!strcmp(s, ap_entry_status_name((ap_entry_status)i))) {
            *out = (ap_entry_status)i;
            return 1;
        }
    return 0;
}

static void file_clear(ap_entry_file *f)
{
    free(f->name);
    free(f->path);
    free(f->sha256);
    free(f->git_sha1);
    free(f->kind);
    free(f->format);
    free(f->precision);
    free(f->url);
    free(f->architecture);
    if (AP_ENTRY_FILE_HAS(f, verification))
        free(f->verification);
}

AP_EXPORT void ap_entry_free(ap_entry *e)
{
    size_t i;
    if (!e)
        return;
    for (i = 0; e->files && i < e->nfiles; i++)
        file_clear(&e->files[i]);
    free(e->files);
    free(e->id);
    free(e->vendor);
    free(e->ref);
    free(e->name);
    free(e->revision);
    free(e->error);
    free(e->requested);
    free(e);
}

AP_EXPORT const char *ap_file_status_name(ap_file_status status)
{
    switch (status) {
    case AP_FILE_PENDING: return "pending";
    case AP_FILE_DOWNLOADING: return "downloading";
    case AP_FILE_READY: return "ready";
    case AP_FILE_FAILED: return "failed";
    }
    return "unknown";
}

int apx_file_status_from_name(const char *s, ap_file_status *out)
{
    int i;
    for (i = AP_FILE_PENDING; i <= AP_FILE_FAILED; i++)
        if (!strcmp(s, ap_file_status_name((ap_file_status)i))) {
            *out = (ap_file_status)i;
            return 1;
        }
    return 0;
}

AP_EXPORT size_t ap_entry_file_count(const ap_entry *e)
{
    return e && e->files ? e->nfiles : 0;
}

/* The element size of e's files array: the first element's struct_size
 * (set by whoever built it), or this library's when it says 0. */
static size_t file_stride(const ap_entry *e)
{
    size_t sz = e->files[0].struct_size;
    return sz >= offsetof(ap_entry_file, parameters) + sizeof(uint64_t) ? sz
                                                                       : sizeof(ap_entry_file);
}

AP_EXPORT const ap_entry_file *ap_entry_file_at(const ap_entry *e, size_t i)
{
    if (!e || !e->files || i >= e->nfiles)
        return NULL;
    return (const ap_entry_file *)(const void *)((const char *)e->files + i * file_stride(e));
}

/* A file's status: its own member when the element has it, and READY
 * exactly when the blob is present. */
ap_file_status apx_entry_file_status(const ap_entry_file *f)
{
    if (f->present)
        return AP_FILE_READY;
    if ((!f->struct_size ||
         f->struct_size >= offsetof(ap_entry_file, status) + sizeof f->status) &&
        f->status != AP_FILE_READY && (unsigned)f->status <= AP_FILE_FAILED)
        return f->status;
    return AP_FILE_PENDING;
}

AP_EXPORT void ap_entry_list_free(ap_entry **list, size_t n)
{
    size_t i;
    if (!list)
        return;
    for (i = 0; i < n; i++)
        ap_entry_free(list[i]);
    free(list);
}

int apx_entry_id_valid(const char *id)
{
    return id && strlen(id) <= MAX_ID && apx_fs_valid_component(id);
}

AP_EXPORT int ap_entry_make_id(const char *vendor, const char *ref, char **out)
{
    apx_digest *d;
    char hex[65];
    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (!vendor || !ref || strlen(vendor) > 64 ||
        !apx_fs_valid_component(vendor))
        return AP_EINVAL;
    if (!(d = apx_digest_new(APX_SHA256)))
        return AP_ENOMEM;
    apx_digest_update(d, vendor, strlen(vendor));
    apx_digest_update(d, "\n", 1);
    apx_digest_update(d, ref, strlen(ref));
    apx_digest_final_hex(d, hex);
    apx_digest_free(d);
    *out = apx_asprintf("%s-%.16s", vendor, hex);
    return *out ? AP_OK : AP_ENOMEM;
}
