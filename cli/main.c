// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/main.c - the modvmm command line: a thin front end over the core
 * library. This is the only place in core/ that prints or exits.
 */
#define _GNU_SOURCE /* sigabbrev_np */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "base/error.h"
#include "cli/compat.h"
#include "core/control-cmds.h"
#include "core/control.h"
#include "cli/ctl.h"
#include "core/device.h"
#include "core/fault.h"
#include "core/host.h"
#include "core/incoming.h"
#include "core/machine.h"
#include "core/migration.h"
#include "core/modules.h"
#include "core/restore.h"
#include "core/sandbox.h"
#include "core/tls.h"
#include "core/transport.h"
#include "core/vm-devices.h"

static struct modules_config opt_modules;
static char **opt_devices;
static gboolean opt_json;
static gboolean opt_verbose;

static const GOptionEntry module_options[] = {
	{ "device", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &opt_devices,
	  "Create a device: TYPE[,id=ID][,PROP=VALUE...] (repeatable)",
	  "SPEC" },
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print JSON instead of text", NULL },
	{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
	  "Also print devices' informational messages", NULL },
	{ NULL },
};

static void print_error(const GError *err)
{
	fprintf(stderr, "modvmm: %s\n", err->message);
}

/* Device messages: warnings and errors always, the rest with --verbose. */
static void print_device_log(void *opaque, const char *id, uint32_t level,
			     const char *msg)
{
	(void)opaque;
	if (level <= MODVMM_LOG_WARNING || opt_verbose)
		fprintf(stderr, "modvmm: %s: %s\n", id, msg);
}

static void print_modules_text(struct vm_devices *devs)
{
	const GPtrArray *mods = loader_modules(devs->loader);

	printf("host ABI %s, %u module%s loaded%s\n", MODVMM_ABI_STRING,
	       mods->len, mods->len == 1 ? "" : "s",
	       loader_tainted(devs->loader) ? " (tainted: out-of-tree module)"
					   : "");
	for (guint i = 0; i < mods->len; i++) {
		const struct module *m = mods->pdata[i];
		GString *types = g_string_new(NULL);

		for (guint j = 0; j < m->types->len; j++)
			g_string_append_printf(
				types, "%s%s", j ? ", " : "",
				((struct device_type *)m->types->pdata[j])
					->t.name);
		printf("  %-16s %-10s ABI %-5s %-11s devices: %s\n  %16s %s\n",
		       m->info->name, m->info->version, m->info->abi,
		       m->info->intree ? "in-tree" : "out-of-tree",
		       types->len ? types->str : "none", "", m->path);
		g_string_free(types, TRUE);
	}
	for (guint i = 0; i < devs->devices->len; i++) {
		const struct modvmm_device *dev = devs->devices->pdata[i];

		printf("device %s: %s (module %s)\n", dev->id,
		       dev->type->t.name, dev->type->module->info->name);
	}
}

static void print_modules_json(struct vm_devices *devs)
{
	const GPtrArray *mods = loader_modules(devs->loader);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree char *text = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "abi");
	json_builder_add_string_value(b, MODVMM_ABI_STRING);
	json_builder_set_member_name(b, "tainted");
	json_builder_add_boolean_value(b, loader_tainted(devs->loader));
	json_builder_set_member_name(b, "modules");
	json_builder_begin_array(b);
	for (guint i = 0; i < mods->len; i++) {
		const struct module *m = mods->pdata[i];
		JsonNode *n = modinfo_to_json(m->info);

		json_object_set_string_member(json_node_get_object(n), "path",
					      m->path);
		json_builder_add_value(b, n);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "devices");
	json_builder_begin_array(b);
	for (guint i = 0; i < devs->devices->len; i++) {
		const struct modvmm_device *dev = devs->devices->pdata[i];

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, dev->id);
		json_builder_set_member_name(b, "type");
		json_builder_add_string_value(b, dev->type->t.name);
		json_builder_set_member_name(b, "module");
		json_builder_add_string_value(b, dev->type->module->info->name);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
}

/* modvmm modules: load every module in the module directories and list. */
static int cmd_modules(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("- load device modules and list them");
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(GError) err = NULL;
	struct vm_devices *devs;
	int status = 0;

	g_option_context_add_main_entries(ctx, modules_options(&opt_modules),
					  NULL);
	g_option_context_add_main_entries(ctx, module_options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		print_error(err);
		return 2;
	}
	if (argc > 1) {
		fprintf(stderr, "modvmm: modules: unexpected argument '%s'\n",
			argv[1]);
		return 2;
	}
	opt_modules.policy = MODULES_EACH;
	opt_modules.sinks.log = print_device_log;
	if (modules_open(&opt_modules, &devs, errors, &err) < 0) {
		print_error(err);
		return 1;
	}
	for (guint i = 0; i < errors->len; i++)
		print_error(errors->pdata[i]);
	if (errors->len)
		status = 1;
	for (char **d = opt_devices; d && *d; d++) {
		g_autoptr(GError) derr = NULL;

		if (device_create(devs, *d, NULL, &derr) < 0) {
			print_error(derr);
			status = 1;
		}
	}
	if (opt_json)
		print_modules_json(devs);
	else
		print_modules_text(devs);
	modules_close(devs);
	return status;
}

/* modvmm run ------------------------------------------------------------ */

static char *opt_memory;
static int opt_cpus = 1;
static char *opt_machine;
static char *opt_kernel;
static char *opt_initrd;
static char *opt_append;
static gboolean opt_no_defaults;
static char *opt_kvm_device;
static char *opt_control;
static char *opt_restore;
static char *opt_incoming;
static char *opt_snapshot_on_exit;
static int opt_downtime_ms = MIGRATION_DOWNTIME_DEFAULT;
static gboolean opt_paused;
static int opt_control_timeout = CONTROL_TIMEOUT_DEFAULT;
static int opt_control_idle = CONTROL_IDLE_DEFAULT;
static int opt_migration_timeout = MIGRATION_TIMEOUT_DEFAULT;
static char *opt_migration_tls;
static struct tls_creds *migration_tls; /* --migration-tls, loaded */
static char *opt_seccomp;
static char *opt_cpu;

static const GOptionEntry run_options[] = {
	{ "machine", 0, 0, G_OPTION_ARG_STRING, &opt_machine,
	  "Machine type (default microvm)", "TYPE" },
	{ "memory", 'm', 0, G_OPTION_ARG_STRING, &opt_memory,
	  "Guest RAM, e.g. 256M or 1G (default 256M)", "SIZE" },
	{ "cpus", 'c', 0, G_OPTION_ARG_INT, &opt_cpus, "vCPUs (default 1)",
	  "N" },
	{ "kernel", 'k', 0, G_OPTION_ARG_FILENAME, &opt_kernel,
	  "Boot this bzImage instead of the built-in guest", "FILE" },
	{ "initrd", 'i', 0, G_OPTION_ARG_FILENAME, &opt_initrd,
	  "Initial ramdisk for --kernel", "FILE" },
	{ "append", 'a', 0, G_OPTION_ARG_STRING, &opt_append,
	  "Kernel (or built-in guest) command line", "CMDLINE" },
	{ "no-defaults", 0, 0, G_OPTION_ARG_NONE, &opt_no_defaults,
	  "Do not add the machine's default devices", NULL },
	{ "kvm-device", 0, 0, G_OPTION_ARG_FILENAME, &opt_kvm_device,
	  "KVM device node (default /dev/kvm)", "PATH" },
	{ "cpu", 0, 0, G_OPTION_ARG_STRING, &opt_cpu,
	  "The guest's CPU model (default host); with --restore or "
	  "--incoming, the model this host's offer is kept to",
	  "MODEL" },
	{ "restore", 0, 0, G_OPTION_ARG_FILENAME, &opt_restore,
	  "Resume the guest saved in this snapshot (its machine type, "
	  "memory, vCPUs and devices)",
	  "FILE" },
	{ "incoming", 0, 0, G_OPTION_ARG_STRING, &opt_incoming,
	  "Take the guest from a migration arriving on unix:PATH, "
	  "tcp:HOST:PORT or fd:N (defer: the URI comes with "
	  "migrate-incoming on --control)",
	  "URI" },
	{ "snapshot-on-exit", 0, 0, G_OPTION_ARG_FILENAME,
	  &opt_snapshot_on_exit,
	  "When a signal or the quit command stops the guest, save it to "
	  "FILE first",
	  "FILE" },
	{ "downtime-ms", 0, 0, G_OPTION_ARG_INT, &opt_downtime_ms,
	  "The longest pause a migration of this guest may cause, unless "
	  "migrate says otherwise (default 300)",
	  "MS" },
	{ "paused", 'S', 0, G_OPTION_ARG_NONE, &opt_paused,
	  "Start with the vCPUs paused (until 'cont' on the control socket)",
	  NULL },
	{ "control", 0, 0, G_OPTION_ARG_FILENAME, &opt_control,
	  "Serve the control protocol on unix socket PATH", "PATH" },
	{ "control-timeout", 0, 0, G_OPTION_ARG_INT, &opt_control_timeout,
	  "Seconds a control client has for the handshake and to take its "
	  "output (default 60)",
	  "S" },
	{ "control-idle-timeout", 0, 0, G_OPTION_ARG_INT, &opt_control_idle,
	  "Seconds a control client may send no request before it is "
	  "disconnected (default 600; 0: no limit)",
	  "S" },
	{ "migration-timeout", 0, 0, G_OPTION_ARG_INT, &opt_migration_timeout,
	  "Seconds a migration peer may send and take nothing: an incoming "
	  "source, and the destination of migrate without timeout-s "
	  "(default 60)",
	  "S" },
	{ "migration-tls", 0, 0, G_OPTION_ARG_FILENAME, &opt_migration_tls,
	  "Migrate over TLS on tcp: with the certificates in DIR "
	  "(ca-cert.pem, server-cert.pem and server-key.pem for "
	  "--incoming, client-cert.pem and client-key.pem for migrate)",
	  "DIR" },
	{ "seccomp", 0, 0, G_OPTION_ARG_STRING, &opt_seccomp,
	  "System call filters per thread: enforce (default), log (the "
	  "kernel logs what enforce would refuse) or off",
	  "MODE" },
	{ NULL },
};

/* Exit statuses of modvmm run, as documented in the README. */
#define STATUS_SETUP 125
#define STATUS_GUEST_ERROR 126
#define STATUS_PANIC 124
#define STATUS_TRIPLE_FAULT 123

/*
 * SIGINT, SIGTERM and SIGHUP, from the start of a run: before the guest
 * is here, they end the wait for it (an incoming migration is cancelled:
 * the source keeps the guest); once it runs, an outgoing migration is
 * cancelled or, past its commit, its end awaited, and then the guest
 * stops as it would without one. SIGUSR2 ends the thread.
 */
struct watcher {
	pthread_t tid;
	sigset_t set;
	GMutex lock; /* guards what follows */
	struct machine *m;
	struct incoming *in;
	struct control *ctl;
	int early; /* the signal that came before the guest, or 0 */
};

static void *watch_signals(void *data)
{
	struct watcher *w = data;
	struct machine *m;
	int sig;

	sandbox_enter_or_die(SANDBOX_MAIN);
	while (!sigwait(&w->set, &sig) && sig != SIGUSR2) {
		g_mutex_lock(&w->lock);
		m = w->m;
		if (!m) {
			w->early = w->early ? w->early : sig;
			if (w->in)
				incoming_cancel(w->in, NULL);
			if (w->ctl)
				control_end_wait(w->ctl);
		}
		g_mutex_unlock(&w->lock);
		if (m) {
			control_settle_migration(w->ctl);
			machine_stop(m, sig);
		}
	}
	return NULL;
}

/* The guest is here: a signal that came meanwhile stops it before it runs. */
static void watcher_attach(struct watcher *w, struct machine *m,
			   struct control *ctl)
{
	int early;

	g_mutex_lock(&w->lock);
	w->m = m;
	w->ctl = ctl;
	early = w->early;
	g_mutex_unlock(&w->lock);
	if (early)
		machine_stop(m, early);
}

static int watcher_early(struct watcher *w)
{
	int sig;

	g_mutex_lock(&w->lock);
	sig = w->early;
	g_mutex_unlock(&w->lock);
	return sig;
}

static int end_status(const struct kvm_result *res)
{
	switch (res->end) {
	case KVM_END_EXIT:
		return (int)(res->arg & 0xff);
	case KVM_END_POWEROFF:
	case KVM_END_RESET:
	case KVM_END_QUIT:
	case KVM_END_MIGRATED:
		return 0;
	case KVM_END_PANIC:
		return STATUS_PANIC;
	case KVM_END_TRIPLE_FAULT:
		return STATUS_TRIPLE_FAULT;
	case KVM_END_STOPPED:
		return 128 + (int)res->arg;
	default:
		return STATUS_GUEST_ERROR;
	}
}

/*
 * The guest's clocks go on from the moment it was saved: an operator is
 * told how far behind that leaves them, when it is more than a minute.
 */
static void tell_age(const char *path)
{
	struct stat st;
	time_t age;

	if (stat(path, &st) < 0)
		return;
	age = time(NULL) - st.st_mtime;
	if (age > 60)
		fprintf(stderr,
			"modvmm: %s was saved %lld s ago: the guest's clocks "
			"go on from then, that far behind the host's (see "
			"\"Guest time\" in the user guide)\n",
			path, (long long)age);
}

/* --restore FILE: judged, then built; the verdict printed if refused. */
static int restore(const struct machine_config *cfg, const char *path,
		   struct machine **ret, GError **error)
{
	struct compat_verdict *v = NULL;
	struct snap_reader *s = NULL;
	struct machine *m = NULL;
	int r = snapshot_open(path, &s, error);

	if (!r)
		r = restore_judge(cfg, s, &m, &v, error);
	if (!r)
		r = restore_build(m, cfg, s, v, error);
	if (r < 0)
		g_clear_pointer(&m, machine_free);
	else
		tell_age(path);
	compat_verdict_free(v);
	/* The guest's RAM holds it all now. */
	snapshot_free(s);
	*ret = m;
	return r;
}

/*
 * --incoming URI: a migration check gets its verdict, then the next
 * connection is awaited (not on an inherited fd:, which has one). The
 * control socket, if any, shows and may cancel it meanwhile.
 */
static int receive(const struct machine_config *cfg, struct watcher *w,
		   struct control *ctl, struct incoming **ret_in,
		   struct machine **ret, GError **error)
{
	struct incoming *in = NULL;
	int r = incoming_listen(opt_incoming, (uint32_t)opt_migration_timeout,
				&in, error);

	if (r < 0)
		return r;
	incoming_set_tls(in, migration_tls);
	*ret_in = in;
	if (ctl)
		control_attach_incoming(ctl, in);
	g_mutex_lock(&w->lock);
	w->in = in;
	if (w->early)
		incoming_cancel(in, NULL);
	g_mutex_unlock(&w->lock);
	for (;;) {
		fprintf(stderr, "modvmm: waiting for a migration on %s\n",
			opt_incoming);
		r = incoming_take(in, cfg, ret, error);
		if (r < 0 || *ret)
			break;
		fprintf(stderr, "modvmm: %s: a migration check: verdict sent\n",
			opt_incoming);
		/* An inherited descriptor has one connection. */
		if (g_str_has_prefix(opt_incoming, "fd:")) {
			r = error_setf(error, ECANCELED,
				       "%s: the inherited connection was a "
				       "migration check",
				       opt_incoming);
			break;
		}
	}
	if (*ret)
		fprintf(stderr, "modvmm: guest arrived from %s\n",
			opt_incoming);
	return r;
}

/*
 * The guest is about to run here: the source, which waits for that,
 * hears it. The line comes before any guest code runs here, so that an
 * operator resolving a migration in doubt can tell from this host's
 * output whether the guest ran here (docs/user-guide.md).
 */
static void tell_source(void *opaque)
{
	g_autoptr(GError) err = NULL;

	if (incoming_confirm(opaque, &err) < 0)
		fprintf(stderr,
			"modvmm: the guest runs here, but the source was not "
			"told (%s): if it still has the guest paused, quit it "
			"there\n",
			err->message);
	else
		fprintf(stderr, "modvmm: the guest runs here (RUNNING sent to "
				"the source)\n");
}

static int cmd_run(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new(
		"- boot the built-in guest or a Linux kernel");
	g_autoptr(GError) err = NULL;
	struct machine_config cfg = { 0 };
	struct kvm_result res = { 0 };
	struct watcher w = { 0 };
	struct machine *m = NULL;
	struct control *ctl = NULL;
	struct incoming *in = NULL;
	g_autofree char *deferred = NULL;
	enum sandbox_mode seccomp = SANDBOX_ENFORCE;
	int status;

	g_option_context_add_main_entries(ctx, modules_options(&opt_modules),
					  NULL);
	g_option_context_add_main_entries(ctx, module_options, NULL);
	g_option_context_add_main_entries(ctx, run_options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		print_error(err);
		return 2;
	}
	if (argc > 1) {
		fprintf(stderr, "modvmm: run: unexpected argument '%s'\n",
			argv[1]);
		return 2;
	}
	if (opt_initrd && !opt_kernel) {
		fprintf(stderr, "modvmm: --initrd needs --kernel\n");
		return 2;
	}
	cfg.memory = 256u << 20;
	if (opt_memory &&
	    machine_parse_size(opt_memory, &cfg.memory, &err) < 0) {
		print_error(err);
		return 2;
	}
	if (opt_cpus < 1) {
		fprintf(stderr, "modvmm: --cpus %d: at least 1\n", opt_cpus);
		return 2;
	}
	if ((opt_restore || opt_incoming) &&
	    (opt_kernel || opt_append || opt_memory || opt_cpus != 1 ||
	     opt_no_defaults || (opt_restore && opt_incoming))) {
		fprintf(stderr, "modvmm: --restore and --incoming take the "
				"guest, its memory, vCPUs and devices from the "
				"snapshot or the source (only --device id=... "
				"may change a device), and not both\n");
		return 2;
	}
	if (opt_incoming && !strcmp(opt_incoming, "defer") && !opt_control) {
		fprintf(stderr, "modvmm: --incoming defer needs --control (the "
				"URI comes with migrate-incoming)\n");
		return 2;
	}
	if (opt_downtime_ms < 1 || opt_downtime_ms > 600000) {
		fprintf(stderr, "modvmm: --downtime-ms %d: 1 to 600000\n",
			opt_downtime_ms);
		return 2;
	}
	if (opt_paused && !opt_control) {
		fprintf(stderr, "modvmm: --paused needs --control (nothing "
				"else could resume the guest)\n");
		return 2;
	}
	if (opt_control_timeout < 1) {
		fprintf(stderr, "modvmm: --control-timeout %d: at least 1\n",
			opt_control_timeout);
		return 2;
	}
	if (opt_control_idle && (opt_control_idle < CONTROL_IDLE_MIN ||
				 opt_control_idle > 86400)) {
		fprintf(stderr,
			"modvmm: --control-idle-timeout %d: 0 (no limit) or "
			"%d to 86400\n",
			opt_control_idle, CONTROL_IDLE_MIN);
		return 2;
	}
	if (opt_migration_timeout < 1 ||
	    opt_migration_timeout > MIGRATION_TIMEOUT_MAX) {
		fprintf(stderr, "modvmm: --migration-timeout %d: 1 to %d\n",
			opt_migration_timeout, MIGRATION_TIMEOUT_MAX);
		return 2;
	}
	if (fault_init(&err) < 0) {
		print_error(err);
		return 2;
	}
	if (opt_seccomp &&
	    sandbox_parse_mode(opt_seccomp, &seccomp, &err) < 0) {
		print_error(err);
		return 2;
	}
	if (opt_cpu && !cpu_model_known(opt_cpu)) {
		g_autofree char *names = cpu_model_names_text();

		fprintf(stderr, "modvmm: --cpu %s: unknown CPU model (known: "
				"%s)\n",
			opt_cpu, names);
		return 2;
	}
	cfg.cpus = (unsigned int)opt_cpus;
	cfg.cpu = opt_cpu;
	cfg.machine = opt_machine;
	cfg.modules = opt_modules;
	cfg.modules.sinks.log = print_device_log;
	cfg.devices = opt_devices;
	cfg.no_defaults = opt_no_defaults;
	cfg.kernel = opt_kernel;
	cfg.initrd = opt_initrd;
	cfg.append = opt_append;
	cfg.kvm_device = opt_kvm_device;

	/* Before any thread exists, so that every thread inherits it. */
	sigemptyset(&w.set);
	sigaddset(&w.set, SIGINT);
	sigaddset(&w.set, SIGTERM);
	sigaddset(&w.set, SIGHUP);
	sigaddset(&w.set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &w.set, NULL);
	if (sandbox_setup(seccomp, &err) < 0) {
		print_error(err);
		return STATUS_SETUP;
	}
	/* The files are read now; a destination on tcp: needs its pair. */
	if (opt_migration_tls &&
	    tls_creds_load(opt_migration_tls,
			   opt_incoming && g_str_has_prefix(opt_incoming, "tcp:")
				   ? TLS_NEED_SERVER
				   : 0,
			   &migration_tls, &err) < 0) {
		print_error(err);
		return STATUS_SETUP;
	}
	g_mutex_init(&w.lock);
	pthread_create(&w.tid, NULL, watch_signals, &w);

	status = STATUS_SETUP;
	if (opt_restore && restore(&cfg, opt_restore, &m, &err) < 0)
		goto out;
	/* A destination's control socket serves while the guest comes. */
	if (opt_incoming && opt_control) {
		if (control_new(NULL, opt_control,
				(unsigned int)opt_control_timeout,
				(unsigned int)opt_control_idle,
				control_commands(), &ctl, &err) < 0)
			goto out;
		g_mutex_lock(&w.lock);
		w.ctl = ctl;
		g_mutex_unlock(&w.lock);
	}
	/* --incoming defer: the URI from the control socket. */
	if (opt_incoming && !strcmp(opt_incoming, "defer")) {
		fprintf(stderr, "modvmm: waiting for migrate-incoming on %s\n",
			opt_control);
		if (!watcher_early(&w))
			deferred = control_wait_incoming(ctl);
		g_free(opt_incoming); /* "defer" */
		opt_incoming = deferred;
		if (!opt_incoming)
			goto out;
	} else if (ctl) {
		control_set_incoming(ctl, opt_incoming, NULL);
	}
	if (opt_incoming && receive(&cfg, &w, ctl, &in, &m, &err) < 0) {
		if (err && !watcher_early(&w))
			print_error(err);
		g_clear_error(&err);
		fprintf(stderr,
			"modvmm: migration from %s %s: no guest started here\n",
			opt_incoming,
			watcher_early(&w) ? "cancelled by a signal" : "failed");
		goto out;
	}
	if (!m && machine_create(&cfg, &m, &err) < 0)
		goto out;
	if (m->warning)
		fprintf(stderr, "modvmm: warning: %s\n", m->warning);
	m->downtime_ms = (uint32_t)opt_downtime_ms;
	m->migration_timeout = (uint32_t)opt_migration_timeout;
	m->migration_tls = migration_tls;
	/* Paused before a client can ask: its first `cont` finds it so. */
	if (opt_paused)
		machine_pause(m, NULL);
	if (ctl)
		control_attach(ctl, m);
	else if (opt_control &&
		 control_new(m, opt_control, (unsigned int)opt_control_timeout,
			     (unsigned int)opt_control_idle, control_commands(),
			     &ctl, &err) < 0)
		goto out;
	/* Set-up is over; the vCPUs inherit this. */
	if (sandbox_enter(SANDBOX_MAIN, &err) < 0)
		goto out;
	watcher_attach(&w, m, ctl);
	machine_run(m, in ? tell_source : NULL, in, &res);
	/* The host stopped it: its state is whole, and can be kept. */
	if (opt_snapshot_on_exit &&
	    (res.end == KVM_END_STOPPED || res.end == KVM_END_QUIT)) {
		uint64_t bytes;

		if (snapshot_save(m, opt_snapshot_on_exit, &bytes, &err) < 0) {
			print_error(err);
			g_clear_error(&err);
		} else {
			fprintf(stderr,
				"modvmm: saved the guest to %s "
				"(%" G_GUINT64_FORMAT " bytes)\n",
				opt_snapshot_on_exit, (guint64)bytes);
		}
	}
	if (ctl)
		control_run_ended(ctl, &res);
	status = end_status(&res);
	fprintf(stderr, "modvmm: %s (exit status %d)\n",
		res.message ? res.message : "guest stopped", status);
out:
	if (err)
		print_error(err);
	/* A signal ended the wait for the guest: the status says which. */
	if (status == STATUS_SETUP && watcher_early(&w)) {
		status = 128 + watcher_early(&w);
		fprintf(stderr, "modvmm: stopped by SIG%s before the guest "
				"ran (exit status %d)\n",
			sigabbrev_np(watcher_early(&w)), status);
	}
	pthread_kill(w.tid, SIGUSR2);
	pthread_join(w.tid, NULL);
	control_free(ctl);
	machine_free(m);
	incoming_free(in);
	tls_creds_unref(migration_tls);
	tls_shutdown();
	kvm_result_clear(&res);
	g_mutex_clear(&w.lock);
	return status;
}

/* modvmm machines: the machine types of this build and their status. */
static int cmd_machines(void)
{
	const struct machine_registry *r = machine_registry();

	printf("%-16s %-10s %-11s %-11s %-11s %s\n", "machine type", "released",
	       "status", "deprecated", "removed", "compat props");
	for (size_t i = 0; i < r->n_types; i++) {
		const struct machine_type *t = &r->types[i];
		char d0[MACHINE_DATE_LEN], d1[MACHINE_DATE_LEN];
		char d2[MACHINE_DATE_LEN];
		uint32_t dep, rem;
		enum machine_status st = machine_status(r, t, &dep, &rem);

		printf("%-16s %s %-11s %s  %s  %zu\n", t->name,
		       machine_date_text(t->released, d0),
		       machine_status_name(st), machine_date_text(dep, d1),
		       machine_date_text(rem, d2), t->n_props);
	}
	printf("%-16s alias of %s (no migration guarantee across releases)\n",
	       r->alias, machine_lookup(r, r->alias)->name);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: modvmm COMMAND [OPTIONS]\n\n"
		   "Commands:\n"
		   "  run       boot the built-in guest or a Linux kernel\n"
		   "  modules   load device modules and list them\n"
		   "  machines  list machine types and their status\n"
		   "  compat    manifests, inventories and migration verdicts\n"
		   "  ctl       send a command to a running modvmm's control "
		   "socket\n"
		   "  version   print the version and the module ABI\n\n"
		   "'modvmm COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	/* A peer that goes away is an error to report (EPIPE), not death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "machines"))
		return cmd_machines();
	if (!strcmp(argv[1], "compat"))
		return cmd_compat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(argv[1], "modules"))
		return cmd_modules(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version")) {
		printf("modvmm %s, module ABI %s\n", MODVMM_VERSION,
		       MODVMM_ABI_STRING);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "modvmm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
