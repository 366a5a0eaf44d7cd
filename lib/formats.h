/* libartifactprov — internal: bounded header parsers for model file formats
 * (GGUF, safetensors) and name-based classification.  Used by
 * ap_classify() and the fuzz targets.
 * SPDX-License-Identifier: MIT */
#ifndef AP_FORMATS_H
#define AP_FORMATS_H

#include "internal.h"

/* Hard limits: a header that exceeds them is refused (AP_ECORRUPT) before
 * anything of that size is allocated or walked.  GGUF strings and arrays
 * have no limit of their own: they are skipped whatever their size, and
 * every count is checked against the bytes left in the file. */
#define APX_GGUF_MAX_KV        65536u
#define APX_GGUF_MAX_ITEMS     (1u << 26)  /* string/array items walked one
                                              by one, whole header */
#define APX_GGUF_MAX_TENSORS   (1u << 24)
#define APX_ST_MAX_HEADER      (100u << 20)        /* safetensors JSON */

/* Where the bytes come from: a memory buffer (mem != NULL) or a file
 * descriptor read with pread (fd >= 0).  len is the total size. */
typedef struct apx_src {
    const unsigned char *mem;
    int fd;
    uint64_t len;
} apx_src;

/* Read exactly n bytes at off: AP_OK, AP_ECORRUPT when the source ends
 * first (truncated), AP_EIO on a read error. */
APX_HIDDEN int apx_src_pread(const apx_src *src, uint64_t off, void *buf,
                             size_t n);

/* What a header told us.  Strings are NUL-terminated, empty when unknown. */
typedef struct apx_model_info {
    char format[16];        /* "gguf", "safetensors" */
    char precision[16];     /* lower case: "q4_k_m", "f16", "bf16", ... */
    char architecture[64];  /* GGUF general.architecture */
    char name[128];         /* GGUF general.name */
    uint64_t parameters;    /* GGUF general.parameter_count, else the sum
                               of the tensor elements (GGUF tensor infos,
                               safetensors shapes); 0 unknown */
    uint64_t tensor_count;
    uint64_t kv_count;      /* GGUF only */
    uint32_t version;       /* GGUF version */
    int64_t file_type;      /* GGUF general.file_type, -1 when absent */
    uint64_t header_bytes;  /* bytes of header parsed */
} apx_model_info;

/* Parse a GGUF v2/v3 little-endian header and its key-values.
 * AP_OK, AP_ECORRUPT (bad magic, truncated, limits exceeded),
 * AP_EUNSUPPORTED (other versions), AP_ENOMEM, AP_EIO. */
APX_HIDDEN int apx_gguf_parse(const apx_src *src, apx_model_info *info,
                              apx_error *err);

/* llama.cpp LLAMA_FTYPE value → lower-case name, NULL when unknown. */
APX_HIDDEN const char *apx_gguf_ftype_name(int64_t ftype);

/* Parse a safetensors header (u64 LE length + JSON).  Same codes. */
APX_HIDDEN int apx_safetensors_parse(const apx_src *src, apx_model_info *info,
                                     apx_error *err);

/* Name-based classification: kind ("model", "config", "tokenizer",
 * "other"), format (static string or NULL) and precision (lower case into
 * prec, empty when unknown) from the file name (a relative path; only
 * its last component counts). */
APX_HIDDEN void apx_classify_name(const char *name, const char **kind,
                                  const char **format, char prec[16]);

/* Precision token in a file name (e.g. "Q4_K_M" followed by '.' or '-',
 * case-insensitive) → lower-case into prec; 1 when found. */
APX_HIDDEN int apx_precision_from_name(const char *name, char prec[16]);

/* Classify a file by header, falling back to its name.  Returns AP_OK, or
 * AP_ECORRUPT when the file announces a format whose header is malformed
 * (the name-based answer is still filled in). */
APX_HIDDEN int apx_classify(const char *path, const char *name,
                            const char **kind, const char **format,
                            char prec[16], apx_model_info *info,
                            apx_error *err);

#endif
