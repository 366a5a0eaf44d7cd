/* apctl — terminal-safe text and JSON output.
 * SPDX-License-Identifier: MIT */
#include "apctl.h"
#include "utf8.h"

#include <string.h>

/* ---- output ------------------------------------------------------------
 * Text output is terminal-safe: every string that did not come from apctl
 * itself (messages, references, file names, revisions, paths: any of them
 * may carry a server's bytes) goes through T(), which escapes C0 and C1
 * controls, DEL and invalid UTF-8 visibly (\x1b, \n, \t), so no escape
 * sequence from a server reaches the terminal.  Machine-readable output
 * (--json, --events) is built and written by jansson only, never printf. */

#define T_SLOTS 8
#define T_SLOT_SIZE 8192

/* Terminal-safe copy of s, valid until T() is called T_SLOTS more times in
 * this thread (event callbacks run on job threads).  NULL → "".  Longer
 * results are cut, marked with "...". */
const char *T(const char *s)
{
    static _Thread_local char slot[T_SLOTS][T_SLOT_SIZE];
    static _Thread_local unsigned next;
    char *out = slot[next++ % T_SLOTS];
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t o = 0;
    while (*p) {
        char esc[8];
        size_t n = 0, k;
        if (*p >= 0x20 && *p < 0x7F) {
            esc[0] = (char)*p, n = 1, k = 1;
        } else if (*p >= 0x80 && (k = tool_utf8_len(p, 1)) > 0) {
            memcpy(esc, p, k), n = k;
        } else {
            k = 1;
            n = (size_t)snprintf(esc, sizeof esc, *p == '\n' ? "\\n"
                                 : *p == '\t' ? "\\t" : "\\x%02x", *p);
        }
        if (o + n + 4 > T_SLOT_SIZE) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, esc, n);
        o += n;
        p += k;
    }
    out[o] = '\0';
    return out;
}

/* Write j (stolen) to f as JSON with a newline: compact for event lines,
 * indented otherwise.  0 on success. */
int put_json(FILE *f, json_t *j, int compact)
{
    int rc;
    if (!j)
        return -1;
    rc = json_dumpf(j, f, (compact ? JSON_COMPACT : JSON_INDENT(2)) |
                    JSON_ENSURE_ASCII);
    json_decref(j);
    if (rc == 0)
        fputc('\n', f);
    return rc;
}

int put_json_ascii(FILE *f, const char *js)
{
    const unsigned char *p = (const unsigned char *)js, *run = p;
    for (; *p; p++) {
        size_t k;
        unsigned long cp;
        if (*p < 0x80)
            continue;
        fwrite(run, 1, (size_t)(p - run), f);
        if ((k = tool_utf8_decode(p, 0, &cp)) == 0) { /* not from the library */
            fputs("\\ufffd", f);
            run = p + 1;
            continue;
        }
        if (cp >= 0x10000)
            fprintf(f, "\\u%04lx\\u%04lx", 0xD800 + ((cp - 0x10000) >> 10),
                    0xDC00 + ((cp - 0x10000) & 0x3FF));
        else
            fprintf(f, "\\u%04lx", cp);
        p += k - 1;
        run = p + 1;
    }
    fwrite(run, 1, (size_t)(p - run), f);
    return ferror(f) ? -1 : 0;
}

