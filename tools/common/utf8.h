/* apctl and apd — shared by the tools (every .c of tools/common/ is linked
 * into each): UTF-8 checking and decoding for their terminal-safe output.
 * SPDX-License-Identifier: MIT */
#ifndef AP_TOOLS_UTF8_H
#define AP_TOOLS_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (1 for ASCII; C1 controls,
 * U+0080..U+009F, refused when no_c1); 0 when invalid: an overlong form, a
 * surrogate, a code point above U+10FFFF or a bad continuation byte. */
size_t tool_utf8_len(const unsigned char *s, int no_c1);
/* tool_utf8_len, and the code point in *out when the sequence is valid. */
size_t tool_utf8_decode(const unsigned char *s, int no_c1, unsigned long *out);

#endif
