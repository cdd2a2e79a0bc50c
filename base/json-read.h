/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef BASE_JSON_READ_H
#define BASE_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

#include <json-glib/json-glib.h>

/*
 * The one reader of JSON from outside (manifests, inventories, snapshot
 * and stream heads, verdicts, control requests). The text is checked
 * before json-glib sees a byte (json_text_depth()), then parsed; the
 * getters check a member's type, length and range, and every message
 * names the member by its path:
 *
 *	"manifest: devices[2].vmstate.version: expected an integer"
 *
 * A getter returns 0, or a negative errno with *error set (GError code
 * the positive errno, domain MODVMM_ERROR).
 */

/* What a getter reports to and where it puts strings. */
struct json_read {
	/* The document, first in every message ("manifest"). */
	const char *what;
	GError **error;
	/* If set, strings are copied in here and live as long as it;
	 * if not, they live as long as the parser. */
	GStringChunk *strings;
};

/*
 * Checks `len` bytes of JSON text from outside before it is parsed:
 * what json_text_depth() refuses and nesting deeper than max_depth.
 * Returns 0; -EBADMSG for text that is not JSON ("unexpected byte 0x7b
 * at offset 3"); -EINVAL for JSON this reader refuses ("a string holds
 * \u0000 at offset 3", "nested deeper than 16 levels"). The message has
 * no prefix: the caller says what was read.
 */
int json_read_check(const char *data, size_t len, int max_depth,
		    GError **error);

/*
 * json_read_check(), then json-glib parses into p: -EBADMSG with
 * json-glib's message for what it refuses. The root may be any value.
 */
int json_read_parse(JsonParser *p, const char *data, size_t len, int max_depth,
		    GError **error);

/* The parsed root if it is an object, or NULL. */
JsonObject *json_read_root_object(JsonParser *p);

/* Whether every string in n, member names too, is UTF-8. */
int json_read_all_utf8(JsonNode *n);

/* The type a scalar node holds (G_TYPE_INT64, G_TYPE_BOOLEAN,
 * G_TYPE_STRING, G_TYPE_DOUBLE), or G_TYPE_INVALID for null, an array,
 * an object or no node. */
GType json_read_type(JsonNode *n);

/*
 * Sets *error to "WHAT: PATH.KEY: MESSAGE" (PATH and KEY each may be
 * empty or NULL) and returns -EINVAL.
 */
int json_read_fail(struct json_read *rd, const char *path, const char *key,
		   const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* "PATH.KEY[I]" (or "KEY[I]" at the top), for the elements of an array. */
char *json_read_index(const char *path, const char *key, unsigned int i);

/*
 * Integers: a node (NULL: "missing") or an object's member, in min..max.
 * "expected an integer", "-1 is out of range".
 */
int json_read_node_int(struct json_read *rd, JsonNode *n, const char *path,
		       const char *key, int64_t min, int64_t max, int64_t *ret);
int json_read_int(struct json_read *rd, JsonObject *o, const char *path,
		  const char *key, int64_t min, int64_t max, int64_t *ret);
int json_read_u32(struct json_read *rd, JsonObject *o, const char *path,
		  const char *key, uint32_t *ret);
int json_read_node_u32(struct json_read *rd, JsonNode *n, const char *path,
		       const char *key, uint32_t *ret);
/* 0..max (at most INT64_MAX: JSON integers here are 64-bit signed). */
int json_read_u64(struct json_read *rd, JsonObject *o, const char *path,
		  const char *key, uint64_t max, uint64_t *ret);

/* true or false; json_read_flag(): absent is false. */
int json_read_bool(struct json_read *rd, JsonObject *o, const char *path,
		   const char *key, int *ret);
int json_read_flag(struct json_read *rd, JsonObject *o, const char *path,
		   const char *key, int *ret);

/* May a string be empty (json_read_string's flags). */
#define JSON_READ_EMPTY_OK 0x1

/*
 * A printable UTF-8 string of 1..max bytes (0..max with
 * JSON_READ_EMPTY_OK): "missing", "expected a string", "empty", "longer
 * than 64 bytes", "control character at byte 3", "not UTF-8 at byte 3".
 */
int json_read_string(struct json_read *rd, JsonObject *o, const char *path,
		     const char *key, size_t max, unsigned int flags,
		     const char **ret);

/* An array of at most `max` entries; absent or null: *ret NULL. */
int json_read_array(struct json_read *rd, JsonObject *o, const char *path,
		    const char *key, unsigned int max, JsonArray **ret);

/*
 * An array of at most max_n UTF-8 strings of at most max_len bytes each
 * (copied, with a g_free free function); absent or null: *ret NULL.
 */
int json_read_strings(struct json_read *rd, JsonObject *o, const char *path,
		      const char *key, unsigned int max_n, size_t max_len,
		      GPtrArray **ret);

/* An object member; absent or null: *ret NULL. */
int json_read_object(struct json_read *rd, JsonObject *o, const char *path,
		     const char *key, JsonObject **ret);

/* Element i of a, which must be an object; path names the element. */
int json_read_element(struct json_read *rd, JsonArray *a, unsigned int i,
		      const char *path, JsonObject **ret);

#endif
