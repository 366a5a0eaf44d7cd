/* libartifactprov — catalog entries as values and their JSON document
 * (lib/entry.c), for the catalog that stores them (lib/catalog.c).
 * SPDX-License-Identifier: MIT */
#ifndef APX_ENTRY_H
#define APX_ENTRY_H

#include <jansson.h>
#include <stddef.h>

#include "artifactprov/catalog.h"

/* Is id a valid entry id (a file name component of at most 200 bytes)? */
int apx_entry_id_valid(const char *id);
/* The entry as its JSON document object (new reference), NULL when out of
 * memory. */
json_t *apx_entry_json_obj(const ap_entry *e);
/* Parse one JSON document into a new entry.  AP_OK, AP_ECORRUPT (why says
 * what is wrong, when why is not NULL) or AP_ENOMEM. */
int apx_entry_parse(const char *json, size_t len, ap_entry **out,
                    char *why, size_t why_len);

#endif
