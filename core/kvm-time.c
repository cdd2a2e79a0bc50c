// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/kvm-time.c - the guest's TSC and kvmclock kept while its vCPUs do
 * not run, and put back when they run again (kvm-time.h).
 *
 * Both are read at one instant and put back at one instant: a guest
 * checks its TSC against kvmclock (Linux's clocksource watchdog marks the
 * TSC unstable at a fraction of a millisecond of skew), so they must not
 * be sampled at different moments, and neither may run on alone while
 * the other stands still.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/ioctl.h>

#include "base/error.h"
#include "kvm-time.h"
#include "timer.h"

#define MSR_IA32_TSC 0x10

/*
 * KVM takes a host's TSC write within a second of the TSC it expects as
 * a wish to keep the vCPUs in step, and ignores its value. The first
 * vCPU's kept TSC is therefore preceded by a write this far from it, so
 * that the kept value is taken as written; the others' are then in step
 * with it, as they were when kept.
 */
#define TSC_FAR (1ull << 62)

/* struct kvm_msrs with room for one entry. */
struct tsc_msr {
	uint32_t nmsrs, pad;
	struct kvm_msr_entry e;
};
G_STATIC_ASSERT(offsetof(struct tsc_msr, e) ==
		offsetof(struct kvm_msrs, entries));

static int tsc_get(int fd, uint64_t *ret)
{
	struct tsc_msr m = { .nmsrs = 1, .e.index = MSR_IA32_TSC };

	if (ioctl(fd, KVM_GET_MSRS, &m) != 1)
		return -1;
	*ret = m.e.data;
	return 0;
}

static int tsc_set(int fd, uint64_t tsc)
{
	struct tsc_msr m = {
		.nmsrs = 1,
		.e.index = MSR_IA32_TSC,
		.e.data = tsc,
	};

	return ioctl(fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
}

static int fail(GError **error, const char *what)
{
	int e = errno ? errno : EIO;

	return error_setf(error, e, "guest time: %s: %s", what, g_strerror(e));
}

static void warn(struct kvm *kvm, const char *msg)
{
	struct vm_devices_sinks *s = &kvm->devs->sinks;

	if (s->log)
		s->log(s->opaque, "kvm", MODVMM_LOG_WARNING, msg);
}

/* Under time.lock. */
static int freeze(struct kvm *kvm, GError **error)
{
	uint64_t tsc[KVM_MAX_CPUS];

	if (kvm->time.kept)
		return 0;
	if (ioctl(kvm->vm_fd, KVM_GET_CLOCK, &kvm->time.clock) < 0)
		return fail(error, "KVM_GET_CLOCK");
	for (unsigned int i = 0; i < kvm->ncpus; i++)
		if (tsc_get(kvm_cpu_fd(kvm, i), &tsc[i]) < 0)
			return fail(error, "reading a vCPU's TSC");
	for (unsigned int i = 0; i < kvm->ncpus; i++)
		kvm->time.tsc[i] = tsc[i];
	kvm->time.has_tsc = kvm->ncpus == 64 ? ~0ull : (1ull << kvm->ncpus) - 1;
	kvm->time.kept = 1;
	return 0;
}

int kvm_time_freeze(struct kvm *kvm, GError **error)
{
	int r;

	g_mutex_lock(&kvm->time.lock);
	r = freeze(kvm, error);
	g_mutex_unlock(&kvm->time.lock);
	return r;
}

/* TSC ticks of vCPU `fd` in ns, at its own rate. */
static uint64_t ticks_ns(int fd, uint64_t ticks)
{
	int khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);

	if (khz <= 0)
		return 0;
	return (uint64_t)((unsigned __int128)ticks * 1000000u / (unsigned)khz);
}

int kvm_time_thaw(struct kvm *kvm, GError **error)
{
	struct kvm_clock_data clock;
	uint64_t now, ran = 0;
	int first = 1, r = 0;

	g_mutex_lock(&kvm->time.lock);
	if (!kvm->time.kept)
		goto out;
	for (unsigned int i = 0; i < kvm->ncpus; i++) {
		int fd = kvm_cpu_fd(kvm, i);

		if (!(kvm->time.has_tsc & (1ull << i)))
			continue;
		if (first && (tsc_set(fd, kvm->time.tsc[i] + TSC_FAR) < 0 ||
			      tsc_get(fd, &now) < 0)) {
			r = fail(error, "setting a vCPU's TSC");
			goto out;
		}
		if (first && now - kvm->time.tsc[i] < TSC_FAR / 2 &&
		    !kvm->time.tsc_fixed) {
			kvm->time.tsc_fixed = 1;
			warn(kvm, "this host's KVM gives the guest the host's "
				  "TSC and does not set it: the guest's clocks "
				  "run on while it is stopped");
		}
		if (tsc_set(fd, kvm->time.tsc[i]) < 0) {
			r = fail(error, "setting a vCPU's TSC");
			goto out;
		}
		first = 0;
	}
	/*
	 * kvmclock goes on from where it was kept by as much as the TSC has
	 * since it was set, so that the two keep the distance they had: a
	 * few microseconds, or, where KVM cannot set a guest's TSC (kvm_pvm
	 * gives the guest the host's), all the time the guest was stopped,
	 * which the device clock then counts too.
	 */
	if ((kvm->time.has_tsc & 1) && !tsc_get(kvm_cpu_fd(kvm, 0), &now) &&
	    now > kvm->time.tsc[0])
		ran = ticks_ns(kvm_cpu_fd(kvm, 0), now - kvm->time.tsc[0]);
	clock = (struct kvm_clock_data){ .clock = kvm->time.clock.clock + ran };
	if (ioctl(kvm->vm_fd, KVM_SET_CLOCK, &clock) < 0) {
		r = fail(error, "KVM_SET_CLOCK");
		goto out;
	}
	timers_advance(kvm->devs->timers, ran);
	kvm->time.kept = 0;
	kvm->time.has_tsc = 0;
	/* EINVAL: the guest has no kvmclock to tell. */
	for (unsigned int i = 0; i < kvm->ncpus; i++)
		if (ioctl(kvm_cpu_fd(kvm, i), KVM_KVMCLOCK_CTRL, 0) < 0 &&
		    errno != EINVAL) {
			r = fail(error, "KVM_KVMCLOCK_CTRL");
			break;
		}
out:
	g_mutex_unlock(&kvm->time.lock);
	return r;
}

int kvm_time_kept(struct kvm *kvm, unsigned int cpu, uint64_t *tsc,
		  struct kvm_clock_data *clock, GError **error)
{
	int r;

	g_mutex_lock(&kvm->time.lock);
	r = freeze(kvm, error);
	if (tsc)
		*tsc = kvm->time.tsc[cpu];
	if (clock)
		*clock = kvm->time.clock;
	g_mutex_unlock(&kvm->time.lock);
	return r;
}

void kvm_time_load_tsc(struct kvm *kvm, unsigned int cpu, uint64_t tsc)
{
	g_mutex_lock(&kvm->time.lock);
	kvm->time.tsc[cpu] = tsc;
	kvm->time.has_tsc |= 1ull << cpu;
	g_mutex_unlock(&kvm->time.lock);
}

void kvm_time_load_clock(struct kvm *kvm, const struct kvm_clock_data *c)
{
	g_mutex_lock(&kvm->time.lock);
	kvm->time.clock = *c;
	kvm->time.kept = 1;
	g_mutex_unlock(&kvm->time.lock);
}
