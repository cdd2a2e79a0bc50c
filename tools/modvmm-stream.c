// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-stream - show what modvmm saved or sent, record by record and
 * field by field.
 *
 *   modvmm-stream [--module-dir DIR...] [--json] FILE
 *
 * FILE is one of (docs/stream-format.md):
 *  - a snapshot file, or a captured migration stream as a source sends
 *    it: the magic, HELLO, MANIFEST, CONFIG, RAM..., CPU, VM, DEVICE,
 *    END. Each record is listed with its offset, length and whether its
 *    checksum matches, each DEVICE record's state is shown field by
 *    field, and the guest time the CPU and VM records hold (each vCPU's
 *    TSC, kvmclock and the device clock);
 *  - a destination's answers (VERDICT, COMPLETE, RUNNING), listed the
 *    same way;
 *  - device state sections one after another, shown field by field.
 * Records are read by core/snapshot.c, sections by core/vmstate.c
 * (through core/inspect.h), with
 * the description of the module that owns them and the same checks as a
 * load, but none of the module's load hooks. A record that is corrupt
 * (its checksum does not match) or a state that does not load is
 * reported with the reader's message, the rest is still listed, and the
 * exit status is 1; a file whose framing is broken stops there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include <modvmm/abi.h>

#include "base/json-text.h"
#include "compat/machine-types.h"
#include "core/inspect.h"
#include "core/modules.h"

static struct modules_config opt_modules;
static gboolean opt_json;
static gboolean opt_version;

static const GOptionEntry options[] = {
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print JSON instead of text", NULL },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
	  "Print the version, the module ABI and the build date", NULL },
	{ NULL },
};

/* The build date is the one the machine types' lifecycle is computed from. */
static int print_version(void)
{
	char date[MACHINE_DATE_LEN];

	printf("modvmm-stream %s, module ABI %s, build date %s\n",
	       MODVMM_VERSION, MODVMM_ABI_STRING,
	       machine_date_text(machine_registry()->build_date, date));
	return 0;
}

/* One integer of `kind` from the (host-order) state. */
static char *int_text(uint32_t kind, const uint8_t *at)
{
	uint64_t u = 0;
	int w = inspect_kind_width(kind);

	memcpy(&u, at, (size_t)w);
	switch (kind) {
	case MODVMM_VMS_BOOL:
		return g_strdup(u ? "true" : "false");
	case MODVMM_VMS_I8:
		return g_strdup_printf("%d", (int8_t)u);
	case MODVMM_VMS_I16:
		return g_strdup_printf("%d", (int16_t)u);
	case MODVMM_VMS_I32:
		return g_strdup_printf("%d", (int32_t)u);
	case MODVMM_VMS_I64:
		return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)u);
	}
	return g_strdup_printf("0x%" G_GINT64_MODIFIER "x", u);
}

/* The value of a field as text: a number, a list, or hex bytes. */
static char *value_text(const struct modvmm_vmstate_field *f, const uint8_t *at,
			uint32_t count)
{
	GString *s;

	switch (f->kind) {
	case MODVMM_VMS_BUFFER:
		s = g_string_new(NULL);
		for (uint32_t i = 0; i < count; i++)
			g_string_append_printf(s, "%02x", at[i]);
		return g_string_free(s, FALSE);
	case MODVMM_VMS_UNUSED:
		return g_strdup_printf("(%u unused bytes)", count);
	case MODVMM_VMS_VALIDATE:
		return g_strdup("(checked)");
	case MODVMM_VMS_ARRAY:
	case MODVMM_VMS_VARRAY:
		s = g_string_new("[");
		for (uint32_t i = 0; i < count; i++) {
			g_autofree char *v = int_text(
				f->elem_kind,
				at + (size_t)i * (size_t)inspect_kind_width(
							 f->elem_kind));

			g_string_append_printf(s, "%s%s", i ? ", " : "", v);
		}
		g_string_append(s, "]");
		return g_string_free(s, FALSE);
	}
	return int_text(f->kind, at);
}

/* Text output ----------------------------------------------------------- */

/* The trace's opaque: columns the sections are indented by. */
static void text_section(void *opaque, const char *name, uint32_t version,
			 size_t offset, int depth, int end)
{
	const int *indent = opaque;

	if (!end)
		printf("%*s%s version %u (offset 0x%zx)\n", *indent + depth * 2,
		       "", name, version, offset);
}

static void text_field(void *opaque, const struct modvmm_vmstate_field *f,
		       const uint8_t *at, uint32_t count, size_t offset,
		       int depth)
{
	const int *indent = opaque;
	g_autofree char *v = value_text(f, at, count);

	(void)offset;
	printf("%*s%s = %s (%s)\n", *indent + depth * 2, "", f->name, v,
	       inspect_kind_name(f->kind));
}

/* JSON output ----------------------------------------------------------- */

static void json_section(void *opaque, const char *name, uint32_t version,
			 size_t offset, int depth, int end)
{
	JsonBuilder *b = opaque;

	(void)depth;
	if (end) {
		json_builder_end_array(b);
		json_builder_end_object(b);
		return;
	}
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "section");
	json_builder_add_string_value(b, name);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, version);
	json_builder_set_member_name(b, "offset");
	json_builder_add_int_value(b, (gint64)offset);
	json_builder_set_member_name(b, "items");
	json_builder_begin_array(b);
}

static void json_field(void *opaque, const struct modvmm_vmstate_field *f,
		       const uint8_t *at, uint32_t count, size_t offset,
		       int depth)
{
	JsonBuilder *b = opaque;
	g_autofree char *v = value_text(f, at, count);

	(void)depth;
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "field");
	json_builder_add_string_value(b, f->name);
	json_builder_set_member_name(b, "kind");
	json_builder_add_string_value(b, inspect_kind_name(f->kind));
	json_builder_set_member_name(b, "offset");
	json_builder_add_int_value(b, (gint64)offset);
	json_builder_set_member_name(b, "value");
	json_builder_add_string_value(b, v);
	json_builder_end_object(b);
}

static void print_error(const GError *err)
{
	fflush(stdout);
	fprintf(stderr, "modvmm-stream: %s\n", err->message);
}

/* Device state sections one after another: a stop at the first error. */
static int show_sections(struct vm_devices *devs, const char *path,
			 const uint8_t *buf, size_t len,
			 const struct inspect_trace *trace)
{
	g_autofree char *file = g_path_get_basename(path);
	size_t pos = 0;

	while (pos < len) {
		const struct device_type *dt;
		g_autoptr(GError) err = NULL;
		g_autofree char *name = NULL;
		size_t used = 0;

		if (inspect_section_peek(buf + pos, len - pos, pos, file, &name,
					 &err) < 0) {
			print_error(err);
			return 1;
		}
		dt = inspect_type_by_state(devs, name);
		if (!dt) {
			fflush(stdout);
			fprintf(stderr,
				"modvmm-stream: %s: section %s at offset "
				"0x%zx: no loaded module describes it "
				"(see --module-dir)\n",
				file, name, pos);
			return 1;
		}
		if (inspect_decode_section(dt, buf + pos, len - pos, pos, file,
					   trace, &used, &err) < 0) {
			print_error(err);
			return 1;
		}
		pos += used;
	}
	return 0;
}

/* What the records are shown with: text or a JSON builder. */
struct show {
	JsonBuilder *b; /* NULL: text */
	const char *path;
	const struct inspect_head *head; /* a snapshot's, while shown */
	int status;
	int complete; /* the JSON is whole: print it */
};

/* One record's line, or its object left open for what follows. */
static void record_begin(struct show *sh, const struct inspect_record *rec,
			 const char *checksum, const char *device)
{
	if (!sh->b) {
		printf("%s%s%s (offset %zu): %u bytes, %s\n", rec->name,
		       device ? " " : "", device ? device : "", rec->at,
		       rec->len, checksum);
		return;
	}
	json_builder_begin_object(sh->b);
	json_builder_set_member_name(sh->b, "type");
	json_builder_add_string_value(sh->b, rec->name);
	json_builder_set_member_name(sh->b, "offset");
	json_builder_add_int_value(sh->b, (gint64)rec->at);
	json_builder_set_member_name(sh->b, "length");
	json_builder_add_int_value(sh->b, rec->len);
	json_builder_set_member_name(sh->b, "checksum");
	json_builder_add_string_value(sh->b, checksum);
	if (device) {
		json_builder_set_member_name(sh->b, "device");
		json_builder_add_string_value(sh->b, device);
	}
}

static void record_end(struct show *sh)
{
	if (sh->b)
		json_builder_end_object(sh->b);
}

/* A reader's message: printed, and the exit status says it. */
static void reader_error(struct show *sh, const GError *err)
{
	print_error(err);
	sh->status = 1;
}

static const struct manifest_device *manifest_find(const struct manifest *m,
						   const char *id)
{
	for (guint i = 0; i < m->devices->len; i++) {
		const struct manifest_device *md = m->devices->pdata[i];

		if (!strcmp(md->id, id))
			return md;
	}
	return NULL;
}

/* An error about the record at `rec`, after what stdout holds so far. */
static void record_error(struct show *sh, const struct inspect_record *rec,
			 const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void record_error(struct show *sh, const struct inspect_record *rec,
			 const char *fmt, ...)
{
	g_autofree char *file = g_path_get_basename(sh->path);
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "modvmm-stream: %s: offset %zu: %s\n", file, rec->at,
		text);
	sh->status = 1;
}

/*
 * Why a DEVICE record's state is not decoded when its bytes are the ones
 * written: no device of that id in the manifest, no loaded module with
 * its type, or a type without a description here.
 */
static void report_undecoded(struct show *sh, const struct inspect_record *rec,
			     const char *id, const struct manifest_device *md,
			     const struct device_type *dt)
{
	struct inspect_type t;

	if (!md) {
		record_error(sh, rec,
			     "state for device '%s', which the manifest does "
			     "not list",
			     id);
		return;
	}
	if (!dt) {
		record_error(sh, rec,
			     "device %s: no loaded module has device type %s "
			     "(module %s %s; see --module-dir)",
			     id, md->type, md->module, md->module_version);
		return;
	}
	inspect_type_get(dt, &t);
	record_error(sh, rec,
		     "device %s: device type %s of the loaded module %s %s has "
		     "no state description (the snapshot's is module %s %s)",
		     id, md->type, t.module, t.module_version, md->module,
		     md->module_version);
}

/* The device id a DEVICE record starts with (u8 length, the id), or NULL. */
static char *device_record_id(const struct inspect_record *rec)
{
	if (rec->len < 1 || !rec->data[0] || rec->data[0] >= rec->len ||
	    memchr(rec->data + 1, 0, rec->data[0]))
		return NULL;
	return g_strndup((const char *)rec->data + 1, rec->data[0]);
}

/* The section after a DEVICE record's id, decoded with dt's description. */
static void decode_device(struct show *sh, const struct inspect_record *rec,
			  const char *id, const struct device_type *dt)
{
	static const int indent = 2;
	size_t skip = 1 + (size_t)rec->data[0], used = 0;
	g_autoptr(GError) err = NULL;
	struct inspect_trace trace;

	if (sh->b) {
		json_builder_set_member_name(sh->b, "state");
		trace = (struct inspect_trace){ json_section, json_field,
						sh->b };
	} else {
		trace = (struct inspect_trace){ text_section, text_field,
						(void *)&indent };
	}
	/* A failed check leaves the builder untouched: a decode traces
	 * only a state that loads. */
	if (inspect_decode_section(dt, rec->data + skip, rec->len - skip,
				   rec->data_at + skip, id, &trace, &used,
				   &err) < 0) {
		if (sh->b)
			json_builder_add_null_value(sh->b);
		reader_error(sh, err);
	} else if (used != rec->len - skip) {
		record_error(sh, rec, "%zu bytes after device %s's state",
			     rec->len - skip - used, id);
	}
}

/*
 * A DEVICE record (u8 id length, the id, the device's section), decoded
 * with the description of the type the manifest gives that device.
 */
static void show_device(struct show *sh, struct vm_devices *devs,
			const struct inspect_record *rec, const char *checksum,
			int corrupt)
{
	g_autofree char *id = device_record_id(rec);
	const struct manifest_device *md;
	const struct device_type *dt;
	struct inspect_type t = { 0 };

	if (!id) {
		record_begin(sh, rec, checksum, NULL);
		record_end(sh);
		record_error(sh, rec, "DEVICE record without a device id");
		return;
	}
	record_begin(sh, rec, checksum, id);
	md = manifest_find(sh->head->manifest, id);
	dt = md ? inspect_type_by_name(devs, md->type) : NULL;
	if (dt)
		inspect_type_get(dt, &t);
	if (sh->b && md) {
		json_builder_set_member_name(sh->b, "device_type");
		json_builder_add_string_value(sh->b, md->type);
	}
	if (corrupt || !t.state) {
		/* Not decoded: its bytes are not the ones written, or no
		 * description here says what they are. */
		if (sh->b) {
			json_builder_set_member_name(sh->b, "state");
			json_builder_add_null_value(sh->b);
		}
		record_end(sh);
		if (!corrupt)
			report_undecoded(sh, rec, id, md, dt);
		return;
	}
	decode_device(sh, rec, id, dt);
	record_end(sh);
}

static void time_value(struct show *sh, const char *name, uint64_t v)
{
	if (sh->b) {
		json_builder_set_member_name(sh->b, name);
		json_builder_add_int_value(sh->b, (gint64)v);
	} else {
		printf("  %s %" G_GUINT64_FORMAT "\n", name, (guint64)v);
	}
}

/*
 * A CPU record (u32 vCPU index, its "kvm-cpu" section) or the VM record
 * ("kvm-vm"): the guest time it holds.
 */
static void show_time(struct show *sh, const struct inspect_record *rec,
		      const char *checksum, int corrupt)
{
	g_autoptr(GError) err = NULL;
	uint64_t tsc = 0, kvmclock = 0, device_clock = 0;
	uint32_t cpu = 0;
	int has_tsc = 0, r;

	record_begin(sh, rec, checksum, NULL);
	if (corrupt) {
		record_end(sh);
		return;
	}
	if (rec->kind == INSPECT_RECORD_CPU) {
		r = inspect_cpu_time(sh->path, rec, &cpu, &tsc, &has_tsc, &err);
		if (!r) {
			time_value(sh, "cpu", cpu);
			if (has_tsc)
				time_value(sh, "tsc", tsc);
		}
	} else {
		r = inspect_vm_time(rec, &kvmclock, &device_clock, &err);
		if (!r) {
			time_value(sh, "kvmclock_ns", kvmclock);
			time_value(sh, "device_clock_ns", device_clock);
		}
	}
	record_end(sh);
	if (r < 0)
		reader_error(sh, err);
}

/* Text: "ok", or why there is none to check; JSON the same. */
static const char *checksum_text(const struct show *sh, uint32_t format,
				 const GError *corrupt)
{
	if (corrupt)
		return sh->b ? "mismatch" : "checksum mismatch";
	if (format < 2)
		return sh->b ? "none" : "no checksum (format 1)";
	return sh->b ? "ok" : "checksum ok";
}

/* The snapshot's head: a line of text, or its members of the JSON. */
static void show_head(struct show *sh, const char *file)
{
	const struct inspect_head *h = sh->head;
	JsonBuilder *b = sh->b;
	guint n = h->manifest->devices->len;

	if (!b) {
		printf("%s: format %u, machine %s%s, %u vCPU%s, memory "
		       "%" G_GUINT64_FORMAT " bytes, %u device%s%s\n",
		       file, h->format, h->machine,
		       h->alias ? " (started as the unversioned alias)" : "",
		       h->cpus, h->cpus == 1 ? "" : "s", (guint64)h->memory, n,
		       n == 1 ? "" : "s",
		       h->check ? ", a migration check" : "");
		return;
	}
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "file");
	json_builder_add_string_value(b, file);
	json_builder_set_member_name(b, "format");
	json_builder_add_int_value(b, h->format);
	json_builder_set_member_name(b, "machine");
	json_builder_add_string_value(b, h->machine);
	json_builder_set_member_name(b, "alias");
	json_builder_add_boolean_value(b, h->alias);
	json_builder_set_member_name(b, "memory");
	json_builder_add_int_value(b, (gint64)h->memory);
	json_builder_set_member_name(b, "cpus");
	json_builder_add_int_value(b, h->cpus);
	json_builder_set_member_name(b, "check");
	json_builder_add_boolean_value(b, h->check);
	json_builder_set_member_name(b, "records");
	json_builder_begin_array(b);
}

/* One record of a snapshot, by its kind; 1 when it is the END record. */
static int show_record(struct show *sh, struct vm_devices *devs,
		       const struct inspect_record *rec, const GError *corrupt)
{
	const char *sum = checksum_text(sh, sh->head->format, corrupt);

	switch (rec->kind) {
	case INSPECT_RECORD_DEVICE:
		show_device(sh, devs, rec, sum, !!corrupt);
		break;
	case INSPECT_RECORD_CPU:
	case INSPECT_RECORD_VM:
		show_time(sh, rec, sum, !!corrupt);
		break;
	default:
		record_begin(sh, rec, sum, NULL);
		record_end(sh);
	}
	if (corrupt)
		reader_error(sh, corrupt);
	return rec->kind == INSPECT_RECORD_END;
}

/*
 * A snapshot file or what a source sent: its head checked as a restore
 * checks it, then every record, each DEVICE record's state decoded. A
 * record whose checksum does not match is listed and reported, and the
 * walk goes on: its header's own checksum matched, so its length is the
 * one written.
 */
static int show_snapshot(struct show *sh, struct vm_devices *devs,
			 const uint8_t *data, size_t len)
{
	g_autofree char *file = g_path_get_basename(sh->path);
	g_autoptr(GError) err = NULL;
	struct snap_reader *s = NULL;
	struct inspect_head head;
	size_t off;
	int end = 0, r;

	if (inspect_snapshot_open(file, data, len, &s, &head, &err) < 0) {
		print_error(err);
		return 1;
	}
	sh->head = &head;
	off = head.first;
	show_head(sh, file);
	for (;;) {
		g_autoptr(GError) corrupt = NULL;
		struct inspect_record rec;

		r = inspect_snapshot_next(s, &off, &rec, &corrupt, &err);
		if (r <= 0)
			break;
		end = show_record(sh, devs, &rec, corrupt);
	}
	if (r < 0)
		reader_error(sh, err);
	if (sh->b) {
		json_builder_end_array(sh->b);
		json_builder_set_member_name(sh->b, "end");
		json_builder_add_boolean_value(sh->b, end);
		json_builder_end_object(sh->b);
	} else if (!r && !end) {
		/* A migration refused after its head sends nothing more. */
		printf("no END record: the data ends at offset %zu\n", off);
	}
	sh->complete = 1;
	sh->head = NULL;
	inspect_snapshot_free(s);
	return sh->status;
}

/* A VERDICT record's "accepted" and "verdict" (text), when it has them. */
static void show_verdict(struct show *sh, const struct inspect_record *rec)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	JsonNode *root, *acc = NULL, *text = NULL;
	size_t at;

	if (rec->len <= inspect_json_record_max() &&
	    json_text_depth((const char *)rec->data, rec->len, &at) >= 0 &&
	    json_parser_load_from_data(p, (const char *)rec->data, rec->len,
				       NULL) &&
	    (root = json_parser_get_root(p)) && JSON_NODE_HOLDS_OBJECT(root)) {
		acc = json_object_get_member(json_node_get_object(root),
					     "accepted");
		text = json_object_get_member(json_node_get_object(root),
					      "verdict");
	}
	if (acc && (!JSON_NODE_HOLDS_VALUE(acc) ||
		    json_node_get_value_type(acc) != G_TYPE_BOOLEAN))
		acc = NULL;
	if (text && (!JSON_NODE_HOLDS_VALUE(text) ||
		     json_node_get_value_type(text) != G_TYPE_STRING))
		text = NULL;
	if (sh->b) {
		if (acc) {
			json_builder_set_member_name(sh->b, "accepted");
			json_builder_add_boolean_value(
				sh->b, json_node_get_boolean(acc));
		}
		if (text) {
			json_builder_set_member_name(sh->b, "verdict");
			json_builder_add_string_value(
				sh->b, json_node_get_string(text));
		}
		return;
	}
	if (acc)
		printf("  accepted: %s\n",
		       json_node_get_boolean(acc) ? "yes" : "no");
	if (text) {
		g_auto(GStrv) lines =
			g_strsplit(json_node_get_string(text), "\n", -1);

		for (char **l = lines; *l; l++)
			if (**l)
				printf("  %s\n", *l);
	}
}

/*
 * A destination's answers to a source (VERDICT, COMPLETE, RUNNING), read as
 * the source reads them: they have no magic, and are in this host's
 * format.
 */
static int show_answers(struct show *sh, size_t len)
{
	g_autofree char *file = g_path_get_basename(sh->path);
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autoptr(GError) err = NULL;
	uint32_t format = inspect_stream_format();
	size_t off = 0;
	int fd;

	fd = open(sh->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "modvmm-stream: %s: %s\n", sh->path,
			g_strerror(errno));
		return 1;
	}
	if (sh->b) {
		json_builder_begin_object(sh->b);
		json_builder_set_member_name(sh->b, "file");
		json_builder_add_string_value(sh->b, file);
		json_builder_set_member_name(sh->b, "format");
		json_builder_add_int_value(sh->b, format);
		json_builder_set_member_name(sh->b, "records");
		json_builder_begin_array(sh->b);
	} else {
		printf("%s: a destination's answers, format %u\n", file,
		       format);
	}
	while (off < len) {
		struct inspect_record rec;

		if (inspect_answer_next(fd, file, &off, buf, &rec, &err) < 0) {
			reader_error(sh, err);
			break;
		}
		record_begin(sh, &rec, checksum_text(sh, format, NULL), NULL);
		if (rec.kind == INSPECT_RECORD_VERDICT)
			show_verdict(sh, &rec);
		record_end(sh);
	}
	close(fd);
	if (sh->b) {
		json_builder_end_array(sh->b);
		json_builder_end_object(sh->b);
	}
	sh->complete = 1;
	return sh->status;
}

static void print_json(JsonBuilder *b)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	g_autofree char *text = NULL;

	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
}

int main(int argc, char **argv)
{
	static const int no_indent = 0;
	g_autoptr(GOptionContext) ctx = g_option_context_new(
		"FILE - show a snapshot, a migration stream or saved device "
		"state");
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GMappedFile) map = NULL;
	g_autoptr(GError) err = NULL;
	struct show sh = { 0 };
	const uint8_t *data;
	struct vm_devices *devs;
	size_t len;
	int status;

	g_option_context_add_main_entries(ctx, modules_options(&opt_modules),
					  NULL);
	g_option_context_add_main_entries(ctx, options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "modvmm-stream: %s\n", err->message);
		return 2;
	}
	if (opt_version)
		return print_version();
	if (argc != 2) {
		fprintf(stderr, "modvmm-stream: expected one FILE (--help for "
				"usage)\n");
		return 2;
	}
	map = g_mapped_file_new(argv[1], FALSE, &err);
	if (!map) {
		fprintf(stderr, "modvmm-stream: %s\n", err->message);
		return 1;
	}
	data = (const uint8_t *)g_mapped_file_get_contents(map);
	len = g_mapped_file_get_length(map);
	opt_modules.policy = MODULES_EACH;
	if (modules_open(&opt_modules, &devs, errors, &err) < 0) {
		fprintf(stderr, "modvmm-stream: %s\n", err->message);
		return 1;
	}
	for (guint i = 0; i < errors->len; i++)
		fprintf(stderr, "modvmm-stream: %s\n",
			((GError *)errors->pdata[i])->message);

	sh.b = opt_json ? b : NULL;
	sh.path = argv[1];
	/* What the first byte starts: a section, a destination's first
	 * answer, or else the magic (which says if it is not one). */
	if (inspect_starts_section(data, len)) {
		struct inspect_trace trace = { text_section, text_field,
					       (void *)&no_indent };

		if (opt_json) {
			trace = (struct inspect_trace){ json_section,
							json_field, b };
			json_builder_begin_array(b);
		}
		status = show_sections(devs, argv[1], data, len, &trace);
		if (opt_json && !status)
			json_builder_end_array(b);
		/* One that does not load leaves the builder open. */
		sh.complete = !status;
	} else if (inspect_starts_answers(data, len)) {
		status = show_answers(&sh, len);
	} else {
		status = show_snapshot(&sh, devs, data, len);
	}
	if (opt_json && sh.complete)
		print_json(b);
	modules_close(devs);
	return status;
}
