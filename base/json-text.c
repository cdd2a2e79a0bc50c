// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * base/json-text.c - what is checked in JSON text from outside before
 * json-glib parses it.
 */
#include <string.h>

#include <glib.h>

#include "base/json-text.h"

/* The value of the \uXXXX escape at s[i], or -1 if there is none. */
static long u_escape(const char *s, size_t len, size_t i)
{
	long v = 0;

	if (i + 5 >= len || s[i] != '\\' || s[i + 1] != 'u')
		return -1;
	for (size_t k = i + 2; k < i + 6; k++) {
		int d = g_ascii_xdigit_value(s[k]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static int within(long u, long lo, long hi)
{
	return u >= lo && u <= hi;
}

int json_text_depth(const char *s, size_t len, size_t *ret_at)
{
	int depth = 0, max = 0, in_str = 0, top = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			/* A NUL would cut the string short unseen. */
			if (c == '\\' && i + 5 < len &&
			    !memcmp(s + i + 1, "u0000", 5)) {
				*ret_at = i;
				return -2;
			}
			if (c == '\\' && i + 1 < len && s[i + 1] == 'u') {
				long u = u_escape(s, len, i);
				long next = u_escape(s, len, i + 6);
				int pair = within(u, 0xd800, 0xdbff) &&
					   within(next, 0xdc00, 0xdfff);

				/*
				 * json-glib leaks the string it was reading
				 * when an escape is not four hex digits or a
				 * surrogate's is followed by a \u escape that
				 * does not make a pair with it. After a lone
				 * surrogate it swallows the next character:
				 * a '"' or a '\\' there would make it see
				 * strings end elsewhere than counted here.
				 */
				if (u < 0 ||
				    (!pair && within(u, 0xd800, 0xdfff) &&
				     i + 6 < len &&
				     (s[i + 6] == '"' || s[i + 6] == '\\'))) {
					*ret_at = i;
					return -1;
				}
				i += pair ? 11 : 5;
				continue;
			}
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
			top |= !depth;
		} else if (c == '[' || c == '{') {
			/* An array or object after a first value: json-glib
			 * 1.6 keeps the second and leaks the first. */
			if (!depth && top) {
				*ret_at = i;
				return -1;
			}
			top = 1;
			/* Not in MAX(): it evaluates its arguments twice. */
			depth++;
			max = MAX(max, depth);
		} else if (c == ']' || c == '}') {
			depth--;
		} else if (!c ||
			   !strchr(" \t\n\r,:-+.0123456789eEtrufalsn", c)) {
			*ret_at = i;
			return -1;
		} else if (!depth && !strchr(" \t\n\r", c)) {
			top = 1;
		}
	}
	return max;
}
