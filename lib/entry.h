/* libartifactprov — catalog entries as values (lib/entry.c) and their JSON
 * document (lib/entry_json.c), for the catalog that stores them
 * (lib/catalog.c).
 * SPDX-License-Identifier: MIT */
#ifndef APX_ENTRY_H
#define APX_ENTRY_H

#include <stddef.h>

#include "artifactprov/catalog.h"

/* Is id a valid entry id (a file name component of at most 200 bytes)? */
int apx_entry_id_valid(const char *id);
/* The entry status called s (ap_entry_status_name's words): 1 and *out,
 * or 0 when s names none. */
int apx_entry_status_from_name(const char *s, ap_entry_status *out);
/* The file status called s (ap_file_status_name's words): 1 and *out, or
 * 0 when s names none. */
int apx_file_status_from_name(const char *s, ap_file_status *out);
/* A file's status: its own member when the element has it (a caller's
 * older, shorter ap_entry_file may not), and READY exactly when the blob is
 * present. */
ap_file_status apx_entry_file_status(const ap_entry_file *f);

/* The entry as its JSON document (apx_malloc'd, NUL-terminated, its length
 * in *len when len is not NULL): NULL when out of memory or when a string
 * of the entry is not UTF-8. */
char *apx_entry_json_text(const ap_entry *e, size_t *len);
/* Parse one JSON document of len bytes (no NUL needed) into a new entry.
 * AP_OK, AP_ECORRUPT (why says what is wrong, when why is not NULL) or
 * AP_ENOMEM. */
int apx_entry_parse(const char *json, size_t len, ap_entry **out,
                    char *why, size_t why_len);

#endif
