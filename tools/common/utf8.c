/* apctl and apd — UTF-8 checking and decoding for terminal-safe output
 * and ASCII JSON (utf8.h).
 * SPDX-License-Identifier: MIT */
#include "utf8.h"

size_t tool_utf8_decode(const unsigned char *s, int no_c1, unsigned long *out)
{
    unsigned cp, need, i;
    if (s[0] < 0x80) {
        *out = s[0];
        return 1;
    }
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
        (no_c1 && cp >= 0x80 && cp <= 0x9F))
        return 0;
    *out = cp;
    return need + 1;
}

size_t tool_utf8_len(const unsigned char *s, int no_c1)
{
    unsigned long cp;
    return tool_utf8_decode(s, no_c1, &cp);
}
