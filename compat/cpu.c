// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * compat/cpu.c - a guest's CPU: the named models and the rule that says
 * whether a host can give a guest the CPU it has (docs/compat.md, "The
 * CPU").
 *
 * Only registers listed in feat_regs[] are feature bitmaps; everything
 * else in CPUID (vendor, family, caches, sizes) goes with the guest as it
 * is and is not compared, except the vendor, which must be equal. A
 * model is a mask over those registers: the bits it requires (`need`)
 * and the ones it keeps when the host has them (`allow`); every other
 * feature bit is cleared. Leaf 0xD follows the XSAVE components the
 * model keeps. Every failure of the rule is collected, none stops it.
 */
#include <errno.h>
#include <string.h>

#include "compat/cpu.h"

/* ---- data ------------------------------------------------------------ */

struct cpu_model *cpu_model_new(const char *name)
{
	struct cpu_model *m = g_new0(struct cpu_model, 1);

	m->name = g_strdup(name);
	m->leaves = g_array_new(FALSE, TRUE, sizeof(struct cpu_leaf));
	m->msrs = g_array_new(FALSE, TRUE, sizeof(uint32_t));
	return m;
}

struct cpu_model *cpu_model_copy(const struct cpu_model *m)
{
	struct cpu_model *c = cpu_model_new(m->name);

	g_array_append_vals(c->leaves, m->leaves->data, m->leaves->len);
	g_array_append_vals(c->msrs, m->msrs->data, m->msrs->len);
	c->tsc_khz = m->tsc_khz;
	c->tsc_scaling = m->tsc_scaling;
	return c;
}

void cpu_model_free(struct cpu_model *m)
{
	if (!m)
		return;
	g_free(m->name);
	g_array_unref(m->leaves);
	g_array_unref(m->msrs);
	g_free(m);
}

void cpu_model_add_leaf(struct cpu_model *m, const struct cpu_leaf *l)
{
	g_array_append_vals(m->leaves, l, 1);
}

const struct cpu_leaf *cpu_model_leaf(const struct cpu_model *m,
				      uint32_t function, uint32_t index)
{
	for (guint i = 0; i < m->leaves->len; i++) {
		const struct cpu_leaf *l =
			&g_array_index(m->leaves, struct cpu_leaf, i);

		if (l->function == function &&
		    (!(l->flags & CPU_LEAF_INDEXED) || l->index == index))
			return l;
	}
	return NULL;
}

uint32_t cpu_leaf_reg(const struct cpu_leaf *l, enum cpu_reg r)
{
	const uint32_t v[] = { l->eax, l->ebx, l->ecx, l->edx };

	return v[r];
}

static uint32_t *leaf_reg(struct cpu_leaf *l, enum cpu_reg r)
{
	uint32_t *v[] = { &l->eax, &l->ebx, &l->ecx, &l->edx };

	return v[r];
}

int cpu_model_has_msr(const struct cpu_model *m, uint32_t index)
{
	for (guint i = 0; i < m->msrs->len; i++)
		if (g_array_index(m->msrs, uint32_t, i) == index)
			return 1;
	return 0;
}

/* ---- feature registers and their bits ---------------------------------- */

static const char *const leaf1_ecx[32] = {
	"sse3",		"pclmulqdq",  "dtes64", "monitor", "ds_cpl", "vmx",
	"smx",		"est",	      "tm2",	"ssse3",   "cid",    "sdbg",
	"fma",		"cx16",	      "xtpr",	"pdcm",	   NULL,     "pcid",
	"dca",		"sse4.1",     "sse4.2", "x2apic",  "movbe",  "popcnt",
	"tsc_deadline", "aes",	      "xsave",	"osxsave", "avx",    "f16c",
	"rdrand",	"hypervisor",
};
static const char *const leaf1_edx[32] = {
	"fpu",	"vme",	 "de",	 "pse",	    "tsc",  "msr", "pae",  "mce",
	"cx8",	"apic",	 NULL,	 "sep",	    "mtrr", "pge", "mca",  "cmov",
	"pat",	"pse36", "pn",	 "clflush", NULL,   "ds",  "acpi", "mmx",
	"fxsr", "sse",	 "sse2", "ss",	    "ht",   "tm",  "ia64", "pbe",
};
static const char *const leaf7_ebx[32] = {
	"fsgsbase",
	"tsc_adjust",
	"sgx",
	"bmi1",
	"hle",
	"avx2",
	"fdp_excptn_only",
	"smep",
	"bmi2",
	"erms",
	"invpcid",
	"rtm",
	"pqm",
	"zero_fcs_fds",
	"mpx",
	"rdt_a",
	"avx512f",
	"avx512dq",
	"rdseed",
	"adx",
	"smap",
	"avx512ifma",
	"pcommit",
	"clflushopt",
	"clwb",
	"intel_pt",
	"avx512pf",
	"avx512er",
	"avx512cd",
	"sha_ni",
	"avx512bw",
	"avx512vl",
};
static const char *const leaf7_ecx[32] = {
	"prefetchwt1",
	"avx512vbmi",
	"umip",
	"pku",
	"ospke",
	"waitpkg",
	"avx512_vbmi2",
	"cet_ss",
	"gfni",
	"vaes",
	"vpclmulqdq",
	"avx512_vnni",
	"avx512_bitalg",
	"tme",
	"avx512_vpopcntdq",
	NULL,
	"la57",
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
	"rdpid",
	"kl",
	"bus_lock_detect",
	"cldemote",
	NULL,
	"movdiri",
	"movdir64b",
	"enqcmd",
	"sgx_lc",
	"pks",
};
static const char *const leaf7_edx[32] = {
	NULL,
	NULL,
	"avx512_4vnniw",
	"avx512_4fmaps",
	"fsrm",
	"uintr",
	NULL,
	NULL,
	"avx512_vp2intersect",
	"srbds_ctrl",
	"md_clear",
	"rtm_always_abort",
	NULL,
	"tsx_force_abort",
	"serialize",
	"hybrid",
	"tsxldtrk",
	NULL,
	"pconfig",
	"arch_lbr",
	"ibt",
	NULL,
	"amx_bf16",
	"avx512_fp16",
	"amx_tile",
	"amx_int8",
	"spec_ctrl",
	"intel_stibp",
	"flush_l1d",
	"arch_capabilities",
	"core_capabilities",
	"spec_ctrl_ssbd",
};
static const char *const leaf7_1_eax[32] = {
	[4] = "avx_vnni",  [5] = "avx512_bf16", [7] = "cmpccxadd",
	[10] = "fzrm",	   [11] = "fsrs",	[12] = "fsrc",
	[17] = "fred",	   [18] = "lkgs",	[19] = "wrmsrns",
	[21] = "amx_fp16", [22] = "hreset",	[23] = "avx_ifma",
	[26] = "lam",
};
/* XCR0 components (0xD.0 EAX) and IA32_XSS ones (0xD.1 ECX). */
static const char *const xcr0_lo[32] = {
	[0] = "x87",	[1] = "sse",	   [2] = "ymm",	       [3] = "bndregs",
	[4] = "bndcsr", [5] = "opmask",	   [6] = "zmm_hi256",  [7] = "hi16_zmm",
	[9] = "pkru",	[17] = "xtilecfg", [18] = "xtiledata",
};
static const char *const xss_lo[32] = {
	[8] = "pt",   [10] = "pasid", [11] = "cet_u", [12] = "cet_s",
	[13] = "hdc", [14] = "uintr", [15] = "lbr",   [16] = "hwp",
};
static const char *const leafd_1_eax[32] = {
	"xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd",
};
static const char *const ext1_ecx[32] = {
	"lahf_lm",    "cmp_legacy",  "svm",
	"extapic",    "cr8_legacy",  "abm",
	"sse4a",      "misalignsse", "3dnowprefetch",
	"osvw",	      "ibs",	     "xop",
	"skinit",     "wdt",	     NULL,
	"lwp",	      "fma4",	     "tce",
	NULL,	      "nodeid_msr",  NULL,
	"tbm",	      "topoext",     "perfctr_core",
	"perfctr_nb", NULL,	     "bpext",
	"ptsc",	      "perfctr_llc", "mwaitx",
};
static const char *const ext1_edx[32] = {
	"fpu", "vme",	 "de",	     "pse",   "tsc",	  "msr",     "pae",
	"mce", "cx8",	 "apic",     NULL,    "syscall",  "mtrr",    "pge",
	"mca", "cmov",	 "pat",	     "pse36", NULL,	  "mp",	     "nx",
	NULL,  "mmxext", "mmx",	     "fxsr",  "fxsr_opt", "pdpe1gb", "rdtscp",
	NULL,  "lm",	 "3dnowext", "3dnow",
};
static const char *const ext7_edx[32] = {
	"ts",	       "fid",		"vid",	     "ttp",    "tm",
	"stc",	       "100mhzsteps",	"hwpstate",  "invtsc", "cpb",
	"eff_freq_ro", "proc_feedback", "acc_power",
};
static const char *const ext8_ebx[32] = {
	[0] = "clzero",		  [1] = "irperf",
	[2] = "xsaveerptr",	  [4] = "rdpru",
	[8] = "mcommit",	  [9] = "wbnoinvd",
	[12] = "amd_ibpb",	  [14] = "amd_ibrs",
	[15] = "amd_stibp",	  [16] = "ibrs_always_on",
	[17] = "stibp_always_on", [18] = "ibrs_preferred",
	[19] = "ibrs_same_mode",  [23] = "amd_ppin",
	[24] = "amd_ssbd",	  [25] = "virt_ssbd",
	[26] = "amd_ssb_no",	  [27] = "cppc",
	[28] = "amd_psfd",	  [29] = "btc_no",
	[30] = "ibpb_ret",
};
static const char *const kvm_pv[32] = {
	[0] = "kvmclock",
	[1] = "nopiodelay",
	[2] = "mmu_op",
	[3] = "kvmclock2",
	[4] = "async_pf",
	[5] = "steal_time",
	[6] = "pv_eoi",
	[7] = "pv_unhalt",
	[9] = "pv_tlb_flush",
	[10] = "async_pf_vmexit",
	[11] = "pv_send_ipi",
	[12] = "poll_control",
	[13] = "pv_sched_yield",
	[14] = "async_pf_int",
	[15] = "msi_ext_dest_id",
	[16] = "hc_map_gpa_range",
	[17] = "migration_control",
	[24] = "kvmclock_stable",
};

#define BIT(n) (1u << (n))

static const struct feat_reg {
	uint32_t function, index;
	enum cpu_reg reg;
	/* Bits that are set per vCPU or while the guest runs. */
	uint32_t not_features;
	const char *const *names; /* NULL: no names */
} feat_regs[] = {
	{ 1, 0, CPU_ECX, BIT(27) | BIT(31), leaf1_ecx }, /* osxsave, hv */
	{ 1, 0, CPU_EDX, 0, leaf1_edx },
	{ 7, 0, CPU_EBX, 0, leaf7_ebx },
	{ 7, 0, CPU_ECX, BIT(4), leaf7_ecx }, /* ospke */
	{ 7, 0, CPU_EDX, 0, leaf7_edx },
	{ 7, 1, CPU_EAX, 0, leaf7_1_eax },
	{ 0xd, 0, CPU_EAX, 0, xcr0_lo },
	{ 0xd, 0, CPU_EDX, 0, NULL },
	{ 0xd, 1, CPU_EAX, 0, leafd_1_eax },
	{ 0xd, 1, CPU_ECX, 0, xss_lo },
	{ 0xd, 1, CPU_EDX, 0, NULL },
	{ 0x80000001, 0, CPU_ECX, 0, ext1_ecx },
	{ 0x80000001, 0, CPU_EDX, 0, ext1_edx },
	{ 0x80000007, 0, CPU_EDX, 0, ext7_edx },
	{ 0x80000008, 0, CPU_EBX, 0, ext8_ebx },
	{ 0x40000001, 0, CPU_EAX, 0, kvm_pv },
};

static const char reg_names[][4] = { "EAX", "EBX", "ECX", "EDX" };

/* Leaves whose index selects a sub-leaf: named with it. */
static int indexed(uint32_t function)
{
	return function == 7 || function == 0xd;
}

char *cpu_bit_text(uint32_t function, uint32_t index, enum cpu_reg reg,
		   unsigned int bit)
{
	const char *name = NULL;
	g_autofree char *fn = function < 10 ? g_strdup_printf("%u", function)
					    : g_strdup_printf("0x%x", function);

	for (size_t i = 0; i < G_N_ELEMENTS(feat_regs); i++)
		if (feat_regs[i].function == function &&
		    feat_regs[i].index == index && feat_regs[i].reg == reg &&
		    feat_regs[i].names)
			name = feat_regs[i].names[bit];
	if (indexed(function))
		return g_strdup_printf("CPUID.%s.%u:%s bit %u%s%s%s", fn, index,
				       reg_names[reg], bit, name ? " (" : "",
				       name ? name : "", name ? ")" : "");
	return g_strdup_printf("CPUID.%s:%s bit %u%s%s%s", fn, reg_names[reg],
			       bit, name ? " (" : "", name ? name : "",
			       name ? ")" : "");
}

static uint32_t reg_of(const struct cpu_model *m, const struct feat_reg *f)
{
	const struct cpu_leaf *l = cpu_model_leaf(m, f->function, f->index);

	return l ? cpu_leaf_reg(l, f->reg) : 0;
}

/*
 * The feature bits of `want` missing in `have`, each named in `to`
 * followed by `suffix`.
 */
static unsigned int name_missing(const struct feat_reg *f, uint32_t want,
				 uint32_t have, GPtrArray *to,
				 const char *suffix)
{
	uint32_t miss = want & ~have & ~f->not_features;
	unsigned int n = 0;

	for (unsigned int b = 0; b < 32; b++) {
		if (!(miss & BIT(b)))
			continue;
		n++;
		if (to) {
			g_autofree char *t =
				cpu_bit_text(f->function, f->index, f->reg, b);

			g_ptr_array_add(to, g_strconcat(t, suffix, NULL));
		}
	}
	return n;
}

/* ---- the rule ---------------------------------------------------------- */

/* The vendor string of leaf 0, or 0 when there is no leaf 0. */
static int vendor(const struct cpu_model *m, char ret[13])
{
	const struct cpu_leaf *l = cpu_model_leaf(m, 0, 0);

	if (!l)
		return 0;
	memcpy(ret, &l->ebx, 4);
	memcpy(ret + 4, &l->edx, 4);
	memcpy(ret + 8, &l->ecx, 4);
	ret[12] = 0;
	for (int i = 0; i < 12; i++)
		if ((unsigned char)ret[i] < 0x20 ||
		    (unsigned char)ret[i] > 0x7e)
			ret[i] = '?';
	return 1;
}

static const struct {
	uint32_t index;
	const char *name;
} msr_names[] = {
	{ 0x10, "IA32_TSC" },
	{ 0x11, "KVM_WALL_CLOCK" },
	{ 0x12, "KVM_SYSTEM_TIME" },
	{ 0x1b, "IA32_APIC_BASE" },
	{ 0x3a, "IA32_FEATURE_CONTROL" },
	{ 0x3b, "IA32_TSC_ADJUST" },
	{ 0x48, "IA32_SPEC_CTRL" },
	{ 0x10a, "IA32_ARCH_CAPABILITIES" },
	{ 0x174, "IA32_SYSENTER_CS" },
	{ 0x175, "IA32_SYSENTER_ESP" },
	{ 0x176, "IA32_SYSENTER_EIP" },
	{ 0x1a0, "IA32_MISC_ENABLE" },
	{ 0x1d9, "IA32_DEBUGCTL" },
	{ 0x277, "IA32_PAT" },
	{ 0x6e0, "IA32_TSC_DEADLINE" },
	{ 0xda0, "IA32_XSS" },
	{ 0xc0000080, "EFER" },
	{ 0xc0000081, "STAR" },
	{ 0xc0000082, "LSTAR" },
	{ 0xc0000083, "CSTAR" },
	{ 0xc0000084, "SFMASK" },
	{ 0xc0000100, "FS_BASE" },
	{ 0xc0000101, "GS_BASE" },
	{ 0xc0000102, "KERNEL_GS_BASE" },
	{ 0xc0000103, "TSC_AUX" },
	{ 0x4b564d00, "KVM_WALL_CLOCK_NEW" },
	{ 0x4b564d01, "KVM_SYSTEM_TIME_NEW" },
	{ 0x4b564d02, "KVM_ASYNC_PF_EN" },
	{ 0x4b564d03, "KVM_STEAL_TIME" },
	{ 0x4b564d04, "KVM_PV_EOI_EN" },
	{ 0x4b564d05, "KVM_POLL_CONTROL" },
	{ 0x4b564d06, "KVM_ASYNC_PF_INT" },
	{ 0x4b564d07, "KVM_ASYNC_PF_ACK" },
};

static const char *msr_name(uint32_t index)
{
	for (size_t i = 0; i < G_N_ELEMENTS(msr_names); i++)
		if (msr_names[i].index == index)
			return msr_names[i].name;
	return NULL;
}

static uint32_t ppm_apart(uint32_t a, uint32_t b)
{
	uint64_t d = a > b ? a - b : b - a;

	return b ? (uint32_t)MIN(d * 1000000 / b, G_MAXUINT32) : G_MAXUINT32;
}

unsigned int compat_cpu_judge(const struct cpu_model *guest,
			      const struct cpu_model *host, GPtrArray *reasons)
{
	unsigned int n = 0;
	char gv[13], hv[13];

	if (vendor(guest, gv) && vendor(host, hv) && strcmp(gv, hv)) {
		g_ptr_array_add(reasons,
				g_strdup_printf("CPU vendor %s at the source, "
						"%s here",
						gv, hv));
		n++;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(feat_regs); i++)
		n += name_missing(&feat_regs[i], reg_of(guest, &feat_regs[i]),
				  reg_of(host, &feat_regs[i]), reasons,
				  " missing here");
	if (guest->tsc_khz && host->tsc_khz &&
	    ppm_apart(guest->tsc_khz, host->tsc_khz) > CPU_TSC_PPM &&
	    !host->tsc_scaling) {
		g_ptr_array_add(
			reasons,
			g_strdup_printf("TSC rate %u kHz at the source, %u kHz "
					"here (more than %u ppm apart), and "
					"this host cannot scale a guest's TSC "
					"(no KVM_CAP_TSC_CONTROL)",
					guest->tsc_khz, host->tsc_khz,
					CPU_TSC_PPM));
		n++;
	}
	for (guint i = 0; i < guest->msrs->len; i++) {
		uint32_t msr = g_array_index(guest->msrs, uint32_t, i);
		const char *name = msr_name(msr);

		if (cpu_model_has_msr(host, msr))
			continue;
		g_ptr_array_add(reasons,
				g_strdup_printf("MSR 0x%x%s%s%s missing here",
						msr, name ? " (" : "",
						name ? name : "",
						name ? ")" : ""));
		n++;
	}
	return n;
}

/* ---- the named models ---------------------------------------------------- */

struct model_reg {
	uint32_t function, index;
	enum cpu_reg reg;
	uint32_t need;	/* required of the host */
	uint32_t allow; /* kept when the host has it */
};

/* What every model gives a KVM guest besides its psABI level. */
#define BASE_EDX                                                               \
	(BIT(0) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) |        \
	 BIT(8) | BIT(9) | BIT(11) | BIT(12) | BIT(13) | BIT(14) | BIT(15) |   \
	 BIT(16) | BIT(17) | BIT(19) | BIT(23) | BIT(24) | BIT(25) | BIT(26))
/* 0x80000001 EDX: syscall, nx, lm; AMD repeats leaf 1's bits there. */
#define EXT_EDX (BIT(11) | BIT(20) | BIT(29))
#define EXT_EDX_AMD (BASE_EDX & ~(BIT(11) | BIT(19) | BIT(25) | BIT(26)))
/* kvmclock, nopiodelay, kvmclock2, async_pf, steal_time, pv_eoi,
 * pv_unhalt, pv_tlb_flush, pv_send_ipi, poll_control, pv_sched_yield,
 * async_pf_int, kvmclock_stable. */
#define KVM_PV                                                                 \
	(BIT(0) | BIT(1) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) |        \
	 BIT(9) | BIT(11) | BIT(12) | BIT(13) | BIT(14) | BIT(24))
/* x86-64-v2: sse3, ssse3, cx16, sse4.1, sse4.2, popcnt */
#define V2_ECX (BIT(0) | BIT(9) | BIT(13) | BIT(19) | BIT(20) | BIT(23))
/* x86-64-v3: fma, movbe, xsave, avx, f16c */
#define V3_ECX (BIT(12) | BIT(22) | BIT(26) | BIT(28) | BIT(29))

#define MODEL_COMMON(ecx_need, ext_ecx_need, xcr0)                             \
	{ 1, 0, CPU_ECX, BIT(21) | (ecx_need), BIT(24) },                      \
		{ 1, 0, CPU_EDX, BASE_EDX, 0 },                                \
		{ 0xd, 0, CPU_EAX, (xcr0) & ~3u, 3 },                          \
		{ 0x80000001, 0, CPU_ECX, (ext_ecx_need), 0 },                 \
		{ 0x80000001, 0, CPU_EDX, EXT_EDX, EXT_EDX_AMD },              \
	{                                                                      \
		0x40000001, 0, CPU_EAX, KVM_PV, 0                              \
	}

static const struct model_reg model_v1[] = {
	MODEL_COMMON(0, 0, 3),
};
static const struct model_reg model_v2[] = {
	MODEL_COMMON(V2_ECX, BIT(0), 3),
};
static const struct model_reg model_v3[] = {
	MODEL_COMMON(V2_ECX | V3_ECX, BIT(0) | BIT(5), 7),
	/* bmi1, avx2, bmi2 */
	{ 7, 0, CPU_EBX, BIT(3) | BIT(5) | BIT(8), 0 },
	{ 0xd, 1, CPU_EAX, 0, BIT(0) }, /* xsaveopt */
};

static const struct model {
	const char *name;
	const struct model_reg *regs;
	size_t n_regs;
} models[] = {
	{ "host", NULL, 0 },
	{ "x86-64", model_v1, G_N_ELEMENTS(model_v1) },
	{ "x86-64-v2", model_v2, G_N_ELEMENTS(model_v2) },
	{ "x86-64-v3", model_v3, G_N_ELEMENTS(model_v3) },
};

static const char *const model_names[] = { "host", "x86-64", "x86-64-v2",
					   "x86-64-v3", NULL };
G_STATIC_ASSERT(G_N_ELEMENTS(model_names) == G_N_ELEMENTS(models) + 1);

const char *const *cpu_model_names(void)
{
	return model_names;
}

static const struct model *model_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(models); i++)
		if (!strcmp(models[i].name, name))
			return &models[i];
	return NULL;
}

int cpu_model_known(const char *name)
{
	return !!model_find(name);
}

char *cpu_model_names_text(void)
{
	return g_strjoinv(", ", (char **)model_names);
}

static const struct model_reg *model_reg(const struct model *md,
					 const struct feat_reg *f)
{
	for (size_t i = 0; i < md->n_regs; i++)
		if (md->regs[i].function == f->function &&
		    md->regs[i].index == f->index && md->regs[i].reg == f->reg)
			return &md->regs[i];
	return NULL;
}

static int leaf_matches(const struct cpu_leaf *l, const struct feat_reg *f)
{
	return l->function == f->function &&
	       (!(l->flags & CPU_LEAF_INDEXED) || l->index == f->index);
}

/*
 * Leaf 0xD as the components kept say: sub-leaves of components outside
 * XCR0 and IA32_XSS dropped, the largest save area recomputed. EBX of
 * sub-leaves 0 and 1 follow the guest's XCR0 at run time (KVM sets
 * them); they start at the legacy area and header.
 */
static void xsave_fixup(struct cpu_model *m)
{
	struct cpu_leaf *l0 = NULL, *l1 = NULL;
	uint64_t keep;
	uint32_t size = 576, xcr0;

	for (guint i = 0; i < m->leaves->len; i++) {
		struct cpu_leaf *l =
			&g_array_index(m->leaves, struct cpu_leaf, i);

		if (l->function == 0xd && l->index == 0)
			l0 = l;
		if (l->function == 0xd && l->index == 1)
			l1 = l;
	}
	if (!l0)
		return;
	xcr0 = l0->eax;
	keep = (uint64_t)l0->edx << 32 | l0->eax;
	if (l1)
		keep |= (uint64_t)l1->edx << 32 | l1->ecx;
	for (guint i = 0; i < m->leaves->len;) {
		struct cpu_leaf *l =
			&g_array_index(m->leaves, struct cpu_leaf, i);

		if (l->function == 0xd && l->index >= 2 &&
		    (l->index >= 64 || !(keep & (1ull << l->index)))) {
			g_array_remove_index(m->leaves, i);
			continue;
		}
		i++;
	}
	/* Removal moved the array: l0 and l1 are stale from here. */
	for (guint i = 0; i < m->leaves->len; i++) {
		struct cpu_leaf *l =
			&g_array_index(m->leaves, struct cpu_leaf, i);

		if (l->function == 0xd && l->index >= 2 && l->index < 32 &&
		    (xcr0 & BIT(l->index)))
			size = MAX(size, l->ebx + l->eax);
	}
	for (guint i = 0; i < m->leaves->len; i++) {
		struct cpu_leaf *l =
			&g_array_index(m->leaves, struct cpu_leaf, i);

		if (l->function != 0xd || l->index > 1)
			continue;
		l->ebx = 576;
		if (l->index == 0)
			l->ecx = size;
	}
}

static int model_apply(const char *name, const struct cpu_model *host,
		       int require, struct cpu_model **ret, GPtrArray *missing)
{
	const struct model *md = model_find(name);
	struct cpu_model *m;
	unsigned int n = 0;

	*ret = NULL;
	if (!md)
		return -ENOENT;
	m = cpu_model_copy(host);
	g_free(m->name);
	m->name = g_strdup(name);
	if (!md->regs) {
		*ret = m;
		return 0;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(feat_regs); i++) {
		const struct feat_reg *f = &feat_regs[i];
		const struct model_reg *mr = model_reg(md, f);
		uint32_t keep = mr ? mr->need | mr->allow : 0;

		if (require && mr)
			n += name_missing(f, mr->need, reg_of(host, f), missing,
					  "");
		for (guint j = 0; j < m->leaves->len; j++) {
			struct cpu_leaf *l =
				&g_array_index(m->leaves, struct cpu_leaf, j);
			uint32_t *v = leaf_reg(l, f->reg);

			if (leaf_matches(l, f))
				*v &= f->not_features | keep;
		}
	}
	xsave_fixup(m);
	if (n) {
		cpu_model_free(m);
		return -ENOTSUP;
	}
	*ret = m;
	return 0;
}

int cpu_model_build(const char *name, const struct cpu_model *host,
		    struct cpu_model **ret, GPtrArray *missing)
{
	return model_apply(name, host, 1, ret, missing);
}

int cpu_model_limit(const char *name, const struct cpu_model *host,
		    struct cpu_model **ret)
{
	return model_apply(name, host, 0, ret, NULL);
}
