// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/inspect.c - the tool-facing view of the core library: loaded
 * modules' device types and state descriptions copied out as plain data,
 * sections and snapshot records decoded by core's own readers
 * (vmstate.c, snapshot.c, stream.c), so that tools/ never reads a core
 * struct. Thin: each function hands on to the reader that owns the job.
 */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "device.h"
#include "inspect.h"
#include "inventory.h"
#include "kvm-state.h"
#include "loader.h"
#include "machine.h"
#include "modinfo.h"
#include "snapshot.h"
#include "vm-devices.h"
#include "vmstate.h"

/* The magic and the u32 format version before a stream's first record. */
#define STREAM_START (sizeof(SNAPSHOT_MAGIC) - 1 + 4)

/* MSR_IA32_TSC: the guest's TSC in a CPU record's MSR list. */
#define MSR_TSC 0x10

int inspect_metadata_read(const char *path, struct modinfo **ret,
			  struct inspect_metadata *md, GError **error)
{
	struct modinfo *mi;
	int r;

	r = modinfo_read(path, &mi, error);
	if (r < 0)
		return r;
	*md = (struct inspect_metadata){
		.keys = mi->keys,
		.values = mi->values,
		.abi_major = mi->abi_major,
		.abi_minor = mi->abi_minor,
		.intree = mi->intree,
		.has_entry = mi->has_entry,
	};
	*ret = mi;
	return 0;
}

JsonNode *inspect_metadata_json(const struct modinfo *mi)
{
	return modinfo_to_json(mi);
}

void inspect_metadata_free(struct modinfo *mi)
{
	modinfo_free(mi);
}

void inspect_type_get(const struct device_type *dt, struct inspect_type *ret)
{
	const struct modinfo *info = dt->module->info;

	*ret = (struct inspect_type){
		.name = dt->t.name,
		.description = dt->t.description,
		.props = dt->props,
		.n_props = dt->t.n_properties,
		.state = dt->vms,
		.module = info->name,
		.module_version = info->version,
		.module_path = dt->module->path,
		.intree = info->intree,
		.known_bad = info->known_bad,
	};
}

void inspect_foreach_type(struct vm_devices *devs, inspect_type_fn fn,
			  void *opaque)
{
	const GPtrArray *mods = loader_modules(devs->loader);

	for (guint i = 0; i < mods->len; i++) {
		const struct module *m = mods->pdata[i];

		for (guint j = 0; j < m->types->len; j++)
			fn(opaque, m->types->pdata[j]);
	}
}

const struct device_type *inspect_type_by_name(struct vm_devices *devs,
					       const char *name)
{
	return loader_find_type(devs->loader, name);
}

const struct device_type *inspect_type_by_state(struct vm_devices *devs,
						const char *name)
{
	const GPtrArray *mods = loader_modules(devs->loader);

	for (guint i = 0; i < mods->len; i++) {
		const struct module *m = mods->pdata[i];

		for (guint j = 0; j < m->types->len; j++) {
			const struct device_type *dt = m->types->pdata[j];

			if (dt->vms && !strcmp(dt->vms->name, name))
				return dt;
		}
	}
	return NULL;
}

const char *inspect_prop_type_name(uint32_t type)
{
	return device_prop_type_name(type);
}

char *inspect_prop_text(const struct modvmm_property *p, uint64_t v,
			const char *s)
{
	return device_prop_value_text(p, v, s);
}

char *inspect_prop_legacy_text(const struct modvmm_property *p)
{
	return device_prop_legacy_text(p);
}

void inspect_desc_get(const struct state_desc *v, struct inspect_desc *ret)
{
	*ret = (struct inspect_desc){
		.name = v->name,
		.version = v->d.version,
		.min_version = v->d.min_version,
		.min_save = vmstate_min_save(v),
	};
}

/* One description of the tree; `sub` when it is a subsection. */
static void walk_desc(const struct state_desc *v, const struct state_sub *sub,
		      const struct inspect_visitor *vis)
{
	struct inspect_desc d;

	inspect_desc_get(v, &d);
	if (sub) {
		d.sub = 1;
		d.flags = sub->flags;
	}
	vis->desc_begin(vis->opaque, &d);
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];

		vis->field_begin(vis->opaque, &vf->f, vf->nested != NULL);
		if (vf->nested)
			walk_desc(vf->nested, NULL, vis);
		vis->field_end(vis->opaque);
	}
	vis->fields_end(vis->opaque);
	for (uint32_t i = 0; i < v->d.n_subsections; i++)
		walk_desc(v->subs[i].vms, &v->subs[i], vis);
	vis->desc_end(vis->opaque);
}

void inspect_walk_desc(const struct state_desc *v,
		       const struct inspect_visitor *vis)
{
	walk_desc(v, NULL, vis);
}

struct sub_walk {
	inspect_sub_fn fn;
	void *opaque;
};

static void sub_visit(void *opaque, const struct state_sub *s,
		      const struct state_desc *parent, uint32_t since)
{
	struct sub_walk *w = opaque;
	struct inspect_desc d;

	inspect_desc_get(s->vms, &d);
	d.sub = 1;
	d.flags = s->flags;
	w->fn(w->opaque, &d, parent->name, since);
}

void inspect_foreach_subsection(const struct state_desc *v, inspect_sub_fn fn,
				void *opaque)
{
	struct sub_walk w = { fn, opaque };

	vmstate_foreach_subsection(v, sub_visit, &w);
}

/* Adds `machine` to the list of each subsection a save would send. */
static void mark_sent(GHashTable *on, const struct state_desc *v,
		      const void *state, const char *machine)
{
	g_autoptr(GHashTable) sent = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTableIter it;
	gpointer name;

	vmstate_subsections_sent(v, state, v->d.version, sent);
	g_hash_table_iter_init(&it, sent);
	while (g_hash_table_iter_next(&it, &name, NULL)) {
		GPtrArray *names = g_hash_table_lookup(on, name);

		if (!names) {
			names = g_ptr_array_new_with_free_func(g_free);
			g_hash_table_insert(on, g_strdup(name), names);
		}
		g_ptr_array_add(names, g_strdup(machine));
	}
}

static void drop_log(void *opaque, const char *id, uint32_t level,
		     const char *msg)
{
	(void)opaque;
	(void)id;
	(void)level;
	(void)msg;
}

GHashTable *inspect_subsections_sent_on(struct vm_devices *devs,
					const struct device_type *dt)
{
	const struct machine_registry *r = machine_registry();
	GHashTable *on =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
				      (GDestroyNotify)g_ptr_array_unref);
	struct vm_devices_sinks sinks = devs->sinks;

	/* A device that cannot be made from its defaults alone (a disk
	 * needs its file) is not an error here: it shows no subsections. */
	devs->sinks.log = drop_log;
	for (size_t i = 0; dt->vms && i < r->n_types; i++) {
		const struct machine_type *t = &r->types[i];
		g_autofree char *spec = machine_device_spec(r, t, dt->t.name);
		struct modvmm_device *dev;

		if (machine_status(r, t, NULL, NULL) == MACHINE_REMOVED ||
		    device_create(devs, spec, &dev, NULL) < 0)
			continue;
		g_mutex_lock(&devs->lock);
		mark_sent(on, dt->vms, dev->state, t->name);
		g_mutex_unlock(&devs->lock);
		device_destroy(dev);
	}
	devs->sinks = sinks;
	return on;
}

struct manifest *inspect_inventory(struct vm_devices *devs)
{
	if (!devs)
		return inventory_new(machine_registry());
	return inventory_host(devs->loader, machine_registry(), NULL);
}

void inspect_describe_state(struct manifest *m, struct manifest_device *d,
			    const struct device_type *dt)
{
	inventory_describe_state(m, d, dt->vms, NULL, 0);
}

int inspect_starts_section(const uint8_t *buf, size_t len)
{
	return len && buf[0] == VMS_TAG_START;
}

int inspect_section_peek(const uint8_t *buf, size_t len, size_t base,
			 const char *id, char **ret_name, GError **error)
{
	char name[VMS_MAX_NAME + 1];
	int r;

	r = vmstate_section_name(buf, len, base, id, name, error);
	if (r < 0)
		return r;
	*ret_name = g_strdup(name);
	return 0;
}

int inspect_decode_section(const struct device_type *dt, const uint8_t *buf,
			   size_t len, size_t base, const char *id,
			   const struct inspect_trace *trace, size_t *ret_used,
			   GError **error)
{
	g_autofree uint8_t *state = g_malloc0(dt->t.instance_size);
	struct vmstate_trace t = { trace->section, trace->field,
				   trace->opaque };
	int r;

	r = vmstate_load_flags(dt->vms, state, buf, len, base, id,
			       VMSTATE_NO_HOOKS, NULL, ret_used, error);
	if (r < 0)
		return r;
	return vmstate_load_flags(dt->vms, state, buf, len, base, id,
				  VMSTATE_NO_HOOKS, &t, ret_used, error);
}

const char *inspect_kind_name(uint32_t kind)
{
	return vmstate_kind_name(kind);
}

int inspect_kind_width(uint32_t kind)
{
	return vmstate_kind_width(kind);
}

static void record_copy(const struct snap_record *rec,
			struct inspect_record *ret)
{
	static const struct {
		uint8_t type;
		enum inspect_record_kind kind;
	} kinds[] = {
		{ SNAP_CPU, INSPECT_RECORD_CPU },
		{ SNAP_VM, INSPECT_RECORD_VM },
		{ SNAP_DEVICE, INSPECT_RECORD_DEVICE },
		{ SNAP_END, INSPECT_RECORD_END },
		{ SNAP_VERDICT, INSPECT_RECORD_VERDICT },
	};

	*ret = (struct inspect_record){
		.kind = INSPECT_RECORD_OTHER,
		.name = stream_record_name(rec->type),
		.at = rec->at,
		.data_at = rec->data_at,
		.data = rec->data,
		.len = rec->len,
	};
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
		if (kinds[i].type == rec->type)
			ret->kind = kinds[i].kind;
}

int inspect_snapshot_open(const char *file, const uint8_t *data, size_t len,
			  struct snap_reader **ret, struct inspect_head *head,
			  GError **error)
{
	struct snap_reader *s;
	int r;

	r = snapshot_inspect(file, data, len, &s, error);
	if (r < 0)
		return r;
	*head = (struct inspect_head){
		.machine = s->machine,
		.alias = s->alias,
		.memory = s->memory,
		.cpus = s->cpus,
		.check = s->check,
		.format = s->format,
		.manifest = s->manifest,
		.first = STREAM_START,
	};
	*ret = s;
	return 0;
}

void inspect_snapshot_free(struct snap_reader *s)
{
	snapshot_free(s);
}

int inspect_snapshot_next(struct snap_reader *s, size_t *offset,
			  struct inspect_record *rec, GError **ret_corrupt,
			  GError **error)
{
	struct snap_record sr;
	int r;

	r = snapshot_next_record(s, offset, &sr, ret_corrupt, error);
	if (r > 0)
		record_copy(&sr, rec);
	return r;
}

int inspect_starts_answers(const uint8_t *buf, size_t len)
{
	return len && buf[0] == SNAP_VERDICT;
}

uint32_t inspect_stream_format(void)
{
	return SNAPSHOT_FORMAT;
}

size_t inspect_json_record_max(void)
{
	return SNAPSHOT_HEAD_MAX;
}

int inspect_answer_next(int fd, const char *file, size_t *offset,
			GByteArray *buf, struct inspect_record *rec,
			GError **error)
{
	struct snap_record sr;
	int r;

	r = stream_read_record(fd, NULL, file, SNAPSHOT_FORMAT, offset, buf,
			       &sr, error);
	if (r < 0)
		return r;
	record_copy(&sr, rec);
	return 0;
}

int inspect_cpu_time(const char *path, const struct inspect_record *rec,
		     uint32_t *ret_cpu, uint64_t *ret_tsc, int *ret_has_tsc,
		     GError **error)
{
	g_autofree struct kvm_cpu_state *cs = g_new0(struct kvm_cpu_state, 1);
	g_autofree char *id = NULL;
	uint32_t idx = 0;
	size_t used;
	int r;

	if (rec->len < 4)
		return error_setf(error, EINVAL,
				  "%s: offset %zu: CPU record of %u bytes",
				  path, rec->at, rec->len);
	memcpy(&idx, rec->data, 4);
	id = g_strdup_printf("vcpu%u", idx);
	r = vmstate_load(kvm_state_cpu_vms(), cs, rec->data + 4, rec->len - 4,
			 rec->data_at + 4, id, &used, error);
	if (r < 0)
		return r;
	*ret_cpu = idx;
	*ret_has_tsc = 0;
	for (uint32_t i = 0; i < cs->n_msrs; i++)
		if (cs->msr_index[i] == MSR_TSC) {
			*ret_tsc = cs->msr_data[i];
			*ret_has_tsc = 1;
		}
	return 0;
}

int inspect_vm_time(const struct inspect_record *rec, uint64_t *ret_kvmclock_ns,
		    uint64_t *ret_device_clock_ns, GError **error)
{
	struct kvm_vm_state vs = { 0 };
	size_t used;
	int r;

	r = vmstate_load(kvm_state_vm_vms(), &vs, rec->data, rec->len,
			 rec->data_at, "vm", &used, error);
	if (r < 0)
		return r;
	*ret_kvmclock_ns = vs.clock.clock;
	*ret_device_clock_ns = vs.device_clock_ns;
	return 0;
}
