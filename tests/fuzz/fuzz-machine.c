// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A machine without KVM for the migration fuzz targets (fuzz-machine.h).
 * Its devices are put together from the loader's and the device code's
 * structures directly, as loader_load() and device_create() would leave
 * them, without a module file or a realize call: only what the stream
 * code reads of a device (id, type name, module, description, state) is
 * set.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <modvmm/virtio.h>

#include "core/device.h"
#include "core/kvm.h"
#include "core/loader.h"
#include "fuzz-machine.h"

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */

static const struct modvmm_vmstate_field fx_dma_fields[] = {
	MODVMM_VMS_FIELD(U64, struct fx_state, dma_addr, 1),
};

static const struct modvmm_vmstate fx_dma = {
	.size        = sizeof(struct modvmm_vmstate),
	.version     = 1,
	.min_version = 1,
	.name        = "fx/dma",
	.fields      = fx_dma_fields,
	.n_fields    = G_N_ELEMENTS(fx_dma_fields),
};

static const struct modvmm_vmstate_field fx_trace_fields[] = {
	MODVMM_VMS_FIELD(U32, struct fx_state, trace, 1),
};

static const struct modvmm_vmstate fx_trace = {
	.size        = sizeof(struct modvmm_vmstate),
	.version     = 1,
	.min_version = 1,
	.name        = "fx/trace",
	.fields      = fx_trace_fields,
	.n_fields    = G_N_ELEMENTS(fx_trace_fields),
};

static int32_t fx_dma_needed(const void *state)
{
	return ((const struct fx_state *)state)->dma_on;
}

static const struct modvmm_vmstate_subsection fx_subs[] = {
	{ .size   = sizeof(struct modvmm_vmstate_subsection),
	  .vms    = &fx_dma,
	  .needed = fx_dma_needed },
	{ .size   = sizeof(struct modvmm_vmstate_subsection),
	  .flags  = MODVMM_VMS_OPTIONAL,
	  .vms    = &fx_trace },
};

static const struct modvmm_vmstate_field fx_fields[] = {
	MODVMM_VMS_FIELD(U32, struct fx_state, reg, 1),
	MODVMM_VMS_FIELD(U8, struct fx_state, count, 1),
	MODVMM_VMS_VARRAY_FIELD(U8, struct fx_state, fifo, "count", 1),
	MODVMM_VMS_FIELD(U8, struct fx_state, dma_on, 1),
	MODVMM_VMS_FIELD(U16, struct fx_state, mask, 2),
};

static const struct modvmm_vmstate fx_vmstate = {
	.size             = sizeof(struct modvmm_vmstate),
	.version          = 2,
	.min_version      = 1,
	.min_save_version = 1,
	.name             = "fx",
	.fields           = fx_fields,
	.n_fields         = G_N_ELEMENTS(fx_fields),
	.subsections      = fx_subs,
	.n_subsections    = G_N_ELEMENTS(fx_subs),
};

/* clang-format on */

static struct module *fuzz_module(void)
{
	static const char info[] = "name=fuzz\0version=1.0\0abi=1.1\0"
				   "device=fx\0device=virtio\0";
	struct module *mod = g_new0(struct module, 1);

	if (modinfo_parse("fuzz.so", info, sizeof(info) - 1, &mod->info, NULL) <
	    0)
		abort();
	mod->path = g_strdup("fuzz.so");
	mod->types = g_ptr_array_new();
	return mod;
}

static struct modvmm_device *add_device(struct machine *m, struct module *mod,
					const char *type, const char *id,
					const struct modvmm_vmstate *d,
					uint32_t size)
{
	struct device_type *dt = g_new0(struct device_type, 1);
	struct modvmm_device *dev = g_new0(struct modvmm_device, 1);

	if (vmstate_import(type, d, size, &dt->vms, NULL) < 0)
		abort();
	dt->t.size = sizeof(dt->t);
	dt->t.instance_size = size;
	dt->t.name = type;
	dt->t.vmstate = d;
	dt->module = mod;
	dt->instances = 1;
	g_ptr_array_add(mod->types, dt);
	dev->devs = m->devs;
	dev->type = dt;
	dev->id = g_strdup(id);
	dev->state = g_malloc0(size);
	g_ptr_array_add(m->devs->devices, dev);
	return dev;
}

struct machine *fuzz_machine(void)
{
	static struct machine *m;
	struct machine_config cfg = { .no_defaults = 1,
				      .offline = 1,
				      .modules.no_default_dir = 1 };
	struct module *mod;
	struct kvm *kvm;

	if (m)
		return m;
	if (machine_create(&cfg, &m, NULL) < 0 || m->kvm)
		abort();
	kvm = g_new0(struct kvm, 1);
	kvm->devs = m->devs;
	kvm->sys_fd = kvm->vm_fd = -1;
	for (size_t i = 0; i < G_N_ELEMENTS(kvm->irqfd); i++)
		kvm->irqfd[i] = -1;
	kvm->ram_size = FUZZ_RAM_PAGES * 4096ull;
	kvm->ram = mmap(NULL, kvm->ram_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kvm->ram == MAP_FAILED)
		abort();
	g_mutex_init(&kvm->stop_lock);
	g_cond_init(&kvm->stop_cond);
	m->kvm = kvm;

	mod = fuzz_module();
	add_device(m, mod, "fx", "fx0", &fx_vmstate, sizeof(struct fx_state));
	add_device(m, mod, "virtio", "virtio0", &modvmm_virtio_vmstate,
		   sizeof(struct modvmm_virtio));
	fuzz_machine_reset(m);
	return m;
}

void fuzz_machine_reset(struct machine *m)
{
	struct kvm *kvm = m->kvm;
	struct fx_state *fx;

	if (mmap(kvm->ram, kvm->ram_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != kvm->ram)
		abort();
	for (guint i = 0; i < m->devs->devices->len; i++) {
		struct modvmm_device *dev = m->devs->devices->pdata[i];

		memset(dev->state, 0, dev->type->t.instance_size);
	}
	fx = ((struct modvmm_device *)m->devs->devices->pdata[0])->state;
	fx->dma_on = 1;
}
