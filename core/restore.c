// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/restore.c - building a machine from a snapshot's head: modules
 * loaded, the snapshot judged by the one rule (compat/negotiate.c), then
 * the devices as the verdict agreed, KVM, and the snapshot's records.
 * No peer I/O here: the receiving side of a migration (core/incoming.c)
 * sends the verdict this returns.
 */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "device.h"
#include "inventory.h"
#include "kvm-cpu.h"
#include "kvm-cpuid.h"
#include "restore.h"

/* The spec of --device with id=ID, if one was given. */
static const char *spec_with_id(char **specs, const char *id)
{
	g_autofree char *want = g_strdup_printf("id=%s", id);

	for (char **s = specs; s && *s; s++) {
		g_auto(GStrv) parts = g_strsplit(*s, ",", -1);

		for (char **p = parts + 1; *p; p++)
			if (!strcmp(*p, want))
				return *s;
	}
	return NULL;
}

/*
 * The spec that recreates a device of the snapshot here, as its verdict
 * says: without the source's properties this host's type lacks, with
 * those only this host's type has.
 */
static char *spec_as_agreed(const char *spec,
			    const struct compat_device_verdict *dv)
{
	g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
	GString *s = g_string_new(parts[0]);

	for (char **p = parts + 1; *p; p++) {
		size_t n = strcspn(*p, "=");
		int drop = 0;

		for (guint i = 0; i < dv->ignored->len && !drop; i++)
			drop = strlen(dv->ignored->pdata[i]) == n &&
			       !strncmp(dv->ignored->pdata[i], *p, n);
		if (!drop)
			g_string_append_printf(s, ",%s", *p);
	}
	for (guint i = 0; i < dv->added->len; i++)
		g_string_append_printf(s, ",%s",
				       (const char *)dv->added->pdata[i]);
	return g_string_free(s, FALSE);
}

/* Each --device must replace a device of the snapshot, of its type. */
static int check_overrides(const struct machine_config *cfg,
			   const struct snap_reader *s, GError **error)
{
	for (char **d = cfg->devices; d && *d; d++) {
		g_autofree char *type = g_strndup(*d, strcspn(*d, ","));
		int found = 0;

		for (guint i = 0; i < s->ids->len && !found; i++)
			found = spec_with_id(cfg->devices, s->ids->pdata[i]) ==
					*d &&
				g_str_has_prefix(s->specs->pdata[i], type) &&
				((char *)s->specs->pdata[i])[strlen(type)] ==
					',';
		if (!found)
			return error_setf(
				error, EINVAL,
				"--device %s: with --restore, a --device "
				"must name (id=) a device of the "
				"snapshot, of the same type",
				*d);
	}
	return 0;
}

int restore_judge(const struct machine_config *cfg, struct snap_reader *s,
		  struct machine **ret_m, struct compat_verdict **ret_v,
		  GError **error)
{
	g_autofree char *text = NULL;
	struct manifest *inv;
	int r;

	*ret_m = NULL;
	*ret_v = NULL;
	r = machine_new(cfg, s->machine, s->alias, ret_m, error);
	if (r < 0)
		return r;
	/* This host's CPU, kept to --cpu: the guest brings its own. */
	r = kvm_cpu_offer(cfg->kvm_device, cfg->cpu, &(*ret_m)->cpu_offer,
			  error);
	if (r < 0)
		return r;
	inv = inventory_host((*ret_m)->devs->loader, machine_registry(),
			     (*ret_m)->cpu_offer);
	*ret_v = compat_negotiate(s->manifest, inv, cfg->machine);
	manifest_free(inv);
	if (!(*ret_v)->accepted) {
		text = compat_verdict_text(*ret_v);
		return error_setf(error, EPROTO, "%s: this host cannot %s:\n%s",
				  s->path,
				  s->fd < 0 ? "restore the snapshot"
					    : "take the guest",
				  text);
	}
	return check_overrides(cfg, s, error);
}

/* The snapshot's devices, each as its spec says (or a --device's). */
static int restore_devices(struct machine *m, const struct machine_config *cfg,
			   struct snap_reader *s, GError **error)
{
	/* A guest arriving by migration: its source holds the locks on
	 * the disks both open (docs/security.md). */
	m->devs->no_file_locks = s->fd >= 0;
	for (guint i = 0; i < s->ids->len; i++) {
		const char *spec = spec_with_id(cfg->devices, s->ids->pdata[i]);
		const struct manifest_device *md =
			s->manifest->devices->pdata[i];
		struct modvmm_device *dev;
		int r = machine_device_add(m, spec ? spec : s->specs->pdata[i],
					   &dev, error);

		if (r < 0)
			return r;
		/* Who set each value travels with the guest, so that its
		 * next move is judged as this one was. */
		for (uint32_t j = 0; !spec && j < dev->type->t.n_properties;
		     j++) {
			const struct manifest_prop *p = NULL;

			for (guint k = 0; k < md->props->len && !p; k++)
				if (!strcmp(((struct manifest_prop *)
						     md->props->pdata[k])
						    ->property,
					    dev->type->props[j].name))
					p = md->props->pdata[k];
			dev->prop_origin[j] = !p || !p->set ? DEVICE_PROP_DEFAULT
					      : p->machine  ? DEVICE_PROP_MACHINE
							    : DEVICE_PROP_USER;
		}
	}
	return 0;
}

int restore_build(struct machine *m, const struct machine_config *cfg,
		  struct snap_reader *s, const struct compat_verdict *v,
		  GError **error)
{
	const struct cpu_model *cpu = s->manifest->cpu;
	struct kvm_boot boot = { 0 };
	int r;

	for (guint i = 0; i < v->devices->len && i < s->specs->len; i++) {
		char *spec = spec_as_agreed(s->specs->pdata[i],
					    v->devices->pdata[i]);

		g_free(s->specs->pdata[i]);
		s->specs->pdata[i] = spec;
	}
	r = machine_open_kvm(m, cfg, s->memory, s->cpus, error);
	/* Exactly the CPU the guest had; one from before CPUs were listed
	 * gets this host's, as it did then. */
	if (!r && cpu)
		kvm_cpu_use(m->kvm, cpu);
	if (!r)
		r = restore_devices(m, cfg, s, error);
	if (!r)
		r = kvm_cpus_create(m->kvm, &boot, error);
	if (!r)
		r = kvm_cpu_guest(m->kvm, cpu ? cpu->name : "host",
				  cpu ? cpu->tsc_khz : 0, &m->cpu, error);
	if (!r)
		r = snapshot_load(s, m, error);
	return r;
}
