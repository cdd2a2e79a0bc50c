/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef TESTS_FUZZ_MACHINE_H
#define TESTS_FUZZ_MACHINE_H

#include "core/machine.h"

/*
 * The machine the migration targets (fuzz-snapshot, fuzz-verdict) stand
 * on: created offline, so without KVM, then given what a stream needs to
 * find and cannot reach without a guest:
 *   - guest RAM of FUZZ_RAM_PAGES pages, anonymous memory;
 *   - no vCPUs, and a VM descriptor (-1) every ioctl refuses, so that a
 *     stream is read up to the VM state it cannot set;
 *   - devices "fx0" (a description with a variable array, a field
 *     newer than its oldest version, a subsection that must be sent and
 *     an optional one) and "virtio0" (the virtio-mmio transport's
 *     description, as every virtio module saves it), made by hand: no
 *     module is loaded.
 * The seeds of fuzz-snapshot (fuzz-seeds.c) are written for this machine.
 */

#define FUZZ_RAM_PAGES 16

/* fx0's state, devices->pdata[0]; virtio0's, [1], is a modvmm_virtio. */
struct fx_state {
	uint32_t reg;
	uint8_t count;
	uint8_t fifo[8];
	uint8_t dma_on; /* fx/dma, which must be sent, is needed */
	uint16_t mask;	/* since version 2 */
	uint64_t dma_addr;
	uint32_t trace; /* fx/trace, optional */
};

struct machine *fuzz_machine(void);

/*
 * Back to the state of a fresh machine: zeroed RAM (anonymous again) and
 * device state, with the fx0 subsection that must be sent switched on.
 */
void fuzz_machine_reset(struct machine *m);

#endif
