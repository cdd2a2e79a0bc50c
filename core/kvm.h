/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_KVM_H
#define CORE_KVM_H

#include <linux/kvm.h>
#include <stdint.h>

#include <glib.h>

#include "vm-devices.h"

/* Guest RAM below the 32-bit PCI/MMIO hole; the rest goes above 4 GiB. */
#define KVM_RAM_LOW_MAX (3ull << 30)
#define KVM_HOLE_END (4ull << 30)
/* Where KVM's real-mode TSS and identity map live (top of 4 GiB). */
#define KVM_TSS_ADDR 0xfffbd000ull
#define KVM_IDMAP_ADDR 0xfffbc000ull
/* KVM's in-kernel IOAPIC and local APICs (at their reset addresses). */
#define KVM_IOAPIC_ADDR 0xfec00000ull
#define KVM_LAPIC_ADDR 0xfee00000ull

#define KVM_MAX_CPUS 64

struct kvm_cpu;

/* One VM: the KVM file descriptors, guest RAM and the vCPUs. */
struct kvm {
	struct vm_devices *devs;
	int sys_fd;
	int vm_fd;
	int run_size; /* of each vCPU's mmapped struct kvm_run */
	uint8_t *ram;
	uint64_t ram_size;
	unsigned int ncpus;
	struct kvm_cpu *cpus[KVM_MAX_CPUS];
	int cpu_fd[KVM_MAX_CPUS]; /* each vCPU's, -1 until it is created */
	struct kvm_cpuid2 *cpuid; /* what vCPUs are given */
	uint32_t *msrs;		  /* MSRs saved (core/kvm-state.c) */
	int irqfd[VMM_IRQ_LINES]; /* -1 until a line is first pulsed */
	int has_irqfd;
	int has_ioeventfd;
	uint32_t n_msrs;

	/* Guest time while the vCPUs do not run (core/kvm-time.c). */
	struct {
		GMutex lock;
		int kept; /* clock and tsc[] are the guest's time */
		struct kvm_clock_data clock;
		uint64_t tsc[KVM_MAX_CPUS];
		uint64_t has_tsc; /* a bit per vCPU whose tsc[] is kept */
		int tsc_fixed;	  /* KVM does not set a guest's TSC */
	} time;

	/* How the run ends: set once, by whoever stops it first. */
	GMutex stop_lock;
	GCond stop_cond;
	int stopping;
	int paused;	     /* vCPUs are asked to wait outside KVM_RUN */
	unsigned int parked; /* vCPU threads waiting while paused */
	int end;	     /* enum kvm_end */
	uint32_t end_arg;
	char *end_message;
};

/*
 * Opens /dev/kvm (or `dev`), checks every capability modvmm needs (each
 * missing one named), creates the VM with in-kernel irqchip and PIT, and
 * maps `ram_size` bytes of guest RAM into it and into devs->mem.
 */
int kvm_open(struct vm_devices *devs, const char *dev, uint64_t ram_size,
	     unsigned int ncpus, struct kvm **ret, GError **error);
void kvm_close(struct kvm *kvm);

/*
 * 1 when this host's KVM is kvm_pvm, the paravirtualised KVM, going by
 * the kernel modules listed in `sys_module` (/sys/module); 0 when it is
 * not, or that cannot be told.
 */
int kvm_host_is_pvm(const char *sys_module);

/* KVM_GET_SUPPORTED_CPUID of the /dev/kvm descriptor `sys_fd`. */
int kvm_supported_cpuid(int sys_fd, struct kvm_cpuid2 **ret, GError **error);

/*
 * Dirty-page tracking of guest RAM. The bitmap has a bit per 4 KiB page of
 * kvm->ram (as one block), in u64 words; _get() ORs in the pages the
 * guest wrote since the last call (or since _start()).
 */
int kvm_dirty_log_start(struct kvm *kvm, GError **error);
int kvm_dirty_log_get(struct kvm *kvm, uint64_t *bitmap, GError **error);
void kvm_dirty_log_stop(struct kvm *kvm);

/* vCPU `cpu`'s KVM file descriptor (core/kvm-cpu.c makes them). */
static inline int kvm_cpu_fd(const struct kvm *kvm, unsigned int cpu)
{
	return kvm->cpu_fd[cpu];
}

/* Drives a GSI of the in-kernel irqchip. */
int kvm_irq_line(struct kvm *kvm, uint32_t gsi, uint32_t level);

/*
 * An edge on a GSI: through an irqfd (created on the first pulse of that
 * line) where KVM has them, else by raising and lowering the line.
 */
int kvm_irq_pulse(struct kvm *kvm, uint32_t gsi);

/* An ioevent_bind_fn (core/ioevent.h) for KVM_IOEVENTFD; opaque is kvm. */
int kvm_ioeventfd(void *opaque, int fd, uint32_t space, uint64_t addr,
		  uint32_t width, uint64_t value, int deassign);

#endif
