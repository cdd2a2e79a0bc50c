// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/snapshot.c - snapshot files: writing a paused machine out, and
 * reading one back as hostile input.
 *
 * A file is the magic, a format version, then records (core/stream.c
 * frames and checksums them; docs/stream-format.md). The reader, before
 * anything else, walks every record and checks its framing and
 * checksums, so that a corrupt or cut file is refused before a machine
 * is made for it. Loading reads each record again and checks it on the
 * bytes read, RAM pages where they land in guest RAM: a file
 * is read with pread(), never mapped, so the guest runs on what was
 * checked and nothing done to the file later reaches it. Then every
 * offset, index and id is checked against the machine before it is
 * used, and RAM records must give every page of guest RAM; an error
 * names the file, the record's offset and what was wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include <modvmm/abi.h>

#include "base/error.h"
#include "base/json-read.h"
#include "compat/negotiate.h"
#include "crc32c.h"
#include "device.h"
#include "fault.h"
#include "inventory.h"
#include "kvm-state.h"
#include "machine.h"
#include "snapshot.h"

#define PAGE 4096u
#define RUN_PAGES 1024u	 /* pages in one RAM record: 4 MiB */

static int write_json_record(struct snap_writer *w, uint8_t type,
			     JsonBuilder *b, GError **error)
{
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	g_autofree char *text = json_to_string(root, FALSE);

	return stream_write_record(w, type, text, strlen(text), NULL, 0,
				     error);
}

static int page_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;

	for (unsigned int i = 0; i < PAGE / 8; i++)
		if (q[i])
			return 0;
	return 1;
}

/* In a file, a PAD record so that the next RAM record's pages (after its
 * header and 8-byte offset) begin on a page boundary. */
static int pad(struct snap_writer *w, GError **error)
{
	static const uint8_t zeros[PAGE];
	uint32_t hs = stream_header_size(stream_writer_format(w));
	uint64_t n = (PAGE - (w->bytes + 2 * hs + 8) % PAGE) % PAGE;

	if (!w->align || (w->bytes + hs + 8) % PAGE == 0)
		return 0;
	return stream_write_record(w, SNAP_PAD, zeros, n, NULL, 0, error);
}

static int page_wanted(const uint64_t *dirty, uint64_t p)
{
	return !dirty || (dirty[p / 64] >> (p % 64)) & 1;
}

/*
 * Runs of zero pages as one small record, the rest in runs of data; with
 * a bitmap, only the pages it marks.
 */
int snapshot_write_ram(struct snap_writer *w, struct machine *m,
		       const uint64_t *dirty, GError **error)
{
	const uint8_t *ram = m->kvm->ram;
	uint64_t pages = m->kvm->ram_size / PAGE;
	g_autofree uint8_t *copy = NULL;

	for (uint64_t p = 0; p < pages;) {
		int zero;
		uint64_t n = 1, off = p * PAGE;
		int r;

		if (!page_wanted(dirty, p)) {
			p++;
			continue;
		}
		zero = page_zero(ram + off);
		while (p + n < pages && page_wanted(dirty, p + n) &&
		       page_zero(ram + (p + n) * PAGE) == zero &&
		       (zero || n < RUN_PAGES))
			n++;
		if (zero) {
			uint64_t v[2] = { off, n };

			r = stream_write_record(w, SNAP_RAM_ZERO, v,
						  sizeof(v), NULL, 0, error);
		} else {
			const uint8_t *src = ram + off;

			/* The guest may be writing these pages: the record's
			 * checksum must be that of the bytes that go out. */
			if (!w->paused) {
				if (!copy)
					copy = g_malloc(RUN_PAGES * PAGE);
				memcpy(copy, src, n * PAGE);
				src = copy;
			}
			r = pad(w, error);
			if (!r)
				r = stream_write_record(w, SNAP_RAM, &off, 8,
							  src, n * PAGE, error);
		}
		if (r < 0)
			return r;
		p += n;
	}
	return 0;
}

/* "TYPE,id=ID,PROP=VALUE..." that recreates the device as it is. */
static char *device_spec(const struct modvmm_device *dev, GError **error)
{
	const struct device_type *dt = dev->type;
	g_autoptr(GString) s = g_string_new(dt->t.name);

	g_string_append_printf(s, ",id=%s", dev->id);
	for (uint32_t i = 0; i < dt->t.n_properties; i++) {
		g_autofree char *v = device_prop_text(dev, &dt->props[i]);

		if (strchr(v, ',')) {
			error_setf(error, EINVAL,
				   "%s: property %s='%s' holds a ',', which a "
				   "snapshot cannot carry",
				   dev->id, dt->props[i].name, v);
			return NULL;
		}
		g_string_append_printf(s, ",%s=%s", dt->props[i].name, v);
	}
	return g_string_free(g_steal_pointer(&s), FALSE);
}

int snapshot_write_head(struct snap_writer *w, struct machine *m, int check,
			GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autofree char *manifest = NULL;
	struct manifest *mf;
	uint8_t format[4];
	int r;

	le32_put(format, stream_writer_format(w));
	r = stream_write(w, SNAPSHOT_MAGIC, 8, error);
	if (!r)
		r = stream_write(w, format, 4, error);
	if (r < 0)
		return r;
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "modvmm");
	json_builder_add_string_value(b, MODVMM_VERSION);
	json_builder_set_member_name(b, "abi");
	json_builder_add_string_value(b, MODVMM_ABI_STRING);
	json_builder_set_member_name(b, "machine");
	json_builder_add_string_value(b, m->type->name);
	json_builder_set_member_name(b, "alias");
	json_builder_add_boolean_value(b, m->alias);
	json_builder_set_member_name(b, "memory");
	json_builder_add_int_value(b, (gint64)m->kvm->ram_size);
	json_builder_set_member_name(b, "cpus");
	json_builder_add_int_value(b, m->kvm->ncpus);
	if (check) {
		json_builder_set_member_name(b, "check");
		json_builder_add_boolean_value(b, TRUE);
	}
	/* A stream's source ends the migration with COMMIT. */
	if (!w->align) {
		json_builder_set_member_name(b, "commit");
		json_builder_add_int_value(b, SNAPSHOT_COMMIT);
	}
	json_builder_end_object(b);
	r = write_json_record(w, SNAP_HELLO, b, error);
	if (r < 0)
		return r;

	/* A file holds each device at its newest version, and says so: a
	 * host judges what it holds, not what its source could save. */
	mf = inventory_guest(m->devs, m->type, m->alias, m->cpu, w->align);
	manifest = manifest_to_json(mf);
	manifest_free(mf);
	r = stream_write_record(w, SNAP_MANIFEST, manifest, strlen(manifest),
				  NULL, 0, error);
	if (r < 0)
		return r;

	json_builder_reset(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "devices");
	json_builder_begin_array(b);
	for (guint i = 0; i < m->devs->devices->len; i++) {
		const struct modvmm_device *dev = m->devs->devices->pdata[i];
		g_autofree char *spec = device_spec(dev, error);

		if (!spec)
			return -EINVAL;
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, dev->id);
		json_builder_set_member_name(b, "spec");
		json_builder_add_string_value(b, spec);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	return write_json_record(w, SNAP_CONFIG, b, error);
}

int snapshot_write_state(struct snap_writer *w, struct machine *m,
			 const struct compat_verdict *v, GError **error)
{
	struct kvm *kvm = m->kvm;
	g_autofree struct kvm_cpu_state *cs = g_new0(struct kvm_cpu_state, 1);
	struct kvm_vm_state vs;
	int r;

	for (unsigned int i = 0; i < kvm->ncpus; i++) {
		g_autoptr(GByteArray) sec = g_byte_array_new();
		uint32_t idx = i;

		r = kvm_cpu_state_get(kvm, i, cs, error);
		if (!r)
			r = vmstate_save(kvm_state_cpu_vms(), cs, 1, sec,
					 error);
		if (!r)
			r = stream_write_record(w, SNAP_CPU, &idx, 4,
						  sec->data, sec->len, error);
		if (r < 0)
			return r;
	}
	{
		g_autoptr(GByteArray) sec = g_byte_array_new();

		r = kvm_vm_state_get(kvm, m->devs->timers, &vs, error);
		if (!r)
			r = vmstate_save(kvm_state_vm_vms(), &vs, 1, sec,
					 error);
		if (!r)
			r = stream_write_record(w, SNAP_VM, sec->data,
						  sec->len, NULL, 0, error);
		if (r < 0)
			return r;
	}
	for (guint i = 0; i < m->devs->devices->len; i++) {
		struct modvmm_device *dev = m->devs->devices->pdata[i];
		const struct state_desc *vms = dev->type->vms;
		g_autoptr(GByteArray) rec = g_byte_array_new();
		uint8_t idlen = (uint8_t)strlen(dev->id);

		g_byte_array_append(rec, &idlen, 1);
		g_byte_array_append(rec, (const uint8_t *)dev->id, idlen);
		/* Timers and the guest's accesses both run under this lock. */
		g_mutex_lock(&m->devs->lock);
		r = vmstate_save(vms, dev->state,
				 v && compat_verdict_version(v, dev->id)
					 ? compat_verdict_version(v, dev->id)
					 : vms->d.version,
				 rec, error);
		g_mutex_unlock(&m->devs->lock);
		if (!r)
			r = stream_write_record(w, SNAP_DEVICE, rec->data,
						  rec->len, NULL, 0, error);
		if (r < 0)
			return r;
	}
	return stream_write_record(w, SNAP_END, NULL, 0, NULL, 0, error);
}

static int fsync_dir(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * The file is written beside `path` first: a failure to create it is said
 * of the directory the user gave, never of that internal name.
 */
static int save_dir_error(const char *path, int e, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);

	if (e == ENOENT || e == ENOTDIR)
		return error_setf(error, e,
				  "%s: not saved: directory %s does not exist "
				  "(create it, or save into one that does)",
				  path, dir);
	return error_setf(error, e,
			  "%s: not saved: cannot create a file in directory "
			  "%s: %s",
			  path, dir, g_strerror(e));
}

int snapshot_save(struct machine *m, const char *path, uint64_t *ret_bytes,
		  GError **error)
{
	/* A name of its own in the file's directory: a stale
	 * FILE.partial.* left by a killed save does not block this one. */
	g_autofree char *tmp = g_strconcat(path, ".partial.XXXXXX", NULL);
	g_autoptr(GString) stateless = g_string_new(NULL);
	struct stat st;
	/*
	 * Paused, the guest and its devices leave RAM alone (the pause
	 * drained what the devices were doing). A run that has ended (a
	 * snapshot on exit) may still have a device finishing a request
	 * into guest RAM: its pages are copied before they are checksummed.
	 */
	struct snap_writer w = { .what = path,
				 .align = 1,
				 .paused = machine_state(m) == MACHINE_PAUSED };
	int r;

	for (guint i = 0; i < m->devs->devices->len; i++) {
		const struct modvmm_device *dev = m->devs->devices->pdata[i];

		if (!dev->type->vms)
			g_string_append_printf(stateless, "%s%s (%s)",
					       stateless->len ? ", " : "",
					       dev->id, dev->type->t.name);
	}
	if (stateless->len)
		return error_setf(error, EOPNOTSUPP,
				  "%s: not saved: devices without VMState "
				  "cannot be saved: %s",
				  path, stateless->str);
	/* The rename would replace whatever has the name: a socket (a
	 * control socket), a device node or a directory is not a snapshot
	 * file to replace. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return error_setf(error, EEXIST,
				  "%s: not saved: the path exists and is not a "
				  "regular file",
				  path);
	w.fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (w.fd < 0)
		return save_dir_error(path, errno, error);
	r = snapshot_write_head(&w, m, 0, error);
	if (!r)
		r = snapshot_write_ram(&w, m, NULL, error);
	if (!r)
		r = snapshot_write_state(&w, m, NULL, error);
	if (!r && fsync(w.fd) < 0)
		r = error_setf(error, errno, "%s: fsync: %s", path,
			       g_strerror(errno));
	if (close(w.fd) < 0 && !r)
		r = error_setf(error, errno, "%s: close: %s", path,
			       g_strerror(errno));
	if (!r && rename(tmp, path) < 0)
		r = error_setf(error, errno,
			       "%s: putting the file in place: %s", path,
			       g_strerror(errno));
	if (r < 0) {
		/* Nothing half-written stays behind, under either name. */
		unlink(tmp);
		g_prefix_error(error, "snapshot not saved: ");
		return r;
	}
	fsync_dir(path);
	if (ret_bytes)
		*ret_bytes = w.bytes;
	return 0;
}

/* Reading ---------------------------------------------------------------- */

/* How much of a record's payload next_record() reads, and checks. */
enum payload {
	PAYLOAD_CHECKED,   /* all of it, against its checksum */
	PAYLOAD_UNCHECKED, /* all of it; the caller reports its checksum */
	/*
	 * As CHECKED, but of a file's RAM record only the guest offset: its
	 * pages go straight into guest RAM and are checked there
	 * (read_pages()), or not read at all (verify_body()).
	 */
	PAYLOAD_RAM_LATER,
};

/* `len` bytes of the file at `at`: 0, -ENODATA if it ends before. */
static int file_read(struct snap_reader *s, void *buf, size_t len, size_t at)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(s->file_fd, p, len, (off_t)at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ENODATA;
		p += n;
		len -= (size_t)n;
		at += (size_t)n;
	}
	return 0;
}

static int file_error(struct snap_reader *s, size_t at, int r, GError **error)
{
	if (r == -ENODATA)
		return error_setf(error, EIO,
				  "%s: offset %zu: the file ends there now, "
				  "%zu bytes before the end it had when it "
				  "was opened (it was cut while being read)",
				  s->path, at, s->len - at);
	return error_setf(error, -r, "%s: offset %zu: %s", s->path, at,
			  g_strerror(-r));
}

/* A file's RAM record whose pages next_record() left in the file. */
static int pages_pending(const struct snap_reader *s,
			 const struct snap_record *rec)
{
	return s->fd < 0 && !s->data && rec->type == SNAP_RAM &&
	       rec->len >= 8;
}

/* Bytes of a file's RAM record read and checksummed at a time. */
#define READ_CHUNK (256u << 10)

/*
 * The payload of a RAM record whose pages next_record() left in the
 * file, checked a piece at a time through a small buffer: before a
 * machine is made (verify_body()), and before a guest offset that does
 * not fit is reported, so that corruption is reported as such.
 */
static int check_pending(struct snap_reader *s, const struct snap_record *rec,
			 GError **error)
{
	g_autofree uint8_t *buf = g_malloc(READ_CHUNK);
	uint32_t crc = 0;

	for (size_t done = 0; done < rec->len;) {
		size_t n = MIN(rec->len - done, READ_CHUNK);
		int r = file_read(s, buf, n, rec->data_at + done);

		if (r < 0)
			return file_error(s, rec->data_at + done, r, error);
		crc = crc32c(crc, buf, n);
		done += n;
	}
	return stream_check_crc(s->path, s->format, rec, crc, error);
}

/*
 * The record at *off of a file, its framing checked against the file's
 * length: its payload where it lies in s->data (bytes being inspected)
 * or read into `buf`.
 */
static int next_record(struct snap_reader *s, size_t *off, GByteArray *buf,
		       enum payload want, struct snap_record *rec,
		       GError **error)
{
	size_t left = s->len - *off, hs = stream_header_size(s->format);
	uint8_t hbuf[REC_HEADER];
	const uint8_t *h = s->data ? s->data + *off : hbuf;
	size_t n;
	int r;

	if (!left)
		return error_setf(error, EINVAL,
				  "%s: ends at offset %zu, where a record "
				  "should begin (the file is cut short)",
				  s->path, s->len);
	if (left < hs)
		return error_setf(error, EINVAL,
				  "%s: ends at offset %zu, inside the record "
				  "header that starts at offset %zu (the file "
				  "is cut short)",
				  s->path, s->len, *off);
	if (!s->data && (r = file_read(s, hbuf, hs, *off)) < 0)
		return file_error(s, *off, r, error);
	r = stream_parse_header(s->path, s->format, h, *off, 1, rec, error);
	if (r < 0)
		return r;
	if (rec->len > left - hs)
		return error_setf(error, EINVAL,
				  "%s: offset %zu: %s record of %u bytes, "
				  "but the file ends %zu bytes later (cut "
				  "short)",
				  s->path, *off, stream_record_name(rec->type),
				  rec->len, left - hs);
	n = want == PAYLOAD_RAM_LATER && pages_pending(s, rec) ? 8 : rec->len;
	if (s->data) {
		rec->data = h + hs;
	} else {
		g_byte_array_set_size(buf, (guint)n);
		r = file_read(s, buf->data, n, rec->data_at);
		if (r < 0)
			return file_error(s, rec->data_at, r, error);
		rec->data = buf->data;
	}
	if (want != PAYLOAD_UNCHECKED && n == rec->len) {
		r = stream_check_payload(s->path, s->format, h, rec, error);
		if (r < 0)
			return r;
	}
	*off += hs + rec->len;
	return 0;
}

/* The next record of the file or the stream. */
static int get_record(struct snap_reader *s, GByteArray *buf,
		      struct snap_record *rec, GError **error)
{
	int r;

	if (s->fd < 0)
		return next_record(s, &s->offset, buf, PAYLOAD_RAM_LATER, rec,
				   error);
	r = stream_read_record(s->fd, s->io, s->path, s->format, &s->offset, buf, rec, error);
	if (r == -ETIMEDOUT) {
		g_clear_error(error);
		r = error_setf(error, ETIMEDOUT,
			       "%s: offset %zu: the source sent nothing for %u "
			       "s during '%s'",
			       s->path, s->offset,
			       stream_timeout(s->fd, SO_RCVTIMEO), s->phase);
	}
	return r;
}

static int expect_record(struct snap_reader *s, GByteArray *buf, uint8_t type,
			 struct snap_record *rec, GError **error)
{
	int r = get_record(s, buf, rec, error);

	if (r < 0)
		return r;
	if (rec->type != type)
		return error_setf(error, EINVAL,
				  "%s: offset %zu: a %s record where %s must "
				  "be",
				  s->path, rec->at, stream_record_name(rec->type),
				  stream_record_name(type));
	return 0;
}

/* The deepest a head record nests: CONFIG's {"devices":[{...}]}. */
#define HEAD_MAX_DEPTH 4
/* A machine type, an ABI, a device id: bounded as a manifest's names. */
#define HEAD_MAX_STRING MANIFEST_MAX_STRING

/* A head record's object, or NULL; whatever is wrong told as one. */
static JsonObject *head_json(struct snap_reader *s,
			     const struct snap_record *rec, JsonParser *p,
			     GError **error)
{
	JsonObject *o = NULL;

	if (rec->len > SNAPSHOT_HEAD_MAX) {
		error_setf(error, EFBIG,
			   "%s: %s record of %u bytes, more than "
			   "%u",
			   s->path, stream_record_name(rec->type), rec->len,
			   SNAPSHOT_HEAD_MAX);
		return NULL;
	}
	if (json_read_parse(p, (const char *)rec->data, rec->len,
			    HEAD_MAX_DEPTH, NULL) < 0 ||
	    !(o = json_read_root_object(p)))
		error_setf(error, EINVAL,
			   "%s: offset %zu: the %s record is not "
			   "a JSON object of the expected shape",
			   s->path, rec->at, stream_record_name(rec->type));
	return o;
}

static int read_hello(struct snap_reader *s, const struct snap_record *rec,
		      GError **error)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	g_autofree char *what = g_strdup_printf("%s: HELLO", s->path);
	struct json_read in = { .what = what, .error = error };
	JsonObject *o = head_json(s, rec, p, error);
	const char *machine, *abi;
	int64_t mem, cpus;
	int alias, r;

	if (!o)
		return -EINVAL;
	/* Types here, ranges below: their messages say what a guest has. */
	if ((r = json_read_string(&in, o, "", "machine", HEAD_MAX_STRING, 0,
				  &machine)) < 0 ||
	    (r = json_read_bool(&in, o, "", "alias", &alias)) < 0 ||
	    (r = json_read_int(&in, o, "", "memory", INT64_MIN, INT64_MAX,
			       &mem)) < 0 ||
	    (r = json_read_int(&in, o, "", "cpus", INT64_MIN, INT64_MAX,
			       &cpus)) < 0 ||
	    (r = json_read_string(&in, o, "", "abi", HEAD_MAX_STRING, 0,
				  &abi)) < 0)
		return r;
	if (mem <= 0 || mem % PAGE || (guint64)mem > (1ull << 40))
		return error_setf(error, EINVAL,
				  "%s: HELLO: guest memory %" G_GINT64_FORMAT
				  " bytes is not a whole number of pages up "
				  "to 1 TiB",
				  s->path, mem);
	if (cpus < 1 || cpus > KVM_MAX_CPUS)
		return error_setf(error, EINVAL,
				  "%s: HELLO: %" G_GINT64_FORMAT
				  " vCPUs (1 to %d)",
				  s->path, cpus, KVM_MAX_CPUS);
	/* Optional, and ignored if not of its type: older writers. */
	s->check = json_read_type(json_object_get_member(o, "check")) ==
			   G_TYPE_BOOLEAN &&
		   json_object_get_boolean_member(o, "check");
	if (json_read_type(json_object_get_member(o, "commit")) ==
	    G_TYPE_INT64)
		s->commit = (int)CLAMP(json_object_get_int_member(o, "commit"),
				       0, G_MAXINT);
	s->machine = g_strdup(machine);
	s->alias = alias;
	s->memory = (uint64_t)mem;
	s->cpus = (unsigned int)cpus;
	return 0;
}

/*
 * An older source listed only compat properties in its manifest, but every
 * property in its CONFIG: the rest were as good as set there.
 */
static void props_from_spec(struct manifest *mf, struct manifest_device *md,
			    const char *spec)
{
	g_auto(GStrv) parts = g_strsplit(spec, ",", -1);

	for (char **p = parts + 1; *p; p++) {
		char *eq = strchr(*p, '=');
		struct manifest_prop *mp;
		int listed = 0;

		if (!eq || g_str_has_prefix(*p, "id="))
			continue;
		*eq = '\0';
		for (guint i = 0; i < md->props->len && !listed; i++)
			listed = !strcmp(((struct manifest_prop *)
						  md->props->pdata[i])
						 ->property,
					 *p);
		if (listed)
			continue;
		mp = g_new0(struct manifest_prop, 1);
		mp->property = manifest_str(mf, *p);
		mp->value = manifest_str(mf, eq + 1);
		mp->set = 1;
		g_ptr_array_add(md->props, mp);
	}
	md->props_complete = 1;
}

static int read_config(struct snap_reader *s, const struct snap_record *rec,
		       GError **error)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	g_autofree char *what = g_strdup_printf("%s: CONFIG", s->path);
	struct json_read in = { .what = what, .error = error };
	JsonObject *o = head_json(s, rec, p, error);
	JsonArray *a = NULL;
	guint n;
	int r;

	if (!o)
		return -EINVAL;
	if ((r = json_read_array(&in, o, "", "devices", MANIFEST_MAX_DEVICES,
				 &a)) < 0)
		return r;
	if (!a)
		return error_setf(error, EINVAL,
				  "%s: CONFIG has no devices array", s->path);
	n = json_array_get_length(a);
	if (n != s->manifest->devices->len)
		return error_setf(error, EINVAL,
				  "%s: CONFIG lists %u devices, the manifest "
				  "%u",
				  s->path, n, s->manifest->devices->len);
	for (guint i = 0; i < n; i++) {
		g_autofree char *at = json_read_index("", "devices", i);
		struct manifest_device *md = s->manifest->devices->pdata[i];
		const char *id, *spec;
		JsonObject *e;

		if ((r = json_read_element(&in, a, i, at, &e)) < 0 ||
		    (r = json_read_string(&in, e, at, "id", HEAD_MAX_STRING, 0,
					  &id)) < 0 ||
		    (r = json_read_string(&in, e, at, "spec",
					  SNAPSHOT_HEAD_MAX, 0, &spec)) < 0)
			return r;
		if (strcmp(id, md->id) || !g_str_has_prefix(spec, md->type) ||
		    spec[strlen(md->type)] != ',')
			return error_setf(error, EINVAL,
					  "%s: CONFIG device %u does not match "
					  "the manifest's %s (%s)",
					  s->path, i, md->id, md->type);
		g_ptr_array_add(s->ids, g_strdup(id));
		g_ptr_array_add(s->specs, g_strdup(spec));
		if (!md->props_complete)
			props_from_spec(s->manifest, md, spec);
	}
	return 0;
}

void snapshot_free(struct snap_reader *s)
{
	if (!s)
		return;
	if (s->file_fd >= 0)
		close(s->file_fd);
	manifest_free(s->manifest);
	g_ptr_array_unref(s->ids);
	g_ptr_array_unref(s->specs);
	g_free(s->machine);
	g_free(s->path);
	g_free(s);
}

static struct snap_reader *snapshot_new(const char *path, int fd)
{
	struct snap_reader *s = g_new0(struct snap_reader, 1);

	s->path = g_strdup(path);
	s->fd = fd;
	s->file_fd = -1;
	s->phase = "handshake";
	s->ids = g_ptr_array_new_with_free_func(g_free);
	s->specs = g_ptr_array_new_with_free_func(g_free);
	return s;
}

static int read_head(struct snap_reader *s, GError **error)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autofree char *what = g_strdup_printf("%s: manifest", s->path);
	struct snap_record rec;
	int r;

	if ((r = expect_record(s, buf, SNAP_HELLO, &rec, error)) < 0 ||
	    (r = read_hello(s, &rec, error)) < 0 ||
	    (r = expect_record(s, buf, SNAP_MANIFEST, &rec, error)) < 0 ||
	    (r = manifest_parse(what, (const char *)rec.data, rec.len,
				MANIFEST_GUEST, &s->manifest, error)) < 0 ||
	    (r = expect_record(s, buf, SNAP_CONFIG, &rec, error)) < 0 ||
	    (r = read_config(s, &rec, error)) < 0)
		return r;
	s->body = s->offset;
	return 0;
}

/* The magic and format version both kinds of stream start with. */
static int check_magic(struct snap_reader *s, const uint8_t *head, size_t len,
		       GError **error)
{
	uint32_t format;

	if (!len)
		return error_setf(error, EINVAL,
				  "%s: empty, not a modvmm snapshot or "
				  "migration stream",
				  s->path);
	if (memcmp(head, SNAPSHOT_MAGIC, MIN(len, 8)))
		return error_setf(error, EINVAL,
				  "%s: not a modvmm snapshot or migration "
				  "stream (no " SNAPSHOT_MAGIC " magic)",
				  s->path);
	if (len < 12)
		return error_setf(error, EINVAL,
				  "%s: ends at offset %zu, inside its %s (the "
				  "file is cut short)",
				  s->path, len,
				  len < 8 ? "magic" : "format version");
	format = le32_get(head + 8);
	if (format < SNAPSHOT_FORMAT_OLDEST || format > SNAPSHOT_FORMAT)
		return error_setf(error, EPROTONOSUPPORT,
				  "%s: format %u; this host reads formats %u "
				  "to %u",
				  s->path, format, SNAPSHOT_FORMAT_OLDEST,
				  SNAPSHOT_FORMAT);
	s->format = format;
	s->offset = 12;
	return read_head(s, error);
}

/*
 * Every record after the head, up to END, framed and checksummed, before
 * the snapshot is used: a cut or corrupt file is refused before a
 * machine is made for it (devices made, a disk image locked, would only
 * hide what is wrong). snapshot_load() checks RAM pages again, on the
 * copy the guest runs on: the file may have changed in between.
 */
static int verify_body(struct snap_reader *s, GError **error)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	size_t off = s->body;
	struct snap_record rec = { 0 };
	int r;

	do {
		r = next_record(s, &off, buf, PAYLOAD_RAM_LATER, &rec, error);
		if (!r && pages_pending(s, &rec))
			r = check_pending(s, &rec, error);
		if (r < 0)
			return r;
		if (rec.type < SNAP_RAM && rec.type != SNAP_PAD)
			return error_setf(error, EINVAL,
					  "%s: offset %zu: a %s record after "
					  "the head",
					  s->path, rec.at,
					  stream_record_name(rec.type));
	} while (rec.type != SNAP_END);
	if (off != s->len)
		return error_setf(error, EINVAL,
				  "%s: %zu bytes after the END record at "
				  "offset %zu",
				  s->path, s->len - off, rec.at);
	return 0;
}

int snapshot_open(const char *path, struct snap_reader **ret, GError **error)
{
	struct snap_reader *s = snapshot_new(path, -1);
	uint8_t head[12];
	struct stat st;
	int r;

	s->file_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->file_fd < 0 || fstat(s->file_fd, &st) < 0) {
		r = error_setf(error, errno, "snapshot %s: %s", path,
			       g_strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = error_setf(error, EINVAL, "snapshot %s: not a regular file",
			       path);
		goto fail;
	}
	s->len = (size_t)st.st_size;
	r = file_read(s, head, MIN(s->len, sizeof(head)), 0);
	if (r < 0)
		r = file_error(s, 0, r, error);
	else
		r = check_magic(s, head, MIN(s->len, sizeof(head)), error);
	if (!r)
		r = verify_body(s, error);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	snapshot_free(s);
	return r;
}

int snapshot_inspect(const char *path, const uint8_t *data, size_t len,
		     struct snap_reader **ret, GError **error)
{
	struct snap_reader *s = snapshot_new(path, -1);
	int r;

	s->data = data;
	s->len = len;
	r = check_magic(s, data, len, error);
	if (r < 0) {
		snapshot_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int snapshot_next_record(struct snap_reader *s, size_t *offset,
			 struct snap_record *rec, GError **ret_corrupt,
			 GError **error)
{
	int r;

	if (*offset >= s->len)
		return 0;
	/* The payload's checksum is reported below, not refused. */
	r = next_record(s, offset, NULL, PAYLOAD_UNCHECKED, rec, error);
	if (r < 0)
		return r;
	stream_check_payload(s->path, s->format, s->data + rec->at, rec, ret_corrupt);
	return 1;
}

int snapshot_receive(int fd, struct stream_io *io, const char *what,
		     struct snap_reader **ret, GError **error)
{
	struct snap_reader *s = snapshot_new(what, fd);
	uint8_t head[12];
	int r;

	s->io = io;
	r = stream_read_full(fd, io, head, sizeof(head));
	if (r == -ETIMEDOUT)
		r = error_setf(error, ETIMEDOUT,
			       "%s: the source sent nothing for %u s during "
			       "'%s'",
			       what, stream_timeout(fd, SO_RCVTIMEO), s->phase);
	else if (r < 0)
		r = error_setf(error, -r,
			       "%s: the stream ended before its magic", what);
	else
		r = check_magic(s, head, sizeof(head), error);
	if (r < 0) {
		s->fd = -1; /* the caller's */
		snapshot_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int snapshot_send_verdict(struct snap_reader *s, const struct compat_verdict *v,
			  GError **error)
{
	g_autoptr(JsonNode) n = NULL;
	g_autofree char *line = NULL;
	struct snap_writer w = { .fd = s->fd,
				 .io = s->io,
				 .what = s->path,
				 .format = s->format };
	int r;

	if (s->fd < 0)
		return 0;
	/* The text for the source's operator; per accepted device, the
	 * version to save at and the subsections known here, for the
	 * source's re-check when it stops the guest. */
	n = compat_verdict_node(v);
	/* And how this host ends a migration. */
	json_object_set_int_member(json_node_get_object(n), "commit",
				   SNAPSHOT_COMMIT);
	line = json_to_string(n, FALSE);
	r = stream_write_record(&w, SNAP_VERDICT, line, strlen(line), NULL, 0,
				  error);
	/* RAM comes next. */
	s->phase = "ram";
	if (!r)
		fault_point(FAULT_INCOMING_VERDICT);
	return r;
}

int snapshot_send_complete(struct snap_reader *s, GError **error)
{
	struct snap_writer w = { .fd = s->fd,
				 .io = s->io,
				 .what = s->path,
				 .format = s->format };

	if (s->fd < 0)
		return 0;
	s->phase = "complete";
	fault_point(FAULT_INCOMING_COMPLETE);
	/*
	 * A source that gave up (its timeout ran out while this host was
	 * loading, or a cancel) has closed the connection and resumed its
	 * guest, and COMPLETE written to a TCP socket whose peer closed
	 * still succeeds: the guest would run on both hosts. The source
	 * sends nothing after END, so anything but "no data yet" is that.
	 */
	if (stream_peer_gone(s->fd, s->io) < 0)
		return error_setf(error, EPIPE,
				  "%s: the source closed the connection before "
				  "COMPLETE",
				  s->path);
	return stream_write_record(&w, SNAP_COMPLETE, NULL, 0, NULL, 0,
				     error);
}

int snapshot_await_commit(struct snap_reader *s, GError **error)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autoptr(GError) err = NULL;
	struct snap_record rec;
	int r;

	s->phase = "commit";
	r = stream_read_record(s->fd, s->io, s->path, s->format, &s->offset, buf,
			       &rec, &err);
	if (r == -ETIMEDOUT)
		return error_setf(error, ETIMEDOUT,
				  "%s: the source sent no COMMIT for %u s "
				  "after COMPLETE",
				  s->path, stream_timeout(s->fd, SO_RCVTIMEO));
	if (r < 0)
		return error_setf(error, -r,
				  "%s: no COMMIT from the source: %s", s->path,
				  err->message);
	if (rec.type != SNAP_COMMIT || rec.len)
		return error_setf(error, EPROTO,
				  "%s: the source answered COMPLETE with a %s "
				  "record of %u bytes, not COMMIT",
				  s->path, stream_record_name(rec.type),
				  rec.len);
	fault_point(FAULT_INCOMING_COMMIT);
	return 0;
}

int snapshot_send_running(struct snap_reader *s, GError **error)
{
	struct snap_writer w = { .fd = s->fd,
				 .io = s->io,
				 .what = s->path,
				 .format = s->format };

	s->phase = "running";
	return stream_write_record(&w, SNAP_RUNNING, NULL, 0, NULL, 0, error);
}

/*
 * The pages of a file's RAM record, read straight into guest RAM at
 * `dst` and checked there, a piece at a time while it is in the cache:
 * what the guest runs on is what was checked, and the file is read once.
 */
static int read_pages(struct snap_reader *s, uint8_t *dst,
		      const struct snap_record *rec, GError **error)
{
	size_t at = rec->data_at + 8, len = rec->len - 8;
	uint32_t crc = crc32c(0, rec->data, 8);

	for (size_t done = 0; done < len;) {
		size_t n = MIN(len - done, READ_CHUNK);
		int r = file_read(s, dst + done, n, at + done);

		if (r < 0)
			return file_error(s, at + done, r, error);
		crc = crc32c(crc, dst + done, n);
		done += n;
	}
	return stream_check_crc(s->path, s->format, rec, crc, error);
}

/*
 * Which pages of guest RAM the RAM and RAM_ZERO records gave. A file
 * gives each page once: a second record for a page is refused, as is a
 * page no record gives (it would run as zeros). A stream's rounds give a
 * page again whenever the guest rewrote it, but the first gives them all.
 */
struct ram_cover {
	uint64_t *given; /* a bit per page */
	uint64_t pages;
	int once;
};

static int page_given(const struct ram_cover *c, uint64_t p)
{
	return (c->given[p / 64] >> (p % 64)) & 1;
}

static int cover(struct snap_reader *s, struct ram_cover *c,
		 const struct snap_record *rec, uint64_t first, uint64_t n,
		 GError **error)
{
	for (uint64_t p = first; p < first + n; p++) {
		if (c->once && page_given(c, p))
			return error_setf(
				error, EINVAL,
				"%s: offset %zu: %s record gives the page at "
				"0x%" G_GINT64_MODIFIER "x of guest RAM "
				"again (an earlier record gave it; a snapshot "
				"gives each page once)",
				s->path, rec->at, stream_record_name(rec->type),
				p * PAGE);
		c->given[p / 64] |= 1ull << (p % 64);
	}
	return 0;
}

static int cover_check(struct snap_reader *s, const struct ram_cover *c,
		       GError **error)
{
	uint64_t p = 0, n = 1;

	while (p < c->pages && page_given(c, p))
		p++;
	if (p == c->pages)
		return 0;
	while (p + n < c->pages && !page_given(c, p + n))
		n++;
	return error_setf(error, EINVAL,
			  "%s: guest RAM 0x%" G_GINT64_MODIFIER
			  "x-0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
			  " pages) is in no RAM or RAM_ZERO record (the "
			  "first such range; every page must be given)",
			  s->path, p * PAGE, (p + n) * PAGE - 1, n);
}

static int load_ram(struct snap_reader *s, struct machine *m,
		    const struct snap_record *rec, struct ram_cover *c,
		    GError **error)
{
	uint64_t off, pages, size = m->kvm->ram_size;
	int r;

	if (rec->len < 8 || (rec->type == SNAP_RAM_ZERO && rec->len != 16) ||
	    (rec->type == SNAP_RAM && (rec->len - 8) % PAGE))
		return error_setf(error, EINVAL,
				  "%s: offset %zu: %s record of %u bytes is "
				  "not an offset and whole pages",
				  s->path, rec->at, stream_record_name(rec->type),
				  rec->len);
	memcpy(&off, rec->data, 8);
	if (rec->type == SNAP_RAM_ZERO)
		memcpy(&pages, rec->data + 8, 8);
	else
		pages = (rec->len - 8) / PAGE;
	if (off % PAGE || off > size || pages > (size - off) / PAGE) {
		if (pages_pending(s, rec) && (r = check_pending(s, rec, error)))
			return r;
		return error_setf(
			error, EINVAL,
			"%s: offset %zu: %s of %" G_GUINT64_FORMAT
			" pages at 0x%" G_GINT64_MODIFIER
			"x lies outside the guest's %" G_GUINT64_FORMAT
			" bytes",
			s->path, rec->at, stream_record_name(rec->type), pages, off,
			size);
	}
	if (pages_pending(s, rec)) {
		r = read_pages(s, m->kvm->ram + off, rec, error);
		if (r < 0)
			return r;
	} else if (rec->type == SNAP_RAM) {
		memcpy(m->kvm->ram + off, rec->data + 8, pages * PAGE);
	} else if (pages) {
		/* Guest RAM is private anonymous memory: dropped pages read
		 * as zero, and pages never touched cost nothing to drop. */
		madvise(m->kvm->ram + off, pages * PAGE, MADV_DONTNEED);
	}
	return cover(s, c, rec, off / PAGE, pages, error);
}

static int load_cpu(struct snap_reader *s, struct machine *m,
		    const struct snap_record *rec, uint8_t *seen,
		    GError **error)
{
	g_autofree struct kvm_cpu_state *cs = g_new0(struct kvm_cpu_state, 1);
	g_autofree char *id = NULL;
	uint32_t idx;
	size_t used;
	int r;

	if (rec->len < 4)
		return error_setf(error, EINVAL,
				  "%s: offset %zu: CPU record of %u bytes",
				  s->path, rec->at, rec->len);
	memcpy(&idx, rec->data, 4);
	if (idx >= m->kvm->ncpus || seen[idx])
		return error_setf(error, EINVAL,
				  "%s: offset %zu: CPU record for vcpu%u: %s",
				  s->path, rec->at, idx,
				  idx >= m->kvm->ncpus ? "no such vCPU"
						       : "a second time");
	seen[idx] = 1;
	id = g_strdup_printf("vcpu%u", idx);
	r = vmstate_load(kvm_state_cpu_vms(), cs, rec->data + 4, rec->len - 4,
			 rec->data_at + 4, id, &used, error);
	if (!r && used != rec->len - 4)
		r = error_setf(error, EINVAL,
			       "%s: offset %zu: %zu bytes after vcpu%u's "
			       "state",
			       s->path, rec->at, rec->len - 4 - used, idx);
	if (!r)
		r = kvm_cpu_state_set(m->kvm, idx, cs, error);
	return r;
}

static int load_vm(struct snap_reader *s, struct machine *m,
		   const struct snap_record *rec, GError **error)
{
	struct kvm_vm_state vs = { 0 }; /* the device clock may be absent */
	size_t used;
	int r;

	r = vmstate_load(kvm_state_vm_vms(), &vs, rec->data, rec->len,
			 rec->data_at, "kvm", &used, error);
	if (!r && used != rec->len)
		r = error_setf(error, EINVAL,
			       "%s: offset %zu: %zu bytes after the VM state",
			       s->path, rec->at, rec->len - used);
	return r < 0 ? r
		     : kvm_vm_state_set(m->kvm, m->devs->timers, &vs, error);
}

static int load_device(struct snap_reader *s, struct machine *m,
		       const struct snap_record *rec, GHashTable *seen,
		       GError **error)
{
	g_autofree char *id = NULL;
	struct modvmm_device *dev;
	size_t used;
	int r;

	if (rec->len < 1 || rec->data[0] == 0 || rec->data[0] >= rec->len)
		return error_setf(error, EINVAL,
				  "%s: offset %zu: DEVICE record without a "
				  "device id",
				  s->path, rec->at);
	id = g_strndup((const char *)rec->data + 1, rec->data[0]);
	dev = strlen(id) == rec->data[0] ? device_find(m->devs, id) : NULL;
	if (!dev || !dev->type->vms || g_hash_table_contains(seen, dev))
		return error_setf(error, EINVAL,
				  "%s: offset %zu: state for device '%s': %s",
				  s->path, rec->at, id,
				  !dev ? "no such device" : "a second time");
	g_hash_table_add(seen, dev);
	g_mutex_lock(&m->devs->lock);
	r = vmstate_load(dev->type->vms, dev->state,
			 rec->data + 1 + rec->data[0],
			 rec->len - 1 - rec->data[0],
			 rec->data_at + 1 + rec->data[0], id, &used, error);
	g_mutex_unlock(&m->devs->lock);
	if (!r && used != rec->len - 1u - rec->data[0])
		r = error_setf(error, EINVAL,
			       "%s: offset %zu: bytes after device %s's state",
			       s->path, rec->at, id);
	return r;
}

/*
 * An incoming migration's progress: the phase a silence of the source is
 * reported in, and the fault points at its first record after the head
 * (RAM) and at its first record of state (its guest is paused from then).
 */
static void stream_progress(struct snap_reader *s,
			    const struct snap_record *rec)
{
	if (rec->at == s->body)
		fault_point(FAULT_INCOMING_RAM);
	if (rec->type >= SNAP_CPU && rec->type <= SNAP_DEVICE &&
	    strcmp(s->phase, "device state")) {
		s->phase = "device state";
		fault_point(FAULT_INCOMING_DEVICE_STATE);
	}
}

int snapshot_load(struct snap_reader *s, struct machine *m, GError **error)
{
	g_autoptr(GHashTable) seen_dev = g_hash_table_new(NULL, NULL);
	g_autofree uint8_t *seen_cpu = g_malloc0(m->kvm->ncpus);
	g_autoptr(GByteArray) buf = g_byte_array_new();
	uint64_t pages = m->kvm->ram_size / PAGE;
	g_autofree uint64_t *given = g_new0(uint64_t, (pages + 63) / 64);
	struct ram_cover c = { given, pages, s->fd < 0 };
	int vm = 0, r;

	s->offset = s->body;
	for (;;) {
		struct snap_record rec;

		r = get_record(s, buf, &rec, error);
		if (r < 0)
			return r;
		if (s->fd >= 0)
			stream_progress(s, &rec);
		switch (rec.type) {
		case SNAP_RAM:
		case SNAP_RAM_ZERO:
			r = load_ram(s, m, &rec, &c, error);
			break;
		case SNAP_CPU:
			r = load_cpu(s, m, &rec, seen_cpu, error);
			break;
		case SNAP_VM:
			r = vm++ ? error_setf(error, EINVAL,
					      "%s: offset %zu: a second VM "
					      "record",
					      s->path, rec.at)
				 : load_vm(s, m, &rec, error);
			break;
		case SNAP_DEVICE:
			r = load_device(s, m, &rec, seen_dev, error);
			break;
		case SNAP_END:
			goto end;
		case SNAP_PAD:
			break;
		default:
			r = error_setf(error, EINVAL,
				       "%s: offset %zu: a %s record after the "
				       "head",
				       s->path, rec.at, stream_record_name(rec.type));
			break;
		}
		if (r < 0)
			return r;
	}
end:
	if (s->fd < 0 && s->offset != s->len)
		return error_setf(error, EINVAL,
				  "%s: %zu bytes after the END record", s->path,
				  s->len - s->offset);
	r = cover_check(s, &c, error);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < m->kvm->ncpus; i++)
		if (!seen_cpu[i])
			return error_setf(error, EINVAL,
					  "%s: no state for vcpu%u", s->path,
					  i);
	if (!vm)
		return error_setf(error, EINVAL, "%s: no VM state", s->path);
	for (guint i = 0; i < m->devs->devices->len; i++) {
		struct modvmm_device *dev = m->devs->devices->pdata[i];

		if (!g_hash_table_contains(seen_dev, dev))
			return error_setf(error, EINVAL,
					  "%s: no state for device %s", s->path,
					  dev->id);
	}
	return 0;
}
