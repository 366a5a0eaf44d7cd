/* libartifactprov — the JSON document of one catalog entry (format in
 * docs/store.md): written with yajl's generator, read with yajl's event
 * parser straight into the entry, never through a tree of values.  An
 * entry of 100,000 files is a 50 MB document; jansson took 4-5 s and
 * hundreds of MB to build its tree of one, yajl's events take 0.2-0.4 s
 * (docs/design-notes.md, "A catalog entry is read as events").
 * SPDX-License-Identifier: MIT */
#include "internal.h"
#include "entry.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#define FORMAT_VERSION 1
/* Nesting the reader follows in members it does not know (a later minor
 * version's); beyond it the document is refused (jansson's limit was
 * 2048; ours are 3 deep). */
#define MAX_SKIP_DEPTH 512

/* ---- the members ------------------------------------------------------------
 * Of the document and of each file, by type, in the order they are written.
 * The reader takes them in any order, each once (a second one is a
 * duplicate key); members it does not know are checked as JSON and
 * ignored.  A member of the wrong type makes the document corrupt, but the
 * reading goes on (the text must still be JSON, and format_version decides
 * first). */

enum { T_STR, T_U64, T_I64, T_VERSION, T_STATUS, T_FILES, T_PRESENT, T_FSTATUS };
typedef struct member {
    const char *key;
    size_t klen;
    int type;
    size_t off;   /* in ap_entry or ap_entry_file, for T_STR/T_U64/T_I64 */
    int lower;    /* written lower-case */
} member;

#define K(k) #k, sizeof #k - 1
#define EM(k, t) { K(k), t, offsetof(ap_entry, k), 0 }
#define EX(k, t) { K(k), t, 0, 0 }
static const member head_members[] = {
    EX(format_version, T_VERSION), EM(id, T_STR), EM(vendor, T_STR), EM(ref, T_STR),
    EM(requested, T_STR), EM(name, T_STR), EM(revision, T_STR), EX(status, T_STATUS),
    EM(error, T_STR), EM(total_size, T_U64), EM(done_bytes, T_U64),
    EM(fetched_bytes, T_U64), EM(created, T_I64), EM(updated, T_I64),
    EX(files, T_FILES)
};
#define N_HEAD ((int)(sizeof head_members / sizeof head_members[0]))
#define FM(k, t) { K(k), t, offsetof(ap_entry_file, k), 0 }
#define FML(k) { K(k), T_STR, offsetof(ap_entry_file, k), 1 }
static const member file_members[] = {
    FM(name, T_STR), FM(path, T_STR), FM(size, T_U64), FM(sha256, T_STR),
    FM(git_sha1, T_STR), FML(kind), FML(format), FML(precision), FM(url, T_STR),
    EX(present, T_PRESENT), FM(architecture, T_STR), FM(parameters, T_U64),
    EX(status, T_FSTATUS), FM(verification, T_STR)
};
#define N_FILE ((int)(sizeof file_members / sizeof file_members[0]))

/* ---- writer -----------------------------------------------------------------
 * Compact JSON with a line per member of the document and a line per file.
 * The generator's output goes through out_print.  Before a key of the
 * document or a file's object, the writer sets nl_after to ','; before the
 * files array, to '['.  The generator prints a separator (",", ":") on its
 * own and first, so out_print starts a new line after that character when
 * it comes, and forgets nl_after at the first other print (a ':' aside):
 * never inside a string, whose escapes yajl also prints one by one. */

typedef struct doc_out {
    char *buf;
    size_t len, cap;
    int oom;
    char nl_after;
} doc_out;

static void out_add(doc_out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->cap - o->len < n + 1) {
        size_t cap = o->cap ? o->cap : 4096;
        char *nb;
        while (cap - o->len < n + 1)
            cap *= 2;
        if (!(nb = apx_realloc(o->buf, cap))) {
            o->oom = 1;
            return;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_print(void *ctx, const char *s, size_t n)
{
    doc_out *o = ctx;
    out_add(o, s, n);
    if (!o->nl_after)
        return;
    if (n == 1 && s[0] == o->nl_after) {
        out_add(o, "\n", 1);
        o->nl_after = 0;
    } else if (n != 1 || s[0] != ':') {
        o->nl_after = 0;
    }
}

static yajl_gen_status put_key(yajl_gen g, const member *m)
{
    return yajl_gen_string(g, (const unsigned char *)m->key, m->klen);
}

/* s as a string (lower-cased when lower), or null. */
static yajl_gen_status put_str(yajl_gen g, const char *s, int lower)
{
    char small[64] = "", *copy = small;
    size_t n, i;
    yajl_gen_status st;
    if (!s)
        return yajl_gen_null(g);
    n = strlen(s);
    for (i = 0; lower && i < n && !(s[i] >= 'A' && s[i] <= 'Z'); i++)
        ;
    if (!lower || i == n)
        return yajl_gen_string(g, (const unsigned char *)s, n);
    if (n >= sizeof small && !(copy = apx_malloc(n + 1)))
        return yajl_gen_in_error_state; /* not ok: the document is not made */
    for (i = 0; i < n; i++)
        copy[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    st = yajl_gen_string(g, (const unsigned char *)copy, n);
    if (copy != small)
        free(copy);
    return st;
}

/* As jansson's json_integer took them: at most INT64_MAX. */
static yajl_gen_status put_u64(yajl_gen g, uint64_t v)
{
    return yajl_gen_integer(g, v > (uint64_t)INT64_MAX ? INT64_MAX : (long long)v);
}

static int put_member(yajl_gen g, const member *m, const void *base)
{
    const char *p = (const char *)base + m->off;
    if (put_key(g, m) != yajl_gen_status_ok)
        return -1;
    switch (m->type) {
    case T_STR: return put_str(g, *(char *const *)(const void *)p, m->lower) ? -1 : 0;
    case T_U64: return put_u64(g, *(const uint64_t *)(const void *)p) ? -1 : 0;
    case T_I64: return yajl_gen_integer(g, *(const int64_t *)(const void *)p) ? -1 : 0;
    }
    return -1;
}

static int put_file(yajl_gen g, doc_out *o, const ap_entry_file *f)
{
    int i, bad;
    o->nl_after = ',';
    bad = yajl_gen_map_open(g) != yajl_gen_status_ok;
    for (i = 0; i < N_FILE && !bad; i++) {
        const member *m = &file_members[i];
        if (m->type == T_PRESENT)
            bad = put_key(g, m) || yajl_gen_bool(g, f->present != 0);
        else if (m->type == T_FSTATUS)
            bad = put_key(g, m) ||
                  put_str(g, ap_file_status_name(apx_entry_file_status(f)), 0);
        else if (m->off != offsetof(ap_entry_file, verification))
            bad = put_member(g, m, f) != 0;
        else if (AP_ENTRY_FILE_HAS(f, verification) && f->verification)
            bad = put_member(g, m, f) != 0; /* written only when known */
    }
    return bad || yajl_gen_map_close(g) != yajl_gen_status_ok ? -1 : 0;
}

static int put_entry(yajl_gen g, doc_out *o, const ap_entry *e)
{
    int i, bad = yajl_gen_map_open(g) != yajl_gen_status_ok;
    size_t k;
    for (i = 0; i < N_HEAD && !bad; i++) {
        const member *m = &head_members[i];
        o->nl_after = ',';
        if (m->type == T_VERSION)
            bad = put_key(g, m) || yajl_gen_integer(g, FORMAT_VERSION);
        else if (m->type == T_STATUS)
            bad = put_key(g, m) || put_str(g, ap_entry_status_name(e->status), 0);
        else if (m->type != T_FILES && (m->off != offsetof(ap_entry, requested) ||
                                        e->requested))
            bad = put_member(g, m, e) != 0;
    }
    o->nl_after = ',';
    bad = bad || yajl_gen_string(g, (const unsigned char *)"files", 5);
    o->nl_after = '[';
    bad = bad || yajl_gen_array_open(g);
    for (k = 0; k < e->nfiles && e->files && !bad; k++) /* a caller's array too */
        bad = put_file(g, o, ap_entry_file_at(e, k)) != 0;
    return bad || yajl_gen_array_close(g) || yajl_gen_map_close(g) ? -1 : 0;
}

char *apx_entry_json_text(const ap_entry *e, size_t *len)
{
    doc_out o = { NULL, 0, 0, 0, 0 };
    yajl_gen g = yajl_gen_alloc(NULL);
    int bad;
    if (!g)
        return NULL;
    if (!yajl_gen_config(g, yajl_gen_print_callback, out_print, &o) ||
        !yajl_gen_config(g, yajl_gen_validate_utf8, 1)) {
        yajl_gen_free(g);
        return NULL;
    }
    o.cap = 1024 + e->nfiles * 512; /* about a document's size */
    if (!(o.buf = apx_malloc(o.cap)))
        o.oom = 1;
    bad = put_entry(g, &o, e);
    yajl_gen_free(g);
    if (bad || o.oom) {
        free(o.buf);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.buf;
}

AP_EXPORT int ap_entry_to_json(const ap_entry *entry, char **result)
{
    if (!result)
        return apx_error_set(NULL, AP_EINVAL, "ap_entry_to_json: no output pointer");
    *result = NULL;
    if (!entry)
        return apx_error_set(NULL, AP_EINVAL, "ap_entry_to_json: no entry");
    if (!(*result = apx_entry_json_text(entry, NULL)))
        return apx_error_set(NULL, AP_ENOMEM, "entry '%s': cannot represent it as "
                             "JSON (out of memory, or a string that is not UTF-8)",
                             entry->id ? entry->id : "(no id)");
    return AP_OK;
}

/* ---- reader -----------------------------------------------------------------
 * yajl calls back per token; the reader knows where it is (the document's
 * object, the files array, a file's object, or inside a value it skips)
 * and which member the next value belongs to. */

/* What went wrong, the first of each kind: JSON syntax comes first, then
 * these in this order. */
enum { W_NOT_OBJECT, W_VERSION, W_MEMBER, W_ID, W_STATUS, W_FILES, W_N };
static const char *const why_text[W_N] = {
    "not a JSON object", "missing or unsupported format_version",
    "bad or missing member", "invalid id", "bad status", "bad files array"
};

enum { L_TOP, L_HEAD, L_FILES, L_FILE, L_END };
enum { FS_NONE = -1, FS_BAD = -2 };

typedef struct reader {
    ap_entry *e;
    size_t cap;            /* files allocated */
    int level;             /* L_x: where the next value goes */
    int skip;              /* > 0: the depth inside a value being skipped */
    const member *m;       /* the member the next value is for, or NULL */
    unsigned seen;         /* members of the current object met so far */
    int last;              /* the table index of the member met last */
    unsigned head_seen;
    unsigned bad;          /* bit W_x: that went wrong */
    int status_ok;         /* the document's "status" named one */
    int fstatus;           /* the current file's "status": FS_NONE (not
                              given), FS_BAD (not a status word) or one */
    int enomem;
    const char *err;       /* a JSON error the callbacks found */
    yajl_handle h;
    size_t end;            /* where the document's object ended */
} reader;

static ap_entry_file *cur_file(reader *rd)
{
    return &rd->e->files[rd->e->nfiles - 1];
}

/* A member of the wrong type: which document error it is. */
static void wrong_type(reader *rd)
{
    int w = W_MEMBER;
    if (rd->level == L_FILE || rd->level == L_FILES)
        w = W_FILES;
    else if (rd->m && rd->m->type == T_VERSION)
        w = W_VERSION;
    else if (rd->m && rd->m->type == T_STATUS)
        w = W_STATUS;
    else if (rd->m && rd->m->type == T_FILES)
        w = W_FILES;
    rd->bad |= 1u << w;
}

/* The common start of a scalar: 1 when the value is to be looked at
 * (rd->m is its member), 0 when it is skipped or stray. */
static int scalar(reader *rd)
{
    if (rd->skip)
        return 0;
    if (rd->level == L_TOP) {
        rd->bad |= 1u << W_NOT_OBJECT;
        rd->level = L_END;
        return 0;
    }
    if (rd->level == L_FILES) {
        rd->bad |= 1u << W_FILES;
        return 0;
    }
    return rd->m != NULL;
}

static void *field(reader *rd)
{
    void *base = rd->level == L_FILE ? (void *)cur_file(rd) : (void *)rd->e;
    return (char *)base + rd->m->off;
}

static int on_null(void *ctx)
{
    reader *rd = ctx;
    if (scalar(rd) && rd->m->type == T_VERSION)
        wrong_type(rd);
    /* null: the member is absent (NULL, 0, not present, no file status) */
    rd->m = NULL;
    return 1;
}

static int on_boolean(void *ctx, int b)
{
    reader *rd = ctx;
    if (scalar(rd)) {
        if (rd->m->type == T_PRESENT)
            cur_file(rd)->present = b != 0;
        else
            wrong_type(rd);
    }
    rd->m = NULL;
    return 1;
}

static void integer(reader *rd, long long v)
{
    switch (rd->m->type) {
    case T_PRESENT: cur_file(rd)->present = v != 0; break;
    case T_VERSION:
        if (v != FORMAT_VERSION)
            wrong_type(rd);
        break;
    case T_U64:
        if (v < 0)
            wrong_type(rd);
        else
            *(uint64_t *)field(rd) = (uint64_t)v;
        break;
    case T_I64: *(int64_t *)field(rd) = (int64_t)v; break;
    default: wrong_type(rd);
    }
}

/* A number, as its text (yajl checked its syntax): an integer that fits
 * int64_t, which the members take, or a real, which none takes.  Read here
 * rather than by yajl's own conversion, which refuses INT64_MIN. */
static int on_number(void *ctx, const char *s, size_t n)
{
    reader *rd = ctx;
    char text[32], *end;
    long long v = 0;
    int is_real = memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n);
    if (!is_real) {
        if (n >= sizeof text) {
            rd->err = "integer overflow";
            return 0;
        }
        memcpy(text, s, n);
        text[n] = '\0';
        errno = 0;
        v = strtoll(text, &end, 10);
        if (errno == ERANGE || *end) {
            rd->err = "integer overflow";
            return 0;
        }
    }
    if (scalar(rd)) {
        if (is_real)
            wrong_type(rd);
        else
            integer(rd, v);
    }
    rd->m = NULL;
    return 1;
}

/* A string or key as yajl decoded it: its escapes may have made a NUL
 * (\u0000, which jansson refused) or an unpaired surrogate (\udc00 comes
 * out as bytes that are not UTF-8): refused as bad JSON. */
static int decoded_ok(reader *rd, const unsigned char *s, size_t n)
{
    if (memchr(s, 0, n)) {
        rd->err = "\\u0000 in a string";
        return 0;
    }
    if (!apx_utf8_valid((const char *)s, n)) {
        rd->err = "a string escape that is not a character (a lone surrogate)";
        return 0;
    }
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    reader *rd = ctx;
    char **slot;
    if (!decoded_ok(rd, s, n))
        return 0;
    if (scalar(rd)) {
        switch (rd->m->type) {
        case T_STR:
            slot = field(rd);
            if (!(*slot = apx_strndup((const char *)s, n))) {
                rd->enomem = 1;
                return 0;
            }
            break;
        case T_STATUS:
        case T_FSTATUS: {
            /* a status word, looked up at once (none is 16 bytes long) */
            char word[16] = "";
            ap_file_status fs;
            if (n < sizeof word)
                memcpy(word, s, n);
            if (rd->m->type == T_STATUS)
                rd->status_ok = apx_entry_status_from_name(word, &rd->e->status);
            else
                rd->fstatus = apx_file_status_from_name(word, &fs) ? (int)fs : FS_BAD;
            break;
        }
        default: wrong_type(rd);
        }
    }
    rd->m = NULL;
    return 1;
}

/* The member key names in table t (n members): rd->m, or NULL for one the
 * reader does not know.  The tables are in the writer's order, so the
 * member after the one met last is tried first: a document of 100,000
 * files has 1.4 million keys to look up. */
static int on_map_key(void *ctx, const unsigned char *k, size_t n)
{
    reader *rd = ctx;
    const member *t = rd->level == L_FILE ? file_members : head_members;
    int nt = rd->level == L_FILE ? N_FILE : N_HEAD, j, i;
    if (!decoded_ok(rd, k, n))
        return 0;
    rd->m = NULL;
    if (rd->skip)
        return 1;
    for (j = 0; j < nt; j++) {
        i = (rd->last + 1 + j) % nt;
        if (t[i].klen != n || memcmp(t[i].key, k, n) != 0)
            continue;
        if (rd->seen & 1u << i) {
            rd->err = "duplicate object key";
            return 0;
        }
        rd->seen |= 1u << i;
        rd->last = i;
        rd->m = &t[i];
        break;
    }
    return 1;
}

/* A container where a scalar or nothing was due: skipped. */
static int skip_open(reader *rd)
{
    if (++rd->skip > MAX_SKIP_DEPTH) {
        rd->err = "nested too deep";
        return 0;
    }
    return 1;
}

static int file_open(reader *rd)
{
    ap_entry *e = rd->e;
    if (e->nfiles == rd->cap) {
        size_t cap = rd->cap ? rd->cap * 2 : 16;
        ap_entry_file *nf = apx_realloc(e->files, cap * sizeof *nf);
        if (!nf) {
            rd->enomem = 1;
            return 0;
        }
        e->files = nf;
        rd->cap = cap;
    }
    memset(&e->files[e->nfiles], 0, sizeof *e->files);
    e->files[e->nfiles++].struct_size = sizeof *e->files;
    rd->level = L_FILE;
    rd->head_seen = rd->seen;
    rd->seen = 0;
    rd->last = -1;
    rd->fstatus = FS_NONE;
    return 1;
}

static int on_start_map(void *ctx)
{
    reader *rd = ctx;
    if (rd->skip)
        return skip_open(rd);
    if (rd->level == L_TOP) {
        rd->level = L_HEAD;
        return 1;
    }
    if (rd->level == L_FILES)
        return file_open(rd);
    if (rd->m)
        wrong_type(rd);
    rd->m = NULL;
    return skip_open(rd);
}

static int on_start_array(void *ctx)
{
    reader *rd = ctx;
    if (!rd->skip && rd->level == L_HEAD && rd->m && rd->m->type == T_FILES) {
        rd->level = L_FILES;
        rd->m = NULL;
        return 1;
    }
    if (!rd->skip && rd->level == L_TOP)
        rd->bad |= 1u << W_NOT_OBJECT;
    else if (!rd->skip && (rd->m || rd->level == L_FILES))
        wrong_type(rd);
    rd->m = NULL;
    return skip_open(rd);
}

/* The end of a file's object: what can only be judged on the whole. */
static void file_close(reader *rd)
{
    ap_entry_file *f = cur_file(rd);
    int bad = 0;
    /* a document older than the member: the present flag tells */
    f->status = f->present ? AP_FILE_READY : AP_FILE_PENDING;
    if (rd->fstatus != FS_NONE) {
        if (rd->fstatus == FS_BAD || (rd->fstatus == AP_FILE_READY) != (f->present != 0))
            bad = 1;
        else
            f->status = (ap_file_status)rd->fstatus;
    }
    if (!f->name || ap_path_validate(f->name) != AP_OK ||
        (f->sha256 && !apx_is_sha256_hex(f->sha256)))
        bad = 1;
    if (bad)
        rd->bad |= 1u << W_FILES;
    rd->level = L_FILES;
    rd->seen = rd->head_seen;
    rd->last = -1;
}

static int on_end_map(void *ctx)
{
    reader *rd = ctx;
    if (rd->skip)
        rd->skip--;
    else if (rd->level == L_FILE)
        file_close(rd);
    else if (rd->level == L_HEAD) {
        rd->level = L_END;
        rd->end = yajl_get_bytes_consumed(rd->h);
    }
    return 1;
}

static int on_end_array(void *ctx)
{
    reader *rd = ctx;
    if (rd->skip)
        rd->skip--;
    else if (rd->level == L_FILES)
        rd->level = L_HEAD;
    return 1;
}

static const yajl_callbacks callbacks = {
    on_null, on_boolean, NULL, NULL, on_number, on_string,
    on_start_map, on_map_key, on_end_map, on_start_array, on_end_array
};

/* "bad JSON: what (line N)" for a document yajl refused. */
static void syntax_why(yajl_handle h, reader *rd, const char *json, size_t len,
                       char *why, size_t why_len)
{
    size_t at = rd->level == L_END ? rd->end : yajl_get_bytes_consumed(h), i;
    int line = 1;
    unsigned char *msg = NULL;
    const char *what = rd->err;
    if (at > len)
        at = len;
    for (i = 0; i < at; i++)
        line += json[i] == '\n';
    if (!what && (msg = yajl_get_error(h, 0, (const unsigned char *)json, len)))
        what = (const char *)msg;
    snprintf(why, why_len, "bad JSON: %.*s (line %d)",
             what ? (int)strcspn(what, "\n") : 4, what ? what : "?", line);
    if (msg)
        yajl_free_error(h, msg);
}

/* Only JSON white space from json[at] to json[len]? */
static int only_space(const char *json, size_t at, size_t len)
{
    for (; at < len; at++)
        if (!strchr(" \t\n\r", json[at]) || json[at] == '\0')
            return 0;
    return 1;
}

/* The document's own members, judged once it has been read. */
static void head_close(reader *rd)
{
    ap_entry *e = rd->e;
    if (!(rd->seen & 1u)) /* format_version */
        rd->bad |= 1u << W_VERSION;
    if (!e->id)
        rd->bad |= 1u << W_MEMBER;
    else if (!apx_entry_id_valid(e->id))
        rd->bad |= 1u << W_ID;
    if (!rd->status_ok)
        rd->bad |= 1u << W_STATUS;
}

int apx_entry_parse(const char *json, size_t len, ap_entry **out,
                    char *why, size_t why_len)
{
    reader rd;
    yajl_handle h;
    yajl_status st;
    int rc, w;

    *out = NULL;
    memset(&rd, 0, sizeof rd);
    rd.last = -1;
    if (!(rd.e = apx_calloc(1, sizeof *rd.e)))
        return AP_ENOMEM;
    rd.e->struct_size = sizeof *rd.e;
    if (!(h = yajl_alloc(&callbacks, NULL, &rd))) {
        ap_entry_free(rd.e);
        return AP_ENOMEM;
    }
    rd.h = h;
    st = yajl_parse(h, (const unsigned char *)json, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st == yajl_status_ok && rd.level == L_END && !only_space(json, rd.end, len)) {
        /* yajl takes an unterminated string after the value for one it
         * has not seen the end of, and lets it go at the end */
        st = yajl_status_error;
        rd.err = "trailing garbage";
    }
    if (rd.enomem)
        rc = AP_ENOMEM;
    else if (st != yajl_status_ok)
        rc = AP_ECORRUPT;
    else {
        if (!(rd.bad & 1u << W_NOT_OBJECT))
            head_close(&rd);
        rc = rd.bad ? AP_ECORRUPT : AP_OK;
    }
    if (rc != AP_OK && why) {
        if (rc == AP_ENOMEM)
            snprintf(why, why_len, "out of memory");
        else if (st != yajl_status_ok)
            syntax_why(h, &rd, json, len, why, why_len);
        else {
            for (w = 0; w < W_N && !(rd.bad & 1u << w); w++)
                ;
            snprintf(why, why_len, "%s", w < W_N ? why_text[w] : "malformed");
        }
    }
    yajl_free(h);
    if (rc != AP_OK) {
        ap_entry_free(rd.e);
        return rc;
    }
    *out = rd.e;
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
