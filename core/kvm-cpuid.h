/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_KVM_CPUID_H
#define CORE_KVM_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#include <glib.h>

#include "compat/cpu.h"
#include "kvm.h"

/*
 * The guest's CPU on KVM (compat/cpu.h has the models and the rule):
 * what this host offers, the CPUID the vCPUs are given, their TSC rate.
 */

struct cpu_model *kvm_cpuid_model(const struct kvm_cpuid2 *c, const char *name);

/*
 * What this host offers a guest, kept to model `limit` (NULL: "host"):
 * KVM's supported CPUID, the TSC rate of a new vCPU, whether KVM scales
 * a guest's TSC (KVM_CAP_TSC_CONTROL), KVM's MSR list. `dev` NULL:
 * /dev/kvm.
 */
int kvm_cpu_offer(const char *dev, const char *limit, struct cpu_model **ret,
		  GError **error);
/*
 * The same from an open /dev/kvm and its supported CPUID, but for the
 * TSC rate, left 0: a machine takes its vCPUs' (kvm_cpu_guest()) rather
 * than make a VM for it.
 */
int kvm_cpu_offer_fd(int sys_fd, const struct kvm_cpuid2 *supported,
		     const char *limit, struct cpu_model **ret, GError **error);

/*
 * Before the vCPUs are created: they are to get model `name` on this
 * host (a fresh start; refused, naming every bit the host lacks, when
 * it cannot give the model), or exactly `cpu`'s leaves (a guest that
 * arrives with its CPU).
 */
int kvm_cpu_use_model(struct kvm *kvm, const char *name, GError **error);
void kvm_cpu_use(struct kvm *kvm, const struct cpu_model *cpu);

/*
 * After the vCPUs are created: their TSC rate set to `tsc_khz` (0: this
 * host's) where it differs and KVM can scale it; then the CPU the guest
 * has, as its manifest lists it (model `name`, the leaves given, the TSC
 * rate, the MSRs its state carries).
 */
int kvm_cpu_guest(struct kvm *kvm, const char *name, uint32_t tsc_khz,
		  struct cpu_model **ret, GError **error);

#endif
