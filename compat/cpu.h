/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef COMPAT_CPU_H
#define COMPAT_CPU_H

#include <stdint.h>

#include <glib.h>

/*
 * A guest's CPU as plain data (docs/compat.md, "The CPU"): the CPUID
 * leaves it was given, its TSC rate and the MSRs its state carries; or
 * what a host can offer. The named models (`host`, `x86-64`,
 * `x86-64-v2`, `x86-64-v3`) and the rule that judges a guest's CPU
 * against a host's offer live here; nothing here talks to KVM.
 */

#define CPU_MAX_LEAVES 1024
#define CPU_MAX_MSRS 1024
/* A TSC within this many parts per million of the guest's is its rate. */
#define CPU_TSC_PPM 250

/* struct kvm_cpuid_entry2's KVM_CPUID_FLAG_SIGNIFCANT_INDEX */
#define CPU_LEAF_INDEXED 1u

struct cpu_leaf {
	uint32_t function;
	uint32_t index;
	uint32_t flags;
	uint32_t eax, ebx, ecx, edx;
};

enum cpu_reg { CPU_EAX, CPU_EBX, CPU_ECX, CPU_EDX };

struct cpu_model {
	/* A guest's: the model it was started on; an offer's: the model
	 * the host is limited to ("host": none). */
	char *name;
	GArray *leaves;	  /* struct cpu_leaf, (function, index) unique */
	uint32_t tsc_khz; /* 0: not known */
	int tsc_scaling;  /* an offer's: the host can give another rate */
	GArray *msrs;	  /* uint32_t MSR indices */
};

struct cpu_model *cpu_model_new(const char *name);
struct cpu_model *cpu_model_copy(const struct cpu_model *m);
void cpu_model_free(struct cpu_model *m);

void cpu_model_add_leaf(struct cpu_model *m, const struct cpu_leaf *l);
/* The leaf (function, index); an unindexed leaf matches any index. */
const struct cpu_leaf *cpu_model_leaf(const struct cpu_model *m,
				      uint32_t function, uint32_t index);
uint32_t cpu_leaf_reg(const struct cpu_leaf *l, enum cpu_reg r);
int cpu_model_has_msr(const struct cpu_model *m, uint32_t index);

/* "CPUID.7.0:EBX bit 16 (avx512f)"; without the name where none is known. */
char *cpu_bit_text(uint32_t function, uint32_t index, enum cpu_reg reg,
		   unsigned int bit);

/*
 * The rule: one reason in `reasons` per thing `host` cannot give the
 * guest `guest`: each CPUID feature bit missing there, another vendor,
 * a TSC rate it can neither match within CPU_TSC_PPM nor scale to, each
 * MSR it lacks. Bits that are per vCPU or set while the guest runs (APIC
 * ids, OSXSAVE, OSPKE, the hypervisor bit, XSAVE sizes) are no features.
 * Returns the number of reasons added.
 */
unsigned int compat_cpu_judge(const struct cpu_model *guest,
			      const struct cpu_model *host, GPtrArray *reasons);

/* The named models, NULL-terminated: "host" first. */
const char *const *cpu_model_names(void);
int cpu_model_known(const char *name);
/* "host, x86-64, ..." */
char *cpu_model_names_text(void);

/*
 * Model `name` on a host offering `host` (KVM's supported CPUID): the
 * host's leaves with every feature bit outside the model cleared, leaf
 * 0xD made consistent with the model's XSAVE components, the model's
 * KVM paravirtual features. -ENOENT for an unknown name; -ENOTSUP when
 * the host lacks bits the model requires, each named in `missing` (may
 * be NULL). The TSC rate and MSRs are the host's.
 */
int cpu_model_build(const char *name, const struct cpu_model *host,
		    struct cpu_model **ret, GPtrArray *missing);

/*
 * What a host offers when it is kept to model `name`: the same as
 * cpu_model_build(), but a bit the host lacks is simply not offered.
 */
int cpu_model_limit(const char *name, const struct cpu_model *host,
		    struct cpu_model **ret);

#endif
