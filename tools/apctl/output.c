/* apctl — terminal-safe text and JSON output.
 * SPDX-License-Identifier: MIT */
#include "apctl.h"

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

/* Length of the valid, non-C1 UTF-8 sequence at s, 0 when invalid. */
static size_t utf8_ok(const unsigned char *s)
{
    unsigned cp, need, i;
    if (s[0] < 0xC2)
        return 0;
    if (s[0] < 0xE0)
        cp = s[0] & 0x1Fu, need = 1;
    else if (s[0] < 0xF0)
        cp = s[0] & 0x0Fu, need = 2;
    else if (s[0] < 0xF5)
        cp = s[0] & 0x07u, need = 3;
    else
        return 0;
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
        (cp >= 0x80 && cp <= 0x9F))
        return 0;
    return need + 1;
}

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
        } else if (*p >= 0x80 && (k = utf8_ok(p)) > 0) {
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

/* An entry as a jansson value (the library's own JSON document). */
json_t *entry_value(const ap_entry *e)
{
    char *js = NULL;
    json_t *j = NULL;
    if (ap_entry_to_json(e, &js) == AP_OK)
        j = json_loads(js, JSON_REJECT_DUPLICATES, NULL);
    ap_free(js);
    return j;
}

