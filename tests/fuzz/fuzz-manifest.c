// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: manifests and inventories from another host. The low
 * bit of the first byte picks the kind ("0..." a guest manifest, "1..." an
 * inventory, as the seeds are named); the rest goes to manifest_parse().
 * Invariants:
 *   - a refused document sets a non-empty message and no result;
 *   - an accepted one, written out and read back, is accepted and writes
 *     out to the identical text (what one host writes, another reads);
 *   - an accepted manifest negotiated against a fixed inventory, and an
 *     accepted inventory against a fixed manifest, give a verdict with one
 *     entry per guest device, whose totals agree with its entries, and
 *     that renders as text and as JSON;
 *   - json_text_depth(), which keeps deep documents from json-glib's
 *     recursion, never counts less nesting than json-glib then builds
 *     from the same text (the two agree on where strings end).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json-text.h"
#include "compat/negotiate.h"

/*
 * The in-tree modules' inventory (corpus/manifest/1-inventory-real) with
 * what they do not exercise yet: a type with subsections and known-bad
 * versions, and an older machine type with compat properties, deprecated
 * at this build date. corpus/manifest/1-inventory-rich is the same text.
 */
static const char fixed_inventory[] =
	"{\"modvmm-inventory\":1,\"abi\":\"1.1\",\"alias\":\"microvm\","
	"\"build_date\":20291201,\"machines\":["
	"{\"name\":\"microvm-1.1\",\"released\":20270601,\"properties\":[]},"
	"{\"name\":\"microvm-1.0\",\"released\":20261122,\"properties\":["
	"{\"device\":\"ex-uart\",\"property\":\"fifo\",\"value\":\"16\"}]}],"
	"\"types\":["
	"{\"type\":\"debug-exit\",\"module\":\"debug-exit\","
	"\"module_version\":\"1.0.0\",\"intree\":true,\"vmstate\":{"
	"\"name\":\"debug-exit\",\"version\":1,\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"99ca9da547935feb\"}]},"
	"\"subsections\":[],\"known_bad\":[]},"
	"{\"type\":\"i8042\",\"module\":\"i8042\",\"module_version\":\"1.0.0\","
	"\"intree\":true,\"vmstate\":{\"name\":\"i8042\",\"version\":1,"
	"\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"1d7ffc284e827be1\"}]},"
	"\"subsections\":[],\"known_bad\":[]},"
	"{\"type\":\"uart16550\",\"module\":\"uart16550\","
	"\"module_version\":\"1.0.0\",\"intree\":true,\"vmstate\":{"
	"\"name\":\"uart16550\",\"version\":1,\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"6bd7d2fd7221ed14\"}]},"
	"\"subsections\":[],\"known_bad\":[]},"
	"{\"type\":\"ex-uart\",\"module\":\"ex-uart\",\"module_version\":\"2.1\","
	"\"intree\":false,\"vmstate\":{\"name\":\"ex-uart\",\"version\":3,"
	"\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"0123456789abcdef\"},"
	"{\"since\":3,\"fingerprint\":\"fedcba9876543210\"}]},"
	"\"subsections\":["
	"{\"name\":\"ex-uart/dma\",\"version\":2,\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"00000000000000d1\"},"
	"{\"since\":2,\"fingerprint\":\"00000000000000d2\"}]}],"
	"\"known_bad\":[{\"version\":\"2.0\",\"reason\":\"FIFO count not "
	"saved\"}]}]}";

/* The in-tree modules' manifest (corpus/manifest/0-manifest-real). */
static const char fixed_manifest[] =
	"{\"modvmm-manifest\":1,\"abi\":\"1.1\",\"machine\":\"microvm-1.0\","
	"\"machine_alias\":true,\"devices\":["
	"{\"id\":\"uart165500\",\"type\":\"uart16550\",\"module\":\"uart16550\","
	"\"module_version\":\"1.0.0\",\"intree\":true,\"vmstate\":{"
	"\"name\":\"uart16550\",\"version\":1,\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"6bd7d2fd7221ed14\"}]},"
	"\"subsections\":[],\"properties\":[]},"
	"{\"id\":\"i80420\",\"type\":\"i8042\",\"module\":\"i8042\","
	"\"module_version\":\"1.0.0\",\"intree\":true,\"vmstate\":{"
	"\"name\":\"i8042\",\"version\":1,\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"1d7ffc284e827be1\"}]},"
	"\"subsections\":[],\"properties\":[]},"
	"{\"id\":\"debug-exit0\",\"type\":\"debug-exit\","
	"\"module\":\"debug-exit\",\"module_version\":\"1.0.0\","
	"\"intree\":true,\"vmstate\":{\"name\":\"debug-exit\",\"version\":1,"
	"\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"99ca9da547935feb\"}]},"
	"\"subsections\":[],\"properties\":[]}]}";

/* abort(), not g_error()'s trap: libFuzzer saves the input on SIGABRT. */
static void die(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static struct manifest *fixed(const char *text, enum manifest_kind kind)
{
	struct manifest *m = NULL;
	GError *err = NULL;

	if (manifest_parse("fixed", text, strlen(text), kind, &m, &err) < 0)
		die("%s", err->message);
	return m;
}

static void check_verdict(const struct manifest *src,
			  const struct manifest *dst)
{
	struct compat_verdict *v = compat_negotiate(src, dst, NULL);
	unsigned int refused = 0;
	char *text, *json;
	JsonParser *p;

	g_assert(v);
	g_assert_cmpuint(v->devices->len, ==, src->devices->len);
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *d = v->devices->pdata[i];
		const struct manifest_device *s = src->devices->pdata[i];

		g_assert_cmpstr(d->id, ==, s->id);
		g_assert_cmpstr(d->type, ==, s->type);
		/* Refused exactly when there is a reason to show. */
		g_assert_cmpint(!d->accepted, ==, d->reasons->len > 0);
		g_assert(!d->accepted || (d->version >= s->vms->min &&
					  d->version <= s->vms->version));
		refused += !d->accepted;
	}
	g_assert_cmpuint(v->n_refused, ==, refused);
	g_assert_cmpint(v->accepted, ==, !refused && !v->reasons->len);
	text = compat_verdict_text(v);
	json = compat_verdict_json(v);
	g_assert(text && *text && json);
	p = json_parser_new();
	g_assert(json_parser_load_from_data(p, json, -1, NULL));
	g_object_unref(p);
	g_free(json);
	g_free(text);
	compat_verdict_free(v);
}

/* Nesting of a parsed document, counted up to `limit` + 1. */
static int tree_depth(JsonNode *n, int limit)
{
	int d = 0;

	if (limit < 0)
		return 0;
	if (JSON_NODE_HOLDS_OBJECT(n)) {
		JsonObjectIter it;
		JsonNode *v;

		json_object_iter_init(&it, json_node_get_object(n));
		while (d <= limit && json_object_iter_next(&it, NULL, &v))
			d = MAX(d, tree_depth(v, limit - 1));
		return d + 1;
	}
	if (JSON_NODE_HOLDS_ARRAY(n)) {
		JsonArray *a = json_node_get_array(n);

		for (guint i = 0; d <= limit && i < json_array_get_length(a);
		     i++)
			d = MAX(d, tree_depth(json_array_get_element(a, i),
					      limit - 1));
		return d + 1;
	}
	return 0;
}

static void check_depth(const char *text, size_t len)
{
	JsonParser *p;
	JsonNode *root;
	size_t at;
	int depth = json_text_depth(text, len, &at), built;

	/* What manifest_parse() would refuse is not parsed here either. */
	if (depth < 0 || depth > 64)
		return;
	p = json_parser_new_immutable();
	if (json_parser_load_from_data(p, text, (gssize)len, NULL) &&
	    (root = json_parser_get_root(p)) &&
	    (built = tree_depth(root, depth)) > depth)
		die("json_text_depth() counted %d levels, json-glib built %d",
		    depth, built);
	g_object_unref(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct manifest *inventory, *guest;
	struct manifest *m = NULL, *again = NULL;
	enum manifest_kind kind;
	char *json, *json_again;
	GError *err = NULL;

	if (!inventory) {
		inventory = fixed(fixed_inventory, MANIFEST_INVENTORY);
		guest = fixed(fixed_manifest, MANIFEST_GUEST);
	}
	if (!size)
		return 0;
	kind = data[0] & 1 ? MANIFEST_INVENTORY : MANIFEST_GUEST;
	check_depth((const char *)data + 1, size - 1);
	if (manifest_parse("fuzz.json", (const char *)data + 1, size - 1, kind,
			   &m, &err) < 0) {
		g_assert(err && err->message && *err->message && !m);
		g_error_free(err);
		return 0;
	}
	g_assert(m && !err && m->kind == kind);

	json = manifest_to_json(m);
	if (manifest_parse("fuzz.json written", json, strlen(json), kind,
			   &again, &err) < 0)
		die("written out, not read back: %s\n%s", err->message, json);
	json_again = manifest_to_json(again);
	g_assert_cmpstr(json, ==, json_again);
	g_assert_cmpuint(again->devices->len, ==, m->devices->len);

	if (kind == MANIFEST_GUEST)
		check_verdict(m, inventory);
	else
		check_verdict(guest, m);

	g_free(json_again);
	g_free(json);
	manifest_free(again);
	manifest_free(m);
	return 0;
}
