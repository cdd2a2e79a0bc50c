// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * base/json-read.c - the bounded reader of JSON from outside: the text
 * checked before it is parsed, then typed getters whose every message
 * names the member by its path.
 */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "base/json-read.h"
#include "base/json-text.h"

int json_read_check(const char *data, size_t len, int max_depth, GError **error)
{
	size_t at = 0;
	int depth = json_text_depth(data, len, &at);

	if (depth == -2)
		return error_setf(error, EINVAL,
				  "a string holds \\u0000 at offset %zu", at);
	if (depth < 0)
		return error_setf(error, EBADMSG,
				  "unexpected byte 0x%02x at offset %zu",
				  (unsigned char)data[at], at);
	if (depth > max_depth)
		return error_setf(error, EINVAL, "nested deeper than %d levels",
				  max_depth);
	return 0;
}

int json_read_parse(JsonParser *p, const char *data, size_t len, int max_depth,
		    GError **error)
{
	g_autoptr(GError) err = NULL;
	int r = json_read_check(data, len, max_depth, error);

	if (r < 0)
		return r;
	/* An empty record has no data at all; json-glib wants a pointer. */
	if (!json_parser_load_from_data(p, data ? data : "", (gssize)len, &err))
		return error_setf(error, EBADMSG, "%s",
				  err ? err->message : "not JSON");
	return 0;
}

JsonObject *json_read_root_object(JsonParser *p)
{
	JsonNode *n = json_parser_get_root(p);

	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

int json_read_all_utf8(JsonNode *n)
{
	if (JSON_NODE_HOLDS_OBJECT(n)) {
		JsonObjectIter it;
		const char *k;
		JsonNode *v;

		json_object_iter_init(&it, json_node_get_object(n));
		while (json_object_iter_next(&it, &k, &v))
			if (!g_utf8_validate(k, -1, NULL) ||
			    !json_read_all_utf8(v))
				return 0;
	} else if (JSON_NODE_HOLDS_ARRAY(n)) {
		JsonArray *a = json_node_get_array(n);

		for (guint i = 0; i < json_array_get_length(a); i++)
			if (!json_read_all_utf8(json_array_get_element(a, i)))
				return 0;
	} else if (json_read_type(n) == G_TYPE_STRING) {
		return g_utf8_validate(json_node_get_string(n), -1, NULL);
	}
	return 1;
}

GType json_read_type(JsonNode *n)
{
	if (!n || !JSON_NODE_HOLDS_VALUE(n))
		return G_TYPE_INVALID;
	return json_node_get_value_type(n);
}

int json_read_fail(struct json_read *rd, const char *path, const char *key,
		   const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	if (!path)
		path = "";
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return error_setf(rd->error, EINVAL, "%s%s%s%s%s: %s",
			  rd->what ? rd->what : "", rd->what ? ": " : "", path,
			  *path && key ? "." : "", key ? key : "", msg);
}

char *json_read_index(const char *path, const char *key, unsigned int i)
{
	return g_strdup_printf("%s%s%s[%u]", path ? path : "",
			       path && *path ? "." : "", key, i);
}

static JsonNode *member(JsonObject *o, const char *key)
{
	return json_object_get_member(o, key);
}

int json_read_node_int(struct json_read *rd, JsonNode *n, const char *path,
		       const char *key, int64_t min, int64_t max, int64_t *ret)
{
	gint64 v;

	if (!n)
		return json_read_fail(rd, path, key, "missing");
	if (json_read_type(n) != G_TYPE_INT64)
		return json_read_fail(rd, path, key, "expected an integer");
	v = json_node_get_int(n);
	if (v < min || v > max)
		return json_read_fail(rd, path, key,
				      "%" G_GINT64_FORMAT " is out of range",
				      v);
	*ret = v;
	return 0;
}

int json_read_int(struct json_read *rd, JsonObject *o, const char *path,
		  const char *key, int64_t min, int64_t max, int64_t *ret)
{
	return json_read_node_int(rd, member(o, key), path, key, min, max, ret);
}

int json_read_node_u32(struct json_read *rd, JsonNode *n, const char *path,
		       const char *key, uint32_t *ret)
{
	int64_t v;
	int r = json_read_node_int(rd, n, path, key, 0, UINT32_MAX, &v);

	if (r < 0)
		return r;
	*ret = (uint32_t)v;
	return 0;
}

int json_read_u32(struct json_read *rd, JsonObject *o, const char *path,
		  const char *key, uint32_t *ret)
{
	return json_read_node_u32(rd, member(o, key), path, key, ret);
}

int json_read_u64(struct json_read *rd, JsonObject *o, const char *path,
		  const char *key, uint64_t max, uint64_t *ret)
{
	int64_t v;
	int r = json_read_int(rd, o, path, key, 0,
			      (int64_t)MIN(max, (uint64_t)INT64_MAX), &v);

	if (r < 0)
		return r;
	*ret = (uint64_t)v;
	return 0;
}

int json_read_bool(struct json_read *rd, JsonObject *o, const char *path,
		   const char *key, int *ret)
{
	JsonNode *n = member(o, key);

	if (!n)
		return json_read_fail(rd, path, key, "missing");
	if (json_read_type(n) != G_TYPE_BOOLEAN)
		return json_read_fail(rd, path, key, "expected true or false");
	*ret = json_node_get_boolean(n);
	return 0;
}

int json_read_flag(struct json_read *rd, JsonObject *o, const char *path,
		   const char *key, int *ret)
{
	if (!member(o, key)) {
		*ret = 0;
		return 0;
	}
	return json_read_bool(rd, o, path, key, ret);
}

int json_read_string(struct json_read *rd, JsonObject *o, const char *path,
		     const char *key, size_t max, unsigned int flags,
		     const char **ret)
{
	JsonNode *n = member(o, key);
	const char *s, *end;

	if (!n)
		return json_read_fail(rd, path, key, "missing");
	if (json_read_type(n) != G_TYPE_STRING)
		return json_read_fail(rd, path, key, "expected a string");
	s = json_node_get_string(n);
	if (!*s && !(flags & JSON_READ_EMPTY_OK))
		return json_read_fail(rd, path, key, "empty");
	if (strlen(s) > max)
		return json_read_fail(rd, path, key, "longer than %zu bytes",
				      max);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return json_read_fail(rd, path, key,
					      "control character at byte %zu",
					      (size_t)(p - s));
	/* json-glib turns a lone surrogate escape into bytes that are not
	 * UTF-8, which no JSON reader would take back. */
	if (!g_utf8_validate(s, -1, &end))
		return json_read_fail(rd, path, key, "not UTF-8 at byte %zu",
				      (size_t)(end - s));
	*ret = rd->strings ? g_string_chunk_insert_const(rd->strings, s) : s;
	return 0;
}

int json_read_array(struct json_read *rd, JsonObject *o, const char *path,
		    const char *key, unsigned int max, JsonArray **ret)
{
	JsonNode *n = member(o, key);

	*ret = NULL;
	if (!n || JSON_NODE_HOLDS_NULL(n))
		return 0;
	if (!JSON_NODE_HOLDS_ARRAY(n))
		return json_read_fail(rd, path, key, "expected an array");
	if (json_array_get_length(json_node_get_array(n)) > max)
		return json_read_fail(
			rd, path, key, "%u entries, at most %u",
			json_array_get_length(json_node_get_array(n)), max);
	*ret = json_node_get_array(n);
	return 0;
}

int json_read_strings(struct json_read *rd, JsonObject *o, const char *path,
		      const char *key, unsigned int max_n, size_t max_len,
		      GPtrArray **ret)
{
	JsonArray *a;
	int r = json_read_array(rd, o, path, key, max_n, &a);

	*ret = NULL;
	if (r < 0 || !a)
		return r;
	*ret = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *n = json_array_get_element(a, i);
		const char *s;

		if (json_read_type(n) != G_TYPE_STRING ||
		    strlen(s = json_node_get_string(n)) > max_len ||
		    !g_utf8_validate(s, -1, NULL)) {
			g_autofree char *p = json_read_index(path, key, i);

			g_clear_pointer(ret, g_ptr_array_unref);
			return json_read_fail(rd, p, NULL,
					      "expected a UTF-8 string of at "
					      "most %zu bytes",
					      max_len);
		}
		g_ptr_array_add(*ret, g_strdup(s));
	}
	return 0;
}

int json_read_object(struct json_read *rd, JsonObject *o, const char *path,
		     const char *key, JsonObject **ret)
{
	JsonNode *n = member(o, key);

	*ret = NULL;
	if (!n || JSON_NODE_HOLDS_NULL(n))
		return 0;
	if (!JSON_NODE_HOLDS_OBJECT(n))
		return json_read_fail(rd, path, key,
				      "expected an object or null");
	*ret = json_node_get_object(n);
	return 0;
}

int json_read_element(struct json_read *rd, JsonArray *a, unsigned int i,
		      const char *path, JsonObject **ret)
{
	JsonNode *n = json_array_get_element(a, i);

	*ret = NULL;
	if (!JSON_NODE_HOLDS_OBJECT(n))
		return json_read_fail(rd, path, NULL, "expected an object");
	*ret = json_node_get_object(n);
	return 0;
}
