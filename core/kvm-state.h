/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_KVM_STATE_H
#define CORE_KVM_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include <glib.h>

#include "kvm.h"
#include "timer.h"
#include "vmstate.h"

/*
 * What KVM holds of a guest besides RAM and devices, as modvmm saves it:
 * per vCPU, and for the VM (in-kernel PIC, IOAPIC, PIT, clock; with them
 * the device clock of the host services, core/timer.c). Both are
 * described with the VMState machinery, as device state is; the
 * descriptions belong to the core ("kvm-cpu", "kvm-vm") and are versioned
 * like any other.
 */

#define KVM_STATE_MAX_MSRS 256

struct kvm_cpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	/* struct kvm_xsave without its flexible tail: KVM_GET_XSAVE fills
	 * the 4 KiB region. */
	uint32_t xsave[1024];
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs debugregs;
	uint32_t n_msrs;
	uint32_t msr_index[KVM_STATE_MAX_MSRS];
	uint64_t msr_data[KVM_STATE_MAX_MSRS];
};

struct kvm_vm_state {
	struct kvm_irqchip pic_master;
	struct kvm_irqchip pic_slave;
	struct kvm_irqchip ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	/* timers_clock_ns() when saved ("kvm-vm/device-clock"); 0 without. */
	uint64_t device_clock_ns;
};

/* The descriptions, imported once. */
const struct state_desc *kvm_state_cpu_vms(void);
const struct state_desc *kvm_state_vm_vms(void);

/*
 * kvm->msrs: the MSRs a save carries, found once (with vCPU 0 created,
 * before it runs, or paused).
 */
int kvm_state_msr_list(struct kvm *kvm, GError **error);

/* With the vCPUs paused (or not yet run). */
int kvm_cpu_state_get(struct kvm *kvm, unsigned int cpu,
		      struct kvm_cpu_state *st, GError **error);
int kvm_cpu_state_set(struct kvm *kvm, unsigned int cpu,
		      const struct kvm_cpu_state *st, GError **error);
/*
 * The VM's state, with the device clock of `timers`. A restore sets it
 * before it loads any device, while the timers are held (the guest has
 * not run here: machine_run() releases them), so each device's post_load
 * reads the clock its pre_save read on the source.
 */
int kvm_vm_state_get(struct kvm *kvm, struct timers *timers,
		     struct kvm_vm_state *st, GError **error);
int kvm_vm_state_set(struct kvm *kvm, struct timers *timers,
		     const struct kvm_vm_state *st, GError **error);

#endif
