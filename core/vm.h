/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_VM_H
#define CORE_VM_H

#include <glib.h>

#include "compat/cpu.h"
#include "compat/manifest.h"
#include "machine-config.h"

struct machine;

/*
 * One guest's life on this host, as `modvmm run` lives it: the way it
 * comes (booted, restored from a snapshot, or received from a migration
 * source), the signals that stop it, its control socket, its run and the
 * exit status that tells how it ended. The front end fills a vm_config
 * from its options; everything else happens here.
 */

/* Exit statuses of a run besides the guest's own (README, "Exit status"). */
#define VM_STATUS_TRIPLE_FAULT 123
#define VM_STATUS_PANIC 124
#define VM_STATUS_SETUP 125	  /* the guest could not be started */
#define VM_STATUS_GUEST_ERROR 126 /* something KVM could not handle */

struct vm_config {
	/* Machine type, devices, guest, modules (with the devices' log). */
	struct machine_config machine;
	/* As given; vm_config_check() fills machine.memory and .cpus. */
	const char *memory; /* "256M", "1G"...; NULL: 256M */
	int cpus;
	const char *restore;  /* snapshot file to resume, or NULL */
	const char *incoming; /* migration URI, "defer", or NULL */
	const char *control;  /* control socket path, or NULL */
	const char *snapshot_on_exit;
	const char *migration_tls; /* certificate directory, or NULL */
	const char *seccomp;	   /* enforce, log or off; NULL: enforce */
	int paused;		   /* vCPUs paused until `cont` */
	int downtime_ms;	   /* migrate's default limit */
	int control_timeout;	   /* s */
	int control_idle;	   /* s; 0: no limit */
	int migration_timeout;	   /* s */
	/*
	 * Every line the run has for its operator (what happens to the
	 * guest, and the errors that end it), without the "modvmm: "
	 * prefix or a newline: the library does not print.
	 */
	void (*tell)(void *opaque, const char *line);
	void *opaque;
	int seccomp_mode; /* enum sandbox_mode, set by vm_config_check() */
};

/* Defaults for every member (the options' defaults). */
void vm_config_init(struct vm_config *cfg);

/*
 * Checks the options against each other and their bounds, the first
 * failure the error, and reads MODVMM_FAULT: an error is a usage error
 * (exit status 2), its message naming the option.
 */
int vm_config_check(struct vm_config *cfg, GError **error);

/*
 * Takes the guest (cfg->restore, cfg->incoming, or a fresh boot), runs it
 * until it ends and returns the process's exit status: the guest's own,
 * 128+N after signal N, or a VM_STATUS_*. Call once per process, with
 * cfg checked and no other thread started yet.
 */
int vm_run(const struct vm_config *cfg);

/*
 * What this host's KVM offers a guest, kept to CPU model `limit` (NULL:
 * all of it); an error where KVM cannot be asked.
 */
int vm_cpu_offer(const char *limit, struct cpu_model **ret, GError **error);

/*
 * A guest made offline (modules and devices, no KVM, no guest RAM):
 * enough to describe it in a manifest. The warning, when not NULL, is for
 * the operator (a deprecated machine type, say).
 */
int vm_offline_open(const struct machine_config *cfg, struct machine **ret,
		    GError **error);
const char *vm_offline_warning(const struct machine *m);
/* Its manifest, with CPU `cpu` (copied; NULL: none listed). */
struct manifest *vm_offline_manifest(struct machine *m,
				     const struct cpu_model *cpu);
void vm_offline_close(struct machine *m);

#endif
