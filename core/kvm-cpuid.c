// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/kvm-cpuid.c - the guest's CPU on KVM: what this host offers, the
 * CPUID its vCPUs get, their TSC rate, the CPU its manifest lists.
 *
 * A guest keeps the CPU it started with wherever it goes: a fresh start
 * gives it its model on this host (compat/cpu.c), a restore or incoming
 * migration exactly the leaves its manifest lists, never this host's.
 * The per-vCPU fix-ups (APIC ids, the hypervisor bit) are applied on top
 * by core/kvm-cpu.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/error.h"
#include "kvm-cpu.h"
#include "kvm-cpuid.h"
#include "kvm-state.h"

struct cpu_model *kvm_cpuid_model(const struct kvm_cpuid2 *c, const char *name)
{
	struct cpu_model *m = cpu_model_new(name);

	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		struct cpu_leaf l = {
			.function = e->function,
			.index = e->index,
			.flags = e->flags,
			.eax = e->eax,
			.ebx = e->ebx,
			.ecx = e->ecx,
			.edx = e->edx,
		};

		cpu_model_add_leaf(m, &l);
	}
	return m;
}

static struct kvm_cpuid2 *cpuid_of(const struct cpu_model *m)
{
	struct kvm_cpuid2 *c = g_malloc0(
		sizeof(*c) + m->leaves->len * sizeof(struct kvm_cpuid_entry2));

	c->nent = m->leaves->len;
	for (guint i = 0; i < m->leaves->len; i++) {
		const struct cpu_leaf *l =
			&g_array_index(m->leaves, struct cpu_leaf, i);

		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = l->function,
			.index = l->index,
			.flags = l->flags,
			.eax = l->eax,
			.ebx = l->ebx,
			.ecx = l->ecx,
			.edx = l->edx,
		};
	}
	return c;
}

/* The TSC rate KVM gives a new vCPU: that of a VM made for the purpose. */
static int host_tsc_khz(int sys_fd, uint32_t *ret, GError **error)
{
	int vm = ioctl(sys_fd, KVM_CREATE_VM, 0), vcpu, khz, e;

	if (vm < 0)
		return error_setf(error, errno, "kvm: KVM_CREATE_VM failed: %s",
				  g_strerror(errno));
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	khz = vcpu < 0 ? -1 : ioctl(vcpu, KVM_GET_TSC_KHZ, 0);
	e = errno;
	if (vcpu >= 0)
		close(vcpu);
	close(vm);
	if (khz < 0)
		return error_setf(error, e, "kvm: %s failed: %s",
				  vcpu < 0 ? "KVM_CREATE_VCPU"
					   : "KVM_GET_TSC_KHZ",
				  g_strerror(e));
	*ret = (uint32_t)khz;
	return 0;
}

static int msr_index_list(int sys_fd, GArray *to, GError **error)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	g_autofree struct kvm_msr_list *l = NULL;

	if (ioctl(sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return error_setf(error, errno,
				  "kvm: KVM_GET_MSR_INDEX_LIST failed: %s",
				  g_strerror(errno));
	l = g_malloc0(sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
	l->nmsrs = probe.nmsrs;
	if (ioctl(sys_fd, KVM_GET_MSR_INDEX_LIST, l) < 0)
		return error_setf(error, errno,
				  "kvm: KVM_GET_MSR_INDEX_LIST failed: %s",
				  g_strerror(errno));
	g_array_append_vals(to, l->indices, MIN(l->nmsrs, CPU_MAX_MSRS));
	return 0;
}

int kvm_cpu_offer_fd(int sys_fd, const struct kvm_cpuid2 *supported,
		     const char *limit, struct cpu_model **ret, GError **error)
{
	struct cpu_model *host = kvm_cpuid_model(supported, "host");
	int r;

	*ret = NULL;
	host->tsc_scaling =
		ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0;
	r = msr_index_list(sys_fd, host->msrs, error);
	if (!r && cpu_model_limit(limit ? limit : "host", host, ret) < 0) {
		g_autofree char *names = cpu_model_names_text();

		r = error_setf(error, ENOENT,
			       "unknown CPU model '%s' (known: %s)", limit,
			       names);
	}
	cpu_model_free(host);
	return r;
}

int kvm_cpu_offer(const char *dev, const char *limit, struct cpu_model **ret,
		  GError **error)
{
	g_autofree struct kvm_cpuid2 *c = NULL;
	int fd, r;

	if (!dev)
		dev = "/dev/kvm";
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return error_setf(error, errno, "%s: %s", dev,
				  g_strerror(errno));
	r = kvm_supported_cpuid(fd, &c, error);
	if (!r)
		r = kvm_cpu_offer_fd(fd, c, limit, ret, error);
	if (!r) {
		r = host_tsc_khz(fd, &(*ret)->tsc_khz, error);
		if (r < 0)
			g_clear_pointer(ret, cpu_model_free);
	}
	close(fd);
	return r;
}

int kvm_cpu_use_model(struct kvm *kvm, const char *name, GError **error)
{
	g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);
	struct cpu_model *host = kvm_cpuid_model(kvm->cpuid, "host");
	struct cpu_model *m;
	int r = cpu_model_build(name, host, &m, missing);

	cpu_model_free(host);
	if (r == -ENOENT) {
		g_autofree char *names = cpu_model_names_text();

		return error_setf(error, ENOENT,
				  "unknown CPU model '%s' (known: %s)", name,
				  names);
	}
	if (r < 0) {
		g_ptr_array_add(missing, NULL);
		g_autofree char *bits =
			g_strjoinv(", ", (char **)missing->pdata);

		return error_setf(error, ENOTSUP,
				  "this host cannot give CPU model %s: %s "
				  "missing here",
				  name, bits);
	}
	kvm_cpu_use(kvm, m);
	cpu_model_free(m);
	return 0;
}

void kvm_cpu_use(struct kvm *kvm, const struct cpu_model *cpu)
{
	g_free(kvm->cpuid);
	kvm->cpuid = cpuid_of(cpu);
}

int kvm_cpu_guest(struct kvm *kvm, const char *name, uint32_t tsc_khz,
		  struct cpu_model **ret, GError **error)
{
	int khz = ioctl(kvm_cpu_fd(kvm, 0), KVM_GET_TSC_KHZ, 0);
	struct cpu_model *m;
	int r;

	if (khz < 0)
		return error_setf(error, errno, "vcpu0: KVM_GET_TSC_KHZ: %s",
				  g_strerror(errno));
	/*
	 * The verdict accepted a rate within CPU_TSC_PPM of this host's
	 * where KVM cannot scale; where it can, the guest keeps its own.
	 * Either way the guest's rate is the one it has had since it
	 * started, which the next host is held to, so that hops within
	 * the tolerance do not add up.
	 */
	if (tsc_khz && tsc_khz != (uint32_t)khz &&
	    ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0)
		for (unsigned int i = 0; i < kvm->ncpus; i++)
			if (ioctl(kvm_cpu_fd(kvm, i), KVM_SET_TSC_KHZ,
				  (unsigned long)tsc_khz) < 0)
				return error_setf(error, errno,
						  "vcpu%u: KVM_SET_TSC_KHZ "
						  "%u: %s",
						  i, tsc_khz,
						  g_strerror(errno));
	if (tsc_khz)
		khz = (int)tsc_khz;
	r = kvm_state_msr_list(kvm, error);
	if (r < 0)
		return r;
	m = kvm_cpuid_model(kvm->cpuid, name);
	m->tsc_khz = (uint32_t)khz;
	g_array_append_vals(m->msrs, kvm->msrs, kvm->n_msrs);
	*ret = m;
	return 0;
}
