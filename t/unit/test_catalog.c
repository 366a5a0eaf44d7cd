/* Unit tests: catalog documents and entries (lib/catalog.c).  TAP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "digest.h"
#include "testutil.h"
#include <artifactprov.h>

static char tmpl[] = "/tmp/ap-test-catalog-XXXXXX";
static char *base;

static void open_both(const char *sub, ap_store **s, ap_catalog **c)
{
    char *root = apx_path_join(base, sub);
    assert_int_equal(ap_store_open(s, root), AP_OK);
    assert_int_equal(ap_catalog_open(c, *s), AP_OK);
    free(root);
}

/* A blob with `data` committed to the store; hex out. */
static void add_blob(ap_store *s, const char *data, char hex[65])
{
    char *p = NULL;
    sha_of(data, hex);
    assert_int_equal(ap_store_staging_path(s, data, &p), AP_OK);
    write_file(p, data, strlen(data));
    assert_int_equal(ap_store_commit(s, p, hex, 0), AP_OK);
    free(p);
}

static ap_entry *make_entry(const char *vendor, const char *ref,
                            const char *name, size_t nfiles)
{
    ap_entry *e = calloc(1, sizeof *e);
    e->struct_size = sizeof *e;
    assert_int_equal(ap_entry_make_id(vendor, ref, &e->id), AP_OK);
    e->vendor = strdup(vendor);
    e->ref = strdup(ref);
    e->name = strdup(name);
    e->status = AP_ENTRY_READY;
    e->created = 1700000000;
    e->updated = 1700000001;
    e->nfiles = nfiles;
    e->files = calloc(nfiles ? nfiles : 1, sizeof *e->files);
    return e;
}

static void set_file(ap_entry_file *f, const char *name, const char *hex,
                     uint64_t size)
{
    f->name = strdup(name);
    f->sha256 = hex ? strdup(hex) : NULL;
    f->size = size;
    f->present = 1;
}

static void test_make_id(void **state)
{
    char *id = NULL, hex[65], *want;
    (void)state;
    assert_int_equal(ap_entry_make_id("hf", "hf:org/repo:Q4_K_M", &id), AP_OK);
    sha_of("hf\nhf:org/repo:Q4_K_M", hex);
    want = apx_asprintf("hf-%.16s", hex);
    assert_string_equal(id, want);
    free(want);
    ap_free(id);
    assert_int_equal(ap_entry_make_id("../x", "r", &id), AP_EINVAL);
    assert_int_equal(ap_entry_make_id(NULL, "r", &id), AP_EINVAL);
    assert_string_equal(ap_entry_status_name(AP_ENTRY_PENDING), "pending");
    assert_string_equal(ap_entry_status_name(AP_ENTRY_DOWNLOADING),
                        "downloading");
    assert_string_equal(ap_entry_status_name(AP_ENTRY_CANCELLED), "cancelled");
}

static void test_json_roundtrip(void **state)
{
    ap_entry *e = make_entry("hf", "hf:org/repo:Q4_K_M", "org/repo", 2), *back;
    char *js = NULL, hex[65];
    json_t *o, *f0;
    (void)state;
    sha_of("x", hex);
    set_file(&e->files[0], "model.Q4_K_M.gguf", hex, 123);
    e->files[0].kind = strdup("model");
    e->files[0].format = strdup("GGUF");
    e->files[0].precision = strdup("Q4_K_M");
    e->files[0].url = strdup("https://h/x");
    e->files[0].architecture = strdup("llama");
    e->files[0].parameters = 1100000000;
    set_file(&e->files[1], "config.json", NULL, 5);
    e->files[1].git_sha1 = strdup("0123456789abcdef0123456789abcdef01234567");
    e->files[1].present = 0;
    e->revision = strdup("0123456789abcdef0123456789abcdef01234567");
    e->error = strdup("boom");
    e->total_size = 128;
    e->fetched_bytes = 64;
    assert_int_equal(ap_entry_to_json(e, &js), AP_OK);
    o = json_loads(js, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "format_version")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "ready");
    assert_string_equal(json_string_value(json_object_get(o, "id")), e->id);
    assert_int_equal(json_integer_value(json_object_get(o, "fetched_bytes")), 64);
    assert_int_equal(json_integer_value(json_object_get(o, "created")),
                     1700000000);
    f0 = json_array_get(json_object_get(o, "files"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "format")), "gguf");
    assert_string_equal(json_string_value(json_object_get(f0, "precision")),
                        "q4_k_m");
    assert_string_equal(json_string_value(json_object_get(f0, "path")) ?
                        "?" : "null", "null");
    assert_true(json_is_true(json_object_get(f0, "present")));
    json_decref(o);
    assert_int_equal(ap_entry_from_json(js, strlen(js), &back), AP_OK);
    assert_string_equal(back->id, e->id);
    assert_string_equal(back->ref, e->ref);
    assert_string_equal(back->revision, e->revision);
    assert_string_equal(back->error, "boom");
    assert_int_equal(back->status, AP_ENTRY_READY);
    assert_int_equal(back->nfiles, 2);
    assert_int_equal(back->total_size, 128);
    assert_int_equal(back->files[0].size, 123);
    assert_string_equal(back->files[0].sha256, hex);
    assert_string_equal(back->files[0].precision, "q4_k_m");
    assert_string_equal(back->files[0].architecture, "llama");
    assert_int_equal(back->files[0].parameters, 1100000000);
    assert_null(back->files[1].sha256);
    assert_int_equal(back->files[1].present, 0);
    assert_string_equal(back->files[1].git_sha1, e->files[1].git_sha1);
    ap_entry_free(back);
    ap_free(js);
    ap_entry_free(e);
}

static void test_from_json_rejects(void **state)
{
    const char *bad[] = {
        "", "garbage", "[]", "{}",
        "{\"format_version\":2,\"id\":\"a\",\"status\":\"ready\"}",
        "{\"format_version\":1,\"status\":\"ready\"}",
        "{\"format_version\":1,\"id\":\"a\",\"status\":\"weird\"}",
        "{\"format_version\":1,\"id\":\"../a\",\"status\":\"ready\"}",
        "{\"format_version\":1,\"id\":\"a\",\"status\":\"ready\",\"files\":[{\"name\":\"../x\"}]}",
        "{\"format_version\":1,\"id\":\"a\",\"status\":\"ready\",\"files\":[{\"name\":\"x\",\"size\":-1}]}",
        "{\"format_version\":1,\"id\":\"a\",\"status\":\"ready\",\"files\":[{\"name\":\"x\",\"sha256\":\"zz\"}]}",
        "{\"format_version\":1,\"id\":\"a\",\"status\":\"ready\",\"files\":{}}",
        "{\"format_version\":1,\"id\":7,\"status\":\"ready\"}",
        "{\"format_version\":1,\"id\":\"a\",\"id\":\"b\",\"status\":\"ready\"}",
        "{\"format_version\":1,\"id\":\"a\\u0000b\",\"status\":\"ready\"}",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ap_entry *e = (ap_entry *)1;
        assert_int_equal(ap_entry_from_json(bad[i], strlen(bad[i]), &e),
                         AP_ECORRUPT);
        assert_null(e);
    }
}

static void test_put_get_list(void **state)
{
    ap_store *s;
    ap_catalog *c;
    ap_entry *a = make_entry("hf", "hf:org/a", "org/a", 1);
    ap_entry *b = make_entry("ollama", "ollama:llama3", "llama3", 1);
    ap_entry *got = NULL, **list = NULL;
    ap_catalog_filter flt = AP_CATALOG_FILTER_INIT;
    char *path, *doc, *dir;
    size_t n = 0, i;
    FILE *f;
    (void)state;
    open_both("pgl", &s, &c);
    set_file(&a->files[0], "a.gguf", NULL, 1);
    a->files[0].format = strdup("gguf");
    set_file(&b->files[0], "model", NULL, 2);
    b->status = AP_ENTRY_FAILED;
    assert_int_equal(ap_catalog_put(c, a), AP_OK);
    assert_int_equal(ap_catalog_put(c, b), AP_OK);
    /* Bytes on disk: catalog/<id>.json, valid JSON, no temp files. */
    path = apx_asprintf("%s/catalog/%s.json", ap_store_root(s), a->id);
    f = fopen(path, "r");
    assert_non_null(f);
    doc = calloc(1, 65536);
    assert_true(fread(doc, 1, 65535, f) > 0);
    fclose(f);
    assert_non_null(strstr(doc, "\"format_version\":1,\n"));
    assert_non_null(strstr(doc, "\"ref\":\"hf:org/a\",\n"));
    free(doc);
    free(path);
    dir = apx_asprintf("%s/catalog", ap_store_root(s));
    assert_int_equal(count_entries(dir), 2);
    free(dir);

    assert_int_equal(ap_catalog_get(c, a->id, &got), AP_OK);
    assert_string_equal(got->ref, "hf:org/a");
    ap_entry_free(got);
    assert_int_equal(ap_catalog_get(c, "ollama:llama3", &got), AP_OK);
    assert_string_equal(got->id, b->id);
    ap_entry_free(got);
    assert_int_equal(ap_catalog_get(c, "hf:nope", &got), AP_ENOTFOUND);
    assert_null(got);

    assert_int_equal(ap_catalog_list(c, NULL, &list, &n), AP_OK);
    assert_int_equal(n, 2);
    for (i = 1; i < n; i++)
        assert_true(strcmp(list[i - 1]->id, list[i]->id) < 0);
    ap_entry_list_free(list, n);
    flt.vendor = "hf";
    assert_int_equal(ap_catalog_list(c, &flt, &list, &n), AP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->vendor, "hf");
    ap_entry_list_free(list, n);
    flt.vendor = NULL;
    flt.status = AP_ENTRY_FAILED;
    assert_int_equal(ap_catalog_list(c, &flt, &list, &n), AP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->vendor, "ollama");
    ap_entry_list_free(list, n);
    flt.status = -1;
    flt.format = "GGUF";
    assert_int_equal(ap_catalog_list(c, &flt, &list, &n), AP_OK);
    assert_int_equal(n, 1);
    ap_entry_list_free(list, n);

    /* set_status */
    assert_int_equal(ap_catalog_set_status(c, a->id, AP_ENTRY_FAILED, "net"),
                     AP_OK);
    assert_int_equal(ap_catalog_get(c, a->id, &got), AP_OK);
    assert_int_equal(got->status, AP_ENTRY_FAILED);
    assert_string_equal(got->error, "net");
    assert_true(got->updated > a->updated);
    ap_entry_free(got);
    assert_int_equal(ap_catalog_set_status(c, "hf-none", AP_ENTRY_READY, NULL),
                     AP_ENOTFOUND);
    free(a->id);
    a->id = strdup("../evil");
    assert_int_equal(ap_catalog_put(c, a), AP_EINVAL);
    ap_entry_free(a);
    ap_entry_free(b);
    ap_catalog_close(c);
    ap_store_close(s);
}

static void test_corrupt_documents(void **state)
{
    ap_store *s;
    ap_catalog *c;
    ap_entry *a = make_entry("hf", "hf:org/good", "org/good", 0), **list = NULL;
    ap_entry *got = NULL;
    char *js = NULL, *p;
    size_t n = 0;
    const char *names[] = { "garbage.json", "version.json", "trunc.json",
                            "mismatch.json", "noid.json" };
    size_t i;
    (void)state;
    open_both("corrupt", &s, &c);
    assert_int_equal(ap_catalog_put(c, a), AP_OK);
    assert_int_equal(ap_entry_to_json(a, &js), AP_OK);
#define CAT(name) apx_asprintf("%s/catalog/%s", ap_store_root(s), name)
    p = CAT("garbage.json");
    write_file(p, "\x01\x02 not json {{{", 15);
    free(p);
    p = CAT("version.json");
    write_file(p, "{\"format_version\":99,\"id\":\"version\",\"status\":\"ready\"}",
               54);
    free(p);
    p = CAT("trunc.json");
    write_file(p, js, strlen(js) / 2);
    free(p);
    p = CAT("mismatch.json");
    write_file(p, js, strlen(js));               /* id is hf-..., not mismatch */
    free(p);
    p = CAT("noid.json");
    write_file(p, "{\"format_version\":1,\"status\":\"ready\"}", 37);
    free(p);
    p = CAT("notes.txt");
    write_file(p, "ignored", 7);
    free(p);
    assert_int_equal(ap_catalog_list(c, NULL, &list, &n), AP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->id, a->id);
    ap_entry_list_free(list, n);
    assert_int_equal(ap_catalog_warning_count(c), 5);
    assert_non_null(strstr(ap_catalog_warning(c, 0), "catalog/"));
    assert_null(ap_catalog_warning(c, 5));
    for (i = 0; i < 5; i++) {                    /* never deleted */
        p = CAT(names[i]);
        assert_true(exists(p));
        free(p);
    }
    assert_int_equal(ap_catalog_get(c, "garbage", &got), AP_ECORRUPT);
    assert_null(got);
    assert_int_equal(ap_catalog_get(c, "hf:org/good", &got), AP_OK);
    ap_entry_free(got);
    /* gc refuses while a document is unreadable. */
    assert_int_equal(ap_catalog_gc(c, 0, NULL, NULL, NULL), AP_ECORRUPT);
#undef CAT
    ap_free(js);
    ap_entry_free(a);
    ap_catalog_close(c);
    ap_store_close(s);
}

static void test_remove_shared(void **state)
{
    ap_store *s;
    ap_catalog *c;
    ap_entry *e1 = make_entry("hf", "hf:org/one", "org/one", 2);
    ap_entry *e2 = make_entry("hf", "hf:org/two", "org/two", 1), *got = NULL;
    char ha[65], hb[65], hc[65], *p;
    uint64_t freed = 0;
    (void)state;
    open_both("remove", &s, &c);
    add_blob(s, "blob A only one", ha);
    add_blob(s, "blob B shared", hb);
    add_blob(s, "blob C orphan", hc);
    set_file(&e1->files[0], "a.bin", ha, 15);
    set_file(&e1->files[1], "dir/b.bin", hb, 13);
    set_file(&e2->files[0], "b.bin", hb, 13);
    assert_int_equal(ap_store_link_view(s, "hf", "org/one", "a.bin", ha, NULL),
                     AP_OK);
    assert_int_equal(ap_store_link_view(s, "hf", "org/one", "dir/b.bin", hb,
                                        NULL), AP_OK);
    assert_int_equal(ap_store_link_view(s, "hf", "org/two", "b.bin", hb, NULL),
                     AP_OK);
    assert_int_equal(ap_catalog_put(c, e1), AP_OK);
    assert_int_equal(ap_catalog_put(c, e2), AP_OK);
    assert_int_equal(ap_catalog_remove(c, e1->id), AP_OK);
    assert_int_equal(ap_store_has_blob(s, ha), 0);
    assert_int_equal(ap_store_has_blob(s, hb), 1);
    p = apx_asprintf("%s/models/hf/org/one", ap_store_root(s));
    assert_false(exists(p));
    free(p);
    p = apx_asprintf("%s/models/hf/org/two/b.bin", ap_store_root(s));
    assert_true(exists(p));
    free(p);
    p = apx_asprintf("%s/catalog/%s.json", ap_store_root(s), e1->id);
    assert_false(exists(p));
    free(p);
    assert_int_equal(ap_catalog_get(c, e1->id, &got), AP_ENOTFOUND);
    assert_int_equal(ap_catalog_get(c, e2->id, &got), AP_OK);
    ap_entry_free(got);
    assert_int_equal(ap_catalog_remove(c, e1->id), AP_ENOTFOUND);
    /* Catalog gc: the orphan goes, the referenced blob stays. */
    assert_int_equal(ap_catalog_gc(c, 3600, NULL, NULL, &freed), AP_OK);
    assert_int_equal(freed, 13);
    assert_int_equal(ap_store_has_blob(s, hc), 0);
    assert_int_equal(ap_store_has_blob(s, hb), 1);
    ap_entry_free(e1);
    ap_entry_free(e2);
    ap_catalog_close(c);
    ap_store_close(s);
}


/* Nothing blocks on a FIFO (or anything but a regular file) planted where a
 * document is expected; a damaged document is listed as damaged by id, can
 * be removed by id, and gc names it. */
static void test_fifo_and_damaged(void **state)
{
    ap_store *s;
    ap_catalog *c;
    ap_entry *a = make_entry("hf", "hf:org/ok", "org/ok", 0), **list = NULL;
    ap_entry *got = NULL;
    char *p;
    size_t n = 0, i;
    int seen_fifo = 0, seen_bad = 0;
    (void)state;
    open_both("fifo", &s, &c);
    assert_int_equal(ap_catalog_put(c, a), AP_OK);
    p = apx_asprintf("%s/catalog/hf-00000000000000ff.json", ap_store_root(s));
    assert_int_equal(mkfifo(p, 0644), 0);
    free(p);
    p = apx_asprintf("%s/catalog/hf-00000000000000aa.json", ap_store_root(s));
    write_str(p, "{ damaged");
    free(p);
    alarm(20); /* before the fix, the open of the FIFO blocks forever */
    assert_int_equal(ap_catalog_list(c, NULL, &list, &n), AP_OK);
    assert_int_equal(n, 1);
    ap_entry_list_free(list, n);
    assert_int_equal(ap_catalog_warning_count(c), 2);
    for (i = 0; i < 2; i++) {
        const char *id = ap_catalog_warning_id(c, i);
        assert_non_null(id);
        if (!strcmp(id, "hf-00000000000000ff")) {
            seen_fifo = 1;
            assert_non_null(strstr(ap_catalog_warning(c, i), "not a regular file"));
        } else if (!strcmp(id, "hf-00000000000000aa"))
            seen_bad = 1;
    }
    assert_true(seen_fifo && seen_bad);
    assert_int_equal(ap_catalog_get(c, "hf-00000000000000ff", &got), AP_ECORRUPT);
    assert_null(got);
    /* get by ref walks every document: the FIFO does not block it either */
    assert_int_equal(ap_catalog_get(c, "hf:org/ok", &got), AP_OK);
    ap_entry_free(got);
    /* gc refuses, naming the document and how to remove it */
    assert_int_equal(ap_catalog_gc(c, 0, NULL, NULL, NULL), AP_ECORRUPT);
    assert_non_null(strstr(ap_catalog_errmsg(c), "hf-00000000000000"));
    assert_non_null(strstr(ap_catalog_errmsg(c), "ap_catalog_remove"));
    /* remove by id: the damaged documents go, nothing else */
    assert_int_equal(ap_catalog_remove(c, "hf-00000000000000ff"), AP_OK);
    assert_int_equal(ap_catalog_remove(c, "hf-00000000000000aa"), AP_OK);
    alarm(0);
    p = apx_asprintf("%s/catalog/hf-00000000000000ff.json", ap_store_root(s));
    assert_false(exists(p));
    free(p);
    assert_int_equal(ap_catalog_gc(c, 0, NULL, NULL, NULL), AP_OK);
    assert_int_equal(ap_catalog_get(c, a->id, &got), AP_OK);
    ap_entry_free(got);
    ap_entry_free(a);
    ap_catalog_close(c);
    ap_store_close(s);
}

/* The writer never writes what the reader refuses: a file name the reader
 * rejects (control character) is refused by put, and nothing is written. */
static void test_put_refuses_unreadable(void **state)
{
    ap_store *s;
    ap_catalog *c;
    ap_entry *a = make_entry("hf", "hf:org/ctl", "org/ctl", 1), *got = NULL;
    char *p;
    (void)state;
    open_both("ctl", &s, &c);
    set_file(&a->files[0], "bad\x01name.bin", NULL, 3);
    assert_int_not_equal(ap_catalog_put(c, a), AP_OK);
    assert_non_null(strstr(ap_catalog_errmsg(c), a->id));
    p = apx_asprintf("%s/catalog/%s.json", ap_store_root(s), a->id);
    assert_false(exists(p));
    free(p);
    assert_int_equal(ap_catalog_get(c, a->id, &got), AP_ENOTFOUND);
    ap_entry_free(a);
    ap_catalog_close(c);
    ap_store_close(s);
}

/* A 100,000-file entry with long names round-trips through put and get. */
static void test_large_entry_roundtrip(void **state)
{
    ap_store *s;
    ap_catalog *c;
    const size_t N = 100000;
    ap_entry *a = make_entry("hf", "hf:org/huge", "org/huge", N), *got = NULL;
    char hex[65], name[300], path[600];
    size_t i;
    (void)state;
    open_both("huge", &s, &c);
    sha_of("x", hex);
    for (i = 0; i < N; i++) {
        ap_entry_file *f = &a->files[i];
        snprintf(name, sizeof name, "shards/%0100zu/part-%06zu.safetensors", i, i);
        snprintf(path, sizeof path, "%s/models/hf/org/huge/%s", ap_store_root(s), name);
        set_file(f, name, hex, 123456789);
        f->path = strdup(path);
        f->url = strdup(path + 1);
        f->git_sha1 = strdup("0123456789012345678901234567890123456789");
        f->kind = strdup("model");
        f->format = strdup("safetensors");
        f->precision = strdup("bf16");
    }
    assert_int_equal(ap_catalog_put(c, a), AP_OK);
    assert_int_equal(ap_catalog_get(c, a->id, &got), AP_OK);
    assert_int_equal(got->nfiles, N);
    assert_string_equal(got->files[N - 1].name, a->files[N - 1].name);
    assert_string_equal(got->files[N - 1].path, a->files[N - 1].path);
    ap_entry_free(got);
    ap_entry_free(a);
    ap_catalog_close(c);
    ap_store_close(s);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    chmod(p, 0755);
    return remove(p);
}

/* Files are read through ap_entry_file_count()/ap_entry_file_at(), whose
 * stride is the element's struct_size: an array built by a caller compiled
 * against an older, smaller ap_entry_file (no status member) is read
 * element by element correctly, and each file's status goes through the
 * document and back. */
static void test_file_accessors_and_status(void **state)
{
    size_t old = offsetof(ap_entry_file, status); /* the older element size */
    ap_entry *e = make_entry("url", "https://h/x", "x", 0);
    ap_entry *back = NULL;
    /* slack after the last element only so that this test may write through
     * the full struct type; the library reads old bytes per element */
    unsigned char *arr = calloc(1, 3 * old + sizeof(ap_entry_file));
    ap_entry_file *f;
    char *json = NULL;
    size_t i;
    (void)state;
    free(e->files);
    for (i = 0; i < 3; i++) {
        static const char *names[] = { "a.bin", "b.bin", "c.bin" };
        f = (ap_entry_file *)(void *)(arr + i * old);
        f->struct_size = old;
        f->name = strdup(names[i]);
        f->size = 10 * (i + 1);
        f->present = i == 1;
    }
    e->files = (ap_entry_file *)(void *)arr;
    e->nfiles = 3;
    e->status = AP_ENTRY_PENDING;
    assert_int_equal(ap_entry_file_count(e), 3);
    assert_string_equal(ap_entry_file_at(e, 2)->name, "c.bin");
    assert_int_equal(ap_entry_file_at(e, 2)->size, 30);
    assert_null(ap_entry_file_at(e, 3));
    assert_int_equal(ap_entry_to_json(e, &json), AP_OK);
    assert_int_equal(ap_entry_from_json(json, strlen(json), &back), AP_OK);
    ap_free(json);
    assert_int_equal(ap_entry_file_count(back), 3);
    for (i = 0; i < 3; i++) {
        const ap_entry_file *g = ap_entry_file_at(back, i);
        assert_int_equal(g->struct_size, sizeof(ap_entry_file));
        assert_int_equal(g->size, 10 * (i + 1));
        assert_true(AP_ENTRY_FILE_HAS(g, status));
        assert_int_equal(g->status, i == 1 ? AP_FILE_READY : AP_FILE_PENDING);
    }
    /* a failed file stays failed through the document */
    back->files[2].status = AP_FILE_FAILED;
    assert_int_equal(ap_entry_to_json(back, &json), AP_OK);
    assert_non_null(strstr(json, "\"failed\""));
    ap_entry_free(back);
    assert_int_equal(ap_entry_from_json(json, strlen(json), &back), AP_OK);
    assert_int_equal(ap_entry_file_at(back, 2)->status, AP_FILE_FAILED);
    assert_string_equal(ap_file_status_name(AP_FILE_DOWNLOADING), "downloading");
    ap_free(json);
    ap_entry_free(back);
    for (i = 0; i < 3; i++)
        free(((ap_entry_file *)(void *)(arr + i * old))->name);
    free(arr);
    e->files = NULL;
    e->nfiles = 0;
    ap_entry_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_id),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_from_json_rejects),
        cmocka_unit_test(test_put_get_list),
        cmocka_unit_test(test_corrupt_documents),
        cmocka_unit_test(test_remove_shared),
        cmocka_unit_test(test_fifo_and_damaged),
        cmocka_unit_test(test_put_refuses_unreadable),
        cmocka_unit_test(test_large_entry_roundtrip),
        cmocka_unit_test(test_file_accessors_and_status),
    };
    int rc;
    cmocka_set_message_output(CM_OUTPUT_TAP);
    if (getenv("TEST_FILTER")) /* e.g. TEST_FILTER='test_large*' */
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    base = mkdtemp(tmpl);
    if (!base)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
