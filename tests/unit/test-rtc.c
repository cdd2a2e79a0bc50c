// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modules/cmos-rtc register semantics, through the bus, without KVM.
 *
 * The guest clock is the test's: the module gets the real host services
 * with clock_ns and the timer calls replaced, so seconds, days and years
 * pass at once and timers fire exactly when the clock reaches them.
 * Devices whose id starts with "far" stand on another host: their clock
 * reads FAR_SKEW ahead, as a migration destination's would.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <time.h>

#include "check-tap.h"
#include "core/device.h"
#include "core/host.h"
#include "core/vm-devices.h"
#include "core/vmstate.h"

#define BASE 0x70
#define IRQ 8
#define FAR_BASE 0x170
#define FAR_IRQ 9
#define SECOND 1000000000ull
#define FAR_SKEW (777 * SECOND + 123456789)

/* The default device: Thursday 2024-02-29 13:45:07 UTC, on BASE, IRQ 8. */
#define SPEC "cmos-rtc,id=rtc0,base=2024-02-29T13:45:07"

struct fake_timer {
	struct modvmm_device *dev;
	modvmm_timer_cb cb;
	void *opaque;
	uint64_t expire; /* on its device's clock */
	int armed;
};

static struct vm_devices *devs;
static struct modvmm_host fake;
static uint64_t now_ns;
static GPtrArray *timers; /* struct fake_timer * */
static GPtrArray *logs;

static uint64_t skew_of(struct modvmm_device *dev)
{
	return g_str_has_prefix(dev->id, "far") ? FAR_SKEW : 0;
}

static uint64_t fake_clock_ns(struct modvmm_device *dev)
{
	return now_ns + skew_of(dev);
}

static struct modvmm_timer *fake_timer_new(struct modvmm_device *dev,
					   modvmm_timer_cb cb, void *opaque)
{
	struct fake_timer *t = g_new0(struct fake_timer, 1);

	t->dev = dev;
	t->cb = cb;
	t->opaque = opaque;
	g_ptr_array_add(timers, t);
	return (struct modvmm_timer *)t;
}

static void fake_timer_mod(struct modvmm_timer *mt, uint64_t expire_ns)
{
	struct fake_timer *t = (struct fake_timer *)mt;

	t->expire = expire_ns;
	t->armed = 1;
}

static void fake_timer_del(struct modvmm_timer *mt)
{
	((struct fake_timer *)mt)->armed = 0;
}

static void fake_timer_free(struct modvmm_timer *mt)
{
	if (!mt)
		return;
	g_ptr_array_remove(timers, mt);
	g_free(mt);
}

/* The one timer a device holds (the module makes one). */
static struct fake_timer *timer_of(const char *id)
{
	struct modvmm_device *dev = device_find(devs, id);

	for (guint i = 0; i < timers->len; i++) {
		struct fake_timer *t = timers->pdata[i];

		if (t->dev == dev)
			return t;
	}
	ck_abort_msg("%s has no timer", id);
	return NULL;
}

/* Lets `ns` of guest time pass, firing timers as the clock meets them. */
static void advance(uint64_t ns)
{
	uint64_t target = now_ns + ns;

	g_mutex_lock(&devs->lock);
	for (int n = 0;; n++) {
		struct fake_timer *next = NULL;
		uint64_t when = 0;

		ck_assert_msg(n < 100000, "timers keep firing at one instant");
		for (guint i = 0; i < timers->len; i++) {
			struct fake_timer *t = timers->pdata[i];
			uint64_t w = t->expire - skew_of(t->dev);

			if (t->armed && w <= target && (!next || w < when)) {
				next = t;
				when = w;
			}
		}
		if (!next)
			break;
		if (when > now_ns)
			now_ns = when;
		next->armed = 0;
		next->cb(next->opaque);
	}
	now_ns = target;
	g_mutex_unlock(&devs->lock);
}

static void sink_log(void *opaque, const char *id, uint32_t level,
		     const char *msg)
{
	(void)opaque;
	(void)level;
	g_ptr_array_add(logs, g_strdup_printf("%s: %s", id, msg));
}

static void setup(void)
{
	g_autofree char *path =
		g_build_filename(g_getenv("MODULE_DIR"), "cmos-rtc.so", NULL);

	fake = *host_services();
	fake.clock_ns = fake_clock_ns;
	fake.timer_new = fake_timer_new;
	fake.timer_mod = fake_timer_mod;
	fake.timer_del = fake_timer_del;
	fake.timer_free = fake_timer_free;
	now_ns = 1000 * SECOND;
	timers = g_ptr_array_new();
	logs = g_ptr_array_new_with_free_func(g_free);
	devs = vm_devices_new(&fake);
	devs->sinks.log = sink_log;
	ck_assert_int_eq(loader_load(devs->loader, path, NULL, NULL), 0);
	ck_assert_int_eq(device_create(devs, SPEC, NULL, NULL), 0);
}

static void teardown(void)
{
	device_destroy_all(devs);
	vm_devices_free(devs);
	ck_assert_uint_eq(timers->len, 0); /* every device freed its timer */
	g_ptr_array_unref(timers);
	g_ptr_array_unref(logs);
}

static uint8_t rd_at(uint16_t base, uint8_t idx)
{
	uint64_t v;

	ck_assert_int_eq(vm_devices_pio_write(devs, base, 1, idx), 0);
	ck_assert_int_eq(vm_devices_pio_read(devs, base + 1, 1, &v), 0);
	return (uint8_t)v;
}

static void wr_at(uint16_t base, uint8_t idx, uint8_t v)
{
	ck_assert_int_eq(vm_devices_pio_write(devs, base, 1, idx), 0);
	ck_assert_int_eq(vm_devices_pio_write(devs, base + 1, 1, v), 0);
}

static uint8_t rd(uint8_t idx)
{
	return rd_at(BASE, idx);
}

static void wr(uint8_t idx, uint8_t v)
{
	wr_at(BASE, idx, v);
}

/* The date and time registers against what is expected; `what` names the
 * case in the message. */
static void assert_time_of(const char *what, uint16_t base, uint8_t century,
			   uint8_t year, uint8_t month, uint8_t mday,
			   uint8_t wday, uint8_t hour, uint8_t min, uint8_t sec)
{
	uint8_t got[8] = { rd_at(base, 0x32), rd_at(base, 9), rd_at(base, 8),
			   rd_at(base, 7),    rd_at(base, 6), rd_at(base, 4),
			   rd_at(base, 2),    rd_at(base, 0) };
	uint8_t want[8] = { century, year, month, mday, wday, hour, min, sec };

	ck_assert_msg(!memcmp(got, want, sizeof(got)),
		      "%s: time %02x%02x-%02x-%02x (wday %x) %02x:%02x:%02x, "
		      "expected %02x%02x-%02x-%02x (wday %x) %02x:%02x:%02x",
		      what, got[0], got[1], got[2], got[3], got[4], got[5],
		      got[6], got[7], want[0], want[1], want[2], want[3],
		      want[4], want[5], want[6], want[7]);
}

#define assert_time(...) assert_time_of("rtc", __VA_ARGS__)

/* Sets the date and time through SET, in the current mode. */
static void set_time(uint16_t base, uint8_t century, uint8_t year,
		     uint8_t month, uint8_t mday, uint8_t hour, uint8_t min,
		     uint8_t sec)
{
	uint8_t b = rd_at(base, 0x0b);

	wr_at(base, 0x0b, b | 0x80);
	wr_at(base, 0x32, century);
	wr_at(base, 9, year);
	wr_at(base, 8, month);
	wr_at(base, 7, mday);
	wr_at(base, 4, hour);
	wr_at(base, 2, min);
	wr_at(base, 0, sec);
	wr_at(base, 0x0b, b & 0x7f);
}

static int armed(const char *id)
{
	return timer_of(id)->armed;
}

/* ---- registers ------------------------------------------------------- */

START_TEST(test_rtc_power_on_registers)
{
	ck_assert_uint_eq(rd(0x0a), 0x26); /* 32.768 kHz, 1024 Hz */
	ck_assert_uint_eq(rd(0x0b), 0x02); /* 24 h, BCD, nothing enabled */
	ck_assert_uint_eq(rd(0x0c), 0x00);
	ck_assert_uint_eq(rd(0x0d), 0x80);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert(!armed("rtc0"));
}
END_TEST

START_TEST(test_rtc_bcd_time_from_base)
{
	assert_time(BASE, 0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x45, 0x07);
}
END_TEST

START_TEST(test_rtc_binary_mode_reads)
{
	wr(0x0b, 0x06);
	assert_time(BASE, 20, 24, 2, 29, 5, 13, 45, 7);
}
END_TEST

START_TEST(test_rtc_12_hour_mode_reads_and_sets)
{
	wr(0x0b, 0x00); /* 12 h, BCD */
	ck_assert_uint_eq(rd(4), 0x81);
	wr(0x0b, 0x04); /* 12 h, binary */
	ck_assert_uint_eq(rd(4), 0x81);
	wr(0x0b, 0x02);
	set_time(BASE, 0x20, 0x24, 0x02, 0x29, 0x00, 0x30, 0x00);
	wr(0x0b, 0x00);
	ck_assert_uint_eq(rd(4), 0x12); /* 00:30 is 12:30 AM */
	wr(0x0b, 0x02);
	set_time(BASE, 0x20, 0x24, 0x02, 0x29, 0x12, 0x30, 0x00);
	wr(0x0b, 0x00);
	ck_assert_uint_eq(rd(4), 0x92); /* noon is 12 PM */
	set_time(BASE, 0x20, 0x24, 0x02, 0x29, 0x87, 0x30, 0x00);
	wr(0x0b, 0x02);
	ck_assert_uint_eq(rd(4), 0x19); /* 7 PM set in 12 h mode */
}
END_TEST

START_TEST(test_rtc_set_bit_freezes_and_sets_time)
{
	wr(0x0b, 0x92); /* SET with UIE: SET clears UIE */
	ck_assert_uint_eq(rd(0x0b), 0x82);
	advance(3 * SECOND);
	ck_assert_uint_eq(rd(0), 0x07);
	wr(0x32, 0x19);
	wr(9, 0x99);
	wr(8, 0x12);
	wr(7, 0x31);
	wr(4, 0x23);
	wr(2, 0x59);
	wr(0, 0x58);
	/* Still SET: the registers hold what the guest wrote. */
	ck_assert_uint_eq(rd(0), 0x58);
	advance(5 * SECOND);
	wr(0x0b, 0x02);
	assert_time(BASE, 0x19, 0x99, 0x12, 0x31, 0x06, 0x23, 0x59, 0x58);
	advance(2 * SECOND);
	assert_time(BASE, 0x20, 0x00, 0x01, 0x01, 0x07, 0x00, 0x00, 0x00);
}
END_TEST

START_TEST(test_rtc_write_outside_set_sets_time_at_once)
{
	wr(2, 0x50);
	assert_time(BASE, 0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x50, 0x07);
	advance(SECOND);
	ck_assert_uint_eq(rd(0), 0x08);
}
END_TEST

START_TEST(test_rtc_out_of_range_date_carries)
{
	set_time(BASE, 0x20, 0x23, 0x02, 0x30, 0x00, 0x00, 0x00);
	assert_time(BASE, 0x20, 0x23, 0x03, 0x02, 0x05, 0x00, 0x00, 0x00);
}
END_TEST

/* One row per boundary: a time, seconds later, and the date then. */
static const struct calendar_row {
	const char *name;
	uint8_t from[7]; /* century, year, month, day, hour, min, sec */
	uint64_t seconds;
	uint8_t to[8]; /* century, year, month, day, wday, hour, min, sec */
} calendar_rows[] = {
	{ "leap year: Feb 28 -> Feb 29",
	  { 0x20, 0x24, 0x02, 0x28, 0x23, 0x59, 0x59 },
	  1,
	  { 0x20, 0x24, 0x02, 0x29, 0x05, 0x00, 0x00, 0x00 } },
	{ "common year: Feb 28 -> Mar 1",
	  { 0x20, 0x23, 0x02, 0x28, 0x23, 0x59, 0x59 },
	  1,
	  { 0x20, 0x23, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00 } },
	{ "2000 divides by 400: leap",
	  { 0x20, 0x00, 0x02, 0x28, 0x23, 0x59, 0x59 },
	  1,
	  { 0x20, 0x00, 0x02, 0x29, 0x03, 0x00, 0x00, 0x00 } },
	{ "2100 divides by 100 only: not leap",
	  { 0x21, 0x00, 0x02, 0x28, 0x23, 0x59, 0x59 },
	  1,
	  { 0x21, 0x00, 0x03, 0x01, 0x02, 0x00, 0x00, 0x00 } },
	{ "30-day month",
	  { 0x20, 0x24, 0x04, 0x30, 0x23, 0x59, 0x59 },
	  1,
	  { 0x20, 0x24, 0x05, 0x01, 0x04, 0x00, 0x00, 0x00 } },
	{ "new year",
	  { 0x20, 0x24, 0x12, 0x31, 0x23, 0x59, 0x59 },
	  1,
	  { 0x20, 0x25, 0x01, 0x01, 0x04, 0x00, 0x00, 0x00 } },
	{ "century: 2099 -> 2100",
	  { 0x20, 0x99, 0x12, 0x31, 0x23, 0x59, 0x59 },
	  1,
	  { 0x21, 0x00, 0x01, 0x01, 0x06, 0x00, 0x00, 0x00 } },
	{ "century: 1999 -> 2000",
	  { 0x19, 0x99, 0x12, 0x31, 0x23, 0x59, 0x59 },
	  1,
	  { 0x20, 0x00, 0x01, 0x01, 0x07, 0x00, 0x00, 0x00 } },
	{ "30 days across a leap February",
	  { 0x20, 0x24, 0x01, 0x31, 0x12, 0x00, 0x00 },
	  30 * 86400ull,
	  { 0x20, 0x24, 0x03, 0x01, 0x06, 0x12, 0x00, 0x00 } },
	{ "365 days from Feb 29",
	  { 0x20, 0x24, 0x02, 0x29, 0x00, 0x00, 0x00 },
	  365 * 86400ull,
	  { 0x20, 0x25, 0x02, 0x28, 0x06, 0x00, 0x00, 0x00 } },
};

START_TEST(test_rtc_calendar_boundaries)
{
	const struct calendar_row *r = &calendar_rows[_i];
	const uint8_t *f = r->from, *t = r->to;

	set_time(BASE, f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
	advance(r->seconds * SECOND);
	assert_time_of(r->name, BASE, t[0], t[1], t[2], t[3], t[4], t[5], t[6],
		       t[7]);
}
END_TEST

START_TEST(test_rtc_time_advances_with_guest_clock)
{
	advance(SECOND - 1);
	ck_assert_uint_eq(rd(0), 0x07);
	advance(1);
	ck_assert_uint_eq(rd(0), 0x08);
	advance(60 * SECOND);
	assert_time(BASE, 0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x46, 0x08);
	/* Nothing enabled: no timer ran to get there. */
	ck_assert(!armed("rtc0"));
}
END_TEST

START_TEST(test_rtc_uip_before_update)
{
	advance(SECOND - 245000);
	ck_assert_uint_eq(rd(0x0a), 0x26);
	advance(1000);
	ck_assert_uint_eq(rd(0x0a), 0xa6);
	wr(0x0b, 0x82); /* SET clears UIP */
	ck_assert_uint_eq(rd(0x0a), 0x26);
	wr(0x0b, 0x02);
	ck_assert_uint_eq(rd(0x0a), 0xa6);
	advance(244000);
	ck_assert_uint_eq(rd(0x0a), 0x26);
	ck_assert_uint_eq(rd(0), 0x08);
	wr(0x0a, 0xa6); /* UIP is read-only */
	ck_assert_uint_eq(rd(0x0a), 0x26);
}
END_TEST

START_TEST(test_rtc_divider_reset_stops_time)
{
	advance(SECOND / 4);
	wr(0x0a, 0x76);
	advance(5 * SECOND);
	ck_assert_uint_eq(rd(0), 0x07);
	/* Out of reset, the first update comes 500 ms later. */
	wr(0x0a, 0x26);
	advance(SECOND / 2 - 1);
	ck_assert_uint_eq(rd(0), 0x07);
	advance(1);
	ck_assert_uint_eq(rd(0), 0x08);
}
END_TEST

START_TEST(test_rtc_register_c_and_d_read_only)
{
	ck_assert_uint_eq(rd(0x0d), 0x80);
	wr(0x0d, 0x00);
	ck_assert_uint_eq(rd(0x0d), 0x80);
	wr(0x0c, 0xff);
	ck_assert_uint_eq(rd(0x0c), 0x00);
}
END_TEST

START_TEST(test_rtc_cmos_ram_bytes)
{
	uint64_t v;

	for (unsigned int i = 14; i < 128; i++)
		if (i != 0x32)
			wr((uint8_t)i, (uint8_t)(i ^ 0x5a));
	for (unsigned int i = 14; i < 128; i++)
		if (i != 0x32)
			ck_assert_uint_eq(rd((uint8_t)i), i ^ 0x5a);
	ck_assert_uint_eq(rd(0x32), 0x20); /* the century, not RAM */
	/* Bit 7 of the index is the NMI mask, not an address bit. */
	wr(0x80 | 0x40, 0x33);
	ck_assert_uint_eq(rd(0x40), 0x33);
	ck_assert_uint_eq(rd(0x80 | 0x40), 0x33);
	ck_assert_int_eq(vm_devices_pio_read(devs, BASE, 1, &v), 0);
	ck_assert_uint_eq(v, 0xff); /* the index port is write-only */
}
END_TEST

/* ---- interrupts ------------------------------------------------------ */

START_TEST(test_rtc_idle_arms_no_timer)
{
	ck_assert(!armed("rtc0"));
	wr(0x0b, 0x12); /* UIE */
	ck_assert(armed("rtc0"));
	ck_assert_uint_eq(timer_of("rtc0")->expire, now_ns + SECOND);
	wr(0x0b, 0x02);
	ck_assert(!armed("rtc0"));
	wr(0x0a, 0x20); /* no periodic rate */
	wr(0x0b, 0x42); /* PIE */
	ck_assert(!armed("rtc0"));
	wr(0x0b, 0x02);
	advance(10 * SECOND);
	ck_assert(!armed("rtc0"));
}
END_TEST

START_TEST(test_rtc_update_interrupt_and_c_read_clears)
{
	wr(0x0b, 0x12);
	advance(SECOND - 1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	advance(1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	/* A raised flag needs no timer until the guest acknowledges it. */
	ck_assert(!armed("rtc0"));
	/* IRQF UF, and PF: it rises at 1024 Hz whether PIE is on or not. */
	ck_assert_uint_eq(rd(0x0c), 0xd0);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(rd(0x0c), 0x00);
	ck_assert(armed("rtc0"));
	advance(SECOND);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
}
END_TEST

START_TEST(test_rtc_flags_set_without_enables)
{
	advance(SECOND + SECOND / 1000);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	/* UF, and PF at the default 1024 Hz; no IRQF. */
	ck_assert_uint_eq(rd(0x0c), 0x50);
	ck_assert_uint_eq(rd(0x0c), 0x00);
	/* Enabling an interrupt whose flag is up raises the line at once. */
	advance(SECOND);
	wr(0x0b, 0x12);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xd0);
}
END_TEST

/* PF out of the way: register C then shows only what the test is about. */
static void no_periodic_rate(void)
{
	wr(0x0a, 0x20);
}

START_TEST(test_rtc_alarm_exact_match)
{
	no_periodic_rate();
	wr(1, 0x10);
	wr(3, 0x45);
	wr(5, 0x13);
	wr(0x0b, 0x22); /* AIE */
	advance(3 * SECOND - 1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	advance(1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xb0); /* IRQF AF UF */
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	/* Next match: tomorrow. */
	ck_assert_uint_eq(timer_of("rtc0")->expire, now_ns + 86400 * SECOND);
}
END_TEST

START_TEST(test_rtc_alarm_dont_care_matches)
{
	no_periodic_rate();
	wr(1, 0x00);
	wr(3, 0xc0); /* any minute */
	wr(5, 0xff); /* any hour */
	wr(0x0b, 0x22);
	/* 13:45:07 -> 13:46:00 */
	advance(53 * SECOND - 1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	advance(1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xb0);
	advance(60 * SECOND - 1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	advance(1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(2), 0x47);
}
END_TEST

START_TEST(test_rtc_alarm_all_dont_care_every_second)
{
	no_periodic_rate();
	wr(1, 0xc0);
	wr(3, 0xc0);
	wr(5, 0xc0);
	wr(0x0b, 0x22);
	for (int i = 0; i < 3; i++) {
		advance(SECOND);
		ck_assert_uint_eq(devs->irq_level[IRQ], 1);
		ck_assert_uint_eq(rd(0x0c), 0xb0);
	}
}
END_TEST

/* Only the two top bits make a wildcard: 0x80-0xbf is a value. */
START_TEST(test_rtc_alarm_0x80_to_0xbf_is_not_dont_care)
{
	no_periodic_rate();
	wr(1, 0xc0);
	wr(3, 0xc0);
	wr(5, 0xbf);
	wr(0x0b, 0x22);
	ck_assert(!armed("rtc0"));
	advance(2 * 86400 * SECOND);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(rd(0x0c), 0x10);
	wr(5, 0x80); /* 12 AM in 12 h mode, no hour in 24 h mode */
	ck_assert(!armed("rtc0"));
	wr(5, 0xc0);
	ck_assert(armed("rtc0"));
}
END_TEST

START_TEST(test_rtc_alarm_12_hour_mode)
{
	no_periodic_rate();
	wr(0x0b, 0x20); /* AIE, 12 h, BCD */
	wr(1, 0x08);
	wr(3, 0x45);
	wr(5, 0x01); /* 1 AM: no match at 1 PM */
	advance(SECOND);
	ck_assert_uint_eq(rd(0x0c), 0x10);
	wr(1, 0x09);
	wr(5, 0x81); /* 1 PM */
	advance(SECOND);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xb0);
}
END_TEST

START_TEST(test_rtc_alarm_flag_without_aie)
{
	no_periodic_rate();
	wr(1, 0x09);
	wr(3, 0x45);
	wr(5, 0x13);
	advance(2 * SECOND);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(rd(0x0c), 0x30);
}
END_TEST

START_TEST(test_rtc_alarm_never_matching_arms_nothing)
{
	no_periodic_rate();
	wr(1, 0x60); /* no second is 60 */
	wr(3, 0xc0);
	wr(5, 0xc0);
	wr(0x0b, 0x22);
	ck_assert(!armed("rtc0"));
	advance(3 * 86400 * SECOND);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(rd(0x0c), 0x10);
}
END_TEST

/* Rate select: rs 1 and 2 alias 256 and 128 Hz, 3..15 are 32768 >> (rs-1). */
static const uint32_t rate_hz[16] = {
	0, 256, 128, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2,
};

START_TEST(test_rtc_periodic_rate_table)
{
	uint32_t hz = rate_hz[_i];
	uint64_t first = hz ? (SECOND + hz - 1) / hz : 0;
	uint64_t second = hz ? (2 * SECOND + hz - 1) / hz : 0;
	unsigned int owed = 0;

	wr(0x0a, (uint8_t)(0x20 | _i));
	wr(0x0b, 0x42); /* PIE */
	if (!hz) {
		ck_assert(!armed("rtc0"));
		advance(SECOND);
		ck_assert_uint_eq(devs->irq_level[IRQ], 0);
		ck_assert_uint_eq(rd(0x0c), 0x10);
		return;
	}
	advance(first - 1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	advance(1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xc0);
	advance(second - first - 1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	advance(1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c) & 0xc0, 0xc0);

	/* Half a second at the second's start holds hz / 2 edges; with
	 * lost-ticks on, each is owed to the guest. */
	advance(SECOND - second);
	while (rd(0x0c))
		;
	advance(SECOND / 2);
	while (rd(0x0c) & 0x40)
		owed++;
	ck_assert_uint_eq(owed, hz / 2);
}
END_TEST

START_TEST(test_rtc_periodic_flag_without_pie)
{
	advance(SECOND / 1024 + 1);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(rd(0x0c), 0x40);
	ck_assert(!armed("rtc0"));
}
END_TEST

START_TEST(test_rtc_lost_ticks_reinjected_on_ack)
{
	wr(0x0a, 0x2f); /* 2 Hz */
	wr(0x0b, 0x42);
	/* Edges at 0.5, 1.0 and 1.5 s; the guest acknowledges none. */
	advance(SECOND * 16 / 10);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xd0);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xc0);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xc0);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(rd(0x0c), 0x00);
}
END_TEST

START_TEST(test_rtc_lost_ticks_off_coalesces)
{
	ck_assert_int_eq(device_create(devs,
				       "cmos-rtc,id=r1,iobase=0x170,irq=9,"
				       "lost-ticks=off",
				       NULL, NULL),
			 0);
	wr_at(0x170, 0x0a, 0x2f);
	wr_at(0x170, 0x0b, 0x42);
	advance(SECOND * 16 / 10);
	ck_assert_uint_eq(devs->irq_level[9], 1);
	ck_assert_uint_eq(rd_at(0x170, 0x0c) & 0xc0, 0xc0);
	ck_assert_uint_eq(devs->irq_level[9], 0);
	ck_assert_uint_eq(rd_at(0x170, 0x0c), 0x00);
}
END_TEST

START_TEST(test_rtc_pie_off_drops_lost_ticks)
{
	wr(0x0a, 0x2f);
	wr(0x0b, 0x42);
	advance(SECOND * 16 / 10);
	wr(0x0b, 0x02);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	/* On again: PF is still up, the two missed ticks are gone. */
	wr(0x0b, 0x42);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xd0);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(rd(0x0c), 0x00);
}
END_TEST

START_TEST(test_rtc_reset_clears_interrupts_keeps_time)
{
	wr(0x40, 0x99);
	wr(0x0b, 0x7a); /* PIE AIE UIE SQWE, 24 h */
	advance(SECOND);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	device_reset_all(devs);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert(!armed("rtc0"));
	ck_assert_uint_eq(rd(0x0b), 0x02);
	ck_assert_uint_eq(rd(0x0c), 0x00);
	ck_assert_uint_eq(rd(0x40), 0x99);
	assert_time(BASE, 0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x45, 0x08);
}
END_TEST

/* ---- properties ------------------------------------------------------ */

START_TEST(test_rtc_default_base_is_host_utc)
{
	struct timespec before, after;
	struct tm tm = { 0 };
	time_t t;

	clock_gettime(CLOCK_REALTIME, &before);
	ck_assert_int_eq(
		device_create(devs, "cmos-rtc,id=r1,iobase=0x170", NULL, NULL),
		0);
	clock_gettime(CLOCK_REALTIME, &after);
	wr_at(0x170, 0x0b, 0x06); /* binary */
	tm.tm_year = rd_at(0x170, 0x32) * 100 + rd_at(0x170, 9) - 1900;
	tm.tm_mon = rd_at(0x170, 8) - 1;
	tm.tm_mday = rd_at(0x170, 7);
	tm.tm_hour = rd_at(0x170, 4);
	tm.tm_min = rd_at(0x170, 2);
	tm.tm_sec = rd_at(0x170, 0);
	t = timegm(&tm);
	ck_assert_int_ge(t, before.tv_sec);
	ck_assert_int_le(t, after.tv_sec);
}
END_TEST

START_TEST(test_rtc_bad_base_refused)
{
	static const char *const bad[] = {
		"2023-02-29T00:00:00", "2024-13-01T00:00:00",
		"2024-01-01T24:00:00", "2024-01-01 00:00:00",
		"2024-01-01T00:00",    "yesterday",
	};
	GError *err = NULL;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *spec = g_strdup_printf(
			"cmos-rtc,id=r1,iobase=0x170,base=%s", bad[i]);
		g_autofree char *msg = g_strdup_printf(
			"r1: realize of cmos-rtc failed: base=%s: expected "
			"utc or a UTC time YYYY-MM-DDTHH:MM:SS",
			bad[i]);
		guint before = logs->len;

		ck_assert_int_eq(device_create(devs, spec, NULL, &err),
				 -EINVAL);
		/* The module's message is the reason, not a line of its own. */
		ck_assert_error(err, msg);
		g_clear_error(&err);
		ck_assert_uint_eq(logs->len, before);
	}
}
END_TEST

/* ---- state ----------------------------------------------------------- */

static struct modvmm_device *far_device(const char *extra)
{
	struct modvmm_device *dev = NULL;
	/* Its own base and clock: the load must replace both. */
	g_autofree char *spec =
		g_strdup_printf("cmos-rtc,id=far1,iobase=0x170,irq=9,"
				"base=2001-01-01T00:00:00%s",
				extra);

	ck_assert_int_eq(device_create(devs, spec, &dev, NULL), 0);
	return dev;
}

static void migrate(const char *from, struct modvmm_device *to,
		    uint32_t version, GByteArray *saved)
{
	struct modvmm_device *src = device_find(devs, from);
	GError *err = NULL;
	int r;

	g_byte_array_set_size(saved, 0);
	g_mutex_lock(&devs->lock);
	r = vmstate_save(src->type->vms, src->state, version, saved, &err);
	if (!r)
		r = vmstate_load(to->type->vms, to->state, saved->data,
				 saved->len, 0, to->id, NULL, &err);
	g_mutex_unlock(&devs->lock);
	ck_assert_msg(r == 0, "%s", err ? err->message : "");
}

static int has_subsection(GByteArray *saved)
{
	static const char name[] = "cmos-rtc/lost-ticks";

	return memmem(saved->data, saved->len, name, sizeof(name) - 1) != NULL;
}

START_TEST(test_rtc_state_round_trip_keeps_phase_on_other_clock)
{
	struct modvmm_device *dst = far_device("");
	g_autoptr(GByteArray) saved = g_byte_array_new();

	ck_assert_uint_eq(dst->type->vms->d.version, 2);
	wr(0x40, 0x99);
	advance(SECOND * 7 / 10);
	migrate("rtc0", dst, 2, saved);
	assert_time(FAR_BASE, 0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x45, 0x07);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x40), 0x99);
	advance(SECOND * 3 / 10 - 1);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0), 0x07);
	ck_assert_uint_eq(rd(0), 0x07);
	advance(1);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0), 0x08);
	ck_assert_uint_eq(rd(0), 0x08);
}
END_TEST

START_TEST(test_rtc_version_1_state_restarts_the_second)
{
	struct modvmm_device *dst = far_device("");
	g_autoptr(GByteArray) saved = g_byte_array_new();

	advance(SECOND * 7 / 10);
	migrate("rtc0", dst, 1, saved);
	/* Header, 128 bytes of CMOS, the index; then the subsection. */
	ck_assert_uint_eq(saved->data[3 + 8], 1);
	ck_assert_uint_eq(saved->data[3 + 8 + 4] | saved->data[3 + 8 + 5] << 8,
			  128 + 1 + 3 + 19 + 8 + 4 + 1);
	assert_time(FAR_BASE, 0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x45, 0x07);
	advance(SECOND - 1);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0), 0x07);
	advance(1);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0), 0x08);
}
END_TEST

/* Saved in the middle of SET: the destination gets the guest's half-set
 * time, and takes it when the guest clears SET there. */
START_TEST(test_rtc_state_saved_during_set_keeps_guest_time)
{
	struct modvmm_device *dst = far_device("");
	g_autoptr(GByteArray) saved = g_byte_array_new();

	for (uint32_t version = 1; version <= 2; version++) {
		wr(0x0b, 0x82);
		wr(2, 0x10);
		migrate("rtc0", dst, version, saved);
		ck_assert_uint_eq(rd_at(FAR_BASE, 2), 0x10);
		wr_at(FAR_BASE, 0x0b, 0x02);
		assert_time(FAR_BASE, 0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x10,
			    0x07);
		wr(0x0b, 0x02);
		wr(2, 0x45);
	}
}
END_TEST

START_TEST(test_rtc_periodic_resumes_after_load)
{
	struct modvmm_device *dst = far_device("");
	g_autoptr(GByteArray) saved = g_byte_array_new();

	wr(0x0a, 0x2f); /* 2 Hz: edges at .0 and .5 */
	wr(0x0b, 0x42);
	advance(SECOND / 5);
	migrate("rtc0", dst, 2, saved);
	device_destroy(device_find(devs, "rtc0"));
	ck_assert(armed("far1"));
	advance(SECOND * 3 / 10 - 1);
	ck_assert_uint_eq(devs->irq_level[FAR_IRQ], 0);
	advance(1);
	ck_assert_uint_eq(devs->irq_level[FAR_IRQ], 1);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0xc0);
}
END_TEST

START_TEST(test_rtc_irq_line_follows_loaded_state)
{
	struct modvmm_device *dst = far_device("");
	g_autoptr(GByteArray) saved = g_byte_array_new();

	wr(0x0b, 0x12);
	advance(SECOND);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	migrate("rtc0", dst, 2, saved);
	ck_assert_uint_eq(devs->irq_level[FAR_IRQ], 1);
	ck_assert_uint_eq(rd(0x0c), 0xd0);
	/* Nothing pending now: loading it lowers the line. */
	migrate("rtc0", dst, 2, saved);
	ck_assert_uint_eq(devs->irq_level[FAR_IRQ], 0);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0x00);
}
END_TEST

START_TEST(test_rtc_lost_ticks_subsection_sent_only_with_property)
{
	struct modvmm_device *dst = far_device("");
	struct modvmm_device *off = NULL;
	g_autoptr(GByteArray) saved = g_byte_array_new();

	/* An idle RTC with the property on sends it all the same. */
	migrate("rtc0", dst, 2, saved);
	ck_assert(has_subsection(saved));
	migrate("rtc0", dst, 1, saved);
	ck_assert(has_subsection(saved));

	/* Off: never, not even with a backlog it would have counted. */
	ck_assert_int_eq(device_create(devs,
				       "cmos-rtc,id=r2,iobase=0x270,irq=10,"
				       "lost-ticks=off",
				       &off, NULL),
			 0);
	wr_at(0x270, 0x0a, 0x2f);
	wr_at(0x270, 0x0b, 0x42);
	advance(SECOND * 16 / 10);
	rd_at(FAR_BASE, 0x0a); /* far1 counts its two missed ticks */
	migrate("r2", dst, 2, saved);
	ck_assert(!has_subsection(saved));
}
END_TEST

START_TEST(test_rtc_lost_ticks_travel_with_the_state)
{
	struct modvmm_device *dst = far_device("");
	g_autoptr(GByteArray) saved = g_byte_array_new();

	wr(0x0a, 0x2f);
	wr(0x0b, 0x42);
	advance(SECOND * 16 / 10);
	migrate("rtc0", dst, 2, saved);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0xd0);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0xc0);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0xc0);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0x00);
}
END_TEST

/* A destination with the property off does not keep a backlog it would
 * never deliver; a state without the subsection leaves none behind. */
START_TEST(test_rtc_lost_ticks_not_kept_without_policy)
{
	struct modvmm_device *dst = far_device(",lost-ticks=off");
	g_autoptr(GByteArray) saved = g_byte_array_new();

	wr(0x0a, 0x2f);
	wr(0x0b, 0x42);
	advance(SECOND * 16 / 10);
	migrate("rtc0", dst, 2, saved);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0xd0);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0x00);
}
END_TEST

/* A state without the subsection: the destination's own backlog, from
 * before the load, must not survive it. */
START_TEST(test_rtc_load_without_subsection_leaves_no_stale_ticks)
{
	struct modvmm_device *dst = far_device("");
	struct modvmm_device *off = NULL;
	g_autoptr(GByteArray) saved = g_byte_array_new();

	ck_assert_int_eq(device_create(devs,
				       "cmos-rtc,id=r2,iobase=0x270,irq=10,"
				       "lost-ticks=off",
				       &off, NULL),
			 0);
	wr_at(FAR_BASE, 0x0a, 0x2f);
	wr_at(FAR_BASE, 0x0b, 0x42);
	wr_at(0x270, 0x0a, 0x2f);
	wr_at(0x270, 0x0b, 0x42);
	advance(SECOND * 16 / 10);
	rd_at(FAR_BASE, 0x0a); /* far1 counts its two missed ticks */
	migrate("r2", dst, 2, saved);
	ck_assert(!has_subsection(saved));
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0xd0);
	ck_assert_uint_eq(rd_at(FAR_BASE, 0x0c), 0x00);
}
END_TEST

START_TEST(test_rtc_corrupt_phase_refused)
{
	struct modvmm_device *src = device_find(devs, "rtc0");
	g_autoptr(GByteArray) saved = g_byte_array_new();
	g_autofree uint8_t *before = NULL;
	GError *err = NULL;
	size_t at = 3 + strlen("cmos-rtc") + 8 + 128 + 1 + 8;

	ck_assert_int_eq(
		vmstate_save(src->type->vms, src->state, 2, saved, NULL), 0);
	saved->data[at] = 0x00; /* phase_ns = 1000000000 */
	saved->data[at + 1] = 0xca;
	saved->data[at + 2] = 0x9a;
	saved->data[at + 3] = 0x3b;
	before = g_memdup2(src->state, src->type->t.instance_size);
	ck_assert_int_lt(vmstate_load(src->type->vms, src->state, saved->data,
				      saved->len, 0, "rtc0", NULL, &err),
			 0);
	ck_assert_msg(g_str_has_prefix(err->message,
				       "rtc0: cmos-rtc: phase_valid refused "
				       "the state: phase_ns is a second or "
				       "more (offset 0x"),
		      "%s", err->message);
	ck_assert_mem_eq(before, src->state, src->type->t.instance_size);
	g_error_free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cmos-rtc");
	TCase *tc = tcase_create("cmos-rtc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rtc_power_on_registers);
	tcase_add_test(tc, test_rtc_bcd_time_from_base);
	tcase_add_test(tc, test_rtc_binary_mode_reads);
	tcase_add_test(tc, test_rtc_12_hour_mode_reads_and_sets);
	tcase_add_test(tc, test_rtc_set_bit_freezes_and_sets_time);
	tcase_add_test(tc, test_rtc_write_outside_set_sets_time_at_once);
	tcase_add_test(tc, test_rtc_out_of_range_date_carries);
	tcase_add_loop_test(tc, test_rtc_calendar_boundaries, 0,
			    G_N_ELEMENTS(calendar_rows));
	tcase_add_test(tc, test_rtc_time_advances_with_guest_clock);
	tcase_add_test(tc, test_rtc_uip_before_update);
	tcase_add_test(tc, test_rtc_divider_reset_stops_time);
	tcase_add_test(tc, test_rtc_register_c_and_d_read_only);
	tcase_add_test(tc, test_rtc_cmos_ram_bytes);
	tcase_add_test(tc, test_rtc_idle_arms_no_timer);
	tcase_add_test(tc, test_rtc_update_interrupt_and_c_read_clears);
	tcase_add_test(tc, test_rtc_flags_set_without_enables);
	tcase_add_test(tc, test_rtc_alarm_exact_match);
	tcase_add_test(tc, test_rtc_alarm_dont_care_matches);
	tcase_add_test(tc, test_rtc_alarm_all_dont_care_every_second);
	tcase_add_test(tc, test_rtc_alarm_0x80_to_0xbf_is_not_dont_care);
	tcase_add_test(tc, test_rtc_alarm_12_hour_mode);
	tcase_add_test(tc, test_rtc_alarm_flag_without_aie);
	tcase_add_test(tc, test_rtc_alarm_never_matching_arms_nothing);
	tcase_add_loop_test(tc, test_rtc_periodic_rate_table, 0, 16);
	tcase_add_test(tc, test_rtc_periodic_flag_without_pie);
	tcase_add_test(tc, test_rtc_lost_ticks_reinjected_on_ack);
	tcase_add_test(tc, test_rtc_lost_ticks_off_coalesces);
	tcase_add_test(tc, test_rtc_pie_off_drops_lost_ticks);
	tcase_add_test(tc, test_rtc_reset_clears_interrupts_keeps_time);
	tcase_add_test(tc, test_rtc_default_base_is_host_utc);
	tcase_add_test(tc, test_rtc_bad_base_refused);
	tcase_add_test(tc,
		       test_rtc_state_round_trip_keeps_phase_on_other_clock);
	tcase_add_test(tc, test_rtc_version_1_state_restarts_the_second);
	tcase_add_test(tc, test_rtc_state_saved_during_set_keeps_guest_time);
	tcase_add_test(tc, test_rtc_periodic_resumes_after_load);
	tcase_add_test(tc, test_rtc_irq_line_follows_loaded_state);
	tcase_add_test(tc,
		       test_rtc_lost_ticks_subsection_sent_only_with_property);
	tcase_add_test(tc, test_rtc_lost_ticks_travel_with_the_state);
	tcase_add_test(tc, test_rtc_lost_ticks_not_kept_without_policy);
	tcase_add_test(tc,
		       test_rtc_load_without_subsection_leaves_no_stale_ticks);
	tcase_add_test(tc, test_rtc_corrupt_phase_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
