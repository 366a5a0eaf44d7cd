/* Replays every file of fuzz/corpus/<target>/ through the libFuzzer entry
 * points, so `make check` exercises the fuzz corpus without libFuzzer.
 * The corpus is found under $AP_SRC (set by make check), else ".". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LLVMFuzzerTestOneInput fuzz_gguf_one
#include "../../fuzz/fuzz_gguf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "../../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_catalog_json_one
#include "../../fuzz/fuzz_catalog_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_hf_ref_one
#include "../../fuzz/fuzz_hf_ref.c"
#undef LLVMFuzzerTestOneInput
#include "../../vendors/huggingface/ref.c"
#include "../../vendors/huggingface/util.c"
#include "../../vendors/common/text.c"

typedef int (*fuzz_fn)(const uint8_t *, size_t);

static size_t replay(const char *target, fuzz_fn fn)
{
    const char *src = getenv("AP_SRC");
    char dir[4096];
    DIR *d;
    struct dirent *de;
    size_t n = 0;

    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", src && *src ? src : ".",
             target);
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[8192];
        FILE *f;
        uint8_t *buf;
        long len;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        /* An exact-size heap copy: reads past the end are caught by ASan
         * and valgrind. */
        buf = malloc(len > 0 ? (size_t)len : 1);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        assert_int_equal(fn(buf, (size_t)len), 0);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_gguf_corpus(void **state)
{
    (void)state;
    assert_true(replay("gguf", fuzz_gguf_one) > 0);
}

static void test_safetensors_corpus(void **state)
{
    (void)state;
    assert_true(replay("safetensors", fuzz_safetensors_one) > 0);
}

static void test_catalog_json_corpus(void **state)
{
    (void)state;
    assert_true(replay("catalog_json", fuzz_catalog_json_one) > 0);
}

static void test_hf_ref_corpus(void **state)
{
    (void)state;
    assert_true(replay("hf_ref", fuzz_hf_ref_one) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_corpus),
        cmocka_unit_test(test_safetensors_corpus),
        cmocka_unit_test(test_catalog_json_corpus),
        cmocka_unit_test(test_hf_ref_corpus),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
