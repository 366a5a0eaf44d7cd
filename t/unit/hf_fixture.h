/* Shared by the C tests that drive the Hugging Face vendor against
 * t/fixtures/fakehub.py (test_hf_vendor.c and test_hf_vendor_errors.c: the
 * vendor through the mock host of hf_vendor_fixture.h; test_provisioner.c: the provisioner with the vendor): the hub's
 * repositories, the digests of their generated files, the request log.
 * Header-only (static functions); include it after cmocka.h.
 * SPDX-License-Identifier: MIT */
#ifndef AP_T_HF_FIXTURE_H
#define AP_T_HF_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include <openssl/evp.h>

/* Not every test uses every helper. */
#define HF_FN static __attribute__((unused))

/* ---- the hub's repositories (config_fmt: one %s for extra members) ---- */

#define CM1 "1a2b3c4d5e6f708192a3b4c5d6e7f80912345678"
#define CM2 "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
#define CM3 "00112233445566778899aabbccddeeff00112233"
#define CONFIG1 "{\"model_type\":\"llama\"}"
#define CONFIG2 "{\"model_type\":\"llama\",\"v\":2}"

static const char *const config_fmt __attribute__((unused)) =
    "{\"tree_page_size\":2,%s"
    "\"tokens\":{\"tok_good\":[\"*\"],\"tok_denied\":[\"*\"],\"tok_limited\":[\"org/model\"]},"
    "\"repos\":{"
    "\"org/model\":{\"refs\":{\"main\":\"" CM1 "\",\"v1.0\":\"" CM2 "\",\"refs/pr/1\":\"" CM2 "\"},"
    " \"commits\":{"
    "  \"" CM1 "\":{\"files\":{"
    "   \"config.json\":{\"content\":\"" "{\\\"model_type\\\":\\\"llama\\\"}" "\"},"
    "   \"tokenizer.json\":{\"content\":\"{}\"},"
    "   \"model.safetensors\":{\"generate\":{\"size\":5000,\"seed\":9},\"lfs\":true},"
    "   \"m.Q4_K_M.gguf\":{\"generate\":{\"size\":100000,\"seed\":1},\"lfs\":true},"
    "   \"m.Q8_0.gguf\":{\"generate\":{\"size\":150000,\"seed\":2},\"lfs\":true},"
    "   \"sub/m-Q5_K_M-00001-of-00002.gguf\":{\"generate\":{\"size\":7000,\"seed\":3},\"lfs\":true},"
    "   \"sub/m-Q5_K_M-00002-of-00002.gguf\":{\"generate\":{\"size\":6000,\"seed\":4},\"lfs\":true},"
    "   \"dir with space/a+b.txt\":{\"content\":\"plus\"}}},"
    "  \"" CM2 "\":{\"files\":{"
    "   \"config.json\":{\"content\":\"" "{\\\"model_type\\\":\\\"llama\\\",\\\"v\\\":2}" "\"}}}}},"
    "\"org/old\":{\"renamed_to\":\"org/model\"},"
    "\"org/gated\":{\"gated\":\"manual\",\"gated_denied_tokens\":[\"tok_denied\"],"
    " \"files\":{\"w.gguf\":{\"generate\":{\"size\":3000,\"seed\":5},\"lfs\":true},"
    "  \"config.json\":{\"content\":\"{}\"}}},"
    "\"org/private\":{\"private\":true,\"files\":{\"a.txt\":{\"content\":\"secret\"}}},"
    "\"org/disabled\":{\"disabled\":true,\"files\":{\"a.txt\":{\"content\":\"x\"}}},"
    "\"org/plain\":{\"files\":{\"a.txt\":{\"content\":\"x\"}}},"
    "\"org/broken\":{\"api_faults\":{\"status\":503},\"files\":{\"a.txt\":{\"content\":\"x\"}}},"
    "\"org/splitbad\":{\"files\":{\"m-Q4_0-00001-of-00003.gguf\":{\"content\":\"1\"},"
    "  \"m-Q4_0-00003-of-00003.gguf\":{\"content\":\"3\"}}},"
    "\"org/data\":{\"type\":\"dataset\",\"files\":{\"data/train.csv\":{\"content\":\"a,b\\n\"}}},"
    "\"org/app\":{\"type\":\"space\",\"files\":{\"app.py\":{\"content\":\"print(1)\\n\"}}}"
    "}}";

/* ---- files and digests ------------------------------------------------- */

HF_FN int write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    if (fwrite(data, 1, n, f) != n) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

HF_FN void hexify(const unsigned char *d, unsigned n, char *out)
{
    unsigned i;
    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

HF_FN void gen_sha256(size_t size, int seed, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new(), *blk = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned len;
    size_t done = 0, i = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while (done < size) {
        char in[64];
        unsigned char b[32];
        int n = snprintf(in, sizeof in, "%d:%zu", seed, i++);
        size_t take = size - done < 32 ? size - done : 32;
        EVP_DigestInit_ex(blk, EVP_sha256(), NULL);
        EVP_DigestUpdate(blk, in, (size_t)n);
        EVP_DigestFinal_ex(blk, b, &len);
        EVP_DigestUpdate(ctx, b, take);
        done += take;
    }
    EVP_DigestFinal_ex(ctx, d, &len);
    hexify(d, 32, out);
    EVP_MD_CTX_free(ctx);
    EVP_MD_CTX_free(blk);
}

HF_FN int file_sha256(const char *path, char out[65], uint64_t *size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char d[32], buf[65536];
    unsigned len;
    size_t n;
    FILE *f = fopen(path, "rb");
    *size = 0;
    if (!f) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        EVP_DigestUpdate(ctx, buf, n);
        *size += n;
    }
    fclose(f);
    EVP_DigestFinal_ex(ctx, d, &len);
    hexify(d, 32, out);
    EVP_MD_CTX_free(ctx);
    return 0;
}

/* mkdir -p */
HF_FN void mk(const char *path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    assert_int_equal(0, system(cmd));
}

HF_FN void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("'%s' does not contain '%s'", hay ? hay : "(null)", needle);
}

/* ---- the hub's request log --------------------------------------------- */

/* Where the log ends now: requests after this mark are the test's. */
HF_FN long hf_log_size(const char *log)
{
    struct stat st;
    return stat(log, &st) == 0 ? (long)st.st_size : 0;
}

/* Requests logged in `log` after `mark` whose path contains `needle`
 * (NULL: all), as a JSON array (caller decrefs). */
HF_FN json_t *hf_log_since(const char *log, long mark, const char *needle)
{
    json_t *out = json_array();
    char line[65536];
    FILE *f;
    usleep(50000); /* the log line is written when the response ends */
    if (!(f = fopen(log, "r")))
        return out;
    fseek(f, mark, SEEK_SET);
    while (fgets(line, sizeof line, f)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        const char *path = json_string_value(json_object_get(j, "path"));
        if (j && path && (!needle || strstr(path, needle)))
            json_array_append(out, j);
        json_decref(j);
    }
    fclose(f);
    return out;
}

#endif
