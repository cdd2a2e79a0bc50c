/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_MACHINE_CONFIG_H
#define CORE_MACHINE_CONFIG_H

#include <stdint.h>

#include "modules.h"

/*
 * What a machine is made of, as a front end asks for it: plain data, part
 * of the library's interface (core/vm.h), so that a front end fills it in
 * without seeing the machine itself.
 */
struct machine_config {
	const char *machine; /* NULL or "microvm" */
	uint64_t memory;     /* bytes */
	unsigned int cpus;
	/* Where the modules come from; refused ones always fail the
	 * machine (MODULES_ALL). Its log is the devices' log. */
	struct modules_config modules;
	char **devices;	    /* --device specs, NULL-terminated */
	int no_defaults;    /* no default devices */
	const char *kernel; /* bzImage; NULL: the built-in guest */
	const char *initrd;
	const char *append;	/* kernel or built-in guest command line */
	const char *kvm_device; /* NULL: /dev/kvm */
	/* --cpu: the guest's CPU model on a fresh start; on a destination,
	 * the model this host's offer is kept to. NULL: "host". */
	const char *cpu;
	int offline; /* modules and devices only: no KVM, no guest RAM */
};

#endif
