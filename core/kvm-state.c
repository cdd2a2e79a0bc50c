// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/kvm-state.c - getting and setting what KVM holds of a guest (vCPU
 * registers, FPU/XSAVE, XCRs, MSRs, LAPIC, events, MP state, debug
 * registers; PIC, IOAPIC, PIT, clock), and its VMState descriptions.
 *
 * The MSRs saved are those KVM lists (KVM_GET_MSR_INDEX_LIST) and can
 * read on this host: a listed MSR whose read fails is left out, once per
 * VM. The order of the set calls follows what KVM needs: special
 * registers (APIC base, EFER) before the LAPIC and MSRs, the MP state and
 * events after the LAPIC.
 *
 * "kvm-vm" carries the device clock in the subsection
 * "kvm-vm/device-clock": a guest's device time goes on across a snapshot
 * or a migration where it stopped. The subsection is optional, so that a
 * host that predates it skips it (its device clock starts from 0, as it
 * always did) instead of refusing the guest once its RAM has moved; a
 * stream without it loads here with the device clock starting from 0.
 *
 * The TSC saved and kvmclock are those kept when the guest stopped, and
 * a load keeps them for when it runs (core/kvm-time.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/error.h"
#include "kvm-state.h"
#include "kvm-time.h"

#define MSR_IA32_TSC 0x10

G_STATIC_ASSERT(sizeof(((struct kvm_cpu_state *)0)->xsave) ==
		sizeof(struct kvm_xsave));

/* clang-format off */
static const struct modvmm_vmstate_field cpu_fields[] = {
	MODVMM_VMS_BUFFER_FIELD(struct kvm_cpu_state, regs, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_cpu_state, sregs, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_cpu_state, xsave, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_cpu_state, xcrs, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_cpu_state, lapic, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_cpu_state, events, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_cpu_state, mp, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_cpu_state, debugregs, 1),
	MODVMM_VMS_FIELD(U32, struct kvm_cpu_state, n_msrs, 1),
	MODVMM_VMS_VARRAY_FIELD(U32, struct kvm_cpu_state, msr_index,
				"n_msrs", 1),
	MODVMM_VMS_VARRAY_FIELD(U64, struct kvm_cpu_state, msr_data,
				"n_msrs", 1),
};

static const struct modvmm_vmstate cpu_vmstate = {
	.size        = sizeof(struct modvmm_vmstate),
	.version     = 1,
	.min_version = 1,
	.name        = "kvm-cpu",
	.fields      = cpu_fields,
	.n_fields    = G_N_ELEMENTS(cpu_fields),
};

static const struct modvmm_vmstate_field vm_fields[] = {
	MODVMM_VMS_BUFFER_FIELD(struct kvm_vm_state, pic_master, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_vm_state, pic_slave, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_vm_state, ioapic, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_vm_state, pit, 1),
	MODVMM_VMS_BUFFER_FIELD(struct kvm_vm_state, clock, 1),
};

static const struct modvmm_vmstate_field vm_clock_fields[] = {
	MODVMM_VMS_FIELD(U64, struct kvm_vm_state, device_clock_ns, 1),
};

static const struct modvmm_vmstate vm_clock_vmstate = {
	.size        = sizeof(struct modvmm_vmstate),
	.version     = 1,
	.min_version = 1,
	.name        = "kvm-vm/device-clock",
	.fields      = vm_clock_fields,
	.n_fields    = G_N_ELEMENTS(vm_clock_fields),
};

static const struct modvmm_vmstate_subsection vm_subsections[] = {
	{
		.size  = sizeof(struct modvmm_vmstate_subsection),
		.flags = MODVMM_VMS_OPTIONAL, /* older hosts skip it */
		.vms   = &vm_clock_vmstate,
	},
};

static const struct modvmm_vmstate vm_vmstate = {
	.size          = sizeof(struct modvmm_vmstate),
	.version       = 1,
	.min_version   = 1,
	.name          = "kvm-vm",
	.fields        = vm_fields,
	.n_fields      = G_N_ELEMENTS(vm_fields),
	.subsections   = vm_subsections,
	.n_subsections = G_N_ELEMENTS(vm_subsections),
};
/* clang-format on */

static const struct state_desc *import_once(const struct modvmm_vmstate *d,
				     uint32_t size, struct state_desc **slot)
{
	static GMutex lock;

	g_mutex_lock(&lock);
	if (!*slot && vmstate_import("modvmm core", d, size, slot, NULL) < 0)
		g_error("core VMState description %s does not import", d->name);
	g_mutex_unlock(&lock);
	return *slot;
}

const struct state_desc *kvm_state_cpu_vms(void)
{
	static struct state_desc *v;

	return import_once(&cpu_vmstate, sizeof(struct kvm_cpu_state), &v);
}

const struct state_desc *kvm_state_vm_vms(void)
{
	static struct state_desc *v;

	return import_once(&vm_vmstate, sizeof(struct kvm_vm_state), &v);
}

static int fail(GError **error, unsigned int cpu, const char *what)
{
	int e = errno;

	if (cpu == G_MAXUINT)
		return error_setf(error, e, "VM state: %s: %s", what,
				  g_strerror(e));
	return error_setf(error, e, "vcpu%u state: %s: %s", cpu, what,
			  g_strerror(e));
}

/* The MSRs to save: KVM's list, less those this host cannot read. */
static int msr_list(struct kvm *kvm, int fd, GError **error)
{
	g_autofree struct kvm_msr_list *l = NULL;
	g_autofree struct kvm_msrs *m = NULL;
	uint32_t n;

	if (kvm->msrs)
		return 0;
	l = g_malloc0(sizeof(*l) + KVM_STATE_MAX_MSRS * sizeof(uint32_t));
	l->nmsrs = KVM_STATE_MAX_MSRS;
	if (ioctl(kvm->sys_fd, KVM_GET_MSR_INDEX_LIST, l) < 0)
		return fail(error, G_MAXUINT, "KVM_GET_MSR_INDEX_LIST");
	m = g_malloc0(sizeof(*m) + l->nmsrs * sizeof(m->entries[0]));
	n = 0;
	for (uint32_t i = 0; i < l->nmsrs; i++) {
		m->nmsrs = 1;
		m->entries[0].index = l->indices[i];
		if (ioctl(fd, KVM_GET_MSRS, m) == 1)
			l->indices[n++] = l->indices[i];
	}
	kvm->msrs = g_memdup2(l->indices, n * sizeof(uint32_t));
	kvm->n_msrs = n;
	return 0;
}

int kvm_state_msr_list(struct kvm *kvm, GError **error)
{
	return msr_list(kvm, kvm_cpu_fd(kvm, 0), error);
}

/*
 * The per-vCPU state KVM has one get and one set ioctl for, in the order
 * it is set; the MSRs go between the first four and the rest.
 */
#define REG(name, field)                                                       \
	{                                                                      \
		KVM_GET_##name, KVM_SET_##name,                                \
			offsetof(struct kvm_cpu_state, field),                 \
			"KVM_GET_" #name, "KVM_SET_" #name                     \
	}
static const struct {
	unsigned long get, set;
	size_t offset;
	const char *get_name, *set_name;
} cpu_regs[] = {
	REG(SREGS, sregs),	  REG(REGS, regs),	     REG(XSAVE, xsave),
	REG(XCRS, xcrs),	  REG(LAPIC, lapic),	     REG(MP_STATE, mp),
	REG(VCPU_EVENTS, events), REG(DEBUGREGS, debugregs),
};
#undef REG
#define REGS_BEFORE_MSRS 4

int kvm_cpu_state_get(struct kvm *kvm, unsigned int cpu,
		      struct kvm_cpu_state *st, GError **error)
{
	int fd = kvm_cpu_fd(kvm, cpu);
	g_autofree struct kvm_msrs *m = NULL;
	int r;

	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < G_N_ELEMENTS(cpu_regs); i++)
		if (ioctl(fd, cpu_regs[i].get,
			  (char *)st + cpu_regs[i].offset) < 0)
			return fail(error, cpu, cpu_regs[i].get_name);
	r = msr_list(kvm, fd, error);
	if (r < 0)
		return r;
	m = g_malloc0(sizeof(*m) + kvm->n_msrs * sizeof(m->entries[0]));
	m->nmsrs = kvm->n_msrs;
	for (uint32_t i = 0; i < kvm->n_msrs; i++)
		m->entries[i].index = kvm->msrs[i];
	r = ioctl(fd, KVM_GET_MSRS, m);
	if (r < 0 || (uint32_t)r != kvm->n_msrs) {
		if (r >= 0)
			errno = EIO;
		return fail(error, cpu, "KVM_GET_MSRS");
	}
	st->n_msrs = kvm->n_msrs;
	for (uint32_t i = 0; i < kvm->n_msrs; i++) {
		st->msr_index[i] = m->entries[i].index;
		st->msr_data[i] = m->entries[i].data;
		/* The TSC as it was when the guest stopped, with kvmclock. */
		if (st->msr_index[i] == MSR_IA32_TSC) {
			r = kvm_time_kept(kvm, cpu, &st->msr_data[i], NULL,
					  error);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int set_regs(int fd, unsigned int cpu, const struct kvm_cpu_state *st,
		    size_t from, size_t to, GError **error)
{
	for (size_t i = from; i < to; i++)
		if (ioctl(fd, cpu_regs[i].set,
			  (const char *)st + cpu_regs[i].offset) < 0)
			return fail(error, cpu, cpu_regs[i].set_name);
	return 0;
}

int kvm_cpu_state_set(struct kvm *kvm, unsigned int cpu,
		      const struct kvm_cpu_state *st, GError **error)
{
	int fd = kvm_cpu_fd(kvm, cpu);
	g_autofree struct kvm_msrs *m = NULL;
	int r;

	if (st->n_msrs > KVM_STATE_MAX_MSRS)
		return error_setf(error, EINVAL,
				  "vcpu%u state: %u MSRs, at most %u", cpu,
				  st->n_msrs, KVM_STATE_MAX_MSRS);
	r = set_regs(fd, cpu, st, 0, REGS_BEFORE_MSRS, error);
	if (r < 0)
		return r;
	m = g_malloc0(sizeof(*m) + st->n_msrs * sizeof(m->entries[0]));
	m->nmsrs = st->n_msrs;
	for (uint32_t i = 0; i < st->n_msrs; i++) {
		m->entries[i].index = st->msr_index[i];
		m->entries[i].data = st->msr_data[i];
	}
	r = ioctl(fd, KVM_SET_MSRS, m);
	if (r < 0 || (uint32_t)r != st->n_msrs) {
		if (r >= 0)
			return error_setf(error, EINVAL,
					  "vcpu%u state: MSR 0x%x was refused "
					  "by this host's KVM",
					  cpu, st->msr_index[r]);
		return fail(error, cpu, "KVM_SET_MSRS");
	}
	/* Set now, so that the TSC deadline is armed against it, and again
	 * with kvmclock when the guest runs (core/kvm-time.c). */
	for (uint32_t i = 0; i < st->n_msrs; i++)
		if (st->msr_index[i] == MSR_IA32_TSC)
			kvm_time_load_tsc(kvm, cpu, st->msr_data[i]);
	return set_regs(fd, cpu, st, REGS_BEFORE_MSRS, G_N_ELEMENTS(cpu_regs),
			error);
}

int kvm_vm_state_get(struct kvm *kvm, struct timers *timers,
		     struct kvm_vm_state *st, GError **error)
{
	int r;

	memset(st, 0, sizeof(*st));
	st->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	st->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	st->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(kvm->vm_fd, KVM_GET_IRQCHIP, &st->pic_master) < 0 ||
	    ioctl(kvm->vm_fd, KVM_GET_IRQCHIP, &st->pic_slave) < 0 ||
	    ioctl(kvm->vm_fd, KVM_GET_IRQCHIP, &st->ioapic) < 0)
		return fail(error, G_MAXUINT, "KVM_GET_IRQCHIP");
	if (ioctl(kvm->vm_fd, KVM_GET_PIT2, &st->pit) < 0)
		return fail(error, G_MAXUINT, "KVM_GET_PIT2");
	r = kvm_time_kept(kvm, 0, NULL, &st->clock, error);
	if (r < 0)
		return r;
	st->device_clock_ns = timers_clock_ns(timers);
	return 0;
}

int kvm_vm_state_set(struct kvm *kvm, struct timers *timers,
		     const struct kvm_vm_state *st, GError **error)
{
	struct kvm_clock_data clock = { .clock = st->clock.clock };

	/* A stream says which chip each buffer is: it must be the right one. */
	if (st->pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    st->pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    st->ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
		return error_setf(error, EINVAL,
				  "VM state: irqchip ids %u, %u, %u; expected "
				  "%u, %u, %u",
				  st->pic_master.chip_id, st->pic_slave.chip_id,
				  st->ioapic.chip_id, KVM_IRQCHIP_PIC_MASTER,
				  KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC);
	if (ioctl(kvm->vm_fd, KVM_SET_IRQCHIP, &st->pic_master) < 0 ||
	    ioctl(kvm->vm_fd, KVM_SET_IRQCHIP, &st->pic_slave) < 0 ||
	    ioctl(kvm->vm_fd, KVM_SET_IRQCHIP, &st->ioapic) < 0)
		return fail(error, G_MAXUINT, "KVM_SET_IRQCHIP");
	if (ioctl(kvm->vm_fd, KVM_SET_PIT2, &st->pit) < 0)
		return fail(error, G_MAXUINT, "KVM_SET_PIT2");
	/* Only the clock value is kept, the flags are this host's; it is
	 * set with the TSCs when the guest runs (core/kvm-time.c). */
	kvm_time_load_clock(kvm, &clock);
	timers_set_clock(timers, st->device_clock_ns);
	return 0;
}
