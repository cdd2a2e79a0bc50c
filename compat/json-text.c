// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * compat/json-text.c - what is checked in JSON text from outside before
 * json-glib parses it.
 */
#include <string.h>

#include <glib.h>

#include "json-text.h"

int json_text_depth(const char *s, size_t len, size_t *ret_at)
{
	int depth = 0, max = 0, in_str = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			/* A NUL would cut the string short unseen. */
			if (c == '\\' && i + 5 < len &&
			    !memcmp(s + i + 1, "u0000", 5)) {
				*ret_at = i;
				return -2;
			}
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			/* Not in MAX(): it evaluates its arguments twice. */
			depth++;
			max = MAX(max, depth);
		} else if (c == ']' || c == '}') {
			depth--;
		} else if (!c ||
			   !strchr(" \t\n\r,:-+.0123456789eEtrufalsn", c)) {
			*ret_at = i;
			return -1;
		}
	}
	return max;
}
