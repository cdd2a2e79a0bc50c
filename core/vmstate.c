// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vmstate.c - the interpreter of state descriptions: a description
 * saved as one framed section (docs/stream-format.md), and a section
 * loaded by a bounded read that commits only on success.
 *
 * It walks a description's fields and subsections and frames sections;
 * what a field of each kind puts on the wire or takes from it is the
 * kind's (vmstate-types.c), and descriptions are checked at import
 * (vmstate-check.c). Streams are hostile: every read is checked against
 * the end of the section it belongs to, and a load goes into a copy of the
 * state that replaces it only at the end.
 */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "vmstate.h"
#include "vmstate-internal.h"

uint32_t vmstate_min_save(const struct state_desc *v)
{
	return v->d.min_save_version ? v->d.min_save_version : v->d.version;
}

/* ---- save ------------------------------------------------------------- */

/* START, flags, name, version, and a length to fill in: returns where. */
static size_t put_section_start(const struct state_desc *v, size_t nlen,
				uint32_t version, uint8_t flags,
				GByteArray *out)
{
	size_t len_at;

	put_le(out, VMS_TAG_START, 1);
	put_le(out, flags, 1);
	put_le(out, nlen, 1);
	g_byte_array_append(out, (const guint8 *)v->name, (guint)nlen);
	put_le(out, version, 4);
	len_at = out->len;
	put_le(out, 0, 4);
	return len_at;
}

int vmstate_section_save(const struct state_desc *v, uint8_t *state,
			 uint32_t version, uint8_t flags, GByteArray *out,
			 GError **error)
{
	size_t nlen = strlen(v->name), len_at;
	uint32_t len;
	int r;

	if (nlen > VMS_MAX_NAME)
		return error_setf(error, ENAMETOOLONG,
				  "vmstate %s: name longer than %d bytes",
				  v->name, VMS_MAX_NAME);
	if (version < vmstate_min_save(v) || version > v->d.version)
		return error_setf(error, ERANGE,
				  "vmstate %s: cannot save version %u: it "
				  "saves %u..%u",
				  v->name, version, vmstate_min_save(v),
				  v->d.version);
	if (v->d.pre_save && (r = v->d.pre_save(state)) < 0)
		return error_setf(error, -r, "vmstate %s: pre_save failed: %s",
				  v->name, g_strerror(-r));
	len_at = put_section_start(v, nlen, version, flags, out);

	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];

		if (vf->f.since > version)
			continue;
		r = field_ops(vf)->save(v, vf, state, out, error);
		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		const struct state_sub *s = &v->subs[i];

		if (s->needed && !s->needed(state))
			continue;
		r = vmstate_section_save(s->vms, state, s->vms->d.version,
					 (s->flags & MODVMM_VMS_OPTIONAL)
						 ? VMS_FLAG_OPTIONAL
						 : 0,
					 out, error);
		if (r < 0)
			return r;
	}
	len = (uint32_t)(out->len - len_at - 4);
	for (int i = 0; i < 4; i++)
		out->data[len_at + (size_t)i] = (uint8_t)(len >> (8 * i));
	put_le(out, VMS_TAG_END, 1);
	return 0;
}

int vmstate_save(const struct state_desc *v, void *state, uint32_t version,
		 GByteArray *out, GError **error)
{
	guint start = out->len;
	int r = vmstate_section_save(v, state, version, 0, out, error);

	if (r < 0)
		g_byte_array_set_size(out, start);
	return r;
}

/* ---- load ------------------------------------------------------------- */

int vmstate_truncated(const struct section_reader *rd, size_t end, size_t n,
		      const char *sec, const char *what, GError **error)
{
	return error_setf(error, EPROTO,
			  "%s: %s: truncated: %s needs %zu bytes at offset "
			  "0x%zx, the section ends at 0x%zx",
			  rd->id, sec, what, n, rd->base + rd->pos,
			  rd->base + end);
}

/* A section header: where its payload starts and ends. */
struct section_header {
	uint8_t flags;
	char name[256];
	uint32_t version;
	size_t payload, end; /* relative to buf; end is where END sits */
};

static int read_header(struct section_reader *rd, size_t end,
		       const char *within, struct section_header *h,
		       GError **error)
{
	size_t at = rd->pos, nlen;
	uint32_t len;
	int r;

	r = reader_check_room(rd, end, 3, within, "a section header", error);
	if (r < 0)
		return r;
	if (rd->buf[rd->pos] != VMS_TAG_START)
		return error_setf(
			error, EPROTO,
			"%s: %s: expected a section start (0x%02x) at "
			"offset 0x%zx, found 0x%02x",
			rd->id, within, VMS_TAG_START, rd->base + at,
			rd->buf[rd->pos]);
	h->flags = rd->buf[rd->pos + 1];
	nlen = rd->buf[rd->pos + 2];
	/* Reserved bits stay zero, so that a future meaning of one is never
	 * taken for no meaning by a host that predates it. */
	if (h->flags & ~VMS_FLAG_OPTIONAL)
		return error_setf(error, EPROTO,
				  "%s: %s: section at offset 0x%zx has flags "
				  "0x%02x: bits other than 0x%02x (optional) "
				  "are reserved",
				  rd->id, within, rd->base + at, h->flags,
				  VMS_FLAG_OPTIONAL);
	if (!nlen)
		return error_setf(error, EPROTO,
				  "%s: %s: section at offset 0x%zx has an "
				  "empty name (name length 0)",
				  rd->id, within, rd->base + at);
	rd->pos += 3;
	r = reader_check_room(rd, end, nlen + 8, within, "a section header",
			      error);
	if (r < 0)
		return r;
	memcpy(h->name, rd->buf + rd->pos, nlen);
	h->name[nlen] = '\0';
	if (strlen(h->name) != nlen)
		return error_setf(
			error, EPROTO,
			"%s: %s: section name at offset 0x%zx holds a "
			"NUL byte",
			rd->id, within, rd->base + rd->pos);
	rd->pos += nlen;
	h->version = (uint32_t)get_le(rd->buf + rd->pos, 4);
	len = (uint32_t)get_le(rd->buf + rd->pos + 4, 4);
	rd->pos += 8;
	/* The payload and its END byte must fit in what encloses them. */
	if ((size_t)len + 1 > end - rd->pos)
		return error_setf(
			error, EPROTO,
			"%s: %s: section %s at offset 0x%zx claims %u "
			"bytes, only %zu remain",
			rd->id, within, h->name, rd->base + at, len,
			end - rd->pos > 0 ? end - rd->pos - 1 : 0);
	h->payload = rd->pos;
	h->end = rd->pos + len;
	return 0;
}

static int load_section(const struct state_desc *v, uint8_t *state,
			struct section_reader *rd,
			const struct section_header *h, GError **error);

int vmstate_nested_load(const struct state_desc *v, uint8_t *state,
			struct section_reader *rd, size_t end,
			const char *within, GError **error)
{
	struct section_header h;
	int r = read_header(rd, end, within, &h, error);

	if (r < 0)
		return r;
	if (strcmp(h.name, v->name))
		return error_setf(
			error, EPROTO,
			"%s: %s: expected section %s at offset 0x%zx, "
			"found %s",
			rd->id, within, v->name,
			rd->base + h.payload - 11 - strlen(h.name), h.name);
	return load_section(v, state, rd, &h, error);
}

/* The fields of `v` at `version`, each by its kind, each traced. */
static int load_fields(const struct state_desc *v, uint8_t *state,
		       uint32_t version, struct section_reader *rd, size_t end,
		       GError **error)
{
	struct section_load sl = {
		.v = v,
		.state = state,
		.version = version,
		.end = end,
		.rd = rd,
	};

	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		const struct modvmm_vmstate_field *f = &vf->f;
		size_t here = rd->pos;
		uint32_t count = f->count;
		int r;

		if (f->since > version)
			continue;
		r = field_ops(vf)->load(&sl, vf, &count, error);
		if (r < 0)
			return r;
		/* A struct is traced as the section it is. */
		if (rd->trace && rd->trace->field &&
		    f->kind != MODVMM_VMS_STRUCT)
			rd->trace->field(rd->trace->opaque, f,
					 state + f->offset, count,
					 rd->base + here, rd->depth);
	}
	return 0;
}

static int load_subsections(const struct state_desc *v, uint8_t *state,
			    struct section_reader *rd, size_t end,
			    GError **error)
{
	g_autofree uint8_t *seen = g_malloc0(v->d.n_subsections + 1u);

	while (rd->pos < end) {
		const struct state_sub *sub = NULL;
		size_t at = rd->pos;
		struct section_header h;
		uint32_t i;
		int r;

		r = read_header(rd, end, v->name, &h, error);
		if (r < 0)
			return r;
		for (i = 0; i < v->d.n_subsections && !sub; i++)
			if (!strcmp(v->subs[i].vms->name, h.name))
				sub = &v->subs[i];
		if (!sub) {
			if (!(h.flags & VMS_FLAG_OPTIONAL))
				return error_setf(
					error, ENOENT,
					"%s: unknown subsection %s (not "
					"optional) at offset 0x%zx",
					rd->id, h.name, rd->base + at);
			/* Optional and unknown here: skip it whole. */
			rd->pos = h.end;
			if (rd->buf[rd->pos] != VMS_TAG_END)
				return error_setf(
					error, EPROTO,
					"%s: %s: expected a section end "
					"at offset 0x%zx",
					rd->id, h.name, rd->base + rd->pos);
			rd->pos++;
			continue;
		}
		if (seen[i - 1]++)
			return error_setf(
				error, EPROTO,
				"%s: subsection %s appears twice (offset "
				"0x%zx)",
				rd->id, h.name, rd->base + at);
		r = load_section(sub->vms, state, rd, &h, error);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_section(const struct state_desc *v, uint8_t *state,
			struct section_reader *rd,
			const struct section_header *h, GError **error)
{
	int r;

	if (h->version > v->d.version)
		return error_setf(
			error, ERANGE,
			"%s: %s version %u is too new: this host loads "
			"%u..%u",
			rd->id, v->name, h->version, v->d.min_version,
			v->d.version);
	if (h->version < v->d.min_version)
		return error_setf(
			error, ERANGE,
			"%s: %s version %u is too old: this host loads "
			"%u..%u",
			rd->id, v->name, h->version, v->d.min_version,
			v->d.version);
	if (rd->trace && rd->trace->section)
		rd->trace->section(rd->trace->opaque, v->name, h->version,
				   rd->base + h->payload, rd->depth, 0);
	if (!(rd->flags & VMSTATE_NO_HOOKS) && v->d.pre_load &&
	    (r = v->d.pre_load(state)) < 0)
		return error_setf(error, -r, "%s: %s: pre_load failed: %s",
				  rd->id, v->name, g_strerror(-r));
	rd->depth++;
	r = load_fields(v, state, h->version, rd, h->end, error);
	if (r >= 0)
		r = load_subsections(v, state, rd, h->end, error);
	rd->depth--;
	if (r < 0)
		return r;
	if (rd->pos != h->end)
		return error_setf(error, EPROTO,
				  "%s: %s: %zu bytes of unknown data at offset "
				  "0x%zx",
				  rd->id, v->name, h->end - rd->pos,
				  rd->base + rd->pos);
	if (rd->buf[rd->pos] != VMS_TAG_END)
		return error_setf(error, EPROTO,
				  "%s: %s: expected a section end (0x%02x) at "
				  "offset 0x%zx, found 0x%02x",
				  rd->id, v->name, VMS_TAG_END,
				  rd->base + rd->pos, rd->buf[rd->pos]);
	rd->pos++;
	if (rd->trace && rd->trace->section)
		rd->trace->section(rd->trace->opaque, v->name, h->version,
				   rd->base + rd->pos, rd->depth, 1);
	if (!(rd->flags & VMSTATE_NO_HOOKS) && v->d.post_load &&
	    (r = v->d.post_load(state, h->version)) < 0)
		return error_setf(error, -r,
				  "%s: %s: post_load refused version "
				  "%u: %s",
				  rd->id, v->name, h->version, g_strerror(-r));
	return 0;
}

int vmstate_load_flags(const struct state_desc *v, void *state,
		       const uint8_t *buf, size_t len, size_t base,
		       const char *id, unsigned int flags,
		       const struct vmstate_trace *trace, size_t *ret_used,
		       GError **error)
{
	struct section_reader rd = {
		.flags = flags,
		.trace = trace,
		.buf = buf,
		.base = base,
		.id = id,
	};
	g_autofree uint8_t *scratch = g_memdup2(state, v->state_size);
	struct section_header h;
	int r;

	r = read_header(&rd, len, v->name, &h, error);
	if (r < 0)
		return r;
	if (strcmp(h.name, v->name))
		return error_setf(
			error, ENOENT,
			"%s: expected state %s at offset 0x%zx, found %s", id,
			v->name, base, h.name);
	r = load_section(v, scratch, &rd, &h, error);
	if (r < 0)
		return r;
	memcpy(state, scratch, v->state_size);
	if (ret_used)
		*ret_used = rd.pos;
	return 0;
}

int vmstate_section_name(const uint8_t *buf, size_t len, size_t base,
			 const char *id, char ret_name[VMS_MAX_NAME + 1],
			 GError **error)
{
	struct section_reader rd = { .buf = buf, .base = base, .id = id };
	struct section_header h;
	int r = read_header(&rd, len, "device state", &h, error);

	if (r < 0)
		return r;
	memcpy(ret_name, h.name, VMS_MAX_NAME + 1);
	return 0;
}
