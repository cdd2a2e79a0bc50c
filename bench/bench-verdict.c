// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-verdict: what the compatibility check costs a destination host,
 * for guests of 10, 100 and 1000 devices. Each device has its own type
 * with a 3-version description in 3 layouts, 2 subsections (one known
 * here, one optional and dropped), 2 compat properties, and a known-bad
 * entry on the host's side; the guest runs an older machine type whose
 * compat properties name the first 100 types. Per size:
 *   (a) negotiation alone, both documents in memory;
 *   (b) the destination's whole path: read the manifest's JSON text,
 *       negotiate, render the verdict as JSON;
 *   (c) the reference: json-glib reading the same text, nothing else.
 * Median and range of 11 samples (BENCH_REPS), each sample the mean of
 * enough runs to last about 20 ms (200 us under BENCH_SMOKE: one run
 * each at the larger sizes).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "compat/negotiate.h"

#define REPS 11
#define SAMPLE_US 20000.0
#define PROP_TYPES 100 /* device types the old machine type names */

static int reps;
static double sample_us;

static const unsigned int sizes[] = { 10, 100, 1000 };

/* A fingerprint that differs per type, description and version. */
static void fp(char *buf, unsigned int type, unsigned int what,
	       unsigned int version)
{
	uint64_t h = (type + 1) * 0x9e3779b97f4a7c15ull ^
		     (what + 1) * 0xc2b2ae3d27d4eb4full ^ version;

	snprintf(buf, MANIFEST_FP_LEN + 1, "%016" PRIx64, h);
}

static struct manifest_vms *vms(struct manifest *m, const char *name,
				unsigned int type, unsigned int what,
				uint32_t min, uint32_t version)
{
	struct manifest_vms *v = manifest_vms_new();
	char f[MANIFEST_FP_LEN + 1];

	v->name = manifest_str(m, name);
	v->min = min;
	v->version = version;
	for (uint32_t i = min; i <= version; i++) {
		fp(f, type, what, i);
		manifest_vms_add_layout(v, i, f);
	}
	return v;
}

static void device(struct manifest *m, unsigned int i)
{
	struct manifest_device *d = manifest_add_device(m);
	int guest = m->kind == MANIFEST_GUEST;
	char type[32], name[64];

	snprintf(type, sizeof(type), "ex-dev%04u", i);
	if (guest) {
		snprintf(name, sizeof(name), "%s.0", type);
		d->id = manifest_str(m, name);
	}
	d->type = manifest_str(m, type);
	d->module = d->type;
	d->module_version = manifest_str(m, guest ? "1.2.0" : "1.3.0");
	d->vms = vms(m, type, i, 0, 1, 3);
	snprintf(name, sizeof(name), "%s/dma", type);
	g_ptr_array_add(d->subs, vms(m, name, i, 1, guest ? 2 : 1, 2));
	/* Both types have both properties; the guest's machine set them. */
	for (int k = 0; k < 2; k++) {
		struct manifest_prop *p = g_new0(struct manifest_prop, 1);

		p->property = manifest_str(m, k ? "irq-coalesce" : "fifo");
		if (guest) {
			p->value = manifest_str(m, k ? "on" : "16");
			p->set = p->machine = 1;
		}
		g_ptr_array_add(d->props, p);
	}
	if (guest) {
		struct manifest_vms *irq;

		/* Sent, optional and unknown here: the source drops it. */
		snprintf(name, sizeof(name), "%s/irq", type);
		irq = vms(m, name, i, 2, 1, 1);
		irq->optional = 1;
		irq->send = 1;
		((struct manifest_vms *)d->subs->pdata[0])->send = 1;
		g_ptr_array_add(d->subs, irq);
	} else {
		struct manifest_known_bad *kb =
			g_new0(struct manifest_known_bad, 1);

		kb->version = manifest_str(m, "1.0.0");
		kb->reason = manifest_str(m, "FIFO count not saved");
		g_ptr_array_add(d->known_bad, kb);
	}
}

static struct manifest *inventory(unsigned int n)
{
	struct manifest *m = manifest_new(MANIFEST_INVENTORY);
	unsigned int np = MIN(n, PROP_TYPES);
	g_autofree struct compat_prop *props = g_new0(struct compat_prop, np);
	const struct machine_type newer = { "microvm-1.1", 20270601, NULL, 0 };
	const struct machine_type older = { "microvm-1.0", 20261122, props,
					    np };
	char type[32];

	m->abi = manifest_str(m, "1.1");
	m->registry.alias = manifest_str(m, "microvm");
	m->registry.build_date = 20280101;
	for (unsigned int i = 0; i < np; i++) {
		snprintf(type, sizeof(type), "ex-dev%04u", i);
		props[i] = (struct compat_prop){ manifest_str(m, type), "fifo",
						 "16" };
	}
	manifest_add_machine(m, &newer);
	manifest_add_machine(m, &older);
	for (unsigned int i = 0; i < n; i++)
		device(m, i);
	return m;
}

static struct manifest *guest(unsigned int n)
{
	struct manifest *m = manifest_new(MANIFEST_GUEST);

	m->abi = manifest_str(m, "1.1");
	m->machine = manifest_str(m, "microvm-1.0");
	for (unsigned int i = 0; i < n; i++)
		device(m, i);
	return m;
}

enum what { NEGOTIATE, DESTINATION, JSON_PARSE };

struct run {
	const struct manifest *src, *dst;
	const char *text;
	size_t len;
};

static int once(const struct run *r, enum what w)
{
	struct manifest *m = NULL;
	struct compat_verdict *v;
	JsonParser *p;
	char *json;
	int ok;

	switch (w) {
	case NEGOTIATE:
		v = compat_negotiate(r->src, r->dst, NULL);
		ok = v->accepted;
		compat_verdict_free(v);
		return ok ? 0 : -1;
	case DESTINATION:
		if (manifest_parse("bench", r->text, r->len, MANIFEST_GUEST,
				   &m, NULL) < 0)
			return -1;
		v = compat_negotiate(m, r->dst, NULL);
		json = compat_verdict_json(v);
		ok = v->accepted && *json;
		g_free(json);
		compat_verdict_free(v);
		manifest_free(m);
		return ok ? 0 : -1;
	case JSON_PARSE:
		p = json_parser_new_immutable();
		ok = json_parser_load_from_data(p, r->text, (gssize)r->len,
						NULL);
		g_object_unref(p);
		return ok ? 0 : -1;
	}
	return -1;
}

/* Median and range, in microseconds per run. */
static int measure(const struct run *r, enum what w, struct bench_sample *ret)
{
	g_autofree double *t = bench_samples_new(reps);
	double t0, one;
	unsigned int iters;

	t0 = bench_now_us();
	if (once(r, w) < 0)
		return -1;
	one = bench_now_us() - t0;
	iters = (unsigned int)MAX(1.0, sample_us / MAX(one, 0.01));
	for (int s = 0; s < reps; s++) {
		t0 = bench_now_us();
		for (unsigned int i = 0; i < iters; i++)
			if (once(r, w) < 0)
				return -1;
		t[s] = (bench_now_us() - t0) / iters;
	}
	*ret = bench_summarise(t, reps);
	return 0;
}

/* The verdict must be what the documents were built to give. */
static int check(const struct manifest *src, const struct manifest *dst)
{
	struct compat_verdict *v = compat_negotiate(src, dst, NULL);
	int ok = v->accepted && v->devices->len == src->devices->len;

	for (guint i = 0; ok && i < v->devices->len; i++) {
		const struct compat_device_verdict *d = v->devices->pdata[i];

		ok = d->version == 3 && d->known->len == 1 &&
		     d->dropped->len == 1;
	}
	compat_verdict_free(v);
	return ok ? 0 : -1;
}

/* One figure of one size: "verdict.10.negotiate". */
static void row(unsigned int n, const char *what, const char *label,
		const char *unit, struct bench_sample s, size_t samples)
{
	char key[64], text[128];

	snprintf(key, sizeof(key), "verdict.%u.%s", n, what);
	snprintf(text, sizeof(text), "%s, %u devices", label, n);
	bench_row(key, text, unit, s, samples);
}

int main(void)
{
	reps = bench_reps(REPS);
	sample_us = SAMPLE_US / (bench_smoke() ? BENCH_SMOKE_DIV : 1);
	for (size_t k = 0; k < G_N_ELEMENTS(sizes); k++) {
		struct manifest *src = guest(sizes[k]);
		struct manifest *dst = inventory(sizes[k]);
		char *text = manifest_to_json(src);
		struct run r = { src, dst, text, strlen(text) };
		struct bench_sample a, b, c;

		if (check(src, dst) < 0 || measure(&r, NEGOTIATE, &a) < 0 ||
		    measure(&r, DESTINATION, &b) < 0 ||
		    measure(&r, JSON_PARSE, &c) < 0) {
			fprintf(stderr, "bench-verdict: %u devices: not "
					"the verdict the documents were "
					"built for\n",
				sizes[k]);
			return 1;
		}
		/* A size, not a timing: one exact value. */
		row(sizes[k], "bytes", "manifest size", "bytes",
		    (struct bench_sample){ r.len, r.len, r.len }, 1);
		row(sizes[k], "negotiate", "(a) negotiate", "us", a, reps);
		row(sizes[k], "whole", "(b) parse+negotiate+verdict", "us", b,
		    reps);
		row(sizes[k], "jsonglib", "(c) json-glib parse", "us", c, reps);
		g_free(text);
		manifest_free(dst);
		manifest_free(src);
	}
	return 0;
}
