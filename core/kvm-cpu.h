/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_KVM_CPU_H
#define CORE_KVM_CPU_H

#include <stdint.h>

#include <glib.h>

#include "kvm.h"

/* How a run ended; the front end turns it into an exit status. */
enum kvm_end {
	KVM_END_NONE,
	KVM_END_EXIT,	  /* the guest asked to exit (debug-exit): arg */
	KVM_END_POWEROFF, /* the guest powered off */
	KVM_END_RESET,	  /* the guest reset (i8042, ACPI) */
	KVM_END_TRIPLE_FAULT, /* a fault the guest could not handle */
	KVM_END_PANIC,	  /* the guest reported a panic */
	KVM_END_STOPPED,  /* the host stopped it (signal): arg */
	KVM_END_QUIT,	  /* the operator asked it to quit (control) */
	KVM_END_MIGRATED, /* it runs on the destination now */
	KVM_END_ERROR,	  /* KVM could not go on: message says why */
};

struct kvm_result {
	enum kvm_end end;
	uint32_t arg;
	char *message; /* for KVM_END_ERROR, and a description otherwise */
};

/* Where the boot vCPU starts, in 64-bit mode with the host's page tables. */
struct kvm_boot {
	uint64_t rip;
	uint64_t rsp;
	uint64_t rsi; /* Linux: the zero page */
};

/*
 * Creates every vCPU: CPUID (with the hypervisor bit and KVM's paravirt
 * leaves), LAPIC in virtual-wire mode, and for vCPU 0 the 64-bit entry
 * state of `boot`. The others wait for INIT/SIPI, as on hardware.
 */
int kvm_cpus_create(struct kvm *kvm, const struct kvm_boot *boot,
		    GError **error);

/*
 * Runs the vCPUs, one thread each, until the guest or kvm_cpus_stop()
 * ends the run. Device callbacks run on the vCPU threads.
 */
void kvm_cpus_run(struct kvm *kvm, void (*started)(void *), void *opaque,
		  struct kvm_result *ret);

/*
 * Ends the run; callable from any thread, also from device code. The first
 * reason given wins. `message` may be NULL.
 */
void kvm_cpus_stop(struct kvm *kvm, enum kvm_end end, uint32_t arg,
		   const char *message);

/*
 * Pauses every vCPU: returns once no vCPU thread is inside KVM_RUN and
 * each waits for kvm_cpus_resume(). Callable from any thread but the
 * vCPUs'; harmless when already paused or when the run is over.
 */
void kvm_cpus_pause(struct kvm *kvm);
void kvm_cpus_resume(struct kvm *kvm);

/* Destroys the vCPUs (after kvm_cpus_run() returned). */
void kvm_cpus_destroy(struct kvm *kvm);

void kvm_result_clear(struct kvm_result *r);

#endif
