// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The guest's CPU (compat/cpu.c): the rule that judges it against a
 * host's offer, with the message an operator reads for each refusal, a
 * randomized check of the rule against the bit arithmetic it stands
 * for, the named models, and the CPU in the verdict.
 */
#include <errno.h>

#include "check-tap.h"
#include "compat/negotiate.h"

static void leaf(struct cpu_model *m, uint32_t fn, uint32_t idx, uint32_t eax,
		 uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct cpu_leaf l = {
		fn,  idx, fn == 7 || fn == 0xd ? CPU_LEAF_INDEXED : 0, eax, ebx,
		ecx, edx
	};

	cpu_model_add_leaf(m, &l);
}

/* The reasons, one a line. */
static char *judge(const struct cpu_model *g, const struct cpu_model *h)
{
	g_autoptr(GPtrArray) r = g_ptr_array_new_with_free_func(g_free);
	GString *s = g_string_new(NULL);

	ck_assert_uint_eq(compat_cpu_judge(g, h, r), r->len);
	for (guint i = 0; i < r->len; i++)
		g_string_append_printf(s, "%s\n", (char *)r->pdata[i]);
	return g_string_free(s, FALSE);
}

START_TEST(test_cpu_missing_feature_named)
{
	struct cpu_model *g = cpu_model_new("host"), *h = cpu_model_new("host");
	g_autofree char *text = NULL;

	leaf(g, 7, 0, 0, 1u << 16 | 1u << 3, 0, 0);
	leaf(h, 7, 0, 0, 1u << 3, 0, 0);
	leaf(g, 0x80000001, 0, 0, 0, 1, 0);
	leaf(g, 0xd, 0, 0, 0, 0, 1u << 3); /* no name for it */
	text = judge(g, h);
	ck_assert_str_eq(text,
			 "CPUID.7.0:EBX bit 16 (avx512f) missing here\n"
			 "CPUID.0xd.0:EDX bit 3 missing here\n"
			 "CPUID.0x80000001:ECX bit 0 (lahf_lm) missing here\n");
	cpu_model_free(g);
	cpu_model_free(h);
}
END_TEST

/* APIC ids, OSXSAVE, OSPKE, the hypervisor bit, XSAVE sizes, cache
 * leaves: per vCPU or set at run time, not features. */
START_TEST(test_cpu_not_features_ignored)
{
	struct cpu_model *g = cpu_model_new("host"), *h = cpu_model_new("host");
	g_autofree char *text = NULL;

	leaf(g, 1, 0, 0x00a10f11, 0x05000800, 1u << 27 | 1u << 31, 0);
	leaf(h, 1, 0, 0x00a10f12, 0x01000800, 0, 0);
	leaf(g, 7, 0, 0, 0, 1u << 4, 0);
	leaf(g, 0xd, 0, 3, 0x980, 0x980, 0);
	leaf(h, 0xd, 0, 3, 0x240, 0x240, 0);
	leaf(g, 0xb, 0, 1, 1, 0x100, 5);
	leaf(g, 0x8000001d, 0, 0x121, 0x1c0003f, 0x3f, 0);
	text = judge(g, h);
	ck_assert_str_eq(text, "");
	cpu_model_free(g);
	cpu_model_free(h);
}
END_TEST

START_TEST(test_cpu_vendor_refused)
{
	struct cpu_model *g = cpu_model_new("host"), *h = cpu_model_new("host");
	g_autofree char *text = NULL;

	leaf(g, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69);
	leaf(h, 0, 0, 0x1c, 0x68747541, 0x444d4163, 0x69746e65);
	text = judge(g, h);
	ck_assert_str_eq(text, "CPU vendor GenuineIntel at the source, "
			       "AuthenticAMD here\n");
	cpu_model_free(g);
	cpu_model_free(h);
}
END_TEST

static const struct tsc_row {
	uint32_t guest, host;
	int scaling;
	const char *reasons;
} tsc_rows[] = {
	{ 2000000, 2000000, 0, "" },
	{ 2000000, 2000500, 0, "" }, /* 250 ppm */
	{ 2000600, 2000000, 0,
	  "TSC rate 2000600 kHz at the source, 2000000 "
	  "kHz here (more than 250 ppm apart), and this "
	  "host cannot scale a guest's TSC (no "
	  "KVM_CAP_TSC_CONTROL)\n" },
	{ 3000000, 2000000, 1, "" }, /* scaled to the guest's */
	{ 0, 2000000, 0, "" },	     /* not known: not compared */
};

START_TEST(test_cpu_tsc_rate)
{
	const struct tsc_row *r = &tsc_rows[_i];
	struct cpu_model *g = cpu_model_new("host"), *h = cpu_model_new("host");
	g_autofree char *text = NULL;

	g->tsc_khz = r->guest;
	h->tsc_khz = r->host;
	h->tsc_scaling = r->scaling;
	text = judge(g, h);
	ck_assert_str_eq(text, r->reasons);
	cpu_model_free(g);
	cpu_model_free(h);
}
END_TEST

START_TEST(test_cpu_msr_missing_named)
{
	struct cpu_model *g = cpu_model_new("host"), *h = cpu_model_new("host");
	const uint32_t gm[] = { 0x10, 0x4b564d01, 0x12345678, 0xc0000080 };
	const uint32_t hm[] = { 0xc0000080, 0x4b564d01 };
	g_autofree char *text = NULL;

	g_array_append_vals(g->msrs, gm, G_N_ELEMENTS(gm));
	g_array_append_vals(h->msrs, hm, G_N_ELEMENTS(hm));
	text = judge(g, h);
	ck_assert_str_eq(text, "MSR 0x10 (IA32_TSC) missing here\n"
			       "MSR 0x12345678 missing here\n");
	cpu_model_free(g);
	cpu_model_free(h);
}
END_TEST

/* The feature registers the rule compares, and what is not a feature. */
static const struct {
	uint32_t fn, idx;
	enum cpu_reg reg;
	uint32_t not_features;
} regs[] = {
	{ 1, 0, CPU_ECX, 1u << 27 | 1u << 31 },
	{ 1, 0, CPU_EDX, 0 },
	{ 7, 0, CPU_EBX, 0 },
	{ 7, 0, CPU_ECX, 1u << 4 },
	{ 7, 0, CPU_EDX, 0 },
	{ 7, 1, CPU_EAX, 0 },
	{ 0xd, 0, CPU_EAX, 0 },
	{ 0xd, 1, CPU_EAX, 0 },
	{ 0x80000001, 0, CPU_ECX, 0 },
	{ 0x80000001, 0, CPU_EDX, 0 },
	{ 0x80000007, 0, CPU_EDX, 0 },
	{ 0x80000008, 0, CPU_EBX, 0 },
	{ 0x40000001, 0, CPU_EAX, 0 },
};

static uint32_t rnd_bits(GRand *r)
{
	/* Sparse or dense, so both sides often agree. */
	switch (g_rand_int_range(r, 0, 4)) {
	case 0:
		return 0;
	case 1:
		return g_rand_int(r) & g_rand_int(r) & g_rand_int(r);
	default:
		return g_rand_int(r);
	}
}

static void set_reg(struct cpu_model *m, uint32_t fn, uint32_t idx,
		    enum cpu_reg reg, uint32_t v)
{
	for (guint i = 0; i < m->leaves->len; i++) {
		struct cpu_leaf *l =
			&g_array_index(m->leaves, struct cpu_leaf, i);
		uint32_t *p[] = { &l->eax, &l->ebx, &l->ecx, &l->edx };

		if (l->function == fn && l->index == idx) {
			*p[reg] = v;
			return;
		}
	}
	leaf(m, fn, idx, 0, 0, 0, 0);
	set_reg(m, fn, idx, reg, v);
}

/*
 * Random guest and host feature sets: refused exactly when some guest
 * feature bit is not the host's, and every such bit named once, by the
 * name cpu_bit_text() gives it.
 */
START_TEST(test_cpu_rule_random)
{
	GRand *rand = g_rand_new_with_seed(20261122);

	for (int n = 0; n < 20000; n++) {
		struct cpu_model *g = cpu_model_new("host"),
				 *h = cpu_model_new("host");
		g_autoptr(GPtrArray) r = g_ptr_array_new_with_free_func(g_free);
		g_autoptr(GHashTable) want = g_hash_table_new_full(
			g_str_hash, g_str_equal, g_free, NULL);

		for (size_t i = 0; i < G_N_ELEMENTS(regs); i++) {
			uint32_t gv = rnd_bits(rand), hv = rnd_bits(rand);
			uint32_t miss = gv & ~hv & ~regs[i].not_features;

			/* A host without the leaf offers none of it. */
			if (g_rand_int_range(rand, 0, 8))
				set_reg(h, regs[i].fn, regs[i].idx, regs[i].reg,
					hv);
			else
				miss = gv & ~regs[i].not_features;
			set_reg(g, regs[i].fn, regs[i].idx, regs[i].reg, gv);
			for (unsigned int b = 0; b < 32; b++) {
				g_autofree char *t = NULL;

				if (!(miss & 1u << b))
					continue;
				t = cpu_bit_text(regs[i].fn, regs[i].idx,
						 regs[i].reg, b);
				g_hash_table_add(want, g_strconcat(t,
								   " missing "
								   "here",
								   NULL));
			}
		}
		compat_cpu_judge(g, h, r);
		ck_assert_uint_eq(r->len, g_hash_table_size(want));
		for (guint i = 0; i < r->len; i++)
			ck_assert_msg(g_hash_table_remove(want, r->pdata[i]),
				      "case %d: %s named twice or wrongly", n,
				      (char *)r->pdata[i]);
		cpu_model_free(g);
		cpu_model_free(h);
	}
	g_rand_free(rand);
}
END_TEST

/* A host like kvm_pvm's: no SSE3, SSSE3, SSE4 or POPCNT offered. */
static struct cpu_model *small_host(void)
{
	struct cpu_model *h = cpu_model_new("host");

	h->tsc_khz = 2596136;
	leaf(h, 0, 0, 0x1c, 0x68747541, 0x444d4163, 0x69746e65);
	leaf(h, 1, 0, 0x00a10f11, 0x01020800, 0x81202000, 0x078bfbff);
	leaf(h, 7, 0, 1, 0x01800002, 0x104, 0x20000000);
	leaf(h, 0xd, 0, 0xe7, 0x980, 0x980, 0);
	leaf(h, 0xd, 1, 0, 0, 0, 0);
	leaf(h, 0xd, 2, 0x100, 0x240, 0, 0);
	leaf(h, 0xd, 5, 0x40, 0x340, 0, 0);
	leaf(h, 0x80000001, 0, 0x00a10f11, 0x40000000, 0x00400393, 0x23d3fbff);
	leaf(h, 0x40000001, 0, 0x01007efb, 0, 0, 0);
	return h;
}

START_TEST(test_cpu_model_refused_naming_bits)
{
	g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);
	struct cpu_model *h = small_host(), *m = NULL;
	g_autofree char *joined = NULL;

	ck_assert_int_eq(cpu_model_build("x86-64-v2", h, &m, missing),
			 -ENOTSUP);
	ck_assert_ptr_null(m);
	g_ptr_array_add(missing, NULL);
	joined = g_strjoinv(", ", (char **)missing->pdata);
	ck_assert_str_eq(joined,
			 "CPUID.1:ECX bit 0 (sse3), CPUID.1:ECX bit 9 (ssse3), "
			 "CPUID.1:ECX bit 19 (sse4.1), CPUID.1:ECX bit 20 "
			 "(sse4.2), CPUID.1:ECX bit 23 (popcnt)");
	ck_assert_int_eq(cpu_model_build("486", h, &m, NULL), -ENOENT);
	cpu_model_free(h);
}
END_TEST

START_TEST(test_cpu_model_masks_the_host)
{
	struct cpu_model *h = small_host(), *m = NULL, *v2 = NULL;
	g_autofree char *text = NULL, *back = NULL;

	ck_assert_int_eq(cpu_model_build("x86-64", h, &m, NULL), 0);
	ck_assert_str_eq(m->name, "x86-64");
	/* cx16 (v2) dropped; x2apic, tsc_deadline and the hypervisor bit
	 * kept; leaf 7's features all cleared, its other registers kept. */
	ck_assert_uint_eq(cpu_model_leaf(m, 1, 0)->ecx, 0x81200000);
	ck_assert_uint_eq(cpu_model_leaf(m, 1, 0)->edx,
			  0x078bfbfd); /* no vme */
	ck_assert_uint_eq(cpu_model_leaf(m, 1, 0)->eax, 0x00a10f11);
	ck_assert_uint_eq(cpu_model_leaf(m, 7, 0)->ebx, 0);
	ck_assert_uint_eq(cpu_model_leaf(m, 7, 0)->eax, 1);
	ck_assert_uint_eq(cpu_model_leaf(m, 0x80000001, 0)->ecx, 0);
	ck_assert_uint_eq(cpu_model_leaf(m, 0x40000001, 0)->eax, 0x01007afb);
	/* Leaf 0xD: x87 and SSE only, the AVX and AVX-512 areas gone. */
	ck_assert_uint_eq(cpu_model_leaf(m, 0xd, 0)->eax, 3);
	ck_assert_uint_eq(cpu_model_leaf(m, 0xd, 0)->ecx, 576);
	ck_assert_ptr_null(cpu_model_leaf(m, 0xd, 2));
	ck_assert_ptr_null(cpu_model_leaf(m, 0xd, 5));
	ck_assert_uint_eq(m->leaves->len, h->leaves->len - 2);
	ck_assert_uint_eq(m->tsc_khz, h->tsc_khz);
	/* The host can take its own model's guest; a guest on the host's
	 * whole CPU does not fit a host kept to the model. */
	text = judge(m, h);
	ck_assert_str_eq(text, "");
	ck_assert_int_eq(cpu_model_limit("x86-64-v2", h, &v2), 0);
	back = judge(h, m);
	ck_assert_ptr_nonnull(strstr(back, "CPUID.1:ECX bit 13 (cx16) missing "
					   "here\n"));
	g_free(text);
	text = judge(m, v2);
	ck_assert_str_eq(text, "");
	cpu_model_free(v2);
	cpu_model_free(m);
	cpu_model_free(h);
}
END_TEST

START_TEST(test_cpu_model_v3_keeps_avx_state)
{
	struct cpu_model *h = small_host(), *m = NULL;

	/* A host with everything v3 needs. */
	cpu_model_free(h);
	h = cpu_model_new("host");
	leaf(h, 1, 0, 0, 0, 0xfffa3203, 0x078bfbff);
	leaf(h, 7, 0, 0, 0xffffffff, 0, 0);
	leaf(h, 0xd, 0, 0xe7, 0x980, 0x980, 0);
	leaf(h, 0xd, 1, 0xf, 0, 0, 0);
	leaf(h, 0xd, 2, 0x100, 0x240, 0, 0);
	leaf(h, 0xd, 5, 0x40, 0x340, 0, 0);
	leaf(h, 0x80000001, 0, 0, 0, 0x21, 0x20100800);
	leaf(h, 0x40000001, 0, 0x01007efb, 0, 0, 0);
	ck_assert_int_eq(cpu_model_build("x86-64-v3", h, &m, NULL), 0);
	ck_assert_uint_eq(cpu_model_leaf(m, 0xd, 0)->eax, 7);
	ck_assert_uint_eq(cpu_model_leaf(m, 0xd, 0)->ecx, 832);
	ck_assert_uint_eq(cpu_model_leaf(m, 0xd, 1)->eax, 1);
	ck_assert_ptr_nonnull(cpu_model_leaf(m, 0xd, 2));
	ck_assert_ptr_null(cpu_model_leaf(m, 0xd, 5));
	ck_assert_uint_eq(cpu_model_leaf(m, 7, 0)->ebx, 0x128);
	cpu_model_free(m);
	cpu_model_free(h);
}
END_TEST

static struct manifest *doc(enum manifest_kind kind, struct cpu_model *cpu)
{
	struct manifest *m = manifest_new(kind);
	struct machine_type t = { .name = "microvm-1.0", .released = 20261122 };

	m->abi = manifest_str(m, "1.1");
	if (kind == MANIFEST_GUEST) {
		m->machine = manifest_str(m, "microvm-1.0");
	} else {
		m->registry.alias = manifest_str(m, "microvm");
		m->registry.build_date = 20261122;
		manifest_add_machine(m, &t);
	}
	m->cpu = cpu;
	return m;
}

#define T1                                                                     \
	"machine microvm-1.0: tier 1, versioned (forward migration "           \
	"guaranteed while the type exists)\n"

/* The CPU in the verdict: every reason, not tied to a device. */
START_TEST(test_cpu_in_the_verdict)
{
	static const struct {
		int guest, host; /* lists a CPU */
		const char *text;
	} rows[] = {
		{ 1, 1,
		  T1
		  "refused: CPUID.1:ECX bit 13 (cx16) missing here\n"
		  "refused: CPUID.7.0:EBX bit 1 (tsc_adjust) missing here\n"
		  "verdict: refused, 0 of 0 devices refused, and the CPU\n" },
		{ 1, 0,
		  T1
		  "refused: the guest runs CPU model host, and this host's "
		  "inventory lists no CPU\n"
		  "verdict: refused, 0 of 0 devices refused, and the CPU\n" },
		{ 0, 1,
		  T1 "warning: the guest's manifest lists no CPU: its CPU is "
		     "not checked\n"
		     "verdict: accepted, 0 devices\n" },
		{ 0, 0, T1 "verdict: accepted, 0 devices\n" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		struct cpu_model *h = small_host(), *small = NULL;
		struct manifest *src, *dst;
		struct compat_verdict *v;
		g_autofree char *text = NULL;

		struct cpu_model *g;

		/* A guest on x86-64 with cx16 and tsc_adjust on top. */
		ck_assert_int_eq(cpu_model_limit("x86-64", h, &small), 0);
		g = cpu_model_copy(small);
		g_free(g->name);
		g->name = g_strdup("host");
		((struct cpu_leaf *)cpu_model_leaf(g, 1, 0))->ecx |= 1u << 13;
		((struct cpu_leaf *)cpu_model_leaf(g, 7, 0))->ebx |= 1u << 1;
		cpu_model_free(h);
		src = doc(MANIFEST_GUEST, rows[i].guest ? g : NULL);
		dst = doc(MANIFEST_INVENTORY, rows[i].host ? small : NULL);
		if (!rows[i].guest)
			cpu_model_free(g);
		if (!rows[i].host)
			cpu_model_free(small);
		v = compat_negotiate(src, dst, NULL);
		text = compat_verdict_text(v);
		ck_assert_str_eq(text, rows[i].text);
		ck_assert_int_eq(v->accepted, !v->cpu->len);
		compat_verdict_free(v);
		manifest_free(src);
		manifest_free(dst);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu");
	TCase *tc = tcase_create("cpu");

	tcase_add_test(tc, test_cpu_missing_feature_named);
	tcase_add_test(tc, test_cpu_not_features_ignored);
	tcase_add_test(tc, test_cpu_vendor_refused);
	tcase_add_loop_test(tc, test_cpu_tsc_rate, 0, G_N_ELEMENTS(tsc_rows));
	tcase_add_test(tc, test_cpu_msr_missing_named);
	tcase_add_test(tc, test_cpu_rule_random);
	tcase_add_test(tc, test_cpu_model_refused_naming_bits);
	tcase_add_test(tc, test_cpu_model_masks_the_host);
	tcase_add_test(tc, test_cpu_model_v3_keeps_avx_state);
	tcase_add_test(tc, test_cpu_in_the_verdict);
	suite_add_tcase(s, tc);
	return check_run(s);
}
