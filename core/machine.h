/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_MACHINE_H
#define CORE_MACHINE_H

#include <stdint.h>

#include <glib.h>

#include "kvm-cpu.h"
#include "compat/cpu.h"
#include "compat/machine-types.h"
#include "machine-config.h"
#include "vm-devices.h"


struct tls_creds;

struct machine {
	struct vm_devices *devs;
	struct kvm *kvm;
	char *kernel; /* file contents, read before KVM is opened */
	gsize kernel_len;
	char *initrd;
	gsize initrd_len;
	const struct machine_type *type;
	int alias;     /* the type was asked for by the unversioned alias */
	char *warning; /* for the front end to print, e.g. deprecation */
	/* migrate's default limit (--downtime-ms), set by the front end */
	uint32_t downtime_ms;
	/* s: migrate's default timeout-s (--migration-timeout) */
	uint32_t migration_timeout;
	/* migrate's certificates (--migration-tls), the front end's */
	struct tls_creds *migration_tls;
	/* The guest's CPU as its manifest lists it, and what this host
	 * offers (kept to cfg->cpu); NULL until KVM is open. */
	struct cpu_model *cpu;
	struct cpu_model *cpu_offer;
};

/*
 * Resolves a machine type name against `r`: NULL means the alias. Refuses
 * unknown and removed types (naming what to use instead); a deprecated
 * one is returned with *ret_warning set.
 */
int machine_resolve(const struct machine_registry *r, const char *name,
		    const struct machine_type **ret, char **ret_warning,
		    GError **error);

/*
 * The --device spec with the machine type's compat properties for its
 * device type put in front of the given ones, which therefore win.
 */
char *machine_device_spec(const struct machine_registry *r,
			  const struct machine_type *t, const char *spec);

/*
 * Loads the modules, creates the devices (the machine's defaults unless a
 * device of that type is given or no_defaults is set), opens KVM, loads
 * the guest and creates the vCPUs. Module load failures are errors here:
 * a machine does not start with a module missing. Offline (cfg->offline)
 * it stops after the devices, which then see no guest RAM: enough to
 * describe the machine in a manifest.
 */
int machine_create(const struct machine_config *cfg, struct machine **ret,
		   GError **error);

/*
 * The first step of either way of making a machine (machine_create(),
 * core/restore.c): machine type `type_name` (NULL: the alias; asked for
 * by the alias when `alias` is set) and the modules cfg names, loaded, a
 * module that fails an error; no devices, no KVM yet.
 */
int machine_new(const struct machine_config *cfg, const char *type_name,
		int alias, struct machine **ret, GError **error);

/* KVM for it: `memory` bytes of guest RAM, `cpus` vCPUs to create. */
int machine_open_kvm(struct machine *m, const struct machine_config *cfg,
		     uint64_t memory, unsigned int cpus, GError **error);

/*
 * Runs until the guest ends or machine_stop(); see enum kvm_end.
 * `started` (NULL: none) is called once every vCPU thread exists, before
 * any runs guest code, unless the machine was stopped first.
 */
void machine_run(struct machine *m, void (*started)(void *), void *opaque,
		 struct kvm_result *ret);

/* Ends the run from any thread (a signal watcher, say). */
void machine_stop(struct machine *m, int signo);

/* Ends the run because the operator asked (the control socket's quit). */
void machine_quit(struct machine *m);

enum machine_state {
	MACHINE_RUNNING,
	MACHINE_PAUSED,
	MACHINE_ENDED, /* the run is over, or ending */
};

enum machine_state machine_state(struct machine *m);
const char *machine_state_name(enum machine_state s);

/*
 * Stops the vCPUs and the device clock, or lets them go on. -EALREADY in
 * that state already, -ESHUTDOWN once the run is over; with the reason
 * in *error.
 */
int machine_pause(struct machine *m, GError **error);
int machine_resume(struct machine *m, GError **error);

/*
 * Creates a device while the guest runs, from a --device spec, with the
 * machine type's compat properties applied as at start-up.
 */
int machine_device_add(struct machine *m, const char *spec,
		       struct modvmm_device **ret, GError **error);

void machine_free(struct machine *m);

/*
 * "256M", "1.5G", "2T", "1048576K", a plain number of MiB: at most 6
 * decimals, and a whole number of bytes.
 */
int machine_parse_size(const char *s, uint64_t *ret, GError **error);

/*
 * A warning (for the front end to print) when `ram` bytes of guest RAM
 * are more than the host has, MemTotal in `meminfo` (/proc/meminfo);
 * NULL when they are not, or it cannot be read.
 */
char *machine_ram_warning(uint64_t ram, const char *meminfo);

#endif
