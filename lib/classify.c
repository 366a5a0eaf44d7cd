/* libartifactprov — file classification: kind, format, precision.
 *
 * The header decides when there is one we understand (GGUF magic,
 * safetensors length + JSON); the file name is the fallback.  See
 * docs/store.md "Classification".
 * SPDX-License-Identifier: MIT */
#include "formats.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
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
    if (rc != AP_OK) {
        /* only what is promised: the name-based answer */
        memset(info, 0, sizeof *info);
        info->file_type = -1;
    }
    if (rc == AP_OK && info->format[0]) {
        /* The header beats the name. */
        *format = !strcmp(info->format, "gguf") ? "gguf" : "safetensors";
        *kind = "model";
        if (info->precision[0])
            snprintf(prec, 16, "%s", info->precision);
    }
    return rc;
}

AP_EXPORT void ap_classify_info_clear(ap_classify_info *info)
{
    size_t sz;
    if (!info || info->struct_size < offsetof(ap_classify_info, parameters))
        return;
    sz = info->struct_size < sizeof *info ? info->struct_size : sizeof *info;
    free(info->kind);
    free(info->format);
    free(info->precision);
    free(info->architecture);
    memset((char *)info + sizeof info->struct_size, 0,
           sz - sizeof info->struct_size);
}

AP_EXPORT int ap_classify(const char *path, const char *name,
                          ap_classify_info *out)
{
    const char *k, *f;
    char prec[16];
    apx_model_info info;
    ap_classify_info r;
    size_t sz;
    int rc;

    apx_error err;

    apx_error_clear(&err);
    apx_error_tls_reset();
    /* The 1.0 struct ends with from_header; smaller is not a version. */
    if (!out || out->struct_size < offsetof(ap_classify_info, from_header) +
                                       sizeof out->from_header)
        return apx_error_set(NULL, AP_EINVAL, "ap_classify: no info struct, or one "
                             "older than this library supports");
    if (!path && !name)
        return apx_error_set(NULL, AP_EINVAL, "ap_classify: neither a path nor a name");
    rc = apx_classify(path, name, &k, &f, prec, &info, &err);
    if (rc != AP_OK && rc != AP_ECORRUPT)
        return apx_error_set(NULL, rc, "%s: %s", path ? path : name,
                             err.msg[0] ? err.msg : ap_strerror(rc));
    if (rc == AP_ECORRUPT)
        apx_error_set(NULL, rc, "%s: %s", path ? path : name,
                      err.msg[0] ? err.msg : "corrupt header");
    memset(&r, 0, sizeof r);
    if (rc == AP_OK) {
        /* header fields only from a header that parsed whole */
        r.parameters = info.parameters;
        r.tensor_count = info.tensor_count;
        r.from_header = info.format[0] != '\0';
    }
    if (!(r.kind = apx_strdup(k)) ||
        (f && !(r.format = apx_strdup(f))) ||
        (prec[0] && !(r.precision = apx_strdup(prec))) ||
        (rc == AP_OK && info.architecture[0] &&
         !(r.architecture = apx_strdup(info.architecture)))) {
        free(r.kind); free(r.format); free(r.precision); free(r.architecture);
        return apx_error_set(NULL, AP_ENOMEM, "ap_classify: out of memory");
    }
    sz = out->struct_size < sizeof r ? out->struct_size : sizeof r;
    r.struct_size = out->struct_size;
    memcpy(out, &r, sz);
    return rc;
}
