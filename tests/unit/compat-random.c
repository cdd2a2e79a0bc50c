// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/compat-random.c - the generator and the oracle of the
 * differential test of the compatibility rule (compat-random.h).
 *
 * A history starts from a random description and grows by releases, each
 * a copy of the one before with a few changes a release maintainer makes:
 * fields added (with `since`), nested structs and arrays of them,
 * subsections (optional or not, sent as a flag byte of the state says:
 * `needed` reads it), subsections of nested structs' descriptions, slots
 * retired and reused, min_version and min_save_version moved. A branch
 * forks from one release, so that two releases may be older, newer or
 * siblings. Every logical field has a name of its own in the whole
 * history, so that "the same field" is "the same name" on both sides.
 *
 * The oracle reads what really crossed: the source's stream decoded by the
 * source's own description, and what the destination's load put in each
 * field (struct vmstate_trace). A load "works" when it succeeds, every
 * field the destination read was sent by the source with that value (a
 * field that reuses a retired slot may read the slot's zeros), and every
 * field the source sent that the destination knows was read.
 */
#include <string.h>

#include "compat/manifest.h"
#include "compat/negotiate.h"
#include "core/inventory.h"
#include "core/vmstate.h"
#include "compat-random.h"

#define CR_MAX_FIELDS 6
#define CR_MAX_SUBS 3
#define CR_FLAGS 4 /* flag bytes at the start of every region */
#define CR_RETIRED_IN "microvm-0.9"
#define CR_MAX_NODES 8 /* releases in one history */

static const uint32_t region_size[] = { 768, 112, 40 }; /* by depth */

/* ---- random choices --------------------------------------------------- */

static uint32_t cr_pick(struct cr_rng *r, uint32_t n)
{
	uint32_t v;

	if (n <= 1)
		return 0;
	if (r->rand)
		return (uint32_t)g_rand_int_range(r->rand, 0, (gint32)n);
	if (r->pos >= r->len)
		return 0;
	v = r->data[r->pos++];
	if (n > 256 && r->pos < r->len)
		v = v << 8 | r->data[r->pos++];
	return v % n;
}

/* True with probability pct/100. */
static int cr_chance(struct cr_rng *r, uint32_t pct)
{
	return cr_pick(r, 100) < pct;
}

/* ---- descriptions ----------------------------------------------------- */

struct cr_desc;

struct cr_field {
	char name[16];
	uint32_t kind, elem_kind, count, stride, offset, since;
	int reuses; /* a field in the bytes of a retired slot */
	struct cr_desc *nested;
};

struct cr_sub {
	struct cr_desc *d;
	uint32_t flags;
	int needed; /* the flag byte that says it is needed; -1: always */
	int prop;   /* the device property "modeN" sets flag N (N = needed) */
};

struct cr_desc {
	char name[48];
	uint32_t version, min_version, min_save;
	uint32_t region;   /* a region's root (top, struct): its bytes */
	uint32_t next_off; /* a region's root: the next free byte */
	int depth;	   /* struct nesting of its region */
	int sub_depth;	   /* subsection nesting */
	struct cr_field fields[CR_MAX_FIELDS];
	uint32_t n_fields;
	struct cr_sub subs[CR_MAX_SUBS];
	uint32_t n_subs;
	/* As a module declares it, filled by materialise(). */
	struct modvmm_vmstate_field mf[CR_MAX_FIELDS];
	struct modvmm_vmstate_subsection ms[CR_MAX_SUBS];
	struct modvmm_vmstate mv;
};

struct cr_gen {
	struct cr_rng *rng;
	uint32_t next_id;
};

static void desc_free(struct cr_desc *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < d->n_fields; i++)
		desc_free(d->fields[i].nested);
	for (uint32_t i = 0; i < d->n_subs; i++)
		desc_free(d->subs[i].d);
	g_free(d);
}

static struct cr_desc *desc_copy(const struct cr_desc *d)
{
	struct cr_desc *c = g_memdup2(d, sizeof(*d));

	for (uint32_t i = 0; i < c->n_fields; i++)
		if (c->fields[i].nested)
			c->fields[i].nested = desc_copy(c->fields[i].nested);
	for (uint32_t i = 0; i < c->n_subs; i++)
		c->subs[i].d = desc_copy(c->subs[i].d);
	return c;
}

static int32_t needed_0(const void *s)
{
	return ((const uint8_t *)s)[0] & 1;
}
static int32_t needed_1(const void *s)
{
	return ((const uint8_t *)s)[1] & 1;
}
static int32_t needed_2(const void *s)
{
	return ((const uint8_t *)s)[2] & 1;
}
static int32_t needed_3(const void *s)
{
	return ((const uint8_t *)s)[3] & 1;
}

static int32_t (*const needed_fns[CR_FLAGS])(const void *) = {
	needed_0, needed_1, needed_2, needed_3
};

/* Bytes of state a field covers (its wire bytes for integer kinds). */
static uint32_t field_bytes(uint32_t kind, uint32_t elem_kind, uint32_t count,
			    uint32_t stride)
{
	switch (kind) {
	case MODVMM_VMS_BUFFER:
	case MODVMM_VMS_UNUSED:
		return count;
	case MODVMM_VMS_STRUCT:
		return stride;
	case MODVMM_VMS_ARRAY:
		return count *
		       (elem_kind == MODVMM_VMS_STRUCT
				? stride
				: (uint32_t)vmstate_kind_width(elem_kind));
	}
	return (uint32_t)vmstate_kind_width(kind);
}

/* Where n new bytes go in root's region, or -1 if it is full. */
static int64_t region_alloc(struct cr_desc *root, uint32_t n)
{
	uint32_t at = root->next_off;

	if (at + n > root->region)
		return -1;
	root->next_off += n;
	return at;
}

static struct cr_desc *new_struct_desc(struct cr_gen *g, int depth);

/* Adds a new field to d (in root's region) at d's current version. */
static int add_field(struct cr_gen *g, struct cr_desc *d, struct cr_desc *root)
{
	struct cr_field *f;
	uint32_t c = cr_pick(g->rng, 100);
	struct cr_desc *nested = NULL;
	uint32_t kind, elem = 0, count = 0, stride = 0;
	int64_t off;

	if (d->n_fields >= CR_MAX_FIELDS)
		return -1;
	if (c < 65) {
		kind = MODVMM_VMS_U8 + cr_pick(g->rng, 9); /* U8..BOOL */
	} else if (c < 75) {
		kind = MODVMM_VMS_BUFFER;
		count = 1 + cr_pick(g->rng, 8);
	} else if (c < 85 || root->depth >= 2) {
		kind = MODVMM_VMS_ARRAY;
		elem = MODVMM_VMS_U8 + cr_pick(g->rng, 8);
		count = 1 + cr_pick(g->rng, 3);
	} else {
		nested = new_struct_desc(g, root->depth + 1);
		stride = nested->region;
		kind = MODVMM_VMS_STRUCT;
		if (c >= 95) {
			kind = MODVMM_VMS_ARRAY;
			elem = MODVMM_VMS_STRUCT;
			count = 2;
		}
	}
	off = region_alloc(root, field_bytes(kind, elem, count, stride));
	if (off < 0) {
		desc_free(nested);
		return -1;
	}
	f = &d->fields[d->n_fields++];
	memset(f, 0, sizeof(*f));
	g_snprintf(f->name, sizeof(f->name), "f%u", g->next_id++);
	f->kind = kind;
	f->elem_kind = elem;
	f->count = count;
	f->stride = stride;
	f->offset = (uint32_t)off;
	f->since = d->version;
	f->nested = nested;
	return 0;
}

/* A subsection of d, at version 1, with a field or two. */
static int add_sub(struct cr_gen *g, struct cr_desc *d, struct cr_desc *root)
{
	struct cr_sub *s;
	struct cr_desc *n;

	if (d->n_subs >= CR_MAX_SUBS || d->sub_depth >= 2)
		return -1;
	n = g_new0(struct cr_desc, 1);
	g_snprintf(n->name, sizeof(n->name), "%s/s%u", d->name, g->next_id++);
	n->version = n->min_version = 1;
	n->depth = d->depth;
	n->sub_depth = d->sub_depth + 1;
	for (uint32_t i = 0, k = 1 + cr_pick(g->rng, 2); i < k; i++)
		add_field(g, n, root);
	if (!n->n_fields) {
		desc_free(n);
		return -1;
	}
	s = &d->subs[d->n_subs++];
	s->d = n;
	s->flags = cr_chance(g->rng, 40) ? MODVMM_VMS_OPTIONAL : 0;
	s->needed = cr_chance(g->rng, 25) ? -1 : (int)cr_pick(g->rng, CR_FLAGS);
	/* A property added with it, in the device's own region only: the
	 * release before behaved as "0" (the subsection did not exist). */
	s->prop = !d->depth && s->needed >= 0 && cr_chance(g->rng, 40);
	return 0;
}

static struct cr_desc *new_struct_desc(struct cr_gen *g, int depth)
{
	struct cr_desc *n = g_new0(struct cr_desc, 1);

	g_snprintf(n->name, sizeof(n->name), "n%u", g->next_id++);
	n->version = n->min_version = 1;
	n->depth = depth;
	n->region = region_size[depth];
	n->next_off = CR_FLAGS;
	for (uint32_t i = 0, k = 1 + cr_pick(g->rng, 2); i < k; i++)
		add_field(g, n, n);
	if (cr_chance(g->rng, 15))
		add_sub(g, n, n);
	return n;
}

static struct cr_desc *new_top(struct cr_gen *g)
{
	struct cr_desc *d = g_new0(struct cr_desc, 1);

	g_strlcpy(d->name, "rnd", sizeof(d->name));
	d->version = d->min_version = 1;
	d->region = region_size[0];
	d->next_off = CR_FLAGS;
	for (uint32_t i = 0, k = 1 + cr_pick(g->rng, 3); i < k; i++)
		add_field(g, d, d);
	if (cr_chance(g->rng, 30))
		add_sub(g, d, d);
	return d;
}

/* Every description of a tree with the root of its region. */
struct cr_place {
	struct cr_desc *d, *root;
};

static void collect(struct cr_desc *d, struct cr_desc *root, GArray *out)
{
	struct cr_place p = { d, root };

	g_array_append_val(out, p);
	for (uint32_t i = 0; i < d->n_fields; i++)
		if (d->fields[i].nested)
			collect(d->fields[i].nested, d->fields[i].nested, out);
	for (uint32_t i = 0; i < d->n_subs; i++)
		collect(d->subs[i].d, root, out);
}

static int retirable(const struct cr_field *f)
{
	return !f->nested && !f->reuses && f->kind != MODVMM_VMS_UNUSED;
}

/*
 * One change a release makes; returns whether it moved top's version.
 * One function on purpose: the ranges of `c` below are the odds of each
 * kind of change, and read best side by side.
 */
static int evolve_once(struct cr_gen *g, struct cr_desc *top)
{
	g_autoptr(GArray) all =
		g_array_new(FALSE, FALSE, sizeof(struct cr_place));
	struct cr_place p;
	struct cr_field *f;
	uint32_t c = cr_pick(g->rng, 100), i;

	collect(top, top, all);
	p = g_array_index(all, struct cr_place, cr_pick(g->rng, all->len));
	f = p.d->n_fields ? &p.d->fields[cr_pick(g->rng, p.d->n_fields)] : NULL;
	if (c < 35) {
		/* A field, in a new version of its description. */
		p.d->version++;
		if (add_field(g, p.d, p.root) < 0) {
			p.d->version--;
			return 0;
		}
		return p.d == top;
	}
	if (c < 50) {
		add_sub(g, p.d, p.root);
		return 0;
	}
	if (c < 60) {
		if (f && retirable(f)) {
			f->count =
				field_bytes(f->kind, f->elem_kind, f->count, 0);
			f->kind = MODVMM_VMS_UNUSED;
			f->elem_kind = 0;
		}
		return 0;
	}
	if (c < 70) {
		/* A new field in the bytes of a retired slot. */
		int64_t off;

		if (!f || f->kind != MODVMM_VMS_UNUSED)
			return 0;
		off = region_alloc(p.root, f->count);
		if (off < 0)
			return 0;
		switch (f->count) {
		case 1:
		case 2:
		case 4:
		case 8:
			f->kind = f->count == 1	  ? MODVMM_VMS_U8
				  : f->count == 2 ? MODVMM_VMS_U16
				  : f->count == 4 ? MODVMM_VMS_U32
						  : MODVMM_VMS_U64;
			f->count = 0;
			break;
		default:
			f->kind = MODVMM_VMS_BUFFER;
			break;
		}
		g_snprintf(f->name, sizeof(f->name), "f%u", g->next_id++);
		f->offset = (uint32_t)off;
		f->reuses = 1;
		return 0;
	}
	if (c < 75) {
		top->min_version =
			top->min_version +
			cr_pick(g->rng, top->version - top->min_version + 1);
		return 0;
	}
	if (c < 85) {
		top->min_save = cr_chance(g->rng, 30)
					? 0
					: 1 + cr_pick(g->rng, top->version);
		return 0;
	}
	if (c < 95) {
		/* A subsection flipped: optional, or when it is needed. */
		if (!p.d->n_subs)
			return 0;
		i = cr_pick(g->rng, p.d->n_subs);
		if (cr_chance(g->rng, 50)) {
			p.d->subs[i].flags ^= MODVMM_VMS_OPTIONAL;
		} else {
			p.d->subs[i].needed =
				cr_chance(g->rng, 30)
					? -1
					: (int)cr_pick(g->rng, CR_FLAGS);
			p.d->subs[i].prop = 0;
		}
		return 0;
	}
	/* A nested or subsection description drops its oldest version. */
	if (p.d != top && p.d->min_version < p.d->version)
		p.d->min_version++;
	return 0;
}

static struct cr_desc *evolve(struct cr_gen *g, const struct cr_desc *prev)
{
	struct cr_desc *d = desc_copy(prev);
	int moved = 0;

	for (uint32_t i = 0, k = 1 + cr_pick(g->rng, 2); i < k; i++)
		moved |= evolve_once(g, d);
	if (!moved && cr_chance(g->rng, 50))
		d->version++;
	return d;
}

static const struct modvmm_vmstate *materialise(struct cr_desc *d)
{
	for (uint32_t i = 0; i < d->n_fields; i++) {
		const struct cr_field *f = &d->fields[i];

		d->mf[i] = (struct modvmm_vmstate_field){
			.size = sizeof(struct modvmm_vmstate_field),
			.kind = f->kind,
			.name = f->name,
			.offset = f->offset,
			.since = f->since,
			.elem_kind = f->elem_kind,
			.count = f->count,
			.stride = f->stride,
			.vms = f->nested ? materialise(f->nested) : NULL,
			.retired_in = f->kind == MODVMM_VMS_UNUSED || f->reuses
					      ? CR_RETIRED_IN
					      : NULL,
		};
	}
	for (uint32_t i = 0; i < d->n_subs; i++) {
		const struct cr_sub *s = &d->subs[i];

		d->ms[i] = (struct modvmm_vmstate_subsection){
			.size = sizeof(struct modvmm_vmstate_subsection),
			.flags = s->flags,
			.vms = materialise(s->d),
			.needed = s->needed < 0 ? NULL : needed_fns[s->needed],
		};
	}
	d->mv = (struct modvmm_vmstate){
		.size = sizeof(struct modvmm_vmstate),
		.version = d->version,
		.min_version = d->min_version,
		.min_save_version = d->min_save,
		.name = d->name,
		.fields = d->mf,
		.n_fields = d->n_fields,
		.n_subsections = d->n_subs,
		.subsections = d->ms,
	};
	return &d->mv;
}

/* The description in one line: what a failure prints. */
static void desc_text(GString *s, const struct cr_desc *d)
{
	g_string_append_printf(s, "%s v%u", d->name, d->version);
	if (d->min_version > 1)
		g_string_append_printf(s, " min%u", d->min_version);
	if (d->min_save)
		g_string_append_printf(s, " save%u", d->min_save);
	g_string_append(s, " {");
	for (uint32_t i = 0; i < d->n_fields; i++) {
		const struct cr_field *f = &d->fields[i];

		g_string_append_printf(s, "%s%s:", i ? " " : "", f->name);
		if (f->reuses)
			g_string_append(s, "reuse-");
		if (f->kind == MODVMM_VMS_ARRAY)
			g_string_append_printf(s, "%s[%u]",
					       vmstate_kind_name(f->elem_kind),
					       f->count);
		else if (f->kind == MODVMM_VMS_BUFFER ||
			 f->kind == MODVMM_VMS_UNUSED)
			g_string_append_printf(s, "%s%u",
					       vmstate_kind_name(f->kind),
					       f->count);
		else
			g_string_append(s, vmstate_kind_name(f->kind));
		g_string_append_printf(s, "@%u", f->since);
		if (f->nested) {
			g_string_append_c(s, '(');
			desc_text(s, f->nested);
			g_string_append_c(s, ')');
		}
	}
	for (uint32_t i = 0; i < d->n_subs; i++) {
		const struct cr_sub *sb = &d->subs[i];

		g_string_append_printf(s, " +sub[%s,",
				       sb->flags & MODVMM_VMS_OPTIONAL
					       ? "optional"
					       : "mandatory");
		if (sb->needed < 0)
			g_string_append(s, "always](");
		else
			g_string_append_printf(s, "%s%d](",
					       sb->prop ? "prop mode" : "flag",
					       sb->needed);
		desc_text(s, sb->d);
		g_string_append_c(s, ')');
	}
	g_string_append_c(s, '}');
}

/* ---- the state ------------------------------------------------------- */

/* Bools hold 0 or 1 in a valid state. */
static void fix_bools(const struct cr_desc *d, uint8_t *base)
{
	for (uint32_t i = 0; i < d->n_fields; i++) {
		const struct cr_field *f = &d->fields[i];

		if (f->kind == MODVMM_VMS_BOOL)
			base[f->offset] &= 1;
		if (f->nested)
			for (uint32_t k = 0; k < MAX(f->count, 1); k++)
				fix_bools(f->nested,
					  base + f->offset + k * f->stride);
	}
	for (uint32_t i = 0; i < d->n_subs; i++)
		fix_bools(d->subs[i].d, base);
}

/* Every field name d knows, slots aside. */
static void known_names(const struct cr_desc *d, GHashTable *out)
{
	for (uint32_t i = 0; i < d->n_fields; i++) {
		if (d->fields[i].kind != MODVMM_VMS_UNUSED)
			g_hash_table_add(out, (char *)d->fields[i].name);
		if (d->fields[i].nested)
			known_names(d->fields[i].nested, out);
	}
	for (uint32_t i = 0; i < d->n_subs; i++)
		known_names(d->subs[i].d, out);
}

/* ---- what crossed ------------------------------------------------------ */

/* "name#n" (n-th time in the stream) -> the bytes the field held. */
struct capture {
	GHashTable *vals;   /* char * -> GBytes * */
	GHashTable *seen;   /* name -> times seen */
	GHashTable *reuser; /* fields in a retired slot -> stream offset + 1 */
	GHashTable *slots;  /* stream offsets + 1 of retired slots */
};

static void capture_init(struct capture *c)
{
	c->vals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					(GDestroyNotify)g_bytes_unref);
	c->seen = g_hash_table_new(g_str_hash, g_str_equal);
	c->reuser = g_hash_table_new(g_str_hash, g_str_equal);
	c->slots = g_hash_table_new(NULL, NULL);
}

static void capture_clear(struct capture *c)
{
	g_hash_table_unref(c->slots);
	g_hash_table_unref(c->reuser);
	g_hash_table_unref(c->seen);
	g_hash_table_unref(c->vals);
}

static void on_field(void *opaque, const struct modvmm_vmstate_field *f,
		     const uint8_t *at, uint32_t count, size_t offset,
		     int depth)
{
	struct capture *c = opaque;
	uint32_t n;
	guint times;
	char *key;

	(void)depth;
	if (f->kind == MODVMM_VMS_UNUSED)
		g_hash_table_add(c->slots, GSIZE_TO_POINTER(offset + 1));
	if (f->kind == MODVMM_VMS_UNUSED || f->kind == MODVMM_VMS_VALIDATE ||
	    (f->kind == MODVMM_VMS_ARRAY && f->elem_kind == MODVMM_VMS_STRUCT))
		return;
	n = field_bytes(f->kind, f->elem_kind, count, 0);
	times = GPOINTER_TO_UINT(g_hash_table_lookup(c->seen, f->name));
	g_hash_table_insert(c->seen, (char *)f->name,
			    GUINT_TO_POINTER(times + 1));
	key = g_strdup_printf("%s#%u", f->name, times);
	if (f->retired_in)
		g_hash_table_insert(c->reuser, key,
				    GSIZE_TO_POINTER(offset + 1));
	g_hash_table_insert(c->vals, key, g_bytes_new(at, n));
}

struct cr_case {
	struct cr_desc *a, *b;
	struct state_desc *va, *vb;
	struct state_desc
		*va_read;    /* the source's, loading every version it saves */
	uint8_t *state;	     /* the source's */
	GHashTable *b_names;
};

static int all_zero(GBytes *b)
{
	gsize n;
	const uint8_t *p = g_bytes_get_data(b, &n);

	for (gsize i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * Whether saving at `version` and loading on the destination works. One
 * function on purpose: it is the reference the verdict is held to, read
 * as one sequence (save, read back by the source, load on the
 * destination, then every field compared both ways).
 */
static int load_works(struct cr_case *cc, uint32_t version, GString *why)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree uint8_t *sa = g_malloc0(cc->a->region);
	g_autofree uint8_t *sb = g_malloc0(cc->b->region);
	struct capture ca, cb;
	struct vmstate_trace ta = { NULL, on_field, &ca };
	struct vmstate_trace tb = { NULL, on_field, &cb };
	GError *err = NULL;
	GHashTableIter it;
	gpointer k, v;
	int ok = 0;

	if (vmstate_save(cc->va, cc->state, version, out, &err) < 0) {
		g_string_append_printf(why, "save at version %u: %s", version,
				       err->message);
		g_clear_error(&err);
		return 0;
	}
	capture_init(&ca);
	capture_init(&cb);
	if (vmstate_load_flags(cc->va_read, sa, out->data, out->len, 0, "src",
			       VMSTATE_NO_HOOKS, &ta, NULL, &err) < 0) {
		g_string_append_printf(why,
				       "the source cannot read its own stream "
				       "at version %u: %s",
				       version, err->message);
		goto out;
	}
	if (vmstate_load_flags(cc->vb, sb, out->data, out->len, 0, "d0", 0, &tb,
			       NULL, &err) < 0) {
		g_string_append_printf(why, "load at version %u: %s", version,
				       err->message);
		goto out;
	}
	g_hash_table_iter_init(&it, cb.vals);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		GBytes *sent = g_hash_table_lookup(ca.vals, k);

		if (sent && !g_bytes_equal(sent, v)) {
			g_string_append_printf(why,
					       "at version %u, field %s "
					       "loaded a value other than the "
					       "one sent",
					       version, (char *)k);
			goto out;
		}
		/* A field in a retired slot reads the slot's zeros: only
		 * where the source sent the slot, not a field of its own. */
		if (!sent &&
		    !(g_hash_table_contains(
			      ca.slots, g_hash_table_lookup(cb.reuser, k)) &&
		      all_zero(v))) {
			g_string_append_printf(why,
					       "at version %u, d0 read field "
					       "%s, which the source did not "
					       "send",
					       version, (char *)k);
			goto out;
		}
	}
	g_hash_table_iter_init(&it, ca.vals);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		g_autofree char *name = g_strdup(k);

		*strchr(name, '#') = '\0';
		if (g_hash_table_contains(cc->b_names, name) &&
		    !g_hash_table_contains(cb.vals, k)) {
			g_string_append_printf(why,
					       "at version %u, field %s was "
					       "sent, d0 knows it, and did not "
					       "read it",
					       version, (char *)k);
			goto out;
		}
	}
	ok = 1;
out:
	g_clear_error(&err);
	capture_clear(&ca);
	capture_clear(&cb);
	return ok;
}

/* A cheaper first look: whether the load itself fails. */
static int load_fails(struct cr_case *cc, uint32_t version)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree uint8_t *sb = g_malloc0(cc->b->region);
	int r = vmstate_save(cc->va, cc->state, version, out, NULL) < 0 ||
		vmstate_load(cc->vb, sb, out->data, out->len, 0, "d0", NULL,
			     NULL) < 0;

	return r;
}

/* ---- manifests --------------------------------------------------------- */

/* The flags that device properties set: bit N for property "modeN". */
static unsigned int prop_mask(const struct cr_desc *d)
{
	unsigned int m = 0;

	for (uint32_t i = 0; i < d->n_subs; i++)
		m |= (d->subs[i].prop ? 1u << d->subs[i].needed : 0) |
		     prop_mask(d->subs[i].d);
	return m;
}

/* Every property of the type; a guest's with its value and origin. */
static void add_props(struct manifest *m, struct manifest_device *d,
		      const struct cr_desc *desc, const uint8_t *state,
		      unsigned int set)
{
	unsigned int mask = prop_mask(desc);

	d->props_complete = !!state;
	for (int k = 0; k < CR_FLAGS; k++) {
		struct manifest_prop *p;
		char name[8];

		if (!(mask & 1u << k))
			continue;
		p = g_new0(struct manifest_prop, 1);
		g_snprintf(name, sizeof(name), "mode%d", k);
		p->property = manifest_str(m, name);
		p->legacy = manifest_str(m, "0");
		if (state) {
			p->value = manifest_str(m, state[k] & 1 ? "1" : "0");
			/* The default is "1": a "0" was set by someone,
			 * a "1" perhaps. */
			p->set = !(state[k] & 1) || (set & 1u << k);
		}
		g_ptr_array_add(d->props, p);
	}
}

static struct manifest *wire(struct manifest *m, GString *why)
{
	g_autofree char *json = manifest_to_json(m);
	struct manifest *back = NULL;
	GError *err = NULL;

	if (manifest_parse("wire", json, strlen(json), m->kind, &back, &err) <
	    0) {
		g_string_append_printf(why, "manifest does not read back: %s",
				       err->message);
		g_clear_error(&err);
	}
	manifest_free(m);
	return back;
}

static struct manifest *source_manifest(struct cr_case *cc, const char *version,
					const char *machine, unsigned int set)
{
	struct manifest *m = manifest_new(MANIFEST_GUEST);
	struct manifest_device *d = manifest_add_device(m);

	m->abi = manifest_str(m, MODVMM_ABI_STRING);
	m->machine = manifest_str(m, machine);
	d->id = manifest_str(m, "d0");
	d->type = manifest_str(m, "rnd");
	d->module = manifest_str(m, "rnd");
	d->module_version = manifest_str(m, version);
	d->intree = 0;
	inventory_describe_state(m, d, cc->va, cc->state, 0);
	add_props(m, d, cc->a, cc->state, set);
	return m;
}

static struct manifest *dest_inventory(struct cr_case *cc, const char *version,
				       const char *known_bad)
{
	struct manifest *m = inventory_new(machine_registry());
	struct manifest_device *d = manifest_add_device(m);

	d->type = manifest_str(m, "rnd");
	d->module = manifest_str(m, "rnd");
	d->module_version = manifest_str(m, version);
	d->intree = 0;
	inventory_describe_state(m, d, cc->vb, NULL, 0);
	add_props(m, d, cc->b, NULL, 0);
	if (known_bad) {
		struct manifest_known_bad *kb =
			g_new0(struct manifest_known_bad, 1);

		kb->version = manifest_str(m, known_bad);
		kb->reason = manifest_str(m, "corrupts the ring index");
		g_ptr_array_add(d->known_bad, kb);
	}
	return m;
}

/* ---- one case ----------------------------------------------------------- */

const char *cr_outcome_name(enum cr_outcome o)
{
	static const char *const names[] = {
		[CR_ACCEPTED] = "accepted",
		[CR_REFUSED] = "refused",
		[CR_POLICY] = "refused by policy",
		[CR_FALSE_ACCEPT] = "FALSE ACCEPT",
		[CR_FALSE_REFUSAL] = "FALSE REFUSAL",
		[CR_BROKEN] = "BROKEN",
	};

	return names[o];
}

void cr_result_clear(struct cr_result *r)
{
	g_clear_pointer(&r->category, g_free);
	g_clear_pointer(&r->report, g_free);
}

/* What went wrong with numbers and field names masked: one bug, one key. */
static char *category_of(enum cr_outcome o, const char *what)
{
	GString *s = g_string_new(cr_outcome_name(o));

	g_string_append(s, ": ");
	for (const char *p = what; *p;) {
		size_t n = 0, hex = 1;

		while (g_ascii_isalnum(p[n])) {
			hex &= g_ascii_isxdigit(p[n]) != 0;
			n++;
		}
		if (!n) {
			g_string_append_c(s, *p++);
			continue;
		}
		/* Fingerprints, then every number (in names too). */
		if (hex && n >= 12) {
			g_string_append_c(s, 'H');
		} else {
			for (size_t i = 0; i < n; i++) {
				if (!g_ascii_isdigit(p[i]))
					g_string_append_c(s, p[i]);
				else if (!i || !g_ascii_isdigit(p[i - 1]))
					g_string_append_c(s, 'N');
			}
		}
		p += n;
	}
	return g_string_free(s, FALSE);
}

static int has_reason(const GPtrArray *a, const char *part)
{
	for (guint i = 0; i < a->len; i++)
		if (strstr(a->pdata[i], part))
			return 1;
	return 0;
}

/* A release of the history, imported once for every case that uses it. */
struct cr_node {
	struct cr_desc *d;
	char version[24];
	struct state_desc *vms;
	struct state_desc *vms_read;	    /* loads every version it saves */
	GHashTable *names;	    /* its field names, slots aside */
	struct manifest *inventory; /* as read from its JSON; on first use */
	char *error;		    /* why it could not be imported */
};

struct cr_history {
	struct cr_node nodes[CR_MAX_NODES];
	uint32_t n;
	const char *known_bad; /* a version every destination refuses */
};

static void node_import(struct cr_node *nd)
{
	GError *err = NULL;

	if (vmstate_import("module rnd", materialise(nd->d), nd->d->region,
			   &nd->vms, &err) < 0)
		goto fail;
	/* What a source sent, read back by its own description: one that
	 * saves versions it does not load (min_save_version below
	 * min_version) reads them here. */
	nd->d->mv.min_version = 1;
	if (vmstate_import("module rnd", &nd->d->mv, nd->d->region,
			   &nd->vms_read, &err) < 0)
		goto fail;
	nd->d->mv.min_version = nd->d->min_version;
	nd->names = g_hash_table_new(g_str_hash, g_str_equal);
	known_names(nd->d, nd->names);
	return;
fail:
	nd->error = g_strdup_printf("import refused: %s", err->message);
	g_error_free(err);
}

static void history_new(struct cr_history *h, struct cr_rng *rng)
{
	struct cr_gen g = { rng, 1 };
	uint32_t chain, fork;

	memset(h, 0, sizeof(*h));
	/* A line of releases, and a branch off one of them. */
	chain = 1 + cr_pick(rng, 3);
	h->nodes[h->n].d = new_top(&g);
	g_strlcpy(h->nodes[h->n++].version, "1.0.0",
		  sizeof(h->nodes[0].version));
	for (uint32_t i = 1; i <= chain; i++) {
		h->nodes[h->n].d = evolve(&g, h->nodes[h->n - 1].d);
		g_snprintf(h->nodes[h->n++].version,
			   sizeof(h->nodes[0].version), "1.%u.0", i);
	}
	fork = cr_pick(rng, chain + 1);
	for (uint32_t i = 1, k = cr_pick(rng, 3); i <= k; i++) {
		h->nodes[h->n].d = evolve(&g, i == 1 ? h->nodes[fork].d
						     : h->nodes[h->n - 1].d);
		g_snprintf(h->nodes[h->n++].version,
			   sizeof(h->nodes[0].version), "1.%u.%u", fork, i);
	}
	for (uint32_t i = 0; i < h->n; i++)
		node_import(&h->nodes[i]);
	if (cr_chance(rng, 12))
		h->known_bad = h->nodes[cr_pick(rng, h->n)].version;
}

static void history_free(struct cr_history *h)
{
	for (uint32_t i = 0; i < h->n; i++) {
		struct cr_node *nd = &h->nodes[i];

		manifest_free(nd->inventory);
		if (nd->names)
			g_hash_table_unref(nd->names);
		vmstate_free(nd->vms);
		vmstate_free(nd->vms_read);
		g_free(nd->error);
		desc_free(nd->d);
	}
}

/* The source's state: random bytes; its flags say what is needed. */
static uint8_t *random_state(const struct cr_desc *a, struct cr_rng *rng)
{
	uint8_t *state = g_malloc(a->region);
	GRand *fill = g_rand_new_with_seed(
		cr_pick(rng, 1u << 16) ^
		(rng->rand ? g_rand_int(rng->rand) : 0));

	for (uint32_t i = 0; i < a->region; i++)
		state[i] = (uint8_t)g_rand_int(fill);
	g_rand_free(fill);
	fix_bools(a, state);
	return state;
}

/*
 * A refusal the rule need not have made: some version the source saves
 * loads and round-trips at the destination. The newest version both have
 * first, the one the rule tries; then the older ones.
 */
static int refused_loads(struct cr_case *cc, const GPtrArray *dreasons,
			 GString *why)
{
	uint32_t newest = MIN(cc->a->version, cc->b->version);

	for (uint32_t i = 0, lo = vmstate_min_save(cc->va);
	     i <= cc->a->version - lo + 1; i++) {
		uint32_t v = i ? lo + i - 1 : newest;
		g_autoptr(GString) ignore = g_string_new(NULL);

		if ((i && v == newest) || v < lo || load_fails(cc, v) ||
		    !load_works(cc, v, ignore))
			continue;
		g_string_append_printf(why, "%s %u loads and round-trips: %s",
				       v == newest
					       ? "the newest common version,"
					       : "only an older version,",
				       v, (const char *)dreasons->pdata[0]);
		return 1;
	}
	return 0;
}

/* What a failed case prints: both releases, the state's flags, the
 * verdict and why the case failed. */
static void report(struct cr_result *ret, const struct cr_case *cc,
		   const char *va, const char *vb, const char *machine,
		   const char *known_bad, const struct compat_verdict *verdict,
		   const GString *why)
{
	g_autoptr(GString) head = g_string_new(NULL);

	g_string_append_printf(head, "source %s: ", va);
	desc_text(head, cc->a);
	g_string_append_printf(head, "\ndestination %s: ", vb);
	desc_text(head, cc->b);
	ret->size = head->len;
	g_string_append_printf(head, "\nmachine %s; known-bad here: %s\n",
			       machine, known_bad ? known_bad : "none");
	if (cc->state) {
		g_string_append(head, "source flags:");
		for (int i = 0; i < CR_FLAGS; i++)
			g_string_append_printf(head, " %u", cc->state[i] & 1);
		g_string_append_c(head, '\n');
	}
	if (verdict) {
		g_autofree char *vt = compat_verdict_text(verdict);

		g_string_append(head, vt);
	}
	ret->category = category_of(ret->outcome, why->str);
	g_string_append_printf(head, "%s: %s\n", cr_outcome_name(ret->outcome),
			       why->str);
	ret->report = g_strdup(head->str);
}

/* One pair of releases of h, one state, the verdict and the real load. */
static void run_case(struct cr_history *h, struct cr_rng *rng,
		     struct cr_result *ret)
{
	struct cr_node *na = &h->nodes[cr_pick(rng, h->n)];
	struct cr_node *nb = &h->nodes[cr_pick(rng, h->n)];
	struct cr_case cc = { na->d,	    nb->d, na->vms,  nb->vms,
			      na->vms_read, NULL,  nb->names };
	g_autoptr(GString) why = g_string_new(NULL);
	struct manifest *src = NULL;
	struct compat_verdict *verdict = NULL;
	const char *known_bad = h->known_bad, *machine;
	const GPtrArray *dreasons;
	int kb_applies, policy;

	memset(ret, 0, sizeof(*ret));
	ret->outcome = CR_BROKEN;
	machine = cr_chance(rng, 3) ? "microvm-0.1"
				    : machine_registry()->types[0].name;
	if (na->error || nb->error) {
		g_string_append(why, na->error ? na->error : nb->error);
		goto out;
	}

	cc.state = random_state(cc.a, rng);

	src = wire(source_manifest(&cc, na->version, machine,
				   cr_pick(rng, 1u << CR_FLAGS)),
		   why);
	if (!nb->inventory)
		nb->inventory =
			wire(dest_inventory(&cc, nb->version, known_bad), why);
	if (!src || !nb->inventory)
		goto out;
	verdict = compat_negotiate(src, nb->inventory, NULL);

	kb_applies = known_bad && !strcmp(known_bad, na->version);
	/* Policy: what the state cannot tell, so no load can check it: a
	 * module version known to corrupt it, the machine type, and how
	 * the device behaves (its properties). */
	dreasons = ((struct compat_device_verdict *)verdict->devices->pdata[0])
			   ->reasons;
	policy = verdict->reasons->len ||
		 has_reason(dreasons, "is known bad") ||
		 has_reason(dreasons, "property mode");
	if (kb_applies && (verdict->accepted || !policy)) {
		g_string_append(why, "the known-bad source is not refused "
				     "as such");
		goto out;
	}
	if (strcmp(machine, machine_registry()->types[0].name) &&
	    !has_reason(verdict->reasons, "is unknown here")) {
		g_string_append(why, "the unknown machine type is not listed");
		goto out;
	}
	if (verdict->accepted) {
		const struct compat_device_verdict *dv =
			verdict->devices->pdata[0];

		ret->outcome = load_works(&cc, dv->version, why)
				       ? CR_ACCEPTED
				       : CR_FALSE_ACCEPT;
		goto out;
	}
	if (policy) {
		ret->outcome = CR_POLICY;
		goto out;
	}
	ret->outcome = refused_loads(&cc, dreasons, why) ? CR_FALSE_REFUSAL
							  : CR_REFUSED;
out:
	if (ret->outcome >= CR_FALSE_ACCEPT)
		report(ret, &cc, na->version, nb->version, machine, known_bad,
		       verdict, why);
	compat_verdict_free(verdict);
	manifest_free(src);
	g_free(cc.state);
}

void cr_run_cases(struct cr_rng *rng, struct cr_result *ret, unsigned int n)
{
	struct cr_history h;

	history_new(&h, rng);
	for (unsigned int i = 0; i < n; i++)
		run_case(&h, rng, &ret[i]);
	history_free(&h);
}
