// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tools/vmstate/diff.c - modvmm-vmstate diff and matrix: each direction
 * between two dumps judged by compat_negotiate(), the refused devices
 * listed with the rule's reasons and the findings that explain them.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "compat/negotiate.h"
#include "vmstate-tool.h"

/*
 * One direction: a guest with src's devices migrating to a host with
 * dst's, judged by compat_negotiate(). Each refused device with the
 * rule's reasons, and under them the field findings that explain them;
 * the verdict's reasons about the machine type as notes (diff judges
 * what the modules carry; the machine type is the operator's to pick).
 * Returns the number of devices refused, -1 when the dumps make no
 * manifest.
 */
static int judge_direction(const char *dir, const char *src_path,
			   JsonObject *src, const char *dst_path,
			   JsonObject *dst, GString *out)
{
	struct diff d = { .dir = dir, .src = src, .dst = dst, .out = out };
	struct manifest *guest, *inv;
	struct compat_verdict *v;
	int refused = 0;

	if (pair_manifests(src_path, src, dst_path, dst, &guest, &inv) < 0)
		return -1;
	v = compat_negotiate(guest, inv, NULL);
	for (guint i = 0; i < v->reasons->len; i++)
		finding(&d, "note: %s", (char *)v->reasons->pdata[i]);
	for (guint i = 0; i < v->warnings->len; i++)
		finding(&d, "note: %s", (char *)v->warnings->pdata[i]);
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *dv = v->devices->pdata[i];
		JsonObject *sd = state_of(obj_of(src, dv->type));
		JsonObject *dd = state_of(obj_of(dst, dv->type));

		if (dv->accepted)
			continue;
		refused++;
		for (guint j = 0; j < dv->reasons->len; j++)
			finding(&d, "%s: refused: %s", dv->type,
				(char *)dv->reasons->pdata[j]);
		if (!sd || !dd)
			continue;
		d.indent = "  ";
		explain_desc(&d, dv->type, sd, dd);
		d.indent = "";
	}
	compat_verdict_free(v);
	manifest_free(guest);
	manifest_free(inv);
	return refused;
}

int cmd_diff(int argc, char **argv)
{
	JsonParser *po = NULL, *pn = NULL;
	JsonObject *old, *new;
	int stable = argc == 4 && !strcmp(argv[1], "--stable");
	int f, b;

	if (argc != 3 + stable) {
		fprintf(stderr, "Usage: modvmm-vmstate diff [--stable] "
				"OLD.json NEW.json\n");
		return 2;
	}
	argv += stable;
	old = load_dump(argv[1], &po);
	new = old ? load_dump(argv[2], &pn) : NULL;
	if (!new) {
		if (po)
			g_object_unref(po);
		return 2;
	}
	if (stable) {
		f = check_stable(old, new);
		printf("stable (%s -> %s): %s\n", argv[1], argv[2],
		       f ? "the wire changed" : "no change on the wire");
		b = 0;
	} else {
		f = judge_direction("forward", argv[1], old, argv[2], new,
				    NULL);
		b = f < 0 ? 0
			  : judge_direction("backward", argv[2], new, argv[1],
					    old, NULL);
		if (f < 0 || b < 0) {
			g_object_unref(po);
			g_object_unref(pn);
			return 2;
		}
		printf("forward (%s -> %s): %s; backward: %s\n", argv[1],
		       argv[2], f ? "breaks" : "works", b ? "breaks" : "works");
	}
	g_object_unref(po);
	g_object_unref(pn);
	return f || b ? 1 : 0;
}

int cmd_matrix(int argc, char **argv)
{
	g_autoptr(GPtrArray) parsers =
		g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GPtrArray) dumps = g_ptr_array_new();
	g_autoptr(GString) why = g_string_new(NULL);
	int status = 0;

	if (argc < 3) {
		fprintf(stderr,
			"Usage: modvmm-vmstate matrix A.json B.json ...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		JsonParser *p = NULL;
		JsonObject *o = load_dump(argv[i], &p);

		if (!o)
			return 2;
		g_ptr_array_add(parsers, p);
		g_ptr_array_add(dumps, o);
	}
	/* The findings follow the matrix, each after its pair. */
	g_autoptr(GArray) cells = g_array_new(FALSE, FALSE, sizeof(int));
	for (guint r = 0; r < dumps->len; r++)
		for (guint c = 0; c < dumps->len; c++) {
			g_autofree char *a = g_path_get_basename(argv[r + 1]);
			g_autofree char *b = g_path_get_basename(argv[c + 1]);
			g_autofree char *pair =
				g_strdup_printf("%s -> %s", a, b);
			int n = r == c ? 0
				       : judge_direction(pair, argv[r + 1],
							 dumps->pdata[r],
							 argv[c + 1],
							 dumps->pdata[c], why);

			if (n < 0)
				return 2;
			g_array_append_val(cells, n);
		}
	printf("source \\ destination (ok: every device migrates; N: N "
	       "devices refused, listed below)\n");
	printf("%-28s", "");
	for (int c = 1; c < argc; c++) {
		g_autofree char *name = g_path_get_basename(argv[c]);

		printf(" %-10.10s", name);
	}
	printf("\n");
	for (guint r = 0; r < dumps->len; r++) {
		g_autofree char *name = g_path_get_basename(argv[r + 1]);

		printf("%-28.28s", name);
		for (guint c = 0; c < dumps->len; c++) {
			int n = g_array_index(cells, int, r * dumps->len + c);

			if (n)
				status = 1;
			if (n)
				printf(" %-10d", n);
			else
				printf(" %-10s", r == c ? "-" : "ok");
		}
		printf("\n");
	}
	fputs(why->str, stdout);
	return status;
}
