// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/kvm.c - the VM file descriptor: capabilities, guest RAM, in-kernel
 * irqchip and PIT.
 *
 * Everything the host relies on is checked up front, so that a host
 * lacking something fails at start with the capability named, not later
 * with a guest that hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"
#include "kvm.h"

static const struct {
	int cap;
	const char *name;
	const char *why;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "x86 TSS placement" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR",
	  "x86 identity map placement" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC, IOAPIC, LAPIC" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT" },
	{ KVM_CAP_IRQ_INJECT_STATUS, "KVM_CAP_IRQ_INJECT_STATUS",
	  "interrupt lines" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "CPUID set-up" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT",
	  "stopping vCPUs cleanly" },
};

static int ioctl_fail(GError **error, const char *what)
{
	int e = errno;

	return error_setf(error, e, "kvm: %s failed: %s", what, g_strerror(e));
}

/*
 * Nothing /dev/kvm answers tells kvm_pvm from a full KVM: the same
 * capabilities, the same KVM CPUID signature and features. Its module
 * does: KVM has one vendor module at a time (kvm_intel, kvm_amd or
 * kvm_pvm), and each is listed under /sys/module, built in or loaded.
 * Where a full one is listed too, /dev/kvm may be either: no answer.
 */
int kvm_host_is_pvm(const char *sys_module)
{
	static const char *const full[] = { "kvm_intel", "kvm_amd" };
	g_autofree char *pvm = g_build_filename(sys_module, "kvm_pvm", NULL);

	if (!g_file_test(pvm, G_FILE_TEST_IS_DIR))
		return 0;
	for (size_t i = 0; i < G_N_ELEMENTS(full); i++) {
		g_autofree char *p =
			g_build_filename(sys_module, full[i], NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			return 0;
	}
	return 1;
}

int kvm_supported_cpuid(int sys_fd, struct kvm_cpuid2 **ret, GError **error)
{
	for (int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = g_malloc0(
			sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));

		c->nent = n;
		if (!ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, c)) {
			*ret = c;
			return 0;
		}
		g_free(c);
		if (errno != E2BIG)
			return error_setf(error, errno,
					  "kvm: KVM_GET_SUPPORTED_CPUID "
					  "failed: %s",
					  g_strerror(errno));
	}
	return error_setf(error, E2BIG,
			  "kvm: KVM_GET_SUPPORTED_CPUID returns "
			  "more than 4096 entries");
}

static int map_ram(struct kvm *kvm, uint32_t slot, uint64_t gpa, uint64_t size,
		   uint8_t *hva, GError **error)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return ioctl_fail(error, "KVM_SET_USER_MEMORY_REGION");
	if (memory_add(kvm->devs->mem, gpa, size, hva) < 0)
		return error_setf(error, EBUSY,
				  "kvm: guest RAM 0x%" G_GINT64_MODIFIER
				  "x+0x%" G_GINT64_MODIFIER "x overlaps",
				  gpa, size);
	return 0;
}

/* The memory slots: RAM below the hole, and what lies above 4 GiB. */
static int set_slots(struct kvm *kvm, uint32_t flags, GError **error)
{
	uint64_t low = MIN(kvm->ram_size, KVM_RAM_LOW_MAX);
	struct kvm_userspace_memory_region r[2] = {
		{ 0, flags, 0, low, (uintptr_t)kvm->ram },
		{ 1, flags, KVM_HOLE_END, kvm->ram_size - low,
		  (uintptr_t)(kvm->ram + low) },
	};

	for (int i = 0; i < (kvm->ram_size > low ? 2 : 1); i++)
		if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r[i]) < 0)
			return ioctl_fail(error, "KVM_SET_USER_MEMORY_REGION "
						 "(dirty logging)");
	return 0;
}

int kvm_dirty_log_start(struct kvm *kvm, GError **error)
{
	return set_slots(kvm, KVM_MEM_LOG_DIRTY_PAGES, error);
}

void kvm_dirty_log_stop(struct kvm *kvm)
{
	set_slots(kvm, 0, NULL);
}

int kvm_dirty_log_get(struct kvm *kvm, uint64_t *bitmap, GError **error)
{
	uint64_t low = MIN(kvm->ram_size, KVM_RAM_LOW_MAX);
	uint64_t sizes[2] = { low, kvm->ram_size - low };
	uint64_t word = 0;

	for (uint32_t slot = 0; slot < 2 && sizes[slot]; slot++) {
		uint64_t words = (sizes[slot] / 4096 + 63) / 64;
		g_autofree uint64_t *b = g_new0(uint64_t, words);
		struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = b };

		if (ioctl(kvm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return ioctl_fail(error, "KVM_GET_DIRTY_LOG");
		/* Slot 1 starts at 3 GiB: a whole number of words. */
		for (uint64_t i = 0; i < words; i++)
			bitmap[word + i] |= b[i];
		word += words;
	}
	/* What devices wrote: KVM does not see those writes. */
	memory_dirty_take(kvm->devs->mem, bitmap);
	return 0;
}

/*
 * What this VM has at fixed addresses, which no device may claim: guest
 * RAM, and what KVM emulates in the kernel (its accesses never reach a
 * device here): the PICs with their ELCR, the PIT and port 0x61, the
 * IOAPIC, the local APICs, the real-mode TSS and identity map.
 */
static void reserve_ranges(struct kvm *kvm)
{
	static const struct {
		int mmio;
		uint64_t base, length;
		const char *what;
	} fixed[] = {
		{ 0, 0x20, 2, "the in-kernel PIC (master)" },
		{ 0, 0x40, 4, "the in-kernel PIT" },
		{ 0, 0x61, 1, "the in-kernel PIT (port 0x61)" },
		{ 0, 0xa0, 2, "the in-kernel PIC (slave)" },
		{ 0, 0x4d0, 2, "the in-kernel PIC's ELCR" },
		{ 1, KVM_IOAPIC_ADDR, 0x1000, "the in-kernel IOAPIC" },
		{ 1, KVM_LAPIC_ADDR, 0x1000, "the in-kernel local APIC" },
		{ 1, KVM_IDMAP_ADDR, 0x4000,
		  "KVM's identity map and real-mode TSS" },
	};
	struct vm_devices *devs = kvm->devs;
	uint64_t low = MIN(kvm->ram_size, KVM_RAM_LOW_MAX);

	bus_reserve(devs->mmio, 0, low, "guest RAM");
	if (kvm->ram_size > low)
		bus_reserve(devs->mmio, KVM_HOLE_END, kvm->ram_size - low,
			    "guest RAM");
	for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
		bus_reserve(fixed[i].mmio ? devs->mmio : devs->pio,
			    fixed[i].base, fixed[i].length, fixed[i].what);
}

/* A zeroed VM with no descriptor open yet: what kvm_close() can free. */
static struct kvm *kvm_alloc(struct vm_devices *devs, unsigned int ncpus)
{
	struct kvm *kvm = g_new0(struct kvm, 1);

	kvm->devs = devs;
	kvm->vm_fd = -1;
	kvm->ncpus = ncpus;
	for (int i = 0; i < VMM_IRQ_LINES; i++)
		kvm->irqfd[i] = -1;
	for (int i = 0; i < KVM_MAX_CPUS; i++)
		kvm->cpu_fd[i] = -1;
	g_mutex_init(&kvm->stop_lock);
	g_mutex_init(&kvm->time.lock);
	g_cond_init(&kvm->stop_cond);
	return kvm;
}

/*
 * Opens the KVM device and checks what this host offers before any VM
 * exists: the API version, every required capability (named with what
 * it is for), the optional ones, the vCPU mapping size and the CPUID a
 * guest on model "host" gets.
 */
static int kvm_open_system(struct kvm *kvm, const char *dev, GError **error)
{
	int r, v;

	kvm->sys_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm->sys_fd < 0) {
		r = errno;
		return error_setf(
			error, r, "%s: %s%s", dev, g_strerror(r),
			r == ENOENT   ? " (is the kvm module loaded and "
					"is this host allowed to "
					"virtualise?)"
			: r == EACCES ? " (is this user in group kvm?)"
				      : "");
	}
	v = ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0);
	if (v < 0) {
		r = errno;
		return error_setf(
			error, ENOTTY,
			"%s: not a KVM device (KVM_GET_API_VERSION: %s)", dev,
			g_strerror(r));
	}
	if (v != KVM_API_VERSION)
		return error_setf(error, ENOTSUP,
				  "%s: KVM API version %d, modvmm needs %d",
				  dev, v, KVM_API_VERSION);
	for (size_t i = 0; i < G_N_ELEMENTS(required_caps); i++)
		if (ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION,
			  required_caps[i].cap) <= 0)
			return error_setf(error, ENOTSUP,
					  "%s: missing %s (needed for %s)", dev,
					  required_caps[i].name,
					  required_caps[i].why);
	/* Optional: without them, doorbells and edges go through the
	 * host's exit path instead. */
	kvm->has_irqfd =
		ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0;
	kvm->has_ioeventfd =
		ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0;
	kvm->run_size = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_size < (int)sizeof(struct kvm_run))
		return ioctl_fail(error, "KVM_GET_VCPU_MMAP_SIZE");
	/* What a guest on model "host" gets (core/kvm-cpuid.c). */
	return kvm_supported_cpuid(kvm->sys_fd, &kvm->cpuid, error);
}

/* The VM itself, with what KVM emulates in the kernel: irqchip and PIT. */
static int kvm_create_vm(struct kvm *kvm, GError **error)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = KVM_IDMAP_ADDR;

	kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, 0);
	if (kvm->vm_fd < 0)
		return ioctl_fail(error, "KVM_CREATE_VM");
	if (ioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return ioctl_fail(error, "KVM_SET_TSS_ADDR");
	if (ioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return ioctl_fail(error, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(kvm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return ioctl_fail(error, "KVM_CREATE_IRQCHIP");
	if (ioctl(kvm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return ioctl_fail(error, "KVM_CREATE_PIT2");
	return 0;
}

/* Guest RAM: below the hole under 4 GiB, and the rest above it. */
static int kvm_map_guest_ram(struct kvm *kvm, uint64_t ram_size, GError **error)
{
	uint64_t low;
	int r;

	/* NORESERVE: untouched guest pages cost the host nothing. */
	kvm->ram_size = ram_size;
	kvm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (kvm->ram == MAP_FAILED) {
		kvm->ram = NULL;
		r = errno;
		return error_setf(error, r,
				  "guest memory of %" G_GUINT64_FORMAT
				  " MiB: %s",
				  (guint64)(ram_size >> 20), g_strerror(r));
	}
	madvise(kvm->ram, ram_size, MADV_MERGEABLE);
	/* Huge pages: fewer faults for the guest, and for reading RAM
	 * that was never touched (a migration's first pass). */
	madvise(kvm->ram, ram_size, MADV_HUGEPAGE);
	memory_dirty_track(kvm->devs->mem, kvm->ram, ram_size);
	low = MIN(ram_size, KVM_RAM_LOW_MAX);
	r = map_ram(kvm, 0, 0, low, kvm->ram, error);
	if (r < 0)
		return r;
	if (ram_size > low)
		return map_ram(kvm, 1, KVM_HOLE_END, ram_size - low,
			       kvm->ram + low, error);
	return 0;
}

int kvm_open(struct vm_devices *devs, const char *dev, uint64_t ram_size,
	     unsigned int ncpus, struct kvm **ret, GError **error)
{
	struct kvm *kvm;
	int r;

	if (!dev)
		dev = "/dev/kvm";
	if (ram_size < (2u << 20) || ram_size % 4096)
		return error_setf(error, EINVAL,
				  "guest memory of %" G_GUINT64_FORMAT
				  " bytes: at least 2 MiB, in whole pages",
				  (guint64)ram_size);
	if (!ncpus || ncpus > KVM_MAX_CPUS)
		return error_setf(error, EINVAL,
				  "%u vCPUs: between 1 and %d are supported",
				  ncpus, KVM_MAX_CPUS);

	kvm = kvm_alloc(devs, ncpus);
	r = kvm_open_system(kvm, dev, error);
	if (r < 0)
		goto fail;
	r = kvm_create_vm(kvm, error);
	if (r < 0)
		goto fail;
	r = kvm_map_guest_ram(kvm, ram_size, error);
	if (r < 0)
		goto fail;
	reserve_ranges(kvm);
	*ret = kvm;
	return 0;
fail:
	kvm_close(kvm);
	return r;
}

void kvm_close(struct kvm *kvm)
{
	if (!kvm)
		return;
	if (kvm->ram) {
		memory_clear(kvm->devs->mem);
		munmap(kvm->ram, kvm->ram_size);
	}
	for (int i = 0; i < VMM_IRQ_LINES; i++)
		if (kvm->irqfd[i] >= 0)
			close(kvm->irqfd[i]);
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	g_free(kvm->cpuid);
	g_free(kvm->msrs);
	g_free(kvm->end_message);
	g_mutex_clear(&kvm->stop_lock);
	g_mutex_clear(&kvm->time.lock);
	g_cond_clear(&kvm->stop_cond);
	g_free(kvm);
}

int kvm_irq_line(struct kvm *kvm, uint32_t gsi, uint32_t level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	return ioctl(kvm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

int kvm_irq_pulse(struct kvm *kvm, uint32_t gsi)
{
	uint64_t one = 1;
	int r;

	if (gsi >= VMM_IRQ_LINES)
		return -EINVAL;
	/* Pulses come from device code, serialised: no race on creation. */
	if (kvm->has_irqfd && kvm->irqfd[gsi] < 0) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

		if (fd >= 0 && ioctl(kvm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			kvm->has_irqfd = 0;
		kvm->irqfd[gsi] = fd;
	}
	if (kvm->irqfd[gsi] >= 0)
		return write(kvm->irqfd[gsi], &one, sizeof(one)) < 0 ? -errno
								     : 0;
	r = kvm_irq_line(kvm, gsi, 1);
	return r < 0 ? r : kvm_irq_line(kvm, gsi, 0);
}

int kvm_ioeventfd(void *opaque, int fd, uint32_t space, uint64_t addr,
		  uint32_t width, uint64_t value, int deassign)
{
	struct kvm *kvm = opaque;
	struct kvm_ioeventfd e = {
		.datamatch = value,
		.addr = addr,
		.len = width,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
			 (space == MODVMM_SPACE_PIO ? KVM_IOEVENTFD_FLAG_PIO
						    : 0) |
			 (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
	};

	if (!kvm->has_ioeventfd)
		return -ENOTSUP;
	return ioctl(kvm->vm_fd, KVM_IOEVENTFD, &e) < 0 ? -errno : 0;
}
