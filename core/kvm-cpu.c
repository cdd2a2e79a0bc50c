// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/kvm-cpu.c - vCPUs: set-up, one thread each, the exit loop, and
 * stopping them.
 *
 * A vCPU thread leaves KVM_RUN for PIO and MMIO (dispatched to devices
 * under the device lock), and for everything that ends the run. Stopping
 * sets immediate_exit and kicks each thread with SIGUSR1, so a vCPU never
 * re-enters the guest once the run is over. Pausing does the same, and
 * each thread then parks on stop_cond until it is resumed or stopped;
 * immediate_exit is only cleared under stop_lock, by a thread that is
 * neither.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "base/error.h"
#include "kvm-cpu.h"
#include "kvm-time.h"
#include "sandbox.h"

#define KICK_SIGNAL SIGUSR1

struct kvm_cpu {
	struct kvm *kvm;
	unsigned int id;
	struct kvm_run *run;
	pthread_t tid;
	int started; /* tid is valid and the thread not yet joined */
};

static void cpu_log(struct kvm_cpu *cpu, uint32_t level, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static void cpu_log(struct kvm_cpu *cpu, uint32_t level, const char *fmt, ...)
{
	struct vm_devices_sinks *s = &cpu->kvm->devs->sinks;
	g_autofree char *id = g_strdup_printf("vcpu%u", cpu->id);
	g_autofree char *msg = NULL;
	va_list ap;

	if (!s->log)
		return;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	s->log(s->opaque, id, level, msg);
}

/*
 * Guest time stops and starts with the vCPUs (core/kvm-time.c). A host
 * whose KVM refuses is told; the guest runs on with its clocks as KVM
 * has them.
 */
static void time_step(struct kvm *kvm, int (*step)(struct kvm *, GError **))
{
	struct vm_devices_sinks *s = &kvm->devs->sinks;
	g_autoptr(GError) err = NULL;

	if (step(kvm, &err) < 0 && s->log)
		s->log(s->opaque, "kvm", MODVMM_LOG_WARNING, err->message);
}

/* Takes every vCPU out of KVM_RUN; under stop_lock. */
static void kick_all(struct kvm *kvm)
{
	for (unsigned int i = 0; i < kvm->ncpus; i++) {
		struct kvm_cpu *cpu = kvm->cpus[i];

		if (!cpu || !cpu->run)
			continue;
		cpu->run->immediate_exit = 1;
		if (cpu->started)
			pthread_kill(cpu->tid, KICK_SIGNAL);
	}
}

void kvm_cpus_stop(struct kvm *kvm, enum kvm_end end, uint32_t arg,
		   const char *message)
{
	g_mutex_lock(&kvm->stop_lock);
	if (!kvm->stopping) {
		kvm->stopping = 1;
		kvm->end = end;
		kvm->end_arg = arg;
		kvm->end_message = g_strdup(message);
		kick_all(kvm);
		g_cond_broadcast(&kvm->stop_cond);
	}
	g_mutex_unlock(&kvm->stop_lock);
}

static unsigned int started_count(struct kvm *kvm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < kvm->ncpus; i++)
		n += kvm->cpus[i] && kvm->cpus[i]->started;
	return n;
}

void kvm_cpus_pause(struct kvm *kvm)
{
	g_mutex_lock(&kvm->stop_lock);
	if (!kvm->paused && !kvm->stopping) {
		kvm->paused = 1;
		kick_all(kvm);
	}
	/* A vCPU in a device callback parks when that returns. */
	while (kvm->paused && !kvm->stopping &&
	       kvm->parked < started_count(kvm))
		g_cond_wait(&kvm->stop_cond, &kvm->stop_lock);
	if (kvm->paused && !kvm->stopping)
		time_step(kvm, kvm_time_freeze);
	g_mutex_unlock(&kvm->stop_lock);
}

void kvm_cpus_resume(struct kvm *kvm)
{
	g_mutex_lock(&kvm->stop_lock);
	if (kvm->paused && !kvm->stopping)
		time_step(kvm, kvm_time_thaw);
	kvm->paused = 0;
	g_cond_broadcast(&kvm->stop_cond);
	g_mutex_unlock(&kvm->stop_lock);
}

/*
 * After KVM_RUN returned EINTR: waits out a pause. Returns 1 when the run
 * is over and the thread must end.
 */
static int cpu_park(struct kvm_cpu *cpu)
{
	struct kvm *kvm = cpu->kvm;
	int over;

	g_mutex_lock(&kvm->stop_lock);
	if (kvm->paused && !kvm->stopping) {
		kvm->parked++;
		g_cond_broadcast(&kvm->stop_cond);
		while (kvm->paused && !kvm->stopping)
			g_cond_wait(&kvm->stop_cond, &kvm->stop_lock);
		kvm->parked--;
	}
	over = kvm->stopping;
	if (!over)
		cpu->run->immediate_exit = 0;
	g_mutex_unlock(&kvm->stop_lock);
	return over;
}

static int set_cpuid(struct kvm_cpu *cpu, GError **error)
{
	const struct kvm_cpuid2 *src = cpu->kvm->cpuid;
	g_autofree struct kvm_cpuid2 *c = g_memdup2(
		src, sizeof(*src) + src->nent * sizeof(src->entries[0]));

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* APIC id, and "running on a hypervisor": without it
			 * Linux does not use kvm-clock. */
			e->ebx = (e->ebx & 0x00ffffffu) | (cpu->id << 24);
			e->ecx |= 1u << 31;
			break;
		case 0xb:
		case 0x1f:
			e->edx = cpu->id; /* x2APIC id */
			break;
		}
	}
	if (ioctl(kvm_cpu_fd(cpu->kvm, cpu->id), KVM_SET_CPUID2, c) < 0)
		return error_setf(error, errno, "vcpu%u: KVM_SET_CPUID2: %s",
				  cpu->id, g_strerror(errno));
	return 0;
}

/* Virtual wire: PIC interrupts reach the CPU through LINT0 as ExtINT. */
static int set_lapic(struct kvm_cpu *cpu, GError **error)
{
	struct kvm_lapic_state s;
	uint32_t lvt0, lvt1;

	if (ioctl(kvm_cpu_fd(cpu->kvm, cpu->id), KVM_GET_LAPIC, &s) < 0)
		return error_setf(error, errno, "vcpu%u: KVM_GET_LAPIC: %s",
				  cpu->id, g_strerror(errno));
	memcpy(&lvt0, s.regs + 0x350, 4);
	memcpy(&lvt1, s.regs + 0x360, 4);
	lvt0 = (lvt0 & ~0x700u) | (7u << 8); /* ExtINT */
	lvt1 = (lvt1 & ~0x700u) | (4u << 8); /* NMI */
	memcpy(s.regs + 0x350, &lvt0, 4);
	memcpy(s.regs + 0x360, &lvt1, 4);
	if (ioctl(kvm_cpu_fd(cpu->kvm, cpu->id), KVM_SET_LAPIC, &s) < 0)
		return error_setf(error, errno, "vcpu%u: KVM_SET_LAPIC: %s",
				  cpu->id, g_strerror(errno));
	return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t l,
		uint8_t db)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.s = 1,
		.l = l,
		.db = db,
		.g = 1,
	};
}

/* 64-bit mode, paging on, with boot.c's GDT and identity page tables. */
static int set_long_mode(struct kvm_cpu *cpu, const struct kvm_boot *boot,
			 GError **error)
{
	int fd = kvm_cpu_fd(cpu->kvm, cpu->id);
	struct kvm_sregs sr;
	struct kvm_regs regs = {
		.rip = boot->rip,
		.rsp = boot->rsp,
		.rbp = boot->rsp,
		.rsi = boot->rsi,
		.rflags = 2,
	};
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(fd, KVM_GET_SREGS, &sr) < 0)
		return error_setf(error, errno, "vcpu%u: KVM_GET_SREGS: %s",
				  cpu->id, g_strerror(errno));
	seg(&sr.cs, BOOT_CS, 11, 1, 0);
	seg(&sr.ds, BOOT_DS, 3, 0, 1);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.tr = (struct kvm_segment){
		.selector = BOOT_TSS,
		.limit = 0xffff,
		.type = 11,
		.present = 1,
	};
	sr.gdt.base = BOOT_GDT;
	sr.gdt.limit = 5 * 8 - 1;
	sr.idt.base = BOOT_IDT;
	sr.idt.limit = 7;
	sr.cr3 = BOOT_PML4;
	sr.cr4 |= 1u << 5;		   /* PAE */
	sr.cr0 |= 1u | (1u << 31);	   /* PE, PG */
	sr.efer |= (1u << 8) | (1u << 10); /* LME, LMA */
	if (ioctl(fd, KVM_SET_SREGS, &sr) < 0 ||
	    ioctl(fd, KVM_SET_REGS, &regs) < 0 ||
	    ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return error_setf(error, errno,
				  "vcpu%u: setting 64-bit entry state: %s",
				  cpu->id, g_strerror(errno));
	return 0;
}

static int cpu_create(struct kvm *kvm, unsigned int id,
		      const struct kvm_boot *boot, GError **error)
{
	struct kvm_cpu *cpu = g_new0(struct kvm_cpu, 1);
	int r;

	cpu->kvm = kvm;
	cpu->id = id;
	kvm->cpus[id] = cpu;
	kvm->cpu_fd[id] = ioctl(kvm->vm_fd, KVM_CREATE_VCPU, id);
	if (kvm->cpu_fd[id] < 0)
		return error_setf(error, errno, "vcpu%u: KVM_CREATE_VCPU: %s",
				  id, g_strerror(errno));
	cpu->run = mmap(NULL, kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			kvm->cpu_fd[id], 0);
	if (cpu->run == MAP_FAILED) {
		cpu->run = NULL;
		return error_setf(error, errno, "vcpu%u: mmap of kvm_run: %s",
				  id, g_strerror(errno));
	}
	r = set_cpuid(cpu, error);
	if (!r)
		r = set_lapic(cpu, error);
	if (!r && id == 0)
		r = set_long_mode(cpu, boot, error);
	return r;
}

int kvm_cpus_create(struct kvm *kvm, const struct kvm_boot *boot,
		    GError **error)
{
	for (unsigned int i = 0; i < kvm->ncpus; i++) {
		int r = cpu_create(kvm, i, boot, error);

		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t load_le(const uint8_t *p, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static void store_le(uint8_t *p, uint32_t n, uint64_t v)
{
	for (uint32_t i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static void handle_io(struct kvm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	struct vm_devices *devs = cpu->kvm->devs;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t size = run->io.size;

	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint64_t v;
		int r;

		if (run->io.direction == KVM_EXIT_IO_OUT) {
			r = vm_devices_pio_write(devs, run->io.port, size,
						 load_le(data, size));
		} else {
			r = vm_devices_pio_read(devs, run->io.port, size, &v);
			store_le(data, size, v);
		}
		if (r == -ENOENT &&
		    bus_unclaimed_first(devs->pio, run->io.port))
			cpu_log(cpu, MODVMM_LOG_DEBUG,
				"unclaimed port %s at 0x%x (%u bytes); logged "
				"once",
				run->io.direction == KVM_EXIT_IO_OUT ? "write"
								     : "read",
				run->io.port, size);
	}
}

static void handle_mmio(struct kvm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	struct vm_devices *devs = cpu->kvm->devs;
	uint32_t len = run->mmio.len;
	uint64_t v;
	int r;

	if (run->mmio.is_write) {
		r = vm_devices_mmio_write(devs, run->mmio.phys_addr, len,
					  load_le(run->mmio.data, len));
	} else {
		r = vm_devices_mmio_read(devs, run->mmio.phys_addr, len, &v);
		store_le(run->mmio.data, len, v);
	}
	if (r == -ENOENT &&
	    bus_unclaimed_first(devs->mmio, run->mmio.phys_addr))
		cpu_log(cpu, MODVMM_LOG_DEBUG,
			"unclaimed MMIO %s at 0x%llx (%u bytes); logged once",
			run->mmio.is_write ? "write" : "read",
			(unsigned long long)run->mmio.phys_addr, len);
}

static char *describe_rip(struct kvm_cpu *cpu)
{
	struct kvm_regs regs;

	if (ioctl(kvm_cpu_fd(cpu->kvm, cpu->id), KVM_GET_REGS, &regs) < 0)
		return g_strdup("rip unknown");
	return g_strdup_printf("rip 0x%llx", (unsigned long long)regs.rip);
}

/* Returns 0 to go on running, 1 when this exit ends the run. */
static int handle_exit(struct kvm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	struct kvm *kvm = cpu->kvm;
	g_autofree char *msg = NULL, *where = NULL;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(cpu);
		return 0;
	case KVM_EXIT_MMIO:
		handle_mmio(cpu);
		return 0;
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_SHUTDOWN:
		/*
		 * A triple fault: the CPU resets. Linux's reboot=t asks for
		 * one, but mostly it is a guest whose memory or state is
		 * broken, which must not look like an orderly reset.
		 */
		kvm_cpus_stop(kvm, KVM_END_TRIPLE_FAULT, 0,
			      "guest reset by a triple fault");
		return 1;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			kvm_cpus_stop(kvm, KVM_END_POWEROFF, 0,
				      "guest powered off");
			return 1;
		case KVM_SYSTEM_EVENT_RESET:
			kvm_cpus_stop(kvm, KVM_END_RESET, 0, "guest reset");
			return 1;
		case KVM_SYSTEM_EVENT_CRASH:
			kvm_cpus_stop(kvm, KVM_END_PANIC, 0, "guest crashed");
			return 1;
		}
		return 0;
	case KVM_EXIT_HLT:
		kvm_cpus_stop(kvm, KVM_END_POWEROFF, 0,
			      "guest halted with interrupts disabled");
		return 1;
	case KVM_EXIT_INTERNAL_ERROR:
		where = describe_rip(cpu);
		msg = g_strdup_printf("vcpu%u: KVM internal error, suberror %u "
				      "at %s (an instruction KVM could not "
				      "emulate?)",
				      cpu->id, run->internal.suberror, where);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		where = describe_rip(cpu);
		msg = g_strdup_printf(
			"vcpu%u: VM entry failed, hardware reason 0x%llx at %s",
			cpu->id,
			(unsigned long long)
				run->fail_entry.hardware_entry_failure_reason,
			where);
		break;
	default:
		where = describe_rip(cpu);
		msg = g_strdup_printf("vcpu%u: unexpected KVM exit %u at %s",
				      cpu->id, run->exit_reason, where);
		break;
	}
	kvm_cpus_stop(kvm, KVM_END_ERROR, 0, msg);
	return 1;
}

static void *cpu_thread(void *data)
{
	struct kvm_cpu *cpu = data;
	sigset_t set;

	/* Only the kick gets through to a vCPU thread. */
	sigfillset(&set);
	sigdelset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	sandbox_enter_or_die(SANDBOX_VCPU);
	for (;;) {
		if (ioctl(kvm_cpu_fd(cpu->kvm, cpu->id), KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				if (cpu->run->immediate_exit && cpu_park(cpu))
					break;
				continue;
			}
			g_autofree char *msg =
				g_strdup_printf("vcpu%u: KVM_RUN: %s", cpu->id,
						g_strerror(errno));
			kvm_cpus_stop(cpu->kvm, KVM_END_ERROR, 0, msg);
			break;
		}
		if (handle_exit(cpu))
			break;
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;
}

void kvm_cpus_run(struct kvm *kvm, void (*started)(void *), void *opaque,
		  struct kvm_result *ret)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int hold;

	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);

	/*
	 * Threads start under stop_lock, so kvm_cpus_stop() either sees a
	 * thread with its id or sets immediate_exit before it first runs.
	 */
	g_mutex_lock(&kvm->stop_lock);
	/* A restored guest's clocks go on from where they were kept. */
	if (!kvm->paused)
		time_step(kvm, kvm_time_thaw);
	/* Until `started` returns, the vCPUs wait before their first
	 * instruction: the guest runs only once its threads all exist. */
	hold = started && !kvm->paused;
	if (hold) {
		kvm->paused = 1;
		kick_all(kvm);
	}
	for (unsigned int i = 0; i < kvm->ncpus && !kvm->stopping; i++) {
		struct kvm_cpu *cpu = kvm->cpus[i];
		int r = pthread_create(&cpu->tid, NULL, cpu_thread, cpu);

		if (r) {
			g_mutex_unlock(&kvm->stop_lock);
			g_autofree char *msg = g_strdup_printf(
				"vcpu%u: cannot start its thread: %s", i,
				g_strerror(r));
			kvm_cpus_stop(kvm, KVM_END_ERROR, 0, msg);
			g_mutex_lock(&kvm->stop_lock);
			break;
		}
		g_autofree char *name = g_strdup_printf("vcpu%u", i);

		pthread_setname_np(cpu->tid, name);
		cpu->started = 1;
	}
	if (started && !kvm->stopping) {
		g_mutex_unlock(&kvm->stop_lock);
		started(opaque);
		g_mutex_lock(&kvm->stop_lock);
	}
	if (hold) {
		kvm->paused = 0;
		g_cond_broadcast(&kvm->stop_cond);
	}
	while (!kvm->stopping)
		g_cond_wait(&kvm->stop_cond, &kvm->stop_lock);
	g_mutex_unlock(&kvm->stop_lock);

	/* stopping is set: nobody reads `started` any more. */
	for (unsigned int i = 0; i < kvm->ncpus; i++) {
		struct kvm_cpu *cpu = kvm->cpus[i];

		if (cpu->started)
			pthread_join(cpu->tid, NULL);
		cpu->started = 0;
	}
	/* What is saved after the run (--snapshot-on-exit) is its end. */
	time_step(kvm, kvm_time_freeze);
	ret->end = kvm->end;
	ret->arg = kvm->end_arg;
	ret->message = g_strdup(kvm->end_message);
}

void kvm_cpus_destroy(struct kvm *kvm)
{
	for (unsigned int i = 0; i < kvm->ncpus; i++) {
		struct kvm_cpu *cpu = kvm->cpus[i];

		if (!cpu)
			continue;
		if (cpu->run)
			munmap(cpu->run, kvm->run_size);
		if (kvm->cpu_fd[i] >= 0)
			close(kvm->cpu_fd[i]);
		kvm->cpu_fd[i] = -1;
		g_free(cpu);
		kvm->cpus[i] = NULL;
	}
}

void kvm_result_clear(struct kvm_result *r)
{
	g_clear_pointer(&r->message, g_free);
}
