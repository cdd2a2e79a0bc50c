// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz-seeds: writes the seeds of fuzz-snapshot, and those of fuzz-vmstate
 * for the descriptions modvmm itself loads, with modvmm's own writers
 * (core/snapshot.c, core/vmstate.c), for the machine the snapshot target
 * loads into (fuzz-machine.h), in each format this host reads, so that
 * they stay valid when a format changes: run it again and commit what
 * changed.
 *
 *   build-fuzz/tests/fuzz/fuzz-seeds tests/fuzz/corpus
 *
 * Each snapshot seed goes as far as this machine lets a stream go: its
 * head is accepted, its RAM, zero pages and device state load, and it
 * stops at the VM state, which has no KVM to be set in (or at the vCPU
 * record, for the machine has none). Format 1 has no checksums: the
 * fuzzer gets deepest from that seed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <modvmm/virtio.h>

#include "core/device.h"
#include "core/kvm-state.h"
#include "core/kvm.h"
#include "core/loader.h"
#include "core/snapshot.h"
#include "fuzz-machine.h"

/* The state the seeds carry: not all zeros, every field in range. */
static void fill(struct machine *m)
{
	struct modvmm_device *fx = m->devs->devices->pdata[0];
	struct modvmm_device *vd = m->devs->devices->pdata[1];
	struct modvmm_virtio *v = vd->state;
	struct fx_state *fs = fx->state;

	fs->reg = 0x1234;
	fs->count = 3;
	memcpy(fs->fifo, "abc", 3);
	fs->mask = 0xff;
	fs->dma_addr = 0x1000;
	fs->trace = 7;
	v->status = MODVMM_VIRTIO_S_ACKNOWLEDGE | MODVMM_VIRTIO_S_DRIVER |
		    MODVMM_VIRTIO_S_FEATURES_OK | MODVMM_VIRTIO_S_DRIVER_OK;
	v->driver_features = MODVMM_VIRTIO_F_VERSION_1;
	v->queues[0] = (struct modvmm_virtio_queue){
		.num = 16,
		.ready = 1,
		.desc = 0x2000,
		.avail = 0x2100,
		.used = 0x2200,
		.last_avail = 2,
		.used_idx = 2,
	};
}

static void device_record(struct snap_writer *w, struct modvmm_device *dev)
{
	g_autoptr(GByteArray) rec = g_byte_array_new();
	uint8_t idlen = (uint8_t)strlen(dev->id);

	/* What snapshot_write_state() writes for a device. */
	g_byte_array_append(rec, &idlen, 1);
	g_byte_array_append(rec, (const uint8_t *)dev->id, idlen);
	if (vmstate_save(dev->type->vms, dev->state, dev->type->vms->d.version,
			 rec, NULL) < 0 ||
	    stream_write_record(w, SNAP_DEVICE, rec->data, rec->len, NULL, 0,
				  NULL) < 0)
		abort();
}

static void vm_record(struct snap_writer *w)
{
	g_autoptr(GByteArray) sec = g_byte_array_new();
	struct kvm_vm_state vs = { 0 };

	vs.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	vs.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	vs.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (vmstate_save(kvm_state_vm_vms(), &vs, 1, sec, NULL) < 0 ||
	    stream_write_record(w, SNAP_VM, sec->data, sec->len, NULL, 0,
				  NULL) < 0)
		abort();
}

static void cpu_record(struct snap_writer *w)
{
	g_autofree struct kvm_cpu_state *cs = g_new0(struct kvm_cpu_state, 1);
	g_autoptr(GByteArray) sec = g_byte_array_new();
	uint32_t idx = 0;

	cs->n_msrs = 1;
	cs->msr_index[0] = 0x10; /* the TSC */
	if (vmstate_save(kvm_state_cpu_vms(), cs, 1, sec, NULL) < 0 ||
	    stream_write_record(w, SNAP_CPU, &idx, 4, sec->data, sec->len,
				  NULL) < 0)
		abort();
}

static int create(const char *dir, const char *sub, const char *name)
{
	g_autofree char *d = g_build_filename(dir, sub, NULL);
	g_autofree char *path = g_build_filename(d, name, NULL);
	int fd;

	g_mkdir_with_parents(d, 0755);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

/*
 * `align`: PAD records, as in a file; `page`: one page of RAM not zero;
 * `order`: the records after RAM, one letter each: D devices, V VM,
 * C a vCPU, E END.
 */
static void seed(const char *dir, const char *name, uint32_t format, int align,
		 int page, int check, const char *order)
{
	struct machine *m = fuzz_machine();
	struct snap_writer w = {
		.what = name, .align = align, .paused = 1, .format = format
	};

	w.fd = create(dir, "snapshot", name);
	fuzz_machine_reset(m);
	fill(m);
	for (unsigned int i = 0; page && i < 4096; i++)
		m->kvm->ram[4096 + i] = (uint8_t)(i * 7);
	/* HELLO says the one vCPU every source has; this machine has none
	 * to load it into. */
	m->kvm->ncpus = 1;
	if (snapshot_write_head(&w, m, check, NULL) < 0)
		abort();
	m->kvm->ncpus = 0;
	if (!check && snapshot_write_ram(&w, m, NULL, NULL) < 0)
		abort();
	for (const char *o = check ? "" : order; *o; o++) {
		if (*o == 'D') {
			for (guint i = 0; i < m->devs->devices->len; i++)
				device_record(&w, m->devs->devices->pdata[i]);
		} else if (*o == 'V') {
			vm_record(&w);
		} else if (*o == 'C') {
			cpu_record(&w);
		} else if (stream_write_record(&w, SNAP_END, NULL, 0, NULL, 0,
						 NULL) < 0) {
			abort();
		}
	}
	close(w.fd);
}

/* One section of state, as a DEVICE, CPU or VM record carries it. */
static void section(const char *dir, const struct state_desc *v, void *state)
{
	g_autoptr(GByteArray) sec = g_byte_array_new();
	int fd = create(dir, "vmstate", v->name);

	if (vmstate_save(v, state, v->d.version, sec, NULL) < 0 ||
	    write(fd, sec->data, sec->len) != (ssize_t)sec->len)
		abort();
	close(fd);
}

int main(int argc, char **argv)
{
	struct machine *m;
	struct modvmm_device *vd;
	g_autofree struct kvm_cpu_state *cs = g_new0(struct kvm_cpu_state, 1);
	struct kvm_vm_state vs = { 0 };

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	seed(argv[1], "file-v2", SNAPSHOT_FORMAT, 1, 1, 0, "DVE");
	seed(argv[1], "file-v1", SNAPSHOT_FORMAT_OLDEST, 0, 1, 0, "DVE");
	seed(argv[1], "stream-v2", SNAPSHOT_FORMAT, 0, 0, 0, "DCVE");
	seed(argv[1], "check-v2", SNAPSHOT_FORMAT, 0, 0, 1, "");

	m = fuzz_machine();
	vd = m->devs->devices->pdata[1];
	section(argv[1], vd->type->vms, vd->state);
	cs->n_msrs = 1;
	cs->msr_index[0] = 0x10;
	section(argv[1], kvm_state_cpu_vms(), cs);
	vs.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	section(argv[1], kvm_state_vm_vms(), &vs);
	return 0;
}
