// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/machine.c - putting a machine together: modules, devices, KVM, the
 * guest image, vCPUs; and turning device requests into the end of a run.
 *
 * The "microvm" machine has a serial port at 0x3f8 (IRQ 4), the i8042
 * for reset, and the debug-exit port at 0x501, each from its module.
 */
#define _GNU_SOURCE /* sigabbrev_np */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi.h"
#include "boot.h"
#include "bzimage.h"
#include "device.h"
#include "base/error.h"
#include "host.h"
#include "kvm-cpuid.h"
#include "machine.h"

extern const uint8_t guest_image[];
extern const size_t guest_image_size;

static const char *const default_devices[] = {
	"uart16550",
	"i8042",
	"debug-exit",
};

static void sink_irq(void *opaque, uint32_t line, uint32_t level)
{
	struct machine *m = opaque;

	if (m->kvm)
		kvm_irq_line(m->kvm, line, level);
}

static void sink_irq_pulse(void *opaque, uint32_t line)
{
	struct machine *m = opaque;

	if (m->kvm)
		kvm_irq_pulse(m->kvm, line);
}

/*
 * KVM first, then devices: their doorbells become ioeventfds. What this
 * host offers a guest is noted here, kept to --cpu (a restore has
 * already noted it to judge its guest).
 */
static int open_kvm(struct machine *m, const struct machine_config *cfg,
		    uint64_t memory, unsigned int cpus, GError **error)
{
	int r = kvm_open(m->devs, cfg->kvm_device, memory, cpus, &m->kvm,
			 error);

	if (!r)
		ioevents_set_binder(m->devs->ioevents, kvm_ioeventfd, m->kvm);
	if (!r && !m->cpu_offer)
		r = kvm_cpu_offer_fd(m->kvm->sys_fd, m->kvm->cpuid, cfg->cpu,
				     &m->cpu_offer, error);
	return r;
}

static void sink_request(void *opaque, uint32_t what, uint32_t arg)
{
	struct machine *m = opaque;
	g_autofree char *msg = NULL;

	if (!m->kvm)
		return;
	switch (what) {
	case MODVMM_REQUEST_EXIT:
		msg = g_strdup_printf("guest exited with status %u", arg);
		kvm_cpus_stop(m->kvm, KVM_END_EXIT, arg, msg);
		break;
	case MODVMM_REQUEST_RESET:
		kvm_cpus_stop(m->kvm, KVM_END_RESET, 0, "guest reset");
		break;
	case MODVMM_REQUEST_SHUTDOWN:
		kvm_cpus_stop(m->kvm, KVM_END_POWEROFF, 0, "guest powered off");
		break;
	case MODVMM_REQUEST_PANIC:
		kvm_cpus_stop(m->kvm, KVM_END_PANIC, arg, "guest panicked");
		break;
	}
}

static int spec_has_type(char **specs, const char *type)
{
	size_t n = strlen(type);

	for (char **s = specs; s && *s; s++)
		if (!strncmp(*s, type, n) && ((*s)[n] == ',' || !(*s)[n]))
			return 1;
	return 0;
}

int machine_resolve(const struct machine_registry *r, const char *name,
		    const struct machine_type **ret, char **ret_warning,
		    GError **error)
{
	const struct machine_type *t =
		machine_lookup(r, name ? name : r->alias);
	const struct machine_type *repl = machine_replacement(r);
	uint32_t dep, rem;
	char d1[MACHINE_DATE_LEN], d2[MACHINE_DATE_LEN];

	*ret_warning = NULL;
	if (!t) {
		GString *known = g_string_new(r->alias);

		for (size_t i = 0; i < r->n_types; i++)
			if (machine_status(r, &r->types[i], NULL, NULL) !=
			    MACHINE_REMOVED)
				g_string_append_printf(known, ", %s",
						       r->types[i].name);
		error_setf(error, ENOENT,
			   "unknown machine type '%s' (known: %s)", name,
			   known->str);
		g_string_free(known, TRUE);
		return -ENOENT;
	}
	switch (machine_status(r, t, &dep, &rem)) {
	case MACHINE_REMOVED:
		return error_setf(error, ENOENT,
				  "machine type %s was removed on %s%s%s",
				  t->name, machine_date_text(rem, d1),
				  repl ? "; use " : "", repl ? repl->name : "");
	case MACHINE_DEPRECATED:
		*ret_warning = g_strdup_printf(
			"machine type %s is deprecated since %s and will be "
			"removed on %s%s%s",
			t->name, machine_date_text(dep, d1),
			machine_date_text(rem, d2), repl != t ? "; use " : "",
			repl != t ? repl->name : "");
		break;
	case MACHINE_SUPPORTED:
		break;
	}
	*ret = t;
	return 0;
}

struct spec_build {
	GString *s;
	const char *type;
};

static void add_compat(void *opaque, const struct compat_prop *p)
{
	struct spec_build *b = opaque;

	if (!strcmp(p->device, b->type))
		g_string_append_printf(b->s, "%s%s=%s", b->s->len ? "," : "",
				       p->property, p->value);
}

/* "PROP=VALUE,..." of t's compat properties for device type `type`. */
static char *compat_text(const struct machine_registry *r,
			 const struct machine_type *t, const char *type)
{
	struct spec_build b = { g_string_new(NULL), type };

	machine_compat_props(r, t, add_compat, &b);
	return g_string_free(b.s, FALSE);
}

char *machine_device_spec(const struct machine_registry *r,
			  const struct machine_type *t, const char *spec)
{
	size_t n = strcspn(spec, ",");
	g_autofree char *type = g_strndup(spec, n);
	g_autofree char *compat = compat_text(r, t, type);

	return g_strdup_printf("%s%s%s%s", type, *compat ? "," : "", compat,
			       spec + n);
}

/* A default device's type is missing: why, and the two ways out. */
static int missing_default(struct machine *m, const char *type, GError **error)
{
	const char *empty = loader_empty_dir(m->devs->loader);

	if (empty)
		return error_setf(error, ENOENT,
				  "machine microvm needs device type %s, but "
				  "module directory %s holds no module (no .so "
				  "file): give --module-dir the directory of "
				  "the device modules, or use --no-defaults",
				  type, empty);
	return error_setf(error, ENOENT,
			  "machine microvm needs device type %s: no loaded "
			  "module provides it (give --module-dir the "
			  "directory of its module, or use --no-defaults)",
			  type);
}

/* Every device type the machine will need, before anything is opened. */
static int check_device_types(struct machine *m,
			      const struct machine_config *cfg, GError **error)
{
	for (size_t i = 0;
	     !cfg->no_defaults && i < G_N_ELEMENTS(default_devices); i++)
		if (!spec_has_type(cfg->devices, default_devices[i]) &&
		    !loader_find_type(m->devs->loader, default_devices[i]))
			return missing_default(m, default_devices[i], error);
	for (size_t i = 0; i < machine_registry()->n_types; i++) {
		const struct machine_type *t = &machine_registry()->types[i];

		for (size_t j = 0; j < t->n_props; j++) {
			const struct compat_prop *p = &t->props[j];
			struct device_type *dt =
				loader_find_type(m->devs->loader, p->device);
			int found = 0;

			for (uint32_t k = 0; dt && k < dt->t.n_properties; k++)
				found |=
					!strcmp(dt->props[k].name, p->property);
			if (!found)
				return error_setf(
					error, ENOENT,
					"machine type %s: compat property "
					"%s.%s=%s names %s",
					t->name, p->device, p->property,
					p->value,
					dt ? "a property the device type does "
					     "not have"
					   : "a device type no loaded module "
					     "provides");
		}
		if (t == m->type)
			break;
	}
	for (char **s = cfg->devices; s && *s; s++) {
		g_autofree char *type = g_strndup(*s, strcspn(*s, ","));

		if (!loader_find_type(m->devs->loader, type)) {
			g_autofree char *hint =
				loader_type_hint(m->devs->loader, type);

			return error_setf(error, ENOENT,
					  "unknown device type '%s'%s", type,
					  hint);
		}
	}
	return 0;
}

static int create_devices(struct machine *m, const struct machine_config *cfg,
			  GError **error)
{
	for (size_t i = 0;
	     !cfg->no_defaults && i < G_N_ELEMENTS(default_devices); i++) {
		const char *type = default_devices[i];
		int r;

		if (spec_has_type(cfg->devices, type))
			continue;
		r = machine_device_add(m, type, NULL, error);
		if (r < 0)
			return r;
	}
	for (char **s = cfg->devices; s && *s; s++) {
		int r = machine_device_add(m, *s, NULL, error);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Why `path` could not be read, as errno: said without GLib's words. */
static int read_errno(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (access(path, R_OK) < 0)
		return errno;
	return EIO;
}

/* The file an option names: a refusal names the option and the path. */
static int read_file(const char *option, const char *path, char **ret,
		     gsize *ret_len, GError **error)
{
	if (!g_file_get_contents(path, ret, ret_len, NULL)) {
		int e = read_errno(path);

		return error_setf(error, e, "%s %s: %s", option, path,
				  g_strerror(e));
	}
	return 0;
}

/* Reads the kernel and initrd and checks the kernel, before KVM opens. */
static int read_guest(struct machine *m, const struct machine_config *cfg,
		      GError **error)
{
	struct bzimage bz;
	int r;

	if (!cfg->kernel)
		return 0;
	r = read_file("--kernel", cfg->kernel, &m->kernel, &m->kernel_len,
		      error);
	if (r < 0)
		return r;
	r = bzimage_parse((uint8_t *)m->kernel, m->kernel_len, &bz, error);
	if (r < 0) {
		g_prefix_error(error, "%s: ", cfg->kernel);
		return r;
	}
	if (cfg->initrd)
		return read_file("--initrd", cfg->initrd, &m->initrd,
				 &m->initrd_len, error);
	return 0;
}

struct announced {
	GArray *devs; /* struct acpi_device */
	uint32_t space;
};

static void add_announced(void *opaque, const struct modvmm_region *r)
{
	struct announced *a = opaque;
	struct acpi_device d = {
		.hid = r->acpi_hid,
		.space = a->space,
		.base = r->base,
		.length = r->length,
		.irq = (r->acpi_flags & MODVMM_ACPI_IRQ) ? r->acpi_irq
							 : ACPI_NO_IRQ,
	};

	g_array_append_val(a->devs, d);
}

/*
 * Linux learns of the devices from ACPI tables built from what the
 * modules announced: a stock kernel finds virtio-mmio devices no other
 * way.
 */
static int write_acpi(struct machine *m, GError **error)
{
	g_autoptr(GArray) devs =
		g_array_new(FALSE, FALSE, sizeof(struct acpi_device));
	struct announced a = { devs, MODVMM_SPACE_PIO };

	bus_foreach_announced(m->devs->pio, add_announced, &a);
	a.space = MODVMM_SPACE_MMIO;
	bus_foreach_announced(m->devs->mmio, add_announced, &a);
	return acpi_write_tables(m->devs->mem, m->kvm->ncpus,
				 (struct acpi_device *)devs->data, devs->len,
				 error);
}

static int load_guest(struct machine *m, const struct machine_config *cfg,
		      struct kvm_boot *boot, GError **error)
{
	const char *append = cfg->append ? cfg->append : "";
	int r;

	r = boot_write_tables(m->devs->mem, error);
	if (r < 0)
		return r;
	boot->rsp = BOOT_STACK;
	if (!cfg->kernel) {
		if (strlen(append) >= BOOT_CMDLINE_MAX)
			return error_setf(error, E2BIG,
					  "guest command line is %zu bytes, at "
					  "most %u",
					  strlen(append), BOOT_CMDLINE_MAX - 1);
		r = boot_load_flat(m->devs->mem, guest_image, guest_image_size,
				   error);
		if (r < 0)
			return r;
		memory_write(m->devs->mem, BOOT_CMDLINE, append,
			     strlen(append) + 1);
		boot->rip = BOOT_KERNEL;
		boot->rsi = BOOT_CMDLINE;
		return 0;
	}
	r = write_acpi(m, error);
	if (r < 0)
		return r;
	r = bzimage_load(m->devs->mem, m->kvm->ram_size, (uint8_t *)m->kernel,
			 m->kernel_len, (uint8_t *)m->initrd, m->initrd_len,
			 append, &boot->rip, error);
	if (r < 0) {
		g_prefix_error(error, "%s: ", cfg->kernel);
		return r;
	}
	boot->rsi = BOOT_ZERO_PAGE;
	return 0;
}

int machine_new(const struct machine_config *cfg, const char *type_name,
		int alias, struct machine **ret, GError **error)
{
	struct modules_config modules;
	const struct machine_type *type;
	char *warning = NULL;
	struct machine *m;
	int r;

	r = machine_resolve(machine_registry(), type_name, &type, &warning,
			    error);
	if (r < 0)
		return r;
	m = g_new0(struct machine, 1);
	m->type = type;
	m->alias = alias;
	m->warning = warning;
	modules = cfg->modules;
	modules.policy = MODULES_ALL;
	r = modules_open(&modules, &m->devs, NULL, error);
	if (r < 0)
		goto fail;
	/* Device time and timers start with the guest: machine_run(). */
	timers_hold(m->devs->timers);
	m->devs->sinks.irq = sink_irq;
	m->devs->sinks.irq_pulse = sink_irq_pulse;
	m->devs->sinks.request = sink_request;
	m->devs->sinks.opaque = m;
	*ret = m;
	return 0;
fail:
	machine_free(m);
	return r;
}

int machine_open_kvm(struct machine *m, const struct machine_config *cfg,
		     uint64_t memory, unsigned int cpus, GError **error)
{
	return open_kvm(m, cfg, memory, cpus, error);
}

int machine_create(const struct machine_config *cfg, struct machine **ret,
		   GError **error)
{
	struct kvm_boot boot = { 0 };
	struct machine *m;
	int r;

	r = machine_new(cfg, cfg->machine,
			!cfg->machine ||
				!strcmp(cfg->machine, machine_registry()->alias),
			&m, error);
	if (r < 0)
		return r;
	/* What the user can get wrong is checked before KVM is opened. */
	r = check_device_types(m, cfg, error);
	if (r < 0)
		goto fail;
	if (cfg->offline) {
		r = create_devices(m, cfg, error);
		if (r < 0)
			goto fail;
		*ret = m;
		return 0;
	}
	r = read_guest(m, cfg, error);
	if (r < 0)
		goto fail;
	/* RAM first: devices may look at guest memory when realized. */
	r = open_kvm(m, cfg, cfg->memory, cfg->cpus, error);
	if (r < 0)
		goto fail;
	r = kvm_cpu_use_model(m->kvm, cfg->cpu ? cfg->cpu : "host", error);
	if (r < 0)
		goto fail;
	r = create_devices(m, cfg, error);
	if (r < 0)
		goto fail;
	r = load_guest(m, cfg, &boot, error);
	if (r < 0)
		goto fail;
	r = kvm_cpus_create(m->kvm, &boot, error);
	if (r < 0)
		goto fail;
	r = kvm_cpu_guest(m->kvm, cfg->cpu ? cfg->cpu : "host", 0, &m->cpu,
			  error);
	if (r < 0)
		goto fail;
	/* A fresh guest's rate is this host's. */
	m->cpu_offer->tsc_khz = m->cpu->tsc_khz;
	*ret = m;
	return 0;
fail:
	machine_free(m);
	return r;
}

void machine_run(struct machine *m, void (*started)(void *), void *opaque,
		 struct kvm_result *ret)
{
	timers_release(m->devs->timers);
	kvm_cpus_run(m->kvm, started, opaque, ret);
	/* Saved after the run (--snapshot-on-exit), the clock is at rest. */
	timers_hold(m->devs->timers);
}

void machine_stop(struct machine *m, int signo)
{
	const char *name = sigabbrev_np(signo);
	g_autofree char *msg =
		g_strdup_printf("stopped by SIG%s", name ? name : "?");

	kvm_cpus_stop(m->kvm, KVM_END_STOPPED, (uint32_t)signo, msg);
}

void machine_quit(struct machine *m)
{
	kvm_cpus_stop(m->kvm, KVM_END_QUIT, 0, "stopped by the quit command");
}

enum machine_state machine_state(struct machine *m)
{
	enum machine_state st = MACHINE_RUNNING;

	g_mutex_lock(&m->kvm->stop_lock);
	if (m->kvm->stopping)
		st = MACHINE_ENDED;
	else if (m->kvm->paused)
		st = MACHINE_PAUSED;
	g_mutex_unlock(&m->kvm->stop_lock);
	return st;
}

const char *machine_state_name(enum machine_state s)
{
	switch (s) {
	case MACHINE_RUNNING:
		return "running";
	case MACHINE_PAUSED:
		return "paused";
	case MACHINE_ENDED:
		break;
	}
	return "shutdown";
}

static int state_refuse(enum machine_state st, GError **error)
{
	if (st == MACHINE_ENDED)
		return error_setf(error, ESHUTDOWN, "the guest has shut down");
	return error_setf(error, EALREADY, "the guest is already %s",
			  machine_state_name(st));
}

int machine_pause(struct machine *m, GError **error)
{
	enum machine_state st = machine_state(m);

	if (st != MACHINE_RUNNING)
		return state_refuse(st, error);
	kvm_cpus_pause(m->kvm);
	/* What the guest rang for before it stopped is handled now: no
	 * request is left half done in a saved state, and what devices
	 * wrote to guest RAM is in the dirty log before its last pass. */
	ioevents_drain(m->devs->ioevents);
	timers_pause(m->devs->timers);
	return 0;
}

int machine_resume(struct machine *m, GError **error)
{
	enum machine_state st = machine_state(m);

	if (st != MACHINE_PAUSED)
		return state_refuse(st, error);
	timers_resume(m->devs->timers);
	kvm_cpus_resume(m->kvm);
	return 0;
}

int machine_device_add(struct machine *m, const char *spec,
		       struct modvmm_device **ret, GError **error)
{
	g_autofree char *type = g_strndup(spec, strcspn(spec, ","));
	g_autofree char *compat =
		compat_text(machine_registry(), m->type, type);

	return device_create_machine(m->devs, spec, compat, ret, error);
}

void machine_free(struct machine *m)
{
	if (!m)
		return;
	/* machine_new() frees one whose modules failed: no devices yet. */
	if (m->devs)
		device_destroy_all(m->devs);
	if (m->kvm) {
		kvm_cpus_destroy(m->kvm);
		kvm_close(m->kvm);
	}
	vm_devices_free(m->devs);
	cpu_model_free(m->cpu);
	cpu_model_free(m->cpu_offer);
	g_free(m->kernel);
	g_free(m->initrd);
	g_free(m->warning);
	g_free(m);
}

/* The unit a size's suffix names, as a shift: M when there is none. */
static int size_shift(const char *suffix)
{
	static const char units[] = "KMGT";
	const char *u;

	if (!*suffix)
		return 20;
	u = suffix[1] ? NULL : strchr(units, g_ascii_toupper(*suffix));
	return u ? 10 * (int)(u - units + 1) : -1;
}

int machine_parse_size(const char *s, uint64_t *ret, GError **error)
{
	uint64_t whole = 0, frac = 0, scale = 1, bytes;
	const char *p = s;
	int shift;

	/* Digits, at most 6 decimals, then the unit: exact integer maths. */
	if (!g_ascii_isdigit(*p))
		goto bad;
	for (; g_ascii_isdigit(*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			goto big;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		if (!g_ascii_isdigit(*++p))
			goto bad;
		for (; g_ascii_isdigit(*p); p++) {
			if (scale == 1000000)
				goto bad;
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	}
	shift = size_shift(p);
	if (shift < 0)
		goto bad;
	if (whole > (UINT64_MAX >> shift))
		goto big;
	if ((frac << shift) % scale)
		return error_setf(error, EINVAL,
				  "--memory %s: not a whole number of bytes",
				  s);
	bytes = (whole << shift) + (frac << shift) / scale;
	if (bytes < (whole << shift))
		goto big;
	*ret = bytes;
	return 0;
big:
	return error_setf(error, ERANGE, "--memory %s: too large", s);
bad:
	return error_setf(error, EINVAL,
			  "--memory %s: expected a size such as 512M, 1.5G or "
			  "2T (a number, then K, M, G or T; M when none)",
			  s);
}

/* MemTotal of a /proc/meminfo, in bytes; 0 when it cannot be read. */
static uint64_t host_ram(const char *meminfo)
{
	g_autofree char *text = NULL;
	const char *line;
	guint64 kib;

	if (!g_file_get_contents(meminfo, &text, NULL, NULL))
		return 0;
	line = strstr(text, "MemTotal:");
	if (!line || (line != text && line[-1] != '\n'))
		return 0;
	kib = g_ascii_strtoull(line + strlen("MemTotal:"), NULL, 10);
	return kib > UINT64_MAX >> 10 ? 0 : kib << 10;
}

/* "1 TiB", "23.5 GiB": plain ASCII, as --memory takes sizes. */
static char *size_text(uint64_t v)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (u < 3 && v >= (1ull << (10 * (u + 2))))
		u++;
	if (!(v & ((1ull << (10 * (u + 1))) - 1)))
		return g_strdup_printf("%" G_GUINT64_FORMAT " %s",
				       v >> (10 * (u + 1)), units[u]);
	return g_strdup_printf("%.1f %s",
			       (double)v / (double)(1ull << (10 * (u + 1))),
			       units[u]);
}

char *machine_ram_warning(uint64_t ram, const char *meminfo)
{
	uint64_t host = host_ram(meminfo);
	g_autofree char *want = NULL, *have = NULL;

	if (!host || ram <= host)
		return NULL;
	want = size_text(ram);
	have = size_text(host);
	return g_strdup_printf("guest RAM of %s is more than this host's %s "
			       "(MemTotal in %s): the guest may be killed "
			       "when it uses it; give a smaller --memory",
			       want, have, meminfo);
}
