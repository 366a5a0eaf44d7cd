/* Unit tests: the Ollama vendor's name rules (ollama's types/model/name.go),
 * its canonical reference, layer file names and its SHA-256 (checked
 * against OpenSSL's).  The vendor sources are compiled into this program.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "../../vendors/ollama/ollama.c"
#include "../../vendors/ollama/name.c"
#include "../../vendors/ollama/manifest.c"
#include "../../vendors/ollama/registry.c"
#include "../../vendors/ollama/publish.c"
#include "../../vendors/common/sha256.c"
#include "../../vendors/common/env.c"

typedef struct ok_case {
    const char *in, *scheme, *host, *ns, *model, *tag, *canonical;
} ok_case;

static const ok_case ok_cases[] = {
    { "ollama:llama3", "https", "registry.ollama.ai", "library", "llama3", "latest",
      "ollama:registry.ollama.ai/library/llama3:latest" },
    { "ollama:llama3.2:1b", "https", "registry.ollama.ai", "library", "llama3.2", "1b",
      "ollama:registry.ollama.ai/library/llama3.2:1b" },
    { "ollama:jmorganca/tiny:q4_K_M", "https", "registry.ollama.ai", "jmorganca", "tiny",
      "q4_K_M", "ollama:registry.ollama.ai/jmorganca/tiny:q4_K_M" },
    { "ollama:example.org/team/m", "https", "example.org", "team", "m", "latest",
      "ollama:example.org/team/m:latest" },
    { "ollama:http://127.0.0.1:5000/library/tiny:latest", "http", "127.0.0.1:5000",
      "library", "tiny", "latest", "ollama:127.0.0.1:5000/library/tiny:latest" },
    { "ollama:https://reg.example:8443/a_b/c-d.e:f.g-h", "https", "reg.example:8443", "a_b",
      "c-d.e", "f.g-h", "ollama:reg.example:8443/a_b/c-d.e:f.g-h" },
    /* the canonical form parses to itself (the host keeps its port) */
    { "ollama:127.0.0.1:5000/library/tiny:latest", "https", "127.0.0.1:5000", "library",
      "tiny", "latest", "ollama:127.0.0.1:5000/library/tiny:latest" },
    { "_x/_y:_z", "https", "registry.ollama.ai", "_x", "_y", "_z",
      "ollama:registry.ollama.ai/_x/_y:_z" },
};

static void test_parse_ok(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof ok_cases / sizeof *ok_cases; i++) {
        const ok_case *c = &ok_cases[i];
        olv_ref r;
        char msg[256], canon[1100];
        print_message("# %s\n", c->in);
        assert_int_equal(olv_parse_ref(c->in, &r, msg, sizeof msg), 0);
        assert_string_equal(r.scheme, c->scheme);
        assert_string_equal(r.host, c->host);
        assert_string_equal(r.ns, c->ns);
        assert_string_equal(r.model, c->model);
        assert_string_equal(r.tag, c->tag);
        olv_canonical(&r, canon, sizeof canon);
        assert_string_equal(canon, c->canonical);
    }
}

typedef struct bad_case {
    const char *in, *why;
} bad_case;

static const bad_case bad_cases[] = {
    { "ollama:", "invalid model ''" },
    { "ollama:m:", "invalid tag ''" },
    { "ollama:/m", "invalid namespace ''" },
    { "ollama:ns/", "invalid model ''" },
    { "ollama:-m", "invalid model '-m'" },
    { "ollama:m:-t", "invalid tag '-t'" },
    { "ollama:n.s/m", "invalid namespace 'n.s'" },
    { "ollama:ns/m:t:u", "invalid model 'm:t'" }, /* the tag follows the last ':' */
    { "ollama:a/b/c/d", "invalid host 'a/b'" },
    { "ollama:http://127.0.0.1:5000/tiny", "invalid namespace '127.0.0.1:5000'" },
    { "ollama:ftp://h/ns/m", "unsupported scheme 'ftp'" },
    { "ollama:m@sha256:abc", "a digest" },
    { "ollama:m o", "invalid model 'm o'" },
    { "ollama:ns/m\n", "invalid model" },
    { "ollama:../m", "invalid namespace '..'" },
    { "ollama:h/../m", "invalid namespace '..'" },
    { "ollama:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "at most 80 bytes" },
};

static void test_parse_bad(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        olv_ref r;
        char msg[256] = "";
        print_message("# %s\n", bad_cases[i].in);
        assert_int_equal(olv_parse_ref(bad_cases[i].in, &r, msg, sizeof msg), -1);
        if (!strstr(msg, bad_cases[i].why))
            fail_msg("'%s': message '%s' lacks '%s'", bad_cases[i].in, msg,
                     bad_cases[i].why);
    }
}

static void test_layer_names(void **state)
{
    char b[128];
    (void)state;
    olv_layer_name("application/vnd.ollama.image.model", 0, b, sizeof b);
    assert_string_equal(b, "model.gguf");
    olv_layer_name("application/vnd.ollama.image.projector", 0, b, sizeof b);
    assert_string_equal(b, "projector.gguf");
    olv_layer_name("application/vnd.ollama.image.adapter", 1, b, sizeof b);
    assert_string_equal(b, "adapter-2.gguf");
    olv_layer_name("application/vnd.ollama.image.template", 0, b, sizeof b);
    assert_string_equal(b, "template");
    olv_layer_name("application/vnd.ollama.image.license", 2, b, sizeof b);
    assert_string_equal(b, "license-3");
    olv_layer_name("application/vnd.ollama.image.../../x", 0, b, sizeof b);
    assert_string_equal(b, "------x");      /* never a path */
    olv_layer_name("application/octet-stream", 0, b, sizeof b);
    assert_string_equal(b, "layer");
    olv_layer_name("application/vnd.ollama.image.", 0, b, sizeof b);
    assert_string_equal(b, "layer");
}

static void hex_of(const unsigned char *d, char out[65])
{
    static const char hx[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < 32; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[64] = '\0';
}

static void test_sha256(void **state)
{
    char got[65], want[65];
    unsigned char d[32], *buf;
    size_t n, i;
    (void)state;
    apv_sha256_buf_hex("", 0, got);
    assert_string_equal(got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    apv_sha256_buf_hex("abc", 3, got);
    assert_string_equal(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* every length around the block and padding boundaries, and a large
     * buffer, against OpenSSL */
    buf = malloc(1u << 20);
    assert_non_null(buf);
    for (i = 0; i < 1u << 20; i++)
        buf[i] = (unsigned char)(i * 131 + (i >> 8));
    for (n = 0; n <= 300; n++) {
        apv_sha256_buf_hex(buf, n, got);
        SHA256(buf, n, d);
        hex_of(d, want);
        assert_string_equal(got, want);
    }
    apv_sha256_buf_hex(buf, 1u << 20, got);
    SHA256(buf, 1u << 20, d);
    hex_of(d, want);
    assert_string_equal(got, want);
    free(buf);
}

static void test_challenge(void **state)
{
    char *v;
    (void)state;
    v = chal_param("Bearer realm=\"https://r.example/token\",service=\"svc\","
                   "scope=\"repository:library/tiny:pull\"", "scope");
    assert_string_equal(v, "repository:library/tiny:pull");
    free(v);
    v = chal_param("Bearer realm=https://r.example/t,service=svc", "service");
    assert_string_equal(v, "svc");
    free(v);
    v = chal_param("Basic realm=\"x\"", "realm");
    assert_null(v);
    v = chal_param("Bearer service=\"s\"", "realm");
    assert_null(v);
}

static void test_authority(void **state)
{
    char a[400], s[8];
    olv_ref r;
    char msg[256];
    (void)state;
    assert_int_equal(url_authority("https://Registry.Ollama.AI:443/v2/token", s, a, sizeof a), 0);
    assert_string_equal(a, "registry.ollama.ai");
    assert_string_equal(s, "https");
    assert_int_equal(url_authority("http://127.0.0.1:80/t", s, a, sizeof a), 0);
    assert_string_equal(a, "127.0.0.1");
    assert_int_equal(url_authority("http://127.0.0.1:5000", s, a, sizeof a), 0);
    assert_string_equal(a, "127.0.0.1:5000");
    assert_int_equal(url_authority("https://user@evil.example/t", s, a, sizeof a), -1);
    assert_int_equal(url_authority("file:///etc/passwd", s, a, sizeof a), -1);
    assert_int_equal(olv_parse_ref("ollama:llama3", &r, msg, sizeof msg), 0);
    reg_authority(&r, a, sizeof a);
    assert_string_equal(a, "registry.ollama.ai");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_layer_names),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_authority),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
