// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-stream (tools/modvmm-stream.c) as a user runs it, on what modvmm
 * writes: a snapshot built here record by record with core/snapshot.c's
 * writer and the manifest of a real device (fx-counter 2.0.0, no KVM), a
 * destination's answers, and bare device sections. Each is listed and
 * decoded with the exact lines a user reads; a corrupt record is reported
 * with the reader's message while the rest is still listed.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "check-tap.h"
#include "spawn.h"
#include "core/crc32c.h"
#include "core/device.h"
#include "core/host.h"
#include "core/inventory.h"
#include "core/snapshot.h"
#include "core/vm-devices.h"

#define run(env, ...) run_env_argv(env, (const char *const[]){ __VA_ARGS__ })

#define REC_HDR 16u
#define FIRST 12u /* the magic and the format before the first record */

static char *dir;    /* scratch: the module directory, the files made */
static char *moddir; /* holds fx-counter 2.0.0 alone */
static char *modopt; /* --module-dir=moddir */
static struct vm_devices *devs;

/* fx-counter's state (tests/fixtures/fx-counter.c). */
struct fx_counter {
	uint32_t count;
	uint32_t step;
	uint32_t extra;
	uint8_t extra_on;
	uint8_t old[4];
};

static void setup(void)
{
	g_autofree char *src = fixture_path("fx-counter-2.0.so");
	g_autofree char *dst = NULL, *data = NULL;
	struct modvmm_device *dev;
	struct fx_counter *st;
	gsize len;

	dir = scratch_new("modvmm-stream-tool-XXXXXX");
	moddir = g_build_filename(dir, "modules", NULL);
	modopt = g_strdup_printf("--module-dir=%s", moddir);
	ck_assert_int_eq(mkdir(moddir, 0755), 0);
	dst = g_build_filename(moddir, "fx-counter-2.0.so", NULL);
	ck_assert(g_file_get_contents(src, &data, &len, NULL));
	ck_assert(g_file_set_contents(dst, data, (gssize)len, NULL));
	ck_assert_int_eq(chmod(dst, 0644), 0);

	devs = vm_devices_new(host_services());
	ck_assert_int_eq(loader_load(devs->loader, dst, NULL, NULL), 0);
	ck_assert_int_eq(device_create(devs, "fx-counter,id=c0", &dev, NULL),
			 0);
	st = dev->state;
	st->count = 7;
	st->step = 3;
	st->extra = 9;
}

static void teardown(void)
{
	device_destroy_all(devs);
	vm_devices_free(devs);
	g_free(modopt);
	g_free(moddir);
	scratch_remove(dir);
}

/* Where each record went, for the lines the tool prints about it. */
struct written {
	size_t at[8];
	size_t len[8];
	int n;
	size_t end; /* bytes in the file */
};

static void put(struct snap_writer *w, struct written *out, uint8_t type,
		const void *a, size_t alen, const void *b, size_t blen)
{
	out->at[out->n] = FIRST + w->bytes;
	out->len[out->n++] = alen + blen;
	ck_assert_int_eq(stream_write_record(w, type, a, alen, b, blen, NULL),
			 0);
	out->end = FIRST + w->bytes;
}

/*
 * A snapshot of c0 as a host writes one (HELLO, MANIFEST, CONFIG, RAM,
 * DEVICE, END); `body` 0: the head alone, as a source refused after its
 * verdict sends it. Records: 0..2 the head, 3 RAM_ZERO, 4 DEVICE, 5 END.
 */
static char *snapshot_file_format(const char *name, int body, uint32_t format,
				  struct written *out)
{
	static const char hello[] =
		"{\"modvmm\": \"0.1.0\", \"abi\": \"" MODVMM_ABI_STRING
		"\", \"machine\": \"microvm-1.0\", \"alias\": false, "
		"\"memory\": 65536, \"cpus\": 1}";
	static const char config[] =
		"{\"devices\": [{\"id\": \"c0\", \"spec\": "
		"\"fx-counter,id=c0,extra=on\"}]}";
	const uint64_t zero[2] = { GUINT64_TO_LE(0), GUINT64_TO_LE(16) };
	const uint8_t head[12] = {
		'M', 'O', 'D', 'V', 'M', 'M', 'S', 'S', (uint8_t)format, 0, 0, 0
	};
	struct modvmm_device *dev = device_find(devs, "c0");
	g_autoptr(GByteArray) state = g_byte_array_new();
	g_autofree char *manifest = NULL;
	char *path = g_build_filename(dir, name, NULL);
	struct snap_writer w = { .what = name, .format = format };
	struct manifest *mf;

	memset(out, 0, sizeof(*out));
	w.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(w.fd, 0);
	ck_assert_int_eq(write(w.fd, head, sizeof(head)), sizeof(head));
	mf = inventory_guest(devs,
			     machine_lookup(machine_registry(), "microvm-1.0"),
			     0, NULL, 1);
	manifest = manifest_to_json(mf);
	manifest_free(mf);
	put(&w, out, SNAP_HELLO, hello, strlen(hello), NULL, 0);
	put(&w, out, SNAP_MANIFEST, manifest, strlen(manifest), NULL, 0);
	put(&w, out, SNAP_CONFIG, config, strlen(config), NULL, 0);
	if (body) {
		ck_assert_int_eq(vmstate_save(dev->type->vms, dev->state, 2,
					      state, NULL),
				 0);
		put(&w, out, SNAP_RAM_ZERO, zero, sizeof(zero), NULL, 0);
		put(&w, out, SNAP_DEVICE, "\002c0", 3, state->data, state->len);
		put(&w, out, SNAP_END, NULL, 0, NULL, 0);
	}
	close(w.fd);
	return path;
}

static char *snapshot_file(const char *name, int body, struct written *out)
{
	return snapshot_file_format(name, body, SNAPSHOT_FORMAT, out);
}

/* The lines of the head's records, and of the body's up to DEVICE. */
static char *head_lines(const struct written *o, int body)
{
	GString *s = g_string_new(NULL);
	static const char *const names[] = { "HELLO", "MANIFEST", "CONFIG",
					     "RAM_ZERO" };

	g_string_append(s, "snap.bin: format 2, machine microvm-1.0, 1 vCPU, "
			   "memory 65536 bytes, 1 device\n");
	for (int i = 0; i < (body ? 4 : 3); i++)
		g_string_append_printf(s,
				       "%s (offset %zu): %zu bytes, "
				       "checksum ok\n",
				       names[i], o->at[i], o->len[i]);
	return g_string_free(s, FALSE);
}

START_TEST(test_stream_snapshot_listed_and_decoded)
{
	struct written o;
	g_autofree char *path = snapshot_file("snap.bin", 1, &o);
	g_autofree char *head = head_lines(&o, 1);
	/* The device's section follows its record header and its id; the
	 * offsets shown are those of the sections' payloads, after their
	 * headers (3 bytes, the name, 8 bytes). */
	size_t sec = o.at[4] + REC_HDR + 3;
	g_autofree char *want = g_strdup_printf(
		"%s"
		"DEVICE c0 (offset %zu): %zu bytes, checksum ok\n"
		"  fx-counter version 2 (offset 0x%zx)\n"
		"    count = 0x7 (u32)\n"
		"    step = 0x3 (u32)\n"
		"    old = (4 unused bytes) (unused)\n"
		"    fx-counter/extra version 1 (offset 0x%zx)\n"
		"      extra = 0x9 (u32)\n"
		"END (offset %zu): 0 bytes, checksum ok\n",
		head, o.at[4], o.len[4], sec + 21, sec + 21 + 12 + 27, o.at[5]);
	struct run r = run("MODVMM_STREAM", modopt, path, NULL);

	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, want);
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);
}
END_TEST

START_TEST(test_stream_snapshot_json)
{
	struct written o;
	g_autofree char *path = snapshot_file("snap.bin", 1, &o);
	g_autoptr(JsonParser) p = json_parser_new();
	struct run r = run("MODVMM_STREAM", modopt, "--json", path, NULL);
	static const char *const types[] = { "HELLO",	 "MANIFEST", "CONFIG",
					     "RAM_ZERO", "DEVICE",   "END" };
	JsonObject *root, *dev, *state, *item;
	JsonArray *recs, *items;

	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	root = json_node_get_object(json_parser_get_root(p));
	ck_assert_str_eq(json_object_get_string_member(root, "file"),
			 "snap.bin");
	ck_assert_int_eq(json_object_get_int_member(root, "format"), 2);
	ck_assert_str_eq(json_object_get_string_member(root, "machine"),
			 "microvm-1.0");
	ck_assert(json_object_get_boolean_member(root, "end"));
	recs = json_object_get_array_member(root, "records");
	ck_assert_uint_eq(json_array_get_length(recs), 6);
	for (guint i = 0; i < 6; i++) {
		JsonObject *rec = json_array_get_object_element(recs, i);

		ck_assert_str_eq(json_object_get_string_member(rec, "type"),
				 types[i]);
		ck_assert_int_eq(json_object_get_int_member(rec, "offset"),
				 o.at[i]);
		ck_assert_int_eq(json_object_get_int_member(rec, "length"),
				 o.len[i]);
		ck_assert_str_eq(json_object_get_string_member(rec, "checksum"),
				 "ok");
	}
	dev = json_array_get_object_element(recs, 4);
	ck_assert_str_eq(json_object_get_string_member(dev, "device"), "c0");
	ck_assert_str_eq(json_object_get_string_member(dev, "device_type"),
			 "fx-counter");
	state = json_object_get_object_member(dev, "state");
	ck_assert_str_eq(json_object_get_string_member(state, "section"),
			 "fx-counter");
	ck_assert_int_eq(json_object_get_int_member(state, "version"), 2);
	items = json_object_get_array_member(state, "items");
	ck_assert_uint_eq(json_array_get_length(items), 4);
	item = json_array_get_object_element(items, 1);
	ck_assert_str_eq(json_object_get_string_member(item, "field"), "step");
	ck_assert_str_eq(json_object_get_string_member(item, "value"), "0x3");
	item = json_array_get_object_element(items, 3);
	ck_assert_str_eq(json_object_get_string_member(item, "section"),
			 "fx-counter/extra");
	run_clear(&r);
}
END_TEST

/* A flipped bit in a payload: that record is listed, not decoded, and
 * reported with the reader's message; the records after it still are. */
START_TEST(test_stream_corrupt_record_reported_rest_listed)
{
	struct written o;
	g_autofree char *path = snapshot_file("snap.bin", 1, &o);
	g_autofree char *head = head_lines(&o, 1);
	g_autofree char *data = NULL, *want_out = NULL, *want_err = NULL;
	uint8_t *payload;
	struct run r;
	gsize len;

	ck_assert(g_file_get_contents(path, &data, &len, NULL));
	payload = (uint8_t *)data + o.at[4] + REC_HDR;
	payload[10] ^= 0x01;
	ck_assert(g_file_set_contents(path, data, (gssize)len, NULL));
	want_out = g_strdup_printf(
		"%s"
		"DEVICE c0 (offset %zu): %zu bytes, checksum mismatch\n"
		"END (offset %zu): 0 bytes, checksum ok\n",
		head, o.at[4], o.len[4], o.at[5]);
	want_err = g_strdup_printf(
		"modvmm-stream: snap.bin: offset %zu: DEVICE record of %zu "
		"bytes has checksum 0x%08x, but its header carries 0x%08x "
		"(corrupt or altered)\n",
		o.at[4], o.len[4], crc32c(0, payload, o.len[4]),
		(unsigned)le_get((uint8_t *)data, o.at[4] + 8, 4));

	r = run("MODVMM_STREAM", modopt, path, NULL);
	ck_assert_str_eq(r.out, want_out);
	ck_assert_str_eq(r.err, want_err);
	ck_assert_int_eq(r.status, 1);
	run_clear(&r);
}
END_TEST

/* Cut inside a record: listed up to there, then the reader's message. */
START_TEST(test_stream_cut_inside_record_stops_there)
{
	struct written o;
	g_autofree char *path = snapshot_file("snap.bin", 1, &o);
	g_autofree char *head = head_lines(&o, 1);
	g_autofree char *data = NULL, *want = NULL;
	struct run r;
	gsize len;

	ck_assert(g_file_get_contents(path, &data, &len, NULL));
	ck_assert(
		g_file_set_contents(path, data, (gssize)(o.at[4] + 20), NULL));
	want = g_strdup_printf("modvmm-stream: snap.bin: offset %zu: DEVICE "
			       "record of %zu bytes, but the file ends 4 "
			       "bytes later (cut short)\n",
			       o.at[4], o.len[4]);
	r = run("MODVMM_STREAM", modopt, path, NULL);
	ck_assert_str_eq(r.out, head);
	ck_assert_str_eq(r.err, want);
	ck_assert_int_eq(r.status, 1);
	run_clear(&r);
}
END_TEST

/* What a source sends before a refusal: the head, and nothing after. */
START_TEST(test_stream_head_only_listed)
{
	struct written o;
	g_autofree char *path = snapshot_file("snap.bin", 0, &o);
	g_autofree char *head = head_lines(&o, 0);
	g_autofree char *want = g_strdup_printf(
		"%sno END record: the data ends at offset %zu\n", head, o.end);
	struct run r = run("MODVMM_STREAM", modopt, path, NULL);

	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, want);
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);
}
END_TEST

/* A device whose module is not loaded here: named, and the rest listed. */
START_TEST(test_stream_device_without_module_reported)
{
	struct written o;
	g_autofree char *path = snapshot_file("snap.bin", 1, &o);
	g_autofree char *head = head_lines(&o, 1);
	g_autofree char *empty = g_build_filename(dir, "none", NULL);
	g_autofree char *opt = g_strdup_printf("--module-dir=%s", empty);
	g_autofree char *want_out = g_strdup_printf(
		"%s"
		"DEVICE c0 (offset %zu): %zu bytes, checksum ok\n"
		"END (offset %zu): 0 bytes, checksum ok\n",
		head, o.at[4], o.len[4], o.at[5]);
	g_autofree char *want_err = g_strdup_printf(
		"modvmm-stream: snap.bin: offset %zu: device c0: no loaded "
		"module has device type fx-counter (module fx-counter 2.0.0; "
		"see --module-dir)\n",
		o.at[4]);
	g_autofree char *nostate = NULL, *copy = NULL, *data = NULL;
	struct run r;
	gsize len;

	ck_assert_int_eq(mkdir(empty, 0755), 0);
	r = run("MODVMM_STREAM", opt, path, NULL);
	ck_assert_str_eq(r.out, want_out);
	ck_assert_str_eq(r.err, want_err);
	ck_assert_int_eq(r.status, 1);
	run_clear(&r);

	/* A release of the module whose type has no state description. */
	nostate = fixture_path("fx-counter-nostate.so");
	copy = g_build_filename(empty, "fx-counter-nostate.so", NULL);
	ck_assert(g_file_get_contents(nostate, &data, &len, NULL));
	ck_assert(g_file_set_contents(copy, data, (gssize)len, NULL));
	ck_assert_int_eq(chmod(copy, 0644), 0);
	g_free(want_err);
	want_err = g_strdup_printf(
		"modvmm-stream: snap.bin: offset %zu: device c0: device type "
		"fx-counter of the loaded module fx-counter 0.9.0 has no state "
		"description (the snapshot's is module fx-counter 2.0.0)\n",
		o.at[4]);
	r = run("MODVMM_STREAM", opt, path, NULL);
	ck_assert_str_eq(r.out, want_out);
	ck_assert_str_eq(r.err, want_err);
	ck_assert_int_eq(r.status, 1);
	run_clear(&r);
}
END_TEST

/*
 * --module-allowlist (modules_options()): a module whose digest the list
 * lacks is refused with the loader's reason, and its device's state is
 * not decoded; once listed, it is.
 */
START_TEST(test_stream_module_not_on_allowlist_refused)
{
	struct written o;
	g_autofree char *path = snapshot_file("snap.bin", 1, &o);
	g_autofree char *so = g_build_filename(moddir, "fx-counter-2.0.so",
					       NULL);
	g_autofree char *list = g_build_filename(dir, "allowlist", NULL);
	g_autofree char *listopt = g_strdup_printf("--module-allowlist=%s",
						   list);
	g_autofree char *data = NULL, *sum = NULL, *want_err = NULL;
	g_autofree char *listed = NULL;
	struct run r;
	gsize len;

	ck_assert(g_file_get_contents(so, &data, &len, NULL));
	sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
					  (const guchar *)data, len);
	ck_assert(g_file_set_contents(list,
				      "00000000000000000000000000000000"
				      "00000000000000000000000000000000"
				      "  other.so\n",
				      -1, NULL));
	ck_assert_int_eq(chmod(list, 0644), 0);
	want_err = g_strdup_printf(
		"modvmm-stream: fx-counter-2.0.so: refusing module: sha256 %s "
		"is not in allowlist %s (rule: --module-allowlist)\n"
		"modvmm-stream: snap.bin: offset %zu: device c0: no loaded "
		"module has device type fx-counter (module fx-counter 2.0.0; "
		"see --module-dir)\n",
		sum, list, o.at[4]);
	r = run("MODVMM_STREAM", modopt, listopt, path, NULL);
	ck_assert_str_eq(r.err, want_err);
	ck_assert_ptr_null(strstr(r.out, "count = "));
	ck_assert_int_eq(r.status, 1);
	run_clear(&r);

	listed = g_strdup_printf("%s  fx-counter-2.0.so\n", sum);
	ck_assert(g_file_set_contents(list, listed, -1, NULL));
	r = run("MODVMM_STREAM", modopt, listopt, path, NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_ptr_nonnull(strstr(r.out, "count = 0x7 (u32)"));
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);
}
END_TEST

/* Format 1, as an older modvmm wrote it: read, with no checksums. */
START_TEST(test_stream_format_1_listed_without_checksums)
{
	struct written o;
	g_autofree char *path = snapshot_file_format("old.bin", 1, 1, &o);
	g_autofree char *first = g_strdup_printf(
		"old.bin: format 1, machine microvm-1.0, 1 vCPU, memory 65536 "
		"bytes, 1 device\n"
		"HELLO (offset 12): %zu bytes, no checksum (format 1)\n",
		o.len[0]);
	g_autofree char *dev = g_strdup_printf(
		"\nDEVICE c0 (offset %zu): %zu bytes, no checksum (format 1)\n"
		"  fx-counter version 2 (offset 0x%zx)\n",
		o.at[4], o.len[4], o.at[4] + 8 + 3 + 21);
	struct run r = run("MODVMM_STREAM", modopt, path, NULL);

	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(g_str_has_prefix(r.out, first), "%s", r.out);
	ck_assert_msg(strstr(r.out, dev), "%s", r.out);
	run_clear(&r);
}
END_TEST

/* What a destination sends back: VERDICT, then COMPLETE, no magic. */
START_TEST(test_stream_destination_answers_listed)
{
	static const char verdict[] =
		"{\"accepted\": true, \"verdict\": \"c0 (fx-counter): "
		"accepted at version 2\\nverdict: accepted, 1 device\\n\", "
		"\"versions\": {\"c0\": 2}, \"known\": {\"c0\": "
		"[\"fx-counter/extra\"]}}";
	g_autofree char *path = g_build_filename(dir, "answers.bin", NULL);
	struct snap_writer w = { .what = "answers.bin" };
	g_autofree char *want = g_strdup_printf(
		"answers.bin: a destination's answers, format 2\n"
		"VERDICT (offset 0): %zu bytes, checksum ok\n"
		"  accepted: yes\n"
		"  c0 (fx-counter): accepted at version 2\n"
		"  verdict: accepted, 1 device\n"
		"COMPLETE (offset %zu): 0 bytes, checksum ok\n",
		strlen(verdict), REC_HDR + strlen(verdict));
	struct run r;

	w.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(w.fd, 0);
	ck_assert_int_eq(stream_write_record(&w, SNAP_VERDICT, verdict,
					       strlen(verdict), NULL, 0, NULL),
			 0);
	ck_assert_int_eq(stream_write_record(&w, SNAP_COMPLETE, NULL, 0, NULL,
					       0, NULL),
			 0);
	close(w.fd);
	r = run("MODVMM_STREAM", modopt, path, NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, want);
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);
}
END_TEST

/*
 * Bare sections, one after another, are read by core/vmstate.c's header
 * reader: bytes after the last one that start no section are refused
 * with its message.
 */
START_TEST(test_stream_bare_sections_then_junk)
{
	struct modvmm_device *dev = device_find(devs, "c0");
	g_autoptr(GByteArray) b = g_byte_array_new();
	g_autofree char *path = g_build_filename(dir, "sections.bin", NULL);
	g_autofree char *want = NULL, *err = NULL;
	struct run r;
	size_t one;

	ck_assert_int_eq(vmstate_save(dev->type->vms, dev->state, 1, b, NULL),
			 0);
	one = b->len;
	ck_assert_int_eq(vmstate_save(dev->type->vms, dev->state, 2, b, NULL),
			 0);
	g_byte_array_append(b, (const guint8 *)"\0\0\0", 3);
	ck_assert(g_file_set_contents(path, (char *)b->data, (gssize)b->len,
				      NULL));
	want = g_strdup_printf("fx-counter version 1 (offset 0x15)\n"
			       "  count = 0x7 (u32)\n"
			       "  old = (4 unused bytes) (unused)\n"
			       "  fx-counter/extra version 1 (offset 0x%x)\n"
			       "    extra = 0x9 (u32)\n"
			       "fx-counter version 2 (offset 0x%zx)\n"
			       "  count = 0x7 (u32)\n"
			       "  step = 0x3 (u32)\n"
			       "  old = (4 unused bytes) (unused)\n"
			       "  fx-counter/extra version 1 (offset 0x%zx)\n"
			       "    extra = 0x9 (u32)\n",
			       21 + 8 + 27, one + 21, one + 21 + 12 + 27);
	err = g_strdup_printf("modvmm-stream: sections.bin: device state: "
			      "expected a section start (0x53) at offset "
			      "0x%x, found 0x00\n",
			      b->len - 3);
	r = run("MODVMM_STREAM", modopt, path, NULL);
	ck_assert_str_eq(r.out, want);
	ck_assert_str_eq(r.err, err);
	ck_assert_int_eq(r.status, 1);
	run_clear(&r);
}
END_TEST

START_TEST(test_stream_not_a_stream_refused)
{
	static const struct {
		const char *name, *data, *err;
	} rows[] = {
		{ "junk.bin", "hello",
		  "modvmm-stream: junk.bin: not a modvmm snapshot or "
		  "migration stream (no MODVMMSS magic)\n" },
		{ "empty.bin", "",
		  "modvmm-stream: empty.bin: empty, not a modvmm snapshot or "
		  "migration stream\n" },
		{ "short.bin", "MODVMMSS\002",
		  "modvmm-stream: short.bin: ends at offset 9, inside its "
		  "format version (the file is cut short)\n" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *path =
			g_build_filename(dir, rows[i].name, NULL);
		struct run r;

		ck_assert(g_file_set_contents(path, rows[i].data, -1, NULL));
		r = run("MODVMM_STREAM", modopt, path, NULL);
		ck_assert_str_eq(r.out, "");
		ck_assert_str_eq(r.err, rows[i].err);
		ck_assert_int_eq(r.status, 1);
		run_clear(&r);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stream-tool");
	TCase *tc = tcase_create("stream-tool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stream_snapshot_listed_and_decoded);
	tcase_add_test(tc, test_stream_snapshot_json);
	tcase_add_test(tc, test_stream_corrupt_record_reported_rest_listed);
	tcase_add_test(tc, test_stream_cut_inside_record_stops_there);
	tcase_add_test(tc, test_stream_head_only_listed);
	tcase_add_test(tc, test_stream_device_without_module_reported);
	tcase_add_test(tc, test_stream_module_not_on_allowlist_refused);
	tcase_add_test(tc, test_stream_format_1_listed_without_checksums);
	tcase_add_test(tc, test_stream_destination_answers_listed);
	tcase_add_test(tc, test_stream_bare_sections_then_junk);
	tcase_add_test(tc, test_stream_not_a_stream_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
