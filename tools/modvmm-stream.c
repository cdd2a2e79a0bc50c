// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-stream - show device state saved by modvmm, field by field.
 *
 *   modvmm-stream [--module-dir DIR...] [--json] FILE
 *
 * FILE holds device state sections one after another (docs/stream-
 * format.md). Each is decoded with the state description of the module
 * that owns it, by the same code and checks as a load: a corrupt file
 * stops with the loader's message (device state, field, offset) and exit
 * status 1. Nothing of the modules' load hooks runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "../core/host.h"
#include "../core/vmm.h"

static char **opt_module_dirs;
static gboolean opt_json;

static const GOptionEntry options[] = {
	{ "module-dir", 'M', 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_module_dirs,
	  "Load descriptions from DIR (repeatable; default " MODVMM_MODULE_DIR
	  ")",
	  "DIR" },
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print JSON instead of text", NULL },
	{ NULL },
};

/* One integer of `kind` from the (host-order) state. */
static char *int_text(uint32_t kind, const uint8_t *at)
{
	uint64_t u = 0;
	int w = vmstate_kind_width(kind);

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
				at + (size_t)i * (size_t)vmstate_kind_width(
							 f->elem_kind));

			g_string_append_printf(s, "%s%s", i ? ", " : "", v);
		}
		g_string_append(s, "]");
		return g_string_free(s, FALSE);
	}
	return int_text(f->kind, at);
}

/* Text output ----------------------------------------------------------- */

static void text_section(void *opaque, const char *name, uint32_t version,
			 size_t offset, int depth, int end)
{
	(void)opaque;
	if (!end)
		printf("%*s%s version %u (offset 0x%zx)\n", depth * 2, "", name,
		       version, offset);
}

static void text_field(void *opaque, const struct modvmm_vmstate_field *f,
		       const uint8_t *at, uint32_t count, size_t offset,
		       int depth)
{
	g_autofree char *v = value_text(f, at, count);

	(void)opaque;
	(void)offset;
	printf("%*s%s = %s (%s)\n", depth * 2, "", f->name, v,
	       vmstate_kind_name(f->kind));
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
	json_builder_add_string_value(b, vmstate_kind_name(f->kind));
	json_builder_set_member_name(b, "offset");
	json_builder_add_int_value(b, (gint64)offset);
	json_builder_set_member_name(b, "value");
	json_builder_add_string_value(b, v);
	json_builder_end_object(b);
}

static const struct device_type *find(struct vmm *vmm, const char *name)
{
	for (guint i = 0; i < loader_modules(vmm->loader)->len; i++) {
		const struct module *m = loader_modules(vmm->loader)->pdata[i];

		for (guint j = 0; j < m->types->len; j++) {
			const struct device_type *dt = m->types->pdata[j];

			if (dt->vms && !strcmp(dt->vms->name, name))
				return dt;
		}
	}
	return NULL;
}

static int decode(struct vmm *vmm, const char *path, const uint8_t *buf,
		  size_t len, const struct vmstate_trace *trace)
{
	g_autofree char *file = g_path_get_basename(path);
	size_t pos = 0;

	while (pos < len) {
		const struct device_type *dt;
		g_autofree uint8_t *state = NULL;
		g_autoptr(GError) err = NULL;
		char name[256];
		size_t used = 0, nlen;

		if (len - pos < 3 || buf[pos] != VMS_TAG_START ||
		    len - pos < 3 + (size_t)buf[pos + 2]) {
			fprintf(stderr,
				"modvmm-stream: %s: no section start at "
				"offset 0x%zx\n",
				file, pos);
			return 1;
		}
		nlen = buf[pos + 2];
		memcpy(name, buf + pos + 3, nlen);
		name[nlen] = '\0';
		dt = find(vmm, name);
		if (!dt) {
			fprintf(stderr,
				"modvmm-stream: %s: section %s at offset "
				"0x%zx: no loaded module describes it "
				"(see --module-dir)\n",
				file, name, pos);
			return 1;
		}
		state = g_malloc0(dt->t.instance_size);
		if (vmstate_load_flags(dt->vms, state, buf + pos, len - pos,
				       pos, file, VMSTATE_NO_HOOKS, trace,
				       &used, &err) < 0) {
			fflush(stdout);
			fprintf(stderr, "modvmm-stream: %s\n", err->message);
			return 1;
		}
		pos += used;
	}
	return 0;
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("FILE - show saved device state");
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *data = NULL;
	struct vmstate_trace trace;
	struct vmm *vmm;
	gsize len;
	int status;

	g_option_context_add_main_entries(ctx, options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "modvmm-stream: %s\n", err->message);
		return 2;
	}
	if (argc != 2) {
		fprintf(stderr, "modvmm-stream: expected one FILE (--help for "
				"usage)\n");
		return 2;
	}
	if (!g_file_get_contents(argv[1], &data, &len, &err)) {
		fprintf(stderr, "modvmm-stream: %s\n", err->message);
		return 1;
	}
	vmm = vmm_new(host_services());
	loader_add_dirs(vmm->loader, opt_module_dirs, MODVMM_MODULE_DIR);
	loader_load_all(vmm->loader, errors);
	for (guint i = 0; i < errors->len; i++)
		fprintf(stderr, "modvmm-stream: %s\n",
			((GError *)errors->pdata[i])->message);

	if (opt_json) {
		trace = (struct vmstate_trace){ json_section, json_field, b };
		json_builder_begin_array(b);
	} else {
		trace = (struct vmstate_trace){ text_section, text_field,
						NULL };
	}
	status = decode(vmm, argv[1], (const uint8_t *)data, len, &trace);
	if (opt_json && !status) {
		g_autoptr(JsonGenerator) gen = json_generator_new();
		g_autoptr(JsonNode) root = NULL;
		g_autofree char *text = NULL;

		json_builder_end_array(b);
		root = json_builder_get_root(b);
		json_generator_set_pretty(gen, TRUE);
		json_generator_set_root(gen, root);
		text = json_generator_to_data(gen, NULL);
		printf("%s\n", text);
	}
	vmm_free(vmm);
	return status;
}
