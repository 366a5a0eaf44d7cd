/* libartifactprov — catalog entries as values: their status names, files,
 * ids, and the JSON document that stores one (format in docs/store.md).
 * No file system here: lib/catalog.c reads and writes the documents.
 * SPDX-License-Identifier: MIT */
#include "internal.h"
#include "digest.h"
#include "formats.h"
#include "fs.h"
#include "entry.h"

#include <ctype.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FORMAT_VERSION 1
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

static int status_from_name(const char *s, ap_entry_status *out)
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
static ap_file_status file_status(const ap_entry_file *f)
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

/* ---- JSON ---------------------------------------------------------------- */

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Lower-cased copy as a JSON string (kind, format, precision). */
static json_t *jlower(const char *s)
{
    char *c;
    json_t *j;
    size_t i;
    if (!s)
        return json_null();
    if (!(c = apx_strdup(s)))
        return NULL;
    for (i = 0; c[i]; i++)
        c[i] = (char)tolower((unsigned char)c[i]);
    j = json_string(c);
    free(c);
    return j;
}

static json_t *juint(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX
                                                       : (json_int_t)v);
}

static int set(json_t *obj, const char *key, json_t *val)
{
    return val ? json_object_set_new(obj, key, val) : -1;
}

json_t *apx_entry_json_obj(const ap_entry *e)
{
    json_t *o = json_object(), *files = json_array();
    size_t i;
    int bad = 0;

    if (!o || !files) {
        json_decref(o);
        json_decref(files);
        return NULL;
    }
    bad |= set(o, "format_version", json_integer(FORMAT_VERSION));
    bad |= set(o, "id", jstr(e->id));
    bad |= set(o, "vendor", jstr(e->vendor));
    bad |= set(o, "ref", jstr(e->ref));
    if (e->requested)
        bad |= set(o, "requested", jstr(e->requested));
    bad |= set(o, "name", jstr(e->name));
    bad |= set(o, "revision", jstr(e->revision));
    bad |= set(o, "status", json_string(ap_entry_status_name(e->status)));
    bad |= set(o, "error", jstr(e->error));
    bad |= set(o, "total_size", juint(e->total_size));
    bad |= set(o, "done_bytes", juint(e->done_bytes));
    bad |= set(o, "fetched_bytes", juint(e->fetched_bytes));
    bad |= set(o, "created", json_integer((json_int_t)e->created));
    bad |= set(o, "updated", json_integer((json_int_t)e->updated));
    for (i = 0; i < e->nfiles && e->files; i++) {
        const ap_entry_file *f = ap_entry_file_at(e, i); /* a caller's array too */
        json_t *jf = json_object();
        if (!jf) {
            bad = 1;
            break;
        }
        bad |= set(jf, "name", jstr(f->name));
        bad |= set(jf, "path", jstr(f->path));
        bad |= set(jf, "size", juint(f->size));
        bad |= set(jf, "sha256", jstr(f->sha256));
        bad |= set(jf, "git_sha1", jstr(f->git_sha1));
        bad |= set(jf, "kind", jlower(f->kind));
        bad |= set(jf, "format", jlower(f->format));
        bad |= set(jf, "precision", jlower(f->precision));
        bad |= set(jf, "url", jstr(f->url));
        bad |= set(jf, "present", json_boolean(f->present));
        bad |= set(jf, "architecture", jstr(f->architecture));
        bad |= set(jf, "parameters", juint(f->parameters));
        bad |= set(jf, "status", json_string(ap_file_status_name(file_status(f))));
        if (AP_ENTRY_FILE_HAS(f, verification) && f->verification)
            bad |= set(jf, "verification", jstr(f->verification));
        bad |= json_array_append_new(files, jf);
    }
    bad |= json_object_set_new(o, "files", files);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

AP_EXPORT int ap_entry_to_json(const ap_entry *entry, char **out)
{
    json_t *o;
    char *s;
    if (!out)
        return apx_error_set(NULL, AP_EINVAL, "ap_entry_to_json: no output pointer");
    *out = NULL;
    if (!entry)
        return apx_error_set(NULL, AP_EINVAL, "ap_entry_to_json: no entry");
    if (!(o = apx_entry_json_obj(entry)))
        return apx_error_set(NULL, AP_ENOMEM, "entry '%s': cannot represent it as "
                             "JSON (out of memory, or a string that is not UTF-8)",
                             entry->id ? entry->id : "(no id)");
    s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) { /* jansson drops an object key whose allocation failed and still
              * returns the text: write only what parses back to the same */
        json_t *back = json_loads(s, 0, NULL);
        if (!back || !json_equal(o, back)) {
            free(s);
            s = NULL;
        }
        json_decref(back);
    }
    json_decref(o);
    if (!s)
        return apx_error_set(NULL, AP_ENOMEM, "entry '%s': cannot serialise the "
                             "JSON document: out of memory",
                             entry->id ? entry->id : "(no id)");
    *out = apx_strdup(s);
    free(s);
    return *out ? AP_OK : apx_error_set(NULL, AP_ENOMEM, "entry '%s': out of memory",
                                        entry->id ? entry->id : "(no id)");
}

/* Optional string member: absent or null → NULL; other types are corrupt. */
static int get_str(json_t *o, const char *key, int required, char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? AP_ECORRUPT : AP_OK;
    if (!json_is_string(v))
        return AP_ECORRUPT;
    if (!(*out = apx_strndup(json_string_value(v), json_string_length(v))))
        return AP_ENOMEM;
    if (strlen(*out) != json_string_length(v)) {   /* embedded NUL */
        free(*out);
        *out = NULL;
        return AP_ECORRUPT;
    }
    return AP_OK;
}

static int get_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (!v || json_is_null(v))
        return AP_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return AP_ECORRUPT;
    *out = (uint64_t)json_integer_value(v);
    return AP_OK;
}

static int get_i64(json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (!v || json_is_null(v))
        return AP_OK;
    if (!json_is_integer(v))
        return AP_ECORRUPT;
    *out = (int64_t)json_integer_value(v);
    return AP_OK;
}

static int file_from_obj(json_t *jf, ap_entry_file *f)
{
    json_t *p;
    int rc;
    if (!json_is_object(jf))
        return AP_ECORRUPT;
    if ((rc = get_str(jf, "name", 1, &f->name)) ||
        (rc = get_str(jf, "path", 0, &f->path)) ||
        (rc = get_u64(jf, "size", &f->size)) ||
        (rc = get_str(jf, "sha256", 0, &f->sha256)) ||
        (rc = get_str(jf, "git_sha1", 0, &f->git_sha1)) ||
        (rc = get_str(jf, "kind", 0, &f->kind)) ||
        (rc = get_str(jf, "format", 0, &f->format)) ||
        (rc = get_str(jf, "precision", 0, &f->precision)) ||
        (rc = get_str(jf, "url", 0, &f->url)) ||
        (rc = get_str(jf, "architecture", 0, &f->architecture)) ||
        (rc = get_u64(jf, "parameters", &f->parameters)) ||
        (rc = get_str(jf, "verification", 0, &f->verification)))
        return rc;
    if (ap_path_validate(f->name) != AP_OK)
        return AP_ECORRUPT;
    if (f->sha256 && !apx_is_sha256_hex(f->sha256))
        return AP_ECORRUPT;
    p = json_object_get(jf, "present");
    if (json_is_boolean(p))
        f->present = json_is_true(p);
    else if (json_is_integer(p))
        f->present = json_integer_value(p) != 0;
    else if (p && !json_is_null(p))
        return AP_ECORRUPT;
    /* a document older than the member: the present flag tells */
    f->status = f->present ? AP_FILE_READY : AP_FILE_PENDING;
    p = json_object_get(jf, "status");
    if (json_is_string(p)) {
        int k;
        for (k = AP_FILE_PENDING; k <= AP_FILE_FAILED; k++)
            if (!strcmp(json_string_value(p), ap_file_status_name((ap_file_status)k)))
                break;
        if (k > AP_FILE_FAILED || (k == AP_FILE_READY) != (f->present != 0))
            return AP_ECORRUPT;
        f->status = (ap_file_status)k;
    } else if (p && !json_is_null(p))
        return AP_ECORRUPT;
    return AP_OK;
}

static int entry_from_obj(json_t *o, ap_entry *e, const char **why)
{
    json_t *v, *files, *jf;
    char *status = NULL;
    size_t i;
    int rc;

    *why = "not a JSON object";
    if (!json_is_object(o))
        return AP_ECORRUPT;
    *why = "missing or unsupported format_version";
    v = json_object_get(o, "format_version");
    if (!json_is_integer(v) || json_integer_value(v) != FORMAT_VERSION)
        return AP_ECORRUPT;
    *why = "bad or missing member";
    if ((rc = get_str(o, "id", 1, &e->id)) ||
        (rc = get_str(o, "vendor", 0, &e->vendor)) ||
        (rc = get_str(o, "ref", 0, &e->ref)) ||
        (rc = get_str(o, "requested", 0, &e->requested)) ||
        (rc = get_str(o, "name", 0, &e->name)) ||
        (rc = get_str(o, "revision", 0, &e->revision)) ||
        (rc = get_str(o, "error", 0, &e->error)) ||
        (rc = get_u64(o, "total_size", &e->total_size)) ||
        (rc = get_u64(o, "done_bytes", &e->done_bytes)) ||
        (rc = get_u64(o, "fetched_bytes", &e->fetched_bytes)) ||
        (rc = get_i64(o, "created", &e->created)) ||
        (rc = get_i64(o, "updated", &e->updated)))
        return rc;
    *why = "invalid id";
    if (!apx_entry_id_valid(e->id))
        return AP_ECORRUPT;
    *why = "bad status";
    if ((rc = get_str(o, "status", 1, &status)) != AP_OK)
        return rc;
    rc = status_from_name(status, &e->status) ? AP_OK : AP_ECORRUPT;
    free(status);
    if (rc)
        return rc;
    *why = "bad files array";
    files = json_object_get(o, "files");
    if (!files || json_is_null(files))
        return AP_OK;
    if (!json_is_array(files))
        return AP_ECORRUPT;
    if (json_array_size(files) > 0 &&
        !(e->files = apx_calloc(json_array_size(files), sizeof *e->files)))
        return AP_ENOMEM;
    json_array_foreach(files, i, jf) {
        e->nfiles = i + 1;
        e->files[i].struct_size = sizeof e->files[i];
        if ((rc = file_from_obj(jf, &e->files[i])) != AP_OK)
            return rc;
    }
    return AP_OK;
}

int apx_entry_parse(const char *json, size_t len, ap_entry **out,
                     char *why, size_t why_len)
{
    json_error_t jerr;
    json_t *o;
    ap_entry *e;
    const char *w = "";
    int rc;

    *out = NULL;
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        if (why)
            snprintf(why, why_len, "bad JSON: %s (line %d)", jerr.text,
                     jerr.line);
        return AP_ECORRUPT;
    }
    if (!(e = apx_calloc(1, sizeof *e))) {
        json_decref(o);
        return AP_ENOMEM;
    }
    e->struct_size = sizeof *e;
    rc = entry_from_obj(o, e, &w);
    json_decref(o);
    if (rc != AP_OK) {
        if (why)
            snprintf(why, why_len, "%s", rc == AP_ENOMEM ? "out of memory" : w);
        ap_entry_free(e);
        return rc;
    }
    *out = e;
    return AP_OK;
}

AP_EXPORT int ap_entry_from_json(const char *json, size_t len, ap_entry **out)
{
    char why[256] = "";
    int rc;
    if (!out)
        return apx_error_set(NULL, AP_EINVAL, "ap_entry_from_json: no output pointer");
    *out = NULL;
    if (!json)
        return apx_error_set(NULL, AP_EINVAL, "ap_entry_from_json: no document");
    rc = apx_entry_parse(json, len, out, why, sizeof why);
    if (rc != AP_OK)
        return apx_error_set(NULL, rc, "catalog entry document (%zu bytes): %s", len,
                             why[0] ? why : ap_strerror(rc));
    return AP_OK;
}
