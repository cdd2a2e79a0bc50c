/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef BASE_JSON_TEXT_H
#define BASE_JSON_TEXT_H

#include <stddef.h>

/*
 * Deepest nesting of arrays and objects, counted without parsing: the
 * parser recurses, so a deep document must be refused before it. The
 * count is only right if strings start and end where the parser's do,
 * and json-glib also reads comments and single-quoted strings, in which
 * a '"' would hide any nesting after it from the count: so outside
 * strings only what JSON allows is let through, and -1 is returned with
 * the offset of anything else in *ret_at; also of what json-glib 1.6
 * leaks memory on or reads otherwise than counted here: an array or
 * object that follows a first value (it takes the second), a \u escape
 * that is not four hex digits, and a lone surrogate's followed by a '"'
 * or a '\\' (json-glib swallows the character after a lone surrogate,
 * even the '"' that ends the string). -2 for a \u0000 escape, which
 * json-glib would turn into a shorter string than the one sent.
 */
int json_text_depth(const char *s, size_t len, size_t *ret_at);

#endif
