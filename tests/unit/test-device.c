// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device instances through the host services a module sees: properties,
 * PIO/MMIO dispatch and overlap, timers, interrupts, guest memory, reset.
 */
#include <errno.h>

#include "check-tap.h"
#include "fixture.h"
#include "core/device.h"
#include "core/host.h"
#include "core/vm-devices.h"

static struct vm_devices *devs;
static GPtrArray *logs;
static uint32_t irq_calls[VMM_IRQ_LINES];

static void sink_log(void *opaque, const char *id, uint32_t level,
		     const char *msg)
{
	(void)opaque;
	(void)level;
	g_ptr_array_add(logs, g_strdup_printf("%s: %s", id, msg));
}

static void sink_irq(void *opaque, uint32_t line, uint32_t level)
{
	(void)opaque;
	(void)level;
	irq_calls[line]++;
}

static void setup(void)
{
	g_autofree char *path = fixture_path("fx-ok.so");

	devs = vm_devices_new(host_services());
	logs = g_ptr_array_new_with_free_func(g_free);
	memset(irq_calls, 0, sizeof(irq_calls));
	devs->sinks.log = sink_log;
	devs->sinks.irq = sink_irq;
	ck_assert_int_eq(loader_load(devs->loader, path, NULL, NULL), 0);
}

static void teardown(void)
{
	device_destroy_all(devs);
	vm_devices_free(devs);
	g_ptr_array_unref(logs);
}

static struct fixture_state *create(const char *spec)
{
	struct modvmm_device *dev = NULL;
	GError *err = NULL;

	if (device_create(devs, spec, &dev, &err) < 0)
		ck_abort_msg("%s: %s", spec, err->message);
	return dev->state;
}

START_TEST(test_device_property_defaults)
{
	struct fixture_state *s = create("fx-ok-dev");

	ck_assert_uint_eq(s->p_u8, 8);
	ck_assert_uint_eq(s->p_u16, 16);
	ck_assert_uint_eq(s->p_u32, 32);
	ck_assert_uint_eq(s->p_u64, 64);
	ck_assert_uint_eq(s->p_bool, 1);
	ck_assert_str_eq(s->p_str, "dflt");
	ck_assert_uint_eq(s->port, 0x700);
	ck_assert_uint_eq(s->realized, 1);
	ck_assert_ptr_nonnull(device_find(devs, "fx-ok-dev0"));
	ck_assert_uint_eq(logs->len, 1);
	ck_assert_str_eq(logs->pdata[0], "fx-ok-dev0: realized at port 0x700");
}
END_TEST

START_TEST(test_device_property_values_at_limits)
{
	struct fixture_state *s = create(
		"fx-ok-dev,id=d0,u8=255,u16=0xffff,u32=4294967295,"
		"u64=18446744073709551615,flag=off,label=hello,port=0x10");

	ck_assert_uint_eq(s->p_u8, 255);
	ck_assert_uint_eq(s->p_u16, 0xffff);
	ck_assert_uint_eq(s->p_u32, UINT32_MAX);
	ck_assert_uint_eq(s->p_u64, UINT64_MAX);
	ck_assert_uint_eq(s->p_bool, 0);
	ck_assert_str_eq(s->p_str, "hello");
	ck_assert_uint_eq(s->port, 0x10);
}
END_TEST

static const struct {
	const char *spec;
	const char *error;
} bad_specs[] = {
	{ "nosuch", "unknown device type 'nosuch' (known: fx-ok-dev)" },
	{ "fx-ko-dev", "unknown device type 'fx-ko-dev': did you mean "
		       "fx-ok-dev? (known: fx-ok-dev)" },
	{ "", "unknown device type '' (known: fx-ok-dev)" },
	{ "fx-ok-dev,id=d0,u8=256",
	  "d0: property u8: '256' is not a u8 (0..255)" },
	{ "fx-ok-dev,id=d0,u16=-1",
	  "d0: property u16: '-1' is not a u16 (0..65535)" },
	{ "fx-ok-dev,id=d0,u32=12abc",
	  "d0: property u32: '12abc' is not a u32 (0..4294967295)" },
	{ "fx-ok-dev,id=d0,u64=18446744073709551616",
	  "d0: property u64: '18446744073709551616' is not a u64 "
	  "(0..18446744073709551615)" },
	{ "fx-ok-dev,id=d0,flag=maybe",
	  "d0: property flag: 'maybe' is not on or off" },
	{ "fx-ok-dev,id=d0,nosuch=1",
	  "d0: device type fx-ok-dev has no property 'nosuch' (known: u8, u16, "
	  "u32, u64, flag, label, port, mmio, timer_ns, irq)" },
	{ "fx-ok-dev,id=d0,port", "d0: 'port' is not property=value" },
	{ "fx-ok-dev,id=9x",
	  "fx-ok-dev: invalid device id '9x' (a letter, then "
	  "up to 62 of a-z A-Z 0-9 - _ .)" },
};

START_TEST(test_device_bad_spec_table)
{
	GError *err = NULL;

	ck_assert_int_lt(device_create(devs, bad_specs[_i].spec, NULL, &err),
			 0);
	ck_assert_error(err, bad_specs[_i].error);
	ck_assert_uint_eq(devs->devices->len, 0);
	g_error_free(err);
}
END_TEST

START_TEST(test_device_duplicate_id_refused)
{
	GError *err = NULL;

	create("fx-ok-dev,id=d0");
	ck_assert_int_eq(
		device_create(devs, "fx-ok-dev,id=d0,port=0x10", NULL, &err),
		-EEXIST);
	ck_assert_error(err, "device id 'd0' is in use");
	g_error_free(err);
}
END_TEST

START_TEST(test_device_pio_dispatch)
{
	struct fixture_state *s = create("fx-ok-dev,id=d0");
	uint64_t v;

	ck_assert_int_eq(vm_devices_pio_write(devs, 0x701, 2, 0x1234), 0);
	ck_assert_uint_eq(s->last_write, 0x1234);
	ck_assert_uint_eq(s->last_width, 2);
	/* The fixture reads back last_write + offset + width. */
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x702, 1, &v), 0);
	ck_assert_uint_eq(v, (0x1234 + 2 + 1) & 0xff);
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x700, 4, &v), 0);
	ck_assert_uint_eq(v, 0x1234 + 0 + 4);
}
END_TEST

START_TEST(test_device_unclaimed_reads_all_ones)
{
	uint64_t v = 0;

	create("fx-ok-dev,id=d0");
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x800, 1, &v), -ENOENT);
	ck_assert_uint_eq(v, 0xff);
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x800, 4, &v), -ENOENT);
	ck_assert_uint_eq(v, 0xffffffff);
	/* Straddling the region's end is not the region's. */
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x703, 2, &v), -ENOENT);
	ck_assert_int_eq(vm_devices_pio_write(devs, 0x800, 1, 1), -ENOENT);
	ck_assert_int_eq(bus_unclaimed_first(devs->pio, 0x800), 1);
	ck_assert_int_eq(bus_unclaimed_first(devs->pio, 0x800), 0);
	ck_assert_int_eq(bus_unclaimed_first(devs->pio, 0x801), 1);
}
END_TEST

START_TEST(test_device_overlap_refused_and_undone)
{
	struct fixture_state *s = create("fx-ok-dev,id=d0,mmio=0xd0000000");
	GError *err = NULL;
	uint64_t v;

	/* d1's PIO is free and claimed first; its MMIO overlaps d0's, so
	 * realize fails and the PIO claim must be undone. */
	ck_assert_int_eq(device_create(devs,
				       "fx-ok-dev,id=d1,port=0x10,"
				       "mmio=0xd0000080",
				       NULL, &err),
			 -EBUSY);
	ck_assert_error(err,
			"d1: realize of fx-ok-dev failed: mmio region "
			"fx-mmio 0xd0000080-0xd000017f overlaps fx-mmio of "
			"d0 at 0xd0000000-0xd00000ff");
	g_error_free(err);
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x10, 1, &v), -ENOENT);
	ck_assert_int_eq(vm_devices_pio_write(devs, 0x702, 1, 7), 0);
	ck_assert_uint_eq(s->last_write, 7);
	ck_assert_uint_eq(devs->devices->len, 1);
}
END_TEST

START_TEST(test_device_mmio_dispatch_and_release)
{
	struct modvmm_device *dev = NULL;
	struct fixture_state *s;
	uint64_t v;

	ck_assert_int_eq(device_create(devs, "fx-ok-dev,id=d0,mmio=0xd0000000",
				       &dev, NULL),
			 0);
	s = dev->state;
	ck_assert_int_eq(
		vm_devices_mmio_write(devs, 0xd00000f8, 8, 0x1122334455667788),
		0);
	ck_assert_uint_eq(s->last_write, 0x1122334455667788);
	ck_assert_int_eq(vm_devices_mmio_read(devs, 0xd0000010, 8, &v), 0);
	ck_assert_uint_eq(v, 0x1122334455667788 + 0x10 + 8);
	ck_assert_int_eq(vm_devices_mmio_read(devs, 0xd00000fc, 8, &v),
			 -ENOENT);
	ck_assert_int_eq(vm_devices_mmio_read(devs, 0xd0000000, 3, &v),
			 -ENOENT);
	device_destroy(dev);
	ck_assert_int_eq(vm_devices_mmio_read(devs, 0xd0000010, 8, &v),
			 -ENOENT);
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x700, 1, &v), -ENOENT);
}
END_TEST

START_TEST(test_device_timer_fires_and_raises_irq)
{
	struct fixture_state *s =
		create("fx-ok-dev,id=d0,timer_ns=1000000,irq=7");
	uint32_t fired = 0;

	/* Functional, not a timing assertion: wait up to 10 s for 1 ms. */
	for (int i = 0; i < 1000 && !fired; i++) {
		g_usleep(10000);
		g_mutex_lock(&devs->lock);
		fired = s->timer_fired;
		g_mutex_unlock(&devs->lock);
	}
	ck_assert_uint_eq(fired, 1);
	ck_assert_uint_eq(devs->irq_level[7], 1);
	ck_assert_uint_eq(irq_calls[7], 1);
}
END_TEST

START_TEST(test_device_clock_frozen_while_paused)
{
	uint64_t a, b;

	timers_pause(devs->timers);
	a = timers_clock_ns(devs->timers);
	g_usleep(2000);
	b = timers_clock_ns(devs->timers);
	ck_assert_uint_eq(a, b);
	timers_resume(devs->timers);
	g_usleep(2000);
	ck_assert_uint_gt(timers_clock_ns(devs->timers), b);
}
END_TEST

/* The clock moves on at once by what it is told, paused or running. */
START_TEST(test_device_clock_advance)
{
	uint64_t a, b;

	timers_pause(devs->timers);
	a = timers_clock_ns(devs->timers);
	timers_advance(devs->timers, 5000000000ull);
	ck_assert_uint_eq(timers_clock_ns(devs->timers), a + 5000000000ull);
	timers_resume(devs->timers);
	a = timers_clock_ns(devs->timers);
	timers_advance(devs->timers, 7000000000ull);
	b = timers_clock_ns(devs->timers);
	ck_assert_uint_ge(b, a + 7000000000ull);
	ck_assert_uint_lt(b, a + 8000000000ull);
}
END_TEST

START_TEST(test_device_destroy_with_armed_timer)
{
	struct modvmm_device *dev = NULL;

	/* An hour away: destroy must free it without waiting or firing. */
	ck_assert_int_eq(device_create(devs,
				       "fx-ok-dev,id=d0,timer_ns=3600000000000",
				       &dev, NULL),
			 0);
	ck_assert_uint_eq(dev->timers->len, 1);
	device_destroy(dev);
	ck_assert_uint_eq(devs->devices->len, 0);
}
END_TEST

START_TEST(test_device_reset_all)
{
	struct fixture_state *a = create("fx-ok-dev,id=d0");
	struct fixture_state *b = create("fx-ok-dev,id=d1,port=0x10");

	device_reset_all(devs);
	device_reset_all(devs);
	ck_assert_uint_eq(a->resets, 2);
	ck_assert_uint_eq(b->resets, 2);
}
END_TEST

START_TEST(test_memory_bounds)
{
	uint8_t lo[4096], hi[4096], buf[8];
	struct memory *mem = devs->mem;

	memset(lo, 0x11, sizeof(lo));
	memset(hi, 0x22, sizeof(hi));
	ck_assert_int_eq(memory_add(mem, 0x1000, sizeof(lo), lo), 0);
	ck_assert_int_eq(memory_add(mem, 0x2000, sizeof(hi), hi), 0);
	ck_assert_int_eq(memory_add(mem, 0x2800, 0x1000, hi), -EBUSY);
	/* Across the two adjacent ranges. */
	ck_assert_int_eq(memory_read(mem, 0x1ffc, buf, 8), 0);
	ck_assert_uint_eq(buf[3], 0x11);
	ck_assert_uint_eq(buf[4], 0x22);
	/* Partly outside: -EFAULT and nothing written. */
	memset(buf, 0x33, sizeof(buf));
	ck_assert_int_eq(memory_write(mem, 0x2ffc, buf, 8), -EFAULT);
	ck_assert_uint_eq(hi[4095], 0x22);
	ck_assert_int_eq(memory_read(mem, 0x0, buf, 1), -EFAULT);
	ck_assert_int_eq(memory_read(mem, UINT64_MAX - 2, buf, 8), -EFAULT);
	ck_assert_ptr_eq(memory_hva(mem, 0x1010, 16), lo + 0x10);
	ck_assert_ptr_null(memory_hva(mem, 0x1ff0, 32));
}
END_TEST

/* The in-tree module: a byte written to its port ends the VM with it. */
START_TEST(test_debug_exit_write_requests_exit)
{
	g_autofree char *path =
		g_build_filename(g_getenv("MODULE_DIR"), "debug-exit.so", NULL);
	uint64_t v;

	ck_assert_int_eq(loader_load(devs->loader, path, NULL, NULL), 0);
	ck_assert_int_eq(
		device_create(devs, "debug-exit,iobase=0x604", NULL, NULL), 0);
	ck_assert_uint_eq(devs->last_request, 0);
	ck_assert_int_eq(vm_devices_pio_write(devs, 0x604, 1, 0x2a), 0);
	ck_assert_uint_eq(devs->last_request, MODVMM_REQUEST_EXIT);
	ck_assert_uint_eq(devs->last_request_arg, 0x2a);
	/* Write-only: reads are all-ones, and the next port is not claimed. */
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x604, 1, &v), 0);
	ck_assert_uint_eq(v, 0xff);
	ck_assert_int_eq(vm_devices_pio_read(devs, 0x605, 1, &v), -ENOENT);
}
END_TEST

static void count_announced(void *opaque, const struct modvmm_region *r)
{
	GString *seen = opaque;

	g_string_append_printf(
		seen,
		"%s@%" G_GINT64_MODIFIER "x+%" G_GINT64_MODIFIER "x irq %u/%u;",
		r->acpi_hid, r->base, r->length, r->acpi_irq, r->acpi_flags);
}

START_TEST(test_bus_acpi_ids_checked_and_listed)
{
	struct bus *bus = bus_new("mmio");
	struct modvmm_region r = {
		.size = sizeof(r),
		.space = MODVMM_SPACE_MMIO,
		.base = 0xd0000000,
		.length = 0x200,
		.name = "virtio-mmio",
		.acpi_hid = "LNRO0005",
		.acpi_irq = 5,
		.acpi_flags = MODVMM_ACPI_IRQ,
	};
	g_autoptr(GString) seen = g_string_new("");
	g_autoptr(GError) err = NULL;

	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "vda", NULL), 0);
	r.base = 0xd0001000;
	r.acpi_hid = NULL;
	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "x", NULL), 0);
	r.base = 0xd0002000;
	r.acpi_hid = "lnro0005";
	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "y", &err), -EINVAL);
	ck_assert_error(err, "mmio region virtio-mmio: 'lnro0005' is neither "
			     "an ACPI id (4 capitals or digits, 4 hex digits: "
			     "LNRO0005) nor a PNP id (3 capitals, 4 hex "
			     "digits: PNP0B00)");
	bus_foreach_announced(bus, count_announced, seen);
	ck_assert_str_eq(seen->str, "LNRO0005@d0000000+200 irq 5/1;");
	bus_free(bus);
}
END_TEST

/*
 * A range must fit in its space and keep clear of what the machine
 * reserved, whatever device asks; the message names both.
 */
START_TEST(test_bus_range_outside_space_or_reserved_refused)
{
	struct bus *bus = bus_new("mmio");
	struct modvmm_region r = {
		.size = sizeof(r),
		.space = MODVMM_SPACE_MMIO,
		.base = 0,
		.length = 0x200,
		.name = "virtio-mmio",
	};
	GError *err = NULL;

	bus_set_last(bus, 0xffffffff);
	bus_reserve(bus, 0, 0x8000000, "guest RAM");
	bus_reserve(bus, 0xfec00000, 0x1000, "the in-kernel IOAPIC");
	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "vda", &err), -EBUSY);
	ck_assert_error(err, "mmio region virtio-mmio 0x0-0x1ff overlaps "
			     "guest RAM at 0x0-0x7ffffff");
	g_clear_error(&err);
	r.base = 0xfebfff00;
	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "vda", &err), -EBUSY);
	ck_assert_error(err, "mmio region virtio-mmio 0xfebfff00-0xfec000ff "
			     "overlaps the in-kernel IOAPIC at "
			     "0xfec00000-0xfec00fff");
	g_clear_error(&err);
	r.base = 0xffffff00;
	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "vda", &err), -ERANGE);
	ck_assert_error(err, "mmio region virtio-mmio at 0xffffff00, length "
			     "0x200, goes past the end of the mmio space "
			     "(0xffffffff)");
	g_clear_error(&err);
	/* One that would wrap around 2^64. */
	bus_set_last(bus, UINT64_MAX);
	r.base = UINT64_MAX - 0xff;
	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "vda", &err), -ERANGE);
	g_clear_error(&err);
	/* Just below the IOAPIC, and the last bytes of the space: fine. */
	r.base = 0xfebffe00;
	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "vda", NULL), 0);
	r.base = UINT64_MAX - 0x1ff;
	ck_assert_int_eq(bus_add(bus, &r, NULL, bus, "vdb", NULL), 0);
	bus_free(bus);
}
END_TEST

static unsigned int rang;

static void ring(void *opaque)
{
	rang += GPOINTER_TO_UINT(opaque);
}

/* Without KVM's ioeventfd a doorbell is served on the write path. */
START_TEST(test_doorbell_without_ioeventfd)
{
	g_autoptr(GError) err = NULL;
	static int owner;

	rang = 0;
	ck_assert_int_eq(ioevent_add(devs->ioevents, &owner, MODVMM_SPACE_PIO,
				     0x510, 4, 1, ring, GUINT_TO_POINTER(1),
				     NULL),
			 0);
	ck_assert_int_eq(ioevent_add(devs->ioevents, &owner, MODVMM_SPACE_PIO,
				     0x510, 4, 1, ring, NULL, &err),
			 -EBUSY);
	ck_assert_error(err, "doorbell at 0x510 value 1 is taken");
	g_mutex_lock(&devs->lock);
	ck_assert_int_eq(
		ioevents_write(devs->ioevents, MODVMM_SPACE_PIO, 0x510, 4, 1),
		1);
	/* Another value, width or space is an ordinary write. */
	ck_assert_int_eq(
		ioevents_write(devs->ioevents, MODVMM_SPACE_PIO, 0x510, 4, 2),
		0);
	ck_assert_int_eq(
		ioevents_write(devs->ioevents, MODVMM_SPACE_PIO, 0x510, 2, 1),
		0);
	ck_assert_int_eq(
		ioevents_write(devs->ioevents, MODVMM_SPACE_MMIO, 0x510, 4, 1),
		0);
	g_mutex_unlock(&devs->lock);
	ck_assert_int_eq(vm_devices_pio_write(devs, 0x510, 4, 1), 0);
	ck_assert_uint_eq(rang, 2);
	g_mutex_lock(&devs->lock);
	ioevents_remove_owner(devs->ioevents, &owner);
	g_mutex_unlock(&devs->lock);
	ck_assert_int_eq(vm_devices_pio_write(devs, 0x510, 4, 1), -ENOENT);
	ck_assert_uint_eq(rang, 2);
}
END_TEST

START_TEST(test_host_table_header)
{
	const struct modvmm_host *h = host_services();

	ck_assert_uint_eq(h->size, sizeof(struct modvmm_host));
	ck_assert_uint_eq(h->abi_major, MODVMM_ABI_MAJOR);
	ck_assert_uint_eq(h->abi_minor, MODVMM_ABI_MINOR);
	ck_assert(MODVMM_HAS_MEMBER(h, struct modvmm_host, request));
	ck_assert(MODVMM_HAS_MEMBER(h, struct modvmm_host, notify_add));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("device");
	TCase *tc = tcase_create("device");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_device_property_defaults);
	tcase_add_test(tc, test_device_property_values_at_limits);
	tcase_add_loop_test(tc, test_device_bad_spec_table, 0,
			    G_N_ELEMENTS(bad_specs));
	tcase_add_test(tc, test_device_duplicate_id_refused);
	tcase_add_test(tc, test_device_pio_dispatch);
	tcase_add_test(tc, test_device_unclaimed_reads_all_ones);
	tcase_add_test(tc, test_device_overlap_refused_and_undone);
	tcase_add_test(tc, test_device_mmio_dispatch_and_release);
	tcase_add_test(tc, test_device_timer_fires_and_raises_irq);
	tcase_add_test(tc, test_device_clock_frozen_while_paused);
	tcase_add_test(tc, test_device_clock_advance);
	tcase_add_test(tc, test_device_destroy_with_armed_timer);
	tcase_add_test(tc, test_device_reset_all);
	tcase_add_test(tc, test_memory_bounds);
	tcase_add_test(tc, test_debug_exit_write_requests_exit);
	tcase_add_test(tc, test_bus_acpi_ids_checked_and_listed);
	tcase_add_test(tc, test_bus_range_outside_space_or_reserved_refused);
	tcase_add_test(tc, test_doorbell_without_ioeventfd);
	tcase_add_test(tc, test_host_table_header);
	suite_add_tcase(s, tc);
	return check_run(s);
}
