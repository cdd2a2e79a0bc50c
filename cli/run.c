// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/run.c - modvmm run: its options (from the command line and a
 * --config file, cli/config-file.c), read into a struct vm_config; the
 * guest's life (boot, restore, incoming, signals, exit status) is
 * core/vm.c's, which tells this file each line to print.
 */
#include <stdio.h>

#include <glib.h>

#include "cli/cli.h"
#include "cli/config-file.h"
#include "core/modules.h"
#include "core/vm.h"

static struct vm_config cfg;
static const char *config_path;

static const GOptionEntry run_options[] = {
	{ "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
	  "Read options from FILE: a [run] group of KEY=VALUE, each key a "
	  "long option's name; the command line overrides it",
	  "FILE" },
	{ "machine", 'M', 0, G_OPTION_ARG_STRING, &cfg.machine.machine,
	  "Machine type (default microvm)", "TYPE" },
	{ "memory", 'm', 0, G_OPTION_ARG_STRING, &cfg.memory,
	  "Guest RAM, e.g. 256M or 1G (default 256M)", "SIZE" },
	{ "cpus", 'c', 0, G_OPTION_ARG_INT, &cfg.cpus, "vCPUs (default 1)",
	  "N" },
	{ "kernel", 'k', 0, G_OPTION_ARG_FILENAME, &cfg.machine.kernel,
	  "Boot this bzImage instead of the built-in guest", "FILE" },
	{ "initrd", 'i', 0, G_OPTION_ARG_FILENAME, &cfg.machine.initrd,
	  "Initial ramdisk for --kernel", "FILE" },
	{ "append", 'a', 0, G_OPTION_ARG_STRING, &cfg.machine.append,
	  "Kernel (or built-in guest) command line", "CMDLINE" },
	{ "no-defaults", 0, 0, G_OPTION_ARG_NONE, &cfg.machine.no_defaults,
	  "Do not add the machine's default devices", NULL },
	{ "kvm-device", 0, 0, G_OPTION_ARG_FILENAME, &cfg.machine.kvm_device,
	  "KVM device node (default /dev/kvm)", "PATH" },
	{ "cpu", 0, 0, G_OPTION_ARG_STRING, &cfg.machine.cpu,
	  "The guest's CPU model (default host); with --restore or "
	  "--incoming, the model this host's offer is kept to",
	  "MODEL" },
	{ "restore", 0, 0, G_OPTION_ARG_FILENAME, &cfg.restore,
	  "Resume the guest saved in this snapshot (its machine type, "
	  "memory, vCPUs and devices)",
	  "FILE" },
	{ "incoming", 0, 0, G_OPTION_ARG_STRING, &cfg.incoming,
	  "Take the guest from a migration arriving on unix:PATH, "
	  "tcp:HOST:PORT or fd:N (defer: the URI comes with "
	  "migrate-incoming on --control)",
	  "URI" },
	{ "snapshot-on-exit", 0, 0, G_OPTION_ARG_FILENAME,
	  &cfg.snapshot_on_exit,
	  "When a signal or the quit command stops the guest, save it to "
	  "FILE first",
	  "FILE" },
	{ "downtime-ms", 0, 0, G_OPTION_ARG_INT, &cfg.downtime_ms,
	  "The longest pause a migration of this guest may cause, unless "
	  "migrate says otherwise (default 300)",
	  "MS" },
	{ "paused", 'S', 0, G_OPTION_ARG_NONE, &cfg.paused,
	  "Start with the vCPUs paused (until 'cont' on the control socket)",
	  NULL },
	{ "control", 0, 0, G_OPTION_ARG_FILENAME, &cfg.control,
	  "Serve the control protocol on unix socket PATH", "PATH" },
	{ "control-timeout", 0, 0, G_OPTION_ARG_INT, &cfg.control_timeout,
	  "Seconds a control client has for the handshake and to take its "
	  "output (default 60)",
	  "S" },
	{ "control-idle-timeout", 0, 0, G_OPTION_ARG_INT, &cfg.control_idle,
	  "Seconds a control client may send no request before it is "
	  "disconnected (default 600; 0: no limit)",
	  "S" },
	{ "migration-timeout", 0, 0, G_OPTION_ARG_INT, &cfg.migration_timeout,
	  "Seconds a migration peer may send and take nothing: an incoming "
	  "source, and the destination of migrate without timeout-s "
	  "(default 60)",
	  "S" },
	{ "migration-tls", 0, 0, G_OPTION_ARG_FILENAME, &cfg.migration_tls,
	  "Migrate over TLS on tcp: with the certificates in DIR "
	  "(ca-cert.pem, server-cert.pem and server-key.pem for "
	  "--incoming, client-cert.pem and client-key.pem for migrate)",
	  "DIR" },
	{ "seccomp", 0, 0, G_OPTION_ARG_STRING, &cfg.seccomp,
	  "System call filters per thread: enforce (default), log (the "
	  "kernel logs what enforce would refuse) or off",
	  "MODE" },
	{ NULL },
};

/*
 * The file's options go where the command line's would, except those the
 * command line gives; `args` is the command line before it was parsed.
 */
static int read_config(const GOptionEntry *const *tables, char **args,
		       struct config_file **ret)
{
	g_autoptr(GError) err = NULL;

	if (!config_path)
		return 0;
	if (config_file_apply(config_path, "run", tables, "config", args, ret,
			      &err) < 0) {
		print_error(err);
		return -1;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new(
		"- boot the built-in guest or a Linux kernel");
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) args = g_strdupv(argv);
	struct config_file *file = NULL;
	const GOptionEntry *tables[] = {
		modules_options(&cfg.machine.modules),
		cli_device_options,
		run_options,
		NULL,
	};
	int status;

	vm_config_init(&cfg);
	for (size_t i = 0; tables[i]; i++)
		g_option_context_add_main_entries(ctx, tables[i], NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		print_error(err);
		return STATUS_USAGE;
	}
	if (argc > 1) {
		fprintf(stderr, "modvmm: run: unexpected argument '%s'\n",
			argv[1]);
		return STATUS_USAGE;
	}
	/* The machine type may come from the file. */
	if (read_config(tables, args, &file) < 0 ||
	    cli_check_machine(cfg.machine.machine) < 0) {
		config_file_free(file);
		return STATUS_USAGE;
	}
	cfg.machine.devices = cli_devices;
	cfg.machine.modules.log = print_device_log;
	cfg.tell = print_line;
	if (vm_config_check(&cfg, &err) < 0) {
		config_file_blame(file, err);
		print_error(err);
		config_file_free(file);
		return STATUS_USAGE;
	}
	status = vm_run(&cfg);
	config_file_free(file);
	return status;
}
