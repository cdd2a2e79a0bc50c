// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/compat.c - modvmm compat: manifests, inventories and verdicts
 * from the command line.
 *
 *   modvmm compat manifest  [--module-dir DIR...] [--machine M] [-d SPEC...]
 *                           [--no-defaults] [--cpu MODEL] [-o FILE]
 *   modvmm compat inventory [--module-dir DIR...] [--cpu MODEL] [-o FILE]
 *   modvmm compat check --source MANIFEST [--module-dir DIR...] [--machine M]
 *                       [--cpu MODEL] [--json]
 *   modvmm compat hosts GUEST_MANIFEST INVENTORY.json... [--json]
 *
 * check and hosts exit 0 when accepted (by at least one host), 1 when
 * refused, 2 on bad usage or input (hosts: also when any inventory could
 * not be read; the others are still answered).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "base/error.h"
#include "cli/cli.h"
#include "compat/machine-types.h"
#include "compat/negotiate.h"
#include "core/modules.h"
#include "core/vm.h"

static struct modules_config opt_modules;
static char **opt_devices;
static char *opt_machine;
static char *opt_output;
static char *opt_source;
static char *opt_cpu;
static gboolean opt_no_defaults;
static gboolean opt_json;

static const GOptionEntry manifest_options[] = {
	{ "machine", 'M', 0, G_OPTION_ARG_STRING, &opt_machine,
	  "Machine type (default microvm)", "TYPE" },
	{ "device", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &opt_devices,
	  "A device as for modvmm run (repeatable)", "SPEC" },
	{ "no-defaults", 0, 0, G_OPTION_ARG_NONE, &opt_no_defaults,
	  "Do not add the machine's default devices", NULL },
	{ NULL },
};

static const GOptionEntry output_options[] = {
	{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &opt_output,
	  "Write to FILE instead of standard output", "FILE" },
	{ NULL },
};

static const GOptionEntry check_options[] = {
	{ "source", 's', 0, G_OPTION_ARG_FILENAME, &opt_source,
	  "The guest's manifest (from modvmm compat manifest)", "MANIFEST" },
	{ "machine", 'M', 0, G_OPTION_ARG_STRING, &opt_machine,
	  "Machine type this host would run (must be the guest's)", "TYPE" },
	{ NULL },
};

static const GOptionEntry cpu_options[] = {
	{ "cpu", 0, 0, G_OPTION_ARG_STRING, &opt_cpu,
	  "CPU model: the guest's (manifest), or the one this host is kept "
	  "to (inventory, check); default host",
	  "MODEL" },
	{ NULL },
};

static const GOptionEntry json_options[] = {
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print the verdict as JSON", NULL },
	{ NULL },
};

static int parse(int *argc, char ***argv, const char *what,
		 const GOptionEntry *const *groups, int max_args)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new(what);
	g_autoptr(GError) err = NULL;

	g_option_context_add_main_entries(ctx, modules_options(&opt_modules),
					  NULL);
	for (; *groups; groups++)
		g_option_context_add_main_entries(ctx, *groups, NULL);
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		print_error(err);
		return -1;
	}
	if (*argc - 1 > max_args) {
		fprintf(stderr, "modvmm: compat: unexpected argument '%s'\n",
			(*argv)[max_args + 1]);
		return -1;
	}
	return 0;
}

/* Reads a whole file, refusing it above `max` bytes before reading. */
static int read_bounded(const char *path, size_t max, char **ret,
			size_t *ret_len, GError **error)
{
	g_autofree char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_setf(error, errno, "%s: %s", path,
				  g_strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = error_setf(error, EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = error_setf(error, EFBIG,
			       "%s: %jd bytes, more than the %zu allowed",
			       path, (intmax_t)st.st_size, max);
		goto out;
	}
	buf = g_malloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = error_setf(error, n ? errno : EIO, "%s: %s", path,
				       n ? g_strerror(errno)
					 : "shorter than its size");
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = 0;
	*ret = g_steal_pointer(&buf);
	*ret_len = len;
out:
	close(fd);
	return r;
}

static int read_doc_error(const char *path, enum manifest_kind kind,
			  struct manifest **ret, GError **error)
{
	g_autofree char *data = NULL;
	size_t len = 0;

	if (read_bounded(path, MANIFEST_MAX_BYTES, &data, &len, error) < 0)
		return -1;
	return manifest_parse(path, data, len, kind, ret, error);
}

static int read_doc(const char *path, enum manifest_kind kind,
		    struct manifest **ret)
{
	g_autoptr(GError) err = NULL;

	if (read_doc_error(path, kind, ret, &err) < 0) {
		print_error(err);
		return -1;
	}
	return 0;
}

/* Writes text to opt_output (through a temporary name) or stdout. */
static int emit(const char *text)
{
	g_autoptr(GError) err = NULL;

	if (!opt_output) {
		printf("%s\n", text);
		return STATUS_OK;
	}
	if (!g_file_set_contents(opt_output, text, -1, &err)) {
		print_error(err);
		return STATUS_FAILED;
	}
	return STATUS_OK;
}

/*
 * This host's modules, loaded as `modvmm run` loads them: with the same
 * allowlist, and a refused module is an error, since a host with one does
 * not start a guest (and so takes none). NULL when any is refused.
 */
static struct vm_devices *load_host(void)
{
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(GError) err = NULL;
	struct vm_devices *devs = NULL;

	opt_modules.policy = MODULES_ALL;
	if (modules_open(&opt_modules, &devs, errors, &err) < 0) {
		for (guint i = 0; i < errors->len; i++)
			print_error(errors->pdata[i]);
		if (errors->len)
			fprintf(stderr, "modvmm: compat: a module is refused: "
					"this host would not start a guest\n");
		else
			print_error(err);
		return NULL;
	}
	return devs;
}

static int check_cpu_option(void)
{
	g_autofree char *names = cpu_model_names_text();

	if (!opt_cpu || cpu_model_known(opt_cpu))
		return 0;
	fprintf(stderr, "modvmm: --cpu %s: unknown CPU model (known: %s)\n",
		opt_cpu, names);
	return -1;
}

/*
 * What this host offers, kept to --cpu (`limit`); NULL where KVM cannot
 * be asked: the document `what` then lists no CPU, which is said on
 * standard error (`what` NULL: a verdict, which says what it could not
 * judge itself).
 */
static struct cpu_model *host_cpu(const char *limit, const char *what)
{
	g_autoptr(GError) err = NULL;
	struct cpu_model *offer;

	if (vm_cpu_offer(limit, &offer, &err) < 0) {
		if (what)
			fprintf(stderr, "modvmm: %s: the %s lists no CPU\n",
				err->message, what);
		return NULL;
	}
	return offer;
}

/*
 * The CPU a guest started here with --cpu would get; NULL without KVM.
 * -1 when this host cannot give the model, with the bits it lacks.
 */
static int guest_cpu(struct cpu_model **ret)
{
	g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);
	struct cpu_model *offer = host_cpu(NULL, "manifest");
	g_autofree char *bits = NULL;
	const char *name = opt_cpu ? opt_cpu : "host";
	int r;

	*ret = NULL;
	if (!offer)
		return 0;
	r = cpu_model_build(name, offer, ret, missing);
	cpu_model_free(offer);
	if (r >= 0)
		return 0;
	g_ptr_array_add(missing, NULL);
	bits = g_strjoinv(", ", (char **)missing->pdata);
	fprintf(stderr,
		"modvmm: this host cannot give CPU model %s: %s missing "
		"here\n",
		name, bits);
	return -1;
}

/*
 * The alias promises nothing across releases (tier 2, docs/compat.md's
 * "Tiers"): a guest or a verdict that rests on it says so, with the
 * versioned type that would give the guarantee. `machine` is the type the
 * alias names; `how` what to do with it.
 */
static char *alias_note(const char *what, const char *machine, const char *how)
{
	return g_strdup_printf("%s the alias %s = %s: %s --machine %s for a "
			       "guarantee across releases (tier 1)",
			       what, machine_registry()->alias, machine, how,
			       machine);
}

static int cmd_manifest(int argc, char **argv)
{
	static const GOptionEntry *const groups[] = {
		manifest_options, cpu_options, output_options, NULL
	};
	struct cpu_model *cpu;
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	struct machine_config cfg = { 0 };
	struct manifest *man;
	struct machine *m;

	if (parse(&argc, &argv,
		  "manifest - describe a guest's devices for migration", groups,
		  0) < 0 ||
	    check_cpu_option() < 0 || cli_check_machine(opt_machine) < 0)
		return STATUS_USAGE;
	cfg.machine = opt_machine;
	cfg.modules = opt_modules;
	cfg.devices = opt_devices;
	cfg.no_defaults = opt_no_defaults;
	if (vm_offline_open(&cfg, &m, &err) < 0) {
		print_error(err);
		return STATUS_FAILED;
	}
	if (vm_offline_warning(m))
		fprintf(stderr, "modvmm: warning: %s\n", vm_offline_warning(m));
	if (guest_cpu(&cpu) < 0) {
		vm_offline_close(m);
		return STATUS_FAILED;
	}
	man = vm_offline_manifest(m, cpu);
	cpu_model_free(cpu);
	if (man->machine_alias) {
		g_autofree char *note =
			alias_note("the manifest is of", man->machine, "give");

		fprintf(stderr, "modvmm: note: %s\n", note);
	}
	text = manifest_to_json(man);
	manifest_free(man);
	vm_offline_close(m);
	return emit(text);
}

static int cmd_inventory(int argc, char **argv)
{
	static const GOptionEntry *const groups[] = {
		cpu_options, output_options, NULL
	};
	g_autofree char *text = NULL;
	struct cpu_model *cpu;
	struct manifest *inv;
	struct vm_devices *devs;

	if (parse(&argc, &argv,
		  "inventory - describe this host's modules and machine types",
		  groups, 0) < 0 ||
	    check_cpu_option() < 0)
		return STATUS_USAGE;
	devs = load_host();
	if (!devs)
		return STATUS_USAGE;
	cpu = host_cpu(opt_cpu, "inventory");
	inv = modules_inventory(devs, cpu);
	cpu_model_free(cpu);
	text = manifest_to_json(inv);
	manifest_free(inv);
	modules_close(devs);
	return emit(text);
}

/* Why the verdict promises nothing across releases, when it does not. */
static char *verdict_note(const struct compat_verdict *v)
{
	const struct machine_registry *r = machine_registry();
	const struct machine_type *t;

	if (v->tier == COMPAT_TIER_UNVERSIONED)
		return alias_note("the guest was started as", v->machine,
				  "start it with");
	if (opt_machine && !strcmp(opt_machine, r->alias) &&
	    (t = machine_lookup(r, opt_machine)))
		return alias_note("judged against", t->name, "give");
	return NULL;
}

/*
 * As text, the note follows the machine line it explains; with --json it
 * goes to standard error, so that standard output stays one document.
 */
static void print_verdict(const struct compat_verdict *v)
{
	g_autofree char *note = verdict_note(v);
	g_autofree char *text = NULL;
	const char *nl;

	if (opt_json) {
		text = compat_verdict_json(v);
		printf("%s\n", text);
		if (note)
			fprintf(stderr, "modvmm: note: %s\n", note);
		return;
	}
	text = compat_verdict_text(v);
	nl = strchr(text, '\n');
	if (!note || !nl) {
		fputs(text, stdout);
		return;
	}
	printf("%.*s\nnote: %s\n%s", (int)(nl - text), text, note, nl + 1);
}

static int cmd_check(int argc, char **argv)
{
	static const GOptionEntry *const groups[] = {
		check_options, cpu_options, json_options, NULL
	};
	struct manifest *src = NULL, *inv;
	struct cpu_model *cpu;
	struct compat_verdict *v;
	struct vm_devices *devs;
	int status;

	if (parse(&argc, &argv,
		  "check - would this host accept the guest's state?", groups,
		  0) < 0 ||
	    check_cpu_option() < 0 || cli_check_machine(opt_machine) < 0)
		return STATUS_USAGE;
	if (!opt_source) {
		fprintf(stderr, "modvmm: compat check: --source MANIFEST is "
				"required\n");
		return STATUS_USAGE;
	}
	if (read_doc(opt_source, MANIFEST_GUEST, &src) < 0)
		return STATUS_USAGE;
	devs = load_host();
	if (!devs) {
		manifest_free(src);
		return STATUS_USAGE;
	}
	cpu = host_cpu(opt_cpu, NULL);
	inv = modules_inventory(devs, cpu);
	cpu_model_free(cpu);
	v = compat_negotiate(src, inv, opt_machine);
	print_verdict(v);
	status = v->accepted ? STATUS_OK : STATUS_FAILED;
	compat_verdict_free(v);
	manifest_free(inv);
	manifest_free(src);
	modules_close(devs);
	return status;
}

/* A host whose inventory cannot be read: said, and the others go on. */
static void host_unreadable(JsonBuilder *b, const char *path,
			    const GError *err)
{
	if (opt_json) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "host");
		json_builder_add_string_value(b, path);
		json_builder_set_member_name(b, "error");
		json_builder_add_string_value(b, err->message);
		json_builder_end_object(b);
	} else {
		printf("%s: cannot be read\n  %s\n", path, err->message);
	}
}

static void host_verdict(JsonBuilder *b, const char *path,
			 const struct compat_verdict *v)
{
	g_autofree char *t = NULL;
	g_auto(GStrv) lines = NULL;

	if (opt_json) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "host");
		json_builder_add_string_value(b, path);
		json_builder_set_member_name(b, "verdict");
		json_builder_add_value(b, compat_verdict_node(v));
		json_builder_end_object(b);
		return;
	}
	t = compat_verdict_text(v);
	lines = g_strsplit(t, "\n", -1);
	printf("%s: %s\n", path,
	       v->accepted ? "can take the guest" : "cannot take the guest");
	for (char **l = lines; *l && **l; l++)
		printf("  %s\n", *l);
}

/*
 * The guest judged against one host's inventory: 1 when it can take the
 * guest, 0 when not, -1 when the inventory cannot be read.
 */
static int judge_host(JsonBuilder *b, const struct manifest *src,
		      const char *path)
{
	g_autoptr(GError) err = NULL;
	struct manifest *inv = NULL;
	struct compat_verdict *v;
	int accepted;

	/* One unreadable host does not hide the answer for others. */
	if (read_doc_error(path, MANIFEST_INVENTORY, &inv, &err) < 0) {
		host_unreadable(b, path, err);
		return -1;
	}
	v = compat_negotiate(src, inv, NULL);
	accepted = v->accepted ? 1 : 0;
	host_verdict(b, path, v);
	compat_verdict_free(v);
	manifest_free(inv);
	return accepted;
}

static void print_hosts(JsonBuilder *b, int hosts, int accepted,
			int unreadable)
{
	if (opt_json) {
		g_autoptr(JsonGenerator) gen = json_generator_new();
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		g_autofree char *text = NULL;

		json_generator_set_pretty(gen, TRUE);
		json_generator_set_root(gen, root);
		text = json_generator_to_data(gen, NULL);
		printf("%s\n", text);
	} else {
		printf("%d of %d hosts can take the guest", accepted, hosts);
		if (unreadable)
			printf(" (%d could not be read)", unreadable);
		printf("\n");
	}
}

static int cmd_hosts(int argc, char **argv)
{
	static const GOptionEntry *const groups[] = { json_options, NULL };
	g_autoptr(JsonBuilder) b = json_builder_new();
	struct manifest *src = NULL;
	int accepted = 0, unreadable = 0;

	if (parse(&argc, &argv,
		  "hosts GUEST_MANIFEST INVENTORY... - which hosts can take "
		  "the guest",
		  groups, G_MAXINT) < 0)
		return STATUS_USAGE;
	if (argc < 3) {
		fprintf(stderr, "Usage: modvmm compat hosts GUEST_MANIFEST "
				"INVENTORY.json...\n");
		return STATUS_USAGE;
	}
	if (read_doc(argv[1], MANIFEST_GUEST, &src) < 0)
		return STATUS_USAGE;
	json_builder_begin_array(b);
	for (int i = 2; i < argc; i++) {
		int r = judge_host(b, src, argv[i]);

		if (r < 0)
			unreadable++;
		else
			accepted += r;
	}
	json_builder_end_array(b);
	print_hosts(b, argc - 2, accepted, unreadable);
	manifest_free(src);
	if (unreadable)
		return STATUS_USAGE;
	return accepted ? STATUS_OK : STATUS_FAILED;
}

int cmd_compat(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "manifest"))
		return cmd_manifest(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "inventory"))
		return cmd_inventory(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "hosts"))
		return cmd_hosts(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "--help"))
		fprintf(stderr, "modvmm compat: unknown command '%s'\n",
			argv[1]);
	fprintf(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
		"Usage: modvmm compat manifest [--module-dir DIR...] "
		"[--machine M] [-d SPEC...] [--no-defaults] [-o FILE]\n"
		"       modvmm compat inventory [--module-dir DIR...] "
		"[-o FILE]\n"
		"       modvmm compat check --source MANIFEST "
		"[--module-dir DIR...] [--machine M] [--json]\n"
		"       modvmm compat hosts GUEST_MANIFEST INVENTORY.json... "
		"[--json]\n");
	return argc >= 2 && !strcmp(argv[1], "--help") ? STATUS_OK
						       : STATUS_USAGE;
}
