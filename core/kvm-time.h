/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_KVM_TIME_H
#define CORE_KVM_TIME_H

#include <stdint.h>

#include <glib.h>

#include "kvm.h"

/*
 * Guest time (docs/user-guide.md, "Guest time"): the guest's clocks run
 * only while its vCPUs do. When the vCPUs stop (a pause, the end of a
 * run) kvmclock and every vCPU's TSC are read at one instant and kept;
 * a snapshot or a migration saves those, and when the guest runs again,
 * here or on another host, they are put back at one instant, so that
 * the guest sees no time pass and its TSC and kvmclock agree as they
 * did. The device clock of the host services (core/timer.c) stops with
 * them. Where KVM cannot set a guest's TSC (kvm_pvm gives guests the
 * host's), the TSC runs on, and kvmclock and the device clock follow it.
 */

/* Keeps the clocks as they are now; a no-op while they are kept. */
int kvm_time_freeze(struct kvm *kvm, GError **error);

/*
 * Puts the kept clocks back and lets them run (a no-op when none are
 * kept), then tells each vCPU's kvmclock it was paused
 * (KVM_KVMCLOCK_CTRL), for the guest's watchdogs.
 */
int kvm_time_thaw(struct kvm *kvm, GError **error);

/*
 * The kept TSC of `cpu` (`tsc` not NULL) and kvmclock (`clock` not
 * NULL); kvm_time_freeze() first if none are kept.
 */
int kvm_time_kept(struct kvm *kvm, unsigned int cpu, uint64_t *tsc,
		  struct kvm_clock_data *clock, GError **error);

/*
 * A restored or incoming guest's clocks, to be put back when it first
 * runs: its TSC of `cpu`, then its kvmclock, which completes them.
 */
void kvm_time_load_tsc(struct kvm *kvm, unsigned int cpu, uint64_t tsc);
void kvm_time_load_clock(struct kvm *kvm, const struct kvm_clock_data *c);

#endif
