// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/bus.c - PIO and MMIO address spaces and their dispatch.
 *
 * One bus per space. Regions never overlap (refused at bus_add), are kept
 * sorted by base, and are found by binary search. The bus takes no lock:
 * the VM serialises all dispatch with device set-up and teardown.
 *
 * bus_add() is where every device's range is judged, whatever module
 * asks: it must lie inside the space, clear of what the machine reserved
 * (guest RAM, KVM's in-kernel devices) and of every other device.
 */
#include <errno.h>

#include "acpi.h"
#include "bus.h"
#include "base/error.h"

struct bus_region {
	uint64_t base;
	uint64_t length;
	char *name;
	modvmm_read_fn read;
	modvmm_write_fn write;
	void *opaque;
	const void *owner;
	char *owner_id;
	char *acpi_hid; /* announced to the guest's ACPI tables, or NULL */
	uint32_t acpi_irq;
	uint32_t acpi_flags;
};

struct bus_reserved {
	uint64_t base;
	uint64_t length;
	char *what;
};

struct bus {
	char *name;
	uint64_t last;	       /* the space's last address */
	GArray *regions;       /* struct bus_region, sorted by base */
	GArray *reserved;      /* struct bus_reserved: no device there */
	GHashTable *unclaimed; /* addresses already reported */
};

static void reserved_clear(gpointer p)
{
	g_free(((struct bus_reserved *)p)->what);
}

static void region_clear(gpointer p)
{
	struct bus_region *r = p;

	g_free(r->name);
	g_free(r->owner_id);
	g_free(r->acpi_hid);
}

struct bus *bus_new(const char *name)
{
	struct bus *bus = g_new0(struct bus, 1);

	bus->name = g_strdup(name);
	bus->last = UINT64_MAX;
	bus->regions = g_array_new(FALSE, FALSE, sizeof(struct bus_region));
	g_array_set_clear_func(bus->regions, region_clear);
	bus->reserved = g_array_new(FALSE, FALSE, sizeof(struct bus_reserved));
	g_array_set_clear_func(bus->reserved, reserved_clear);
	bus->unclaimed = g_hash_table_new_full(g_int64_hash, g_int64_equal,
					       g_free, NULL);
	return bus;
}

void bus_free(struct bus *bus)
{
	if (!bus)
		return;
	g_array_unref(bus->regions);
	g_array_unref(bus->reserved);
	g_hash_table_unref(bus->unclaimed);
	g_free(bus->name);
	g_free(bus);
}

void bus_set_last(struct bus *bus, uint64_t last)
{
	bus->last = last;
}

void bus_reserve(struct bus *bus, uint64_t base, uint64_t length,
		 const char *what)
{
	struct bus_reserved r = { base, length, g_strdup(what) };

	g_array_append_val(bus->reserved, r);
}

/* Index of the first region whose end lies above addr. */
static guint lower_bound(struct bus *bus, uint64_t addr)
{
	guint lo = 0, hi = bus->regions->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		struct bus_region *r =
			&g_array_index(bus->regions, struct bus_region, mid);

		if (r->base + r->length <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A region that overlaps `what` at base..base+length-1: refused. */
static int overlap(const struct bus *bus, const char *name,
		   const struct modvmm_region *region, const char *what,
		   uint64_t base, uint64_t length, GError **error)
{
	return error_setf(error, EBUSY,
			  "%s region %s 0x%" G_GINT64_MODIFIER
			  "x-0x%" G_GINT64_MODIFIER
			  "x overlaps %s at 0x%" G_GINT64_MODIFIER
			  "x-0x%" G_GINT64_MODIFIER "x",
			  bus->name, name, region->base,
			  region->base + region->length - 1, what, base,
			  base + length - 1);
}

int bus_add(struct bus *bus, const struct modvmm_region *region, void *opaque,
	    const void *owner, const char *owner_id, GError **error)
{
	struct bus_region nr = { 0 };
	const char *name = region->name ? region->name : "region";
	guint i;

	if (!region->length)
		return error_setf(
			error, EINVAL,
			"%s region %s at 0x%" G_GINT64_MODIFIER
			"x has invalid length 0x%" G_GINT64_MODIFIER "x",
			bus->name, name, region->base, region->length);
	/* Checked so that base + length - 1 cannot wrap. */
	if (region->base > bus->last ||
	    region->length - 1 > bus->last - region->base)
		return error_setf(error, ERANGE,
				  "%s region %s at 0x%" G_GINT64_MODIFIER
				  "x, length 0x%" G_GINT64_MODIFIER
				  "x, goes past the end of the %s space "
				  "(0x%" G_GINT64_MODIFIER "x)",
				  bus->name, name, region->base, region->length,
				  bus->name, bus->last);
	for (i = 0; i < bus->reserved->len; i++) {
		const struct bus_reserved *o =
			&g_array_index(bus->reserved, struct bus_reserved, i);

		if (region->base <= o->base + o->length - 1 &&
		    o->base <= region->base + region->length - 1)
			return overlap(bus, name, region, o->what, o->base,
				       o->length, error);
	}
	if (region->acpi_hid && !acpi_hid_valid(region->acpi_hid))
		return error_setf(error, EINVAL,
				  "%s region %s: '%.32s' is neither an ACPI id "
				  "(4 capitals or digits, 4 hex digits: "
				  "LNRO0005) nor a PNP id (3 capitals, 4 hex "
				  "digits: PNP0B00)",
				  bus->name, name, region->acpi_hid);
	i = lower_bound(bus, region->base);
	if (i < bus->regions->len) {
		struct bus_region *o =
			&g_array_index(bus->regions, struct bus_region, i);

		if (o->base < region->base + region->length) {
			g_autofree char *what =
				g_strdup_printf("%s of %s", o->name, o->owner_id);

			return overlap(bus, name, region, what, o->base,
				       o->length, error);
		}
	}
	nr.base = region->base;
	nr.length = region->length;
	nr.name = g_strdup(name);
	nr.read = region->read;
	nr.write = region->write;
	nr.opaque = opaque;
	nr.owner = owner;
	nr.owner_id = g_strdup(owner_id);
	nr.acpi_hid = g_strdup(region->acpi_hid);
	nr.acpi_irq = region->acpi_irq;
	nr.acpi_flags = region->acpi_flags;
	g_array_insert_val(bus->regions, i, nr);
	return 0;
}

void bus_remove_owner(struct bus *bus, const void *owner)
{
	for (guint i = bus->regions->len; i-- > 0;)
		if (g_array_index(bus->regions, struct bus_region, i).owner ==
		    owner)
			g_array_remove_index(bus->regions, i);
}

static struct bus_region *region_at(struct bus *bus, uint64_t addr,
				    uint32_t width)
{
	struct bus_region *r;
	guint i;

	if (width != 1 && width != 2 && width != 4 && width != 8)
		return NULL;
	i = lower_bound(bus, addr);
	if (i >= bus->regions->len)
		return NULL;
	r = &g_array_index(bus->regions, struct bus_region, i);
	/* The whole access must fall inside one region. */
	if (addr < r->base || addr - r->base + width > r->length)
		return NULL;
	return r;
}

int bus_read(struct bus *bus, uint64_t addr, uint32_t width, uint64_t *ret)
{
	struct bus_region *r = region_at(bus, addr, width);
	uint64_t mask =
		width >= 8 ? UINT64_MAX : (UINT64_C(1) << (width * 8)) - 1;

	if (!r) {
		*ret = mask;
		return -ENOENT;
	}
	*ret = (r->read ? r->read(r->opaque, addr - r->base, width) : mask) &
	       mask;
	return 0;
}

int bus_write(struct bus *bus, uint64_t addr, uint32_t width, uint64_t value)
{
	struct bus_region *r = region_at(bus, addr, width);

	if (!r)
		return -ENOENT;
	if (r->write)
		r->write(r->opaque, addr - r->base, value, width);
	return 0;
}

void bus_foreach_announced(struct bus *bus,
			   void (*fn)(void *opaque,
				      const struct modvmm_region *r),
			   void *opaque)
{
	for (guint i = 0; i < bus->regions->len; i++) {
		struct bus_region *b =
			&g_array_index(bus->regions, struct bus_region, i);
		struct modvmm_region r = {
			.size = sizeof(r),
			.base = b->base,
			.length = b->length,
			.name = b->name,
			.acpi_hid = b->acpi_hid,
			.acpi_irq = b->acpi_irq,
			.acpi_flags = b->acpi_flags,
		};

		if (b->acpi_hid)
			fn(opaque, &r);
	}
}

int bus_unclaimed_first(struct bus *bus, uint64_t addr)
{
	gint64 *key;

	if (g_hash_table_contains(bus->unclaimed, &addr))
		return 0;
	key = g_new(gint64, 1);
	*key = (gint64)addr;
	g_hash_table_add(bus->unclaimed, key);
	return 1;
}
