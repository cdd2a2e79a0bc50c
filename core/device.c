// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/device.c - device instances: creation from a --device spec, property
 * values, realize/unrealize, reset.
 *
 * A device's type (and so its module) cannot go away while the device
 * exists: the loader refuses to unload a module with instances.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"
#include "base/error.h"

static int id_valid(const char *s)
{
	if (!*s || strlen(s) > 63 || !g_ascii_isalpha(*s))
		return 0;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

const char *device_prop_type_name(uint32_t type)
{
	switch (type) {
	case MODVMM_PROP_U8:
		return "u8";
	case MODVMM_PROP_U16:
		return "u16";
	case MODVMM_PROP_U32:
		return "u32";
	case MODVMM_PROP_U64:
		return "u64";
	case MODVMM_PROP_BOOL:
		return "bool";
	}
	return "string";
}

static int parse_bool(const char *s, uint64_t *ret)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (!strcmp(s, yes[i]))
			return *ret = 1, 0;
		if (!strcmp(s, no[i]))
			return *ret = 0, 0;
	}
	return -EINVAL;
}

/* Decimal, 0x hex or 0 octal; the whole string, within max. */
static int parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	guint64 v;

	if (!g_ascii_isdigit(*s))
		return -EINVAL;
	errno = 0;
	v = g_ascii_strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static void prop_store(struct modvmm_device *dev,
		       const struct modvmm_property *p, uint64_t v,
		       const char *s)
{
	char *at = (char *)dev->state + p->offset;
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	/* Offsets come from offsetof() but are not trusted to be aligned. */
	switch (p->type) {
	case MODVMM_PROP_U8:
	case MODVMM_PROP_BOOL:
		memcpy(at, &u8, 1);
		break;
	case MODVMM_PROP_U16:
		memcpy(at, &u16, 2);
		break;
	case MODVMM_PROP_U32:
		memcpy(at, &u32, 4);
		break;
	case MODVMM_PROP_U64:
		memcpy(at, &v, 8);
		break;
	case MODVMM_PROP_STR:
		if (s) {
			char *copy = g_strdup(s);

			g_ptr_array_add(dev->strings, copy);
			memcpy(at, &copy, sizeof(copy));
		}
		break;
	}
}

char *device_prop_value_text(const struct modvmm_property *p, uint64_t v,
			     const char *str)
{
	if (p->type == MODVMM_PROP_BOOL)
		return g_strdup(v ? "on" : "off");
	if (p->type == MODVMM_PROP_STR)
		return g_strdup(str ? str : "");
	return g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)v);
}

char *device_prop_text(const struct modvmm_device *dev,
		       const struct modvmm_property *p)
{
	const char *at = (const char *)dev->state + p->offset;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64 = 0;
	const char *str = NULL;

	switch (p->type) {
	case MODVMM_PROP_U8:
	case MODVMM_PROP_BOOL:
		memcpy(&u8, at, 1);
		u64 = u8;
		break;
	case MODVMM_PROP_U16:
		memcpy(&u16, at, 2);
		u64 = u16;
		break;
	case MODVMM_PROP_U32:
		memcpy(&u32, at, 4);
		u64 = u32;
		break;
	case MODVMM_PROP_U64:
		memcpy(&u64, at, 8);
		break;
	default:
		memcpy(&str, at, sizeof(str));
		break;
	}
	return device_prop_value_text(p, u64, str);
}

char *device_prop_legacy_text(const struct modvmm_property *p)
{
	if (!(p->flags & MODVMM_PROP_LEGACY))
		return NULL;
	return device_prop_value_text(p, p->legacy_u64, p->legacy_str);
}

static int prop_set(struct modvmm_device *dev, const struct modvmm_property *p,
		    const char *value, GError **error)
{
	static const uint64_t max[] = {
		[MODVMM_PROP_U8] = UINT8_MAX,
		[MODVMM_PROP_U16] = UINT16_MAX,
		[MODVMM_PROP_U32] = UINT32_MAX,
		[MODVMM_PROP_U64] = UINT64_MAX,
	};
	uint64_t v = 0;
	int r = 0;

	if (p->type == MODVMM_PROP_BOOL)
		r = parse_bool(value, &v);
	else if (p->type != MODVMM_PROP_STR)
		r = parse_uint(value, max[p->type], &v);
	if (r < 0) {
		if (p->type == MODVMM_PROP_BOOL)
			return error_setf(
				error, EINVAL,
				"%s: property %s: '%s' is not on or off",
				dev->id, p->name, value);
		return error_setf(error, ERANGE,
				  "%s: property %s: '%s' is not a %s "
				  "(0..%" G_GUINT64_FORMAT ")",
				  dev->id, p->name, value, device_prop_type_name(p->type),
				  (guint64)max[p->type]);
	}
	prop_store(dev, p, v, value);
	return 0;
}

static char *prop_names(const struct device_type *dt)
{
	GString *s = g_string_new(NULL);

	for (uint32_t i = 0; i < dt->t.n_properties; i++)
		g_string_append_printf(s, "%s%s", i ? ", " : "",
				       dt->props[i].name);
	if (!s->len)
		g_string_append(s, "none");
	return g_string_free(s, FALSE);
}

/*
 * Under the device lock, which bus dispatch and timer callbacks hold too:
 * the guest stops reaching the device first, then the module lets go of
 * it, then the host frees the timers the module left.
 */
static void device_detach_locked(struct modvmm_device *dev, int realized)
{
	bus_remove_owner(dev->devs->pio, dev);
	bus_remove_owner(dev->devs->mmio, dev);
	ioevents_remove_owner(dev->devs->ioevents, dev);
	if (realized && dev->type->t.unrealize)
		dev->type->t.unrealize(dev, dev->state);
	while (dev->timers->len)
		device_timer_free(dev->timers->pdata[dev->timers->len - 1]);
}

static void device_file_clear(gpointer p)
{
	struct device_file *f = p;

	g_free(f->path);
	if (f->fd >= 0)
		close(f->fd);
}

static void device_release(struct modvmm_device *dev)
{
	if (dev->files)
		g_array_unref(dev->files);
	g_free(dev->prop_origin);
	g_ptr_array_unref(dev->timers);
	g_ptr_array_unref(dev->strings);
	g_clear_error(&dev->error);
	g_free(dev->state);
	g_free(dev->id);
	g_free(dev);
}

struct modvmm_device *device_find(struct vm_devices *devs, const char *id)
{
	for (guint i = 0; i < devs->devices->len; i++) {
		struct modvmm_device *dev = devs->devices->pdata[i];

		if (!strcmp(dev->id, id))
			return dev;
	}
	return NULL;
}

static char *id_default(struct vm_devices *devs, const char *type)
{
	for (unsigned int n = 0;; n++) {
		char *id = g_strdup_printf("%s%u", type, n);

		if (!device_find(devs, id))
			return id;
		g_free(id);
	}
}

/* PROP=VALUE parts, each set with `origin`; "id=" is skipped. */
static int props_set(struct modvmm_device *dev, char **parts,
		     enum device_prop_origin origin, GError **error)
{
	const struct device_type *dt = dev->type;

	for (char **p = parts; *p; p++) {
		char *eq = strchr(*p, '=');
		uint32_t i;
		int r;

		if (!eq)
			return error_setf(error, EINVAL,
					  "%s: '%s' is not property=value",
					  dev->id, *p);
		*eq = '\0';
		if (!strcmp(*p, "id"))
			continue;
		for (i = 0; i < dt->t.n_properties; i++)
			if (!strcmp(dt->props[i].name, *p))
				break;
		if (i == dt->t.n_properties) {
			g_autofree char *known = prop_names(dt);

			return error_setf(error, EINVAL,
					  "%s: device type %s has no property "
					  "'%s' (known: %s)",
					  dev->id, dt->t.name, *p, known);
		}
		r = prop_set(dev, &dt->props[i], eq + 1, error);
		if (r < 0)
			return r;
		dev->prop_origin[i] = origin;
	}
	return 0;
}

int device_create(struct vm_devices *devs, const char *spec,
		  struct modvmm_device **ret, GError **error)
{
	return device_create_machine(devs, spec, NULL, ret, error);
}

/* The type a spec's parts name and the id they give, if any (else NULL). */
static int spec_resolve(struct vm_devices *devs, char **parts,
			struct device_type **ret_dt, const char **ret_id,
			GError **error)
{
	struct device_type *dt;
	const char *id = NULL;

	dt = parts[0] ? loader_find_type(devs->loader, parts[0]) : NULL;
	if (!dt) {
		g_autofree char *hint = loader_type_hint(
			devs->loader, parts[0] ? parts[0] : "");

		return error_setf(error, ENOENT, "unknown device type '%s'%s",
				  parts[0] ? parts[0] : "", hint);
	}
	for (char **p = parts + 1; *p; p++)
		if (g_str_has_prefix(*p, "id="))
			id = *p + 3;
	if (id && !id_valid(id))
		return error_setf(
			error, EINVAL,
			"%s: invalid device id '%s' (a letter, then up "
			"to 62 of a-z A-Z 0-9 - _ .)",
			dt->t.name, id);
	if (id && device_find(devs, id))
		return error_setf(error, EEXIST, "device id '%s' is in use",
				  id);
	*ret_dt = dt;
	*ret_id = id;
	return 0;
}

/* A device of type dt, not yet realized, its properties the defaults. */
static struct modvmm_device *device_new(struct vm_devices *devs,
					struct device_type *dt, const char *id)
{
	struct modvmm_device *dev = g_new0(struct modvmm_device, 1);

	dev->devs = devs;
	dev->type = dt;
	dev->id = id ? g_strdup(id) : id_default(devs, dt->t.name);
	dev->state = g_malloc0(dt->t.instance_size);
	dev->strings = g_ptr_array_new_with_free_func(g_free);
	dev->timers = g_ptr_array_new();
	dev->files = g_array_new(FALSE, FALSE, sizeof(struct device_file));
	g_array_set_clear_func(dev->files, device_file_clear);

	dev->prop_origin = g_new0(uint8_t, dt->t.n_properties + 1u);

	for (uint32_t i = 0; i < dt->t.n_properties; i++)
		prop_store(dev, &dt->props[i], dt->props[i].default_u64,
			   dt->props[i].default_str);
	return dev;
}

/*
 * Realizes dev and adds it to its VM. On failure what realize() left is
 * taken apart, and the caller frees dev.
 */
static int device_realize(struct modvmm_device *dev, GError **error)
{
	struct vm_devices *devs = dev->devs;
	struct device_type *dt = dev->type;
	int32_t rr;
	int r;

	g_mutex_lock(&devs->lock);
	dev->realizing = 1;
	rr = dt->t.realize ? dt->t.realize(dev, dev->state) : 0;
	dev->realizing = 0;
	g_mutex_unlock(&devs->lock);
	if (rr < 0) {
		r = error_setf(error, -rr, "%s: realize of %s failed: %s",
			       dev->id, dt->t.name,
			       dev->error ? dev->error->message
					  : g_strerror(-rr));
		g_mutex_lock(&devs->lock);
		device_detach_locked(dev, 0);
		g_mutex_unlock(&devs->lock);
		return r;
	}
	/* A module that ignored a failed service call still hears of it;
	 * an error it logged and then went on from is said as it was. */
	if (dev->error)
		device_log(dev,
			   dev->error_logged ? MODVMM_LOG_ERROR
					     : MODVMM_LOG_WARNING,
			   "%s", dev->error->message);
	g_clear_error(&dev->error);
	dev->error_logged = 0;
	dt->instances++;
	g_mutex_lock(&devs->lock);
	g_ptr_array_add(devs->devices, dev);
	g_mutex_unlock(&devs->lock);
	return 0;
}

int device_create_machine(struct vm_devices *devs, const char *spec,
			  const char *machine_props, struct modvmm_device **ret,
			  GError **error)
{
	g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
	g_auto(GStrv) mparts = NULL;
	struct modvmm_device *dev;
	struct device_type *dt = NULL;
	const char *id = NULL;
	int r;

	r = spec_resolve(devs, parts, &dt, &id, error);
	if (r < 0)
		return r;
	dev = device_new(devs, dt, id);
	/* The machine type's values first: what the user gives wins. */
	if (machine_props && *machine_props) {
		mparts = g_strsplit(machine_props, ",", -1);
		r = props_set(dev, mparts, DEVICE_PROP_MACHINE, error);
		if (r < 0)
			goto fail;
	}
	r = props_set(dev, parts + 1, DEVICE_PROP_USER, error);
	if (r < 0)
		goto fail;
	r = device_realize(dev, error);
	if (r < 0)
		goto fail;
	if (ret)
		*ret = dev;
	return 0;
fail:
	device_release(dev);
	return r;
}

void device_destroy(struct modvmm_device *dev)
{
	struct vm_devices *devs;

	if (!dev)
		return;
	devs = dev->devs;
	g_mutex_lock(&devs->lock);
	device_detach_locked(dev, 1);
	g_ptr_array_remove(devs->devices, dev);
	g_mutex_unlock(&devs->lock);
	dev->type->instances--;
	device_release(dev);
}

void device_reset_all(struct vm_devices *devs)
{
	g_mutex_lock(&devs->lock);
	for (guint i = 0; i < devs->devices->len; i++) {
		struct modvmm_device *dev = devs->devices->pdata[i];

		if (dev->type->t.reset)
			dev->type->t.reset(dev, dev->state);
	}
	g_mutex_unlock(&devs->lock);
}

void device_destroy_all(struct vm_devices *devs)
{
	while (devs->devices->len)
		device_destroy(devs->devices->pdata[devs->devices->len - 1]);
}

/* Another device's use of the file `st` that conflicts with this one's. */
static const struct device_file *file_conflict(struct modvmm_device *dev,
					       const struct stat *st, int write,
					       const struct modvmm_device **ret)
{
	GPtrArray *devs = dev->devs->devices;

	for (guint i = 0; i < devs->len; i++) {
		const struct modvmm_device *o = devs->pdata[i];

		for (guint j = 0; o != dev && j < o->files->len; j++) {
			const struct device_file *f =
				&g_array_index(o->files, struct device_file, j);

			if (f->st_dev == st->st_dev &&
			    f->st_ino == st->st_ino && (write || f->write)) {
				*ret = o;
				return f;
			}
		}
	}
	return NULL;
}

int device_file_open(struct modvmm_device *dev, const char *path,
		     uint32_t flags, GError **error)
{
	int write = !!(flags & MODVMM_FILE_WRITE);
	struct flock lock = { .l_type = write ? F_WRLCK : F_RDLCK,
			      .l_whence = SEEK_SET };
	const struct modvmm_device *holder = NULL;
	const struct device_file *f;
	struct device_file mine;
	struct stat st;
	int fd, r;

	if (flags & ~MODVMM_FILE_WRITE)
		return error_setf(error, EINVAL,
				  "%s: file_open flags 0x%x: unknown bits",
				  path, flags);
	fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = errno;
		if (fd >= 0)
			close(fd);
		return error_setf(error, r, "%s: %s", path, g_strerror(r));
	}
	f = file_conflict(dev, &st, write, &holder);
	if (f) {
		close(fd);
		return error_setf(error, EBUSY,
				  "%s: in use: device %s (%s) has it open %s",
				  path, holder->id, holder->type->t.name,
				  f->write ? "read-write" : "read-only");
	}
	/* One writer or many readers, across processes that ask (another
	 * modvmm, QEMU): an open file description lock goes with the last
	 * close of this descriptor, whatever else the process holds. */
	if (!dev->devs->no_file_locks && fcntl(fd, F_OFD_SETLK, &lock) < 0) {
		r = errno;
		close(fd);
		if (r == EAGAIN || r == EACCES)
			return error_setf(
				error, EBUSY,
				"%s: in use: another process holds "
				"a lock on it for %s",
				path, write ? "reading or writing" : "writing");
		return error_setf(error, r, "%s: lock: %s", path,
				  g_strerror(r));
	}
	mine.path = g_strdup(path);
	mine.st_dev = st.st_dev;
	mine.st_ino = st.st_ino;
	mine.write = write;
	mine.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	mine.locked = !dev->devs->no_file_locks;
	g_array_append_val(dev->files, mine);
	return fd;
}

static int file_lock(const struct device_file *f, short type)
{
	struct flock lock = { .l_type = type, .l_whence = SEEK_SET };

	return fcntl(f->fd, F_OFD_SETLK, &lock) < 0 ? -errno : 0;
}

int devices_lock_files(struct vm_devices *devs, GError **error)
{
	for (guint i = 0; i < devs->devices->len; i++) {
		struct modvmm_device *dev = devs->devices->pdata[i];

		for (guint j = 0; j < dev->files->len; j++) {
			struct device_file *f =
				&g_array_index(dev->files, struct device_file, j);
			int r = f->locked ? 0
					  : file_lock(f, f->write ? F_WRLCK
								  : F_RDLCK);

			if (r == -EAGAIN || r == -EACCES)
				return error_setf(
					error, EBUSY,
					"%s: %s: in use: another process holds "
					"a lock on it for %s",
					dev->id, f->path,
					f->write ? "reading or writing"
						 : "writing");
			if (r < 0)
				return error_setf(error, -r, "%s: %s: lock: %s",
						  dev->id, f->path,
						  g_strerror(-r));
			f->locked = 1;
		}
	}
	devs->no_file_locks = 0;
	return 0;
}

void devices_unlock_files(struct vm_devices *devs)
{
	for (guint i = 0; i < devs->devices->len; i++) {
		struct modvmm_device *dev = devs->devices->pdata[i];

		for (guint j = 0; j < dev->files->len; j++) {
			struct device_file *f =
				&g_array_index(dev->files, struct device_file, j);

			if (f->locked && !file_lock(f, F_UNLCK))
				f->locked = 0;
		}
	}
}

struct modvmm_timer *device_timer_new(struct modvmm_device *dev,
				      modvmm_timer_cb cb, void *opaque)
{
	struct modvmm_timer *mt = g_new0(struct modvmm_timer, 1);

	mt->dev = dev;
	mt->t = timer_new(dev->devs->timers, cb, opaque);
	g_ptr_array_add(dev->timers, mt);
	return mt;
}

void device_timer_free(struct modvmm_timer *mt)
{
	if (!mt)
		return;
	g_ptr_array_remove_fast(mt->dev->timers, mt);
	timer_free(mt->t);
	g_free(mt);
}

void device_logv(struct modvmm_device *dev, uint32_t level, const char *fmt,
		 va_list ap)
{
	struct vm_devices_sinks *s = &dev->devs->sinks;
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);

	/* A module's error while it realizes is the reason realize fails:
	 * held and said once, in that failure, not on a line of its own. */
	if (dev->realizing && level <= MODVMM_LOG_ERROR && !dev->error) {
		error_setf(&dev->error, EINVAL, "%s", msg);
		dev->error_logged = 1;
		return;
	}

	if (s->log)
		s->log(s->opaque, dev->id, level, msg);
	else
		g_log("modvmm",
		      level <= MODVMM_LOG_ERROR	 ? G_LOG_LEVEL_WARNING
		      : level <= MODVMM_LOG_INFO ? G_LOG_LEVEL_INFO
						 : G_LOG_LEVEL_DEBUG,
		      "%s: %s", dev->id, msg);
}

void device_log(struct modvmm_device *dev, uint32_t level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	device_logv(dev, level, fmt, ap);
	va_end(ap);
}
