/* libartifactprov — file classification: kind, format, precision.
 *
 * The header decides when there is one we understand (GGUF magic,
 * safetensors length + JSON); the file name is the fallback.  See
 * docs/store.md "Classification".
 * SPDX-License-Identifier: MIT */
#include "formats.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Precision tokens, longest first where one is a prefix of another. */
static const char *const prec_tokens[] = {
    "iq2_xxs", "iq3_xxs", "iq1_s", "iq1_m", "iq2_xs", "iq2_s", "iq2_m",
    "iq3_xs", "iq3_s", "iq3_m", "iq4_nl", "iq4_xs",
    "q2_k_s", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s",
    "q5_k_m", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k",
    "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "tq1_0", "tq2_0", "mxfp4",
    "bf16", "f16", "f32", "fp16", "fp32", "fp8", "int8", "int4",
    NULL
};

static const char *base_name(const char *name)
{
    const char *s = strrchr(name, '/');
    return s ? s + 1 : name;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcasecmp(s + ls - lx, suffix);
}

static int is_sep(char c)
{
    return c == '.' || c == '-' || c == '_';
}

int apx_precision_from_name(const char *name, char prec[16])
{
    const char *b = base_name(name);
    size_t i, n = strlen(b);
    prec[0] = '\0';
    for (i = 0; i < n; i++) {
        size_t t;
        if (i > 0 && !is_sep(b[i - 1]))
            continue;
        for (t = 0; prec_tokens[t]; t++) {
            size_t lt = strlen(prec_tokens[t]);
            char after;
            if (i + lt > n || strncasecmp(b + i, prec_tokens[t], lt) != 0)
                continue;
            after = b[i + lt];
            if (after != '.' && after != '-')
                continue;
            if (!strcmp(prec_tokens[t], "fp16"))
                strcpy(prec, "f16");
            else if (!strcmp(prec_tokens[t], "fp32"))
                strcpy(prec, "f32");
            else
                strcpy(prec, prec_tokens[t]);
            return 1;
        }
    }
    return 0;
}

void apx_classify_name(const char *name, const char **kind,
                       const char **format, char prec[16])
{
    const char *b = base_name(name ? name : "");
    const char *k = "other", *f = NULL;
    int weights = 0;

    prec[0] = '\0';
    if (ends_with_ci(b, ".gguf")) {
        f = "gguf";
        weights = 1;
    } else if (ends_with_ci(b, ".safetensors")) {
        f = "safetensors";
        weights = 1;
    } else if (ends_with_ci(b, ".bin") || ends_with_ci(b, ".pt") ||
               ends_with_ci(b, ".pth") || ends_with_ci(b, ".ckpt")) {
        f = "pytorch";
        weights = 1;
    } else if (ends_with_ci(b, ".onnx")) {
        f = "onnx";
        weights = 1;
    } else if (ends_with_ci(b, ".tflite")) {
        f = "tflite";
        weights = 1;
    } else if (ends_with_ci(b, ".json")) {
        f = "json";
    } else if (ends_with_ci(b, ".yaml") || ends_with_ci(b, ".yml")) {
        f = "yaml";
    } else if (ends_with_ci(b, ".txt") || ends_with_ci(b, ".md")) {
        f = "text";
    } else if (ends_with_ci(b, ".tiktoken")) {
        f = "tiktoken";
    } else if (!strcasecmp(b, "tokenizer.model")) {
        f = "sentencepiece";
    }

    if (weights) {
        k = "model";
        apx_precision_from_name(b, prec);
    } else if ((!strncasecmp(b, "tokenizer", 9) && ends_with_ci(b, ".json")) ||
               !strcasecmp(b, "tokenizer.model") ||
               ends_with_ci(b, ".tiktoken") || !strncasecmp(b, "vocab.", 6) ||
               !strcasecmp(b, "merges.txt") ||
               !strcasecmp(b, "special_tokens_map.json") ||
               !strcasecmp(b, "added_tokens.json")) {
        k = "tokenizer";
    } else if (!strcasecmp(b, "config.json") ||
               ends_with_ci(b, "_config.json") ||
               (f && !strcmp(f, "yaml"))) {
        k = "config";
    }
    *kind = k;
    *format = f;
}

int apx_classify(const char *path, const char *name, const char **kind,
                 const char **format, char prec[16], apx_model_info *info,
                 apx_error *err)
{
    unsigned char head[9];
    struct stat st;
    apx_src src;
    int fd, rc = AP_OK;
    const char *nfmt;

    memset(info, 0, sizeof *info);
    info->file_type = -1;
    if (!name && path)
        name = path;
    apx_classify_name(name, kind, format, prec);
    nfmt = *format;
    if (!path)
        return AP_OK;
    /* O_NONBLOCK: a FIFO is refused below instead of blocking the open. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return apx_error_set(err, AP_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return apx_error_set(err, AP_EIO, "%s: not a regular file", path);
    }
    {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    src.mem = NULL;
    src.fd = fd;
    src.len = (uint64_t)st.st_size;
    if (src.len >= 9 && apx_src_pread(&src, 0, head, 9) == AP_OK) {
        if (!memcmp(head, "GGUF", 4)) {
            rc = apx_gguf_parse(&src, info, err);
        } else if (head[8] == '{' && (head[6] | head[7]) == 0) {
            rc = apx_safetensors_parse(&src, info, err);
            /* A JSON-looking length is a guess; only a file named
             * .safetensors is corrupt when it does not parse. */
            if (rc && !(nfmt && !strcmp(nfmt, "safetensors"))) {
                rc = AP_OK;
                memset(info, 0, sizeof *info);
                info->file_type = -1;
            }
        } else if (nfmt && (!strcmp(nfmt, "gguf") ||
                            !strcmp(nfmt, "safetensors"))) {
            rc = apx_error_set(err, AP_ECORRUPT, "%s: not a %s file (bad magic"
                               " or header)", name, nfmt);
        }
    } else if (nfmt && (!strcmp(nfmt, "gguf") || !strcmp(nfmt, "safetensors"))) {
        rc = apx_error_set(err, AP_ECORRUPT, "%s: too short for %s", name, nfmt);
    }
    close(fd);
    if (rc == AP_OK && info->format[0]) {
        /* The header beats the name. */
        *format = !strcmp(info->format, "gguf") ? "gguf" : "safetensors";
        *kind = "model";
        if (info->precision[0])
            snprintf(prec, 16, "%s", info->precision);
    }
    return rc;
}

AP_EXPORT int ap_classify_file2(const char *path, const char *name,
                                char **kind, char **format, char **precision,
                                char **architecture, uint64_t *parameters)
{
    const char *k, *f;
    char prec[16];
    apx_model_info info;
    int rc;

    if (kind) *kind = NULL;
    if (format) *format = NULL;
    if (precision) *precision = NULL;
    if (architecture) *architecture = NULL;
    if (parameters) *parameters = 0;
    if (!path && !name)
        return AP_EINVAL;
    rc = apx_classify(path, name, &k, &f, prec, &info, NULL);
    if (rc != AP_OK && rc != AP_ECORRUPT)
        return rc;
    if ((kind && !(*kind = apx_strdup(k))) ||
        (format && f && !(*format = apx_strdup(f))) ||
        (precision && prec[0] && !(*precision = apx_strdup(prec))) ||
        (architecture && info.architecture[0] &&
         !(*architecture = apx_strdup(info.architecture)))) {
        if (kind) { free(*kind); *kind = NULL; }
        if (format) { free(*format); *format = NULL; }
        if (precision) { free(*precision); *precision = NULL; }
        if (architecture) { free(*architecture); *architecture = NULL; }
        return AP_ENOMEM;
    }
    if (parameters)
        *parameters = info.parameters;
    return rc;
}

AP_EXPORT int ap_classify_file(const char *path, const char *name,
                               char **kind, char **format, char **precision)
{
    return ap_classify_file2(path, name, kind, format, precision, NULL, NULL);
}
