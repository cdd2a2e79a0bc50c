// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmos-rtc - an MC146818 real-time clock and its CMOS RAM, as on a PC:
 * index port 0x70 (bit 7 of an index write is the NMI mask: kept, with no
 * effect), data port 0x71, IRQ 8.
 *
 * Registers 0-9 (time, alarm, date), the century at 0x32, A (UIP,
 * divider, rate), B (SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE), C (IRQF,
 * PF, AF, UF; read-to-clear), D (VRT, always set); bytes 14-127 are RAM.
 * SQWE and DSE are kept and do nothing: there is no square-wave pin and
 * daylight saving is the guest's business.
 *
 * Time base. The clock is kept as whole seconds since 1970-01-01 UTC
 * (`seconds`) plus the phase of the divider chain within the second
 * (`phase_ns`), both valid at `ref_ns` on the host's guest clock
 * (host->clock_ns, which stops while the VM is paused, so the RTC does
 * too). Every access first brings them up to date; the time registers are
 * encoded from them when read, so no timer runs just to keep time. It
 * starts from the host's UTC time (CLOCK_REALTIME) at realize, or from the
 * `base` property.
 *
 * One divider chain, as in the chip: the periodic rate is a tap of the
 * same 32.768 kHz chain whose overflow is the second, so periodic edges
 * fall at fixed phases of the second and need no state of their own. The
 * chain runs while the divider bits are 010; SET stops the seconds (the
 * update cycle), not the chain.
 *
 * Flags are computed lazily, as QEMU does: PF, UF and AF are worked out
 * for the time elapsed whenever the device is touched, whether or not
 * their interrupt is enabled. The one timer is armed only for an enabled
 * interrupt whose flag is still clear, at its next edge, second or alarm
 * match; nothing enabled, nothing armed.
 *
 * Migration. pre_save brings the flags and registers up to date; the
 * saved seconds and phase are independent of either host's clock_ns, and
 * post_load rebases them on the destination's clock and re-arms the timer.
 * Releases (-DRTC_RELEASE, tests/fixtures/meson.build builds the old
 * ones from this file):
 *   100  1.0.0: cmos-rtc@1 = the 128 bytes of CMOS and the index; the time
 *        is taken back from the registers on load, so the sub-second phase
 *        is lost (the second starts over on the destination);
 *   110  1.1.0: adds the property lost-ticks (on by default): periodic
 *        interrupts that fell while the previous one was unacknowledged
 *        are counted and re-raised one per read of register C, so a guest
 *        that counts ticks does not fall behind. The count travels in the
 *        subsection cmos-rtc/lost-ticks, sent whenever the property is on
 *        (the destination must keep the policy, and the verdict must not
 *        depend on whether a tick was missed at that moment); an old
 *        machine type turns the property off, and then 1.1 -> 1.0 works;
 *   200  2.0.0: cmos-rtc@2 adds the seconds and phase, so the phase
 *        survives. It still loads version 1 (the time from the registers,
 *        as 1.x did): min_version stays 1 because microvm-1.0 guests from
 *        1.x must keep migrating forward. It still saves version 1
 *        (min_save_version) for a 1.1 destination.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <modvmm/module.h>

#ifndef RTC_RELEASE
#define RTC_RELEASE 200
#endif
#if RTC_RELEASE == 200
#define RTC_VERSION "2.0.0"
#define RTC_VMS_VERSION 2
#elif RTC_RELEASE == 110
#define RTC_VERSION "1.1.0"
#define RTC_VMS_VERSION 1
#elif RTC_RELEASE == 100
#define RTC_VERSION "1.0.0"
#define RTC_VMS_VERSION 1
#else
#error "RTC_RELEASE is one of 100, 110, 200"
#endif
#define RTC_LOST_TICKS (RTC_RELEASE >= 110)

MODVMM_MODULE_INFO("cmos-rtc", RTC_VERSION);
MODVMM_MODULE_LICENSE("LGPL-2.1-or-later");
MODVMM_MODULE_AUTHOR("modvmm developers");
MODVMM_MODULE_DESCRIPTION("MC146818 CMOS real-time clock");
MODVMM_MODULE_DEVICE("cmos-rtc");
MODVMM_MODULE_VMSTATE("cmos-rtc", RTC_VMS_VERSION);

enum {
	REG_SEC = 0x00,
	REG_ALARM_SEC = 0x01,
	REG_MIN = 0x02,
	REG_ALARM_MIN = 0x03,
	REG_HOUR = 0x04,
	REG_ALARM_HOUR = 0x05,
	REG_WDAY = 0x06,
	REG_MDAY = 0x07,
	REG_MONTH = 0x08,
	REG_YEAR = 0x09,
	REG_A = 0x0a,
	REG_B = 0x0b,
	REG_C = 0x0c,
	REG_D = 0x0d,
	REG_CENTURY = 0x32, /* where the ACPI FADT says it is on PCs */
};

#define A_UIP 0x80
#define A_DV 0x70
#define A_DV_NORMAL 0x20 /* 32.768 kHz time base */
#define A_DV_RESET 0x60	 /* 11x: chain held in reset */
#define A_RS 0x0f
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM 0x04 /* binary, not BCD */
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40 /* same bit as B_PIE: IRQF = C & B & C_FLAGS */
#define C_AF 0x20
#define C_UF 0x10
#define C_FLAGS (C_PF | C_AF | C_UF)
#define D_VRT 0x80
#define HOUR_PM 0x80
#define DONT_CARE 0xc0 /* alarm bytes 0xc0-0xff match anything */

#define CMOS_SIZE 128
#define NS 1000000000ull
#define CHAIN_HZ 32768ull
/* UIP rises 244 us (8 chain cycles) before the update. */
#define UIP_NS (8 * NS / CHAIN_HZ + 1)
/* A backlog beyond this is dropped: catching up is for jitter, not for
 * a guest that stopped acknowledging for seconds. */
#define LOST_TICKS_MAX 4096
#define NEVER INT64_MAX

static const struct modvmm_host *host;

struct rtc {
	/* properties */
	uint16_t iobase;
	uint32_t irq;
	const char *base;
	uint8_t lost_ticks_on;
	/* guest-visible state */
	uint8_t cmos[CMOS_SIZE]; /* registers included */
	uint8_t index;		 /* as written, NMI mask bit included */
	int64_t seconds;	 /* since the epoch, at ref_ns */
	uint32_t phase_ns;	 /* of the divider chain, at ref_ns */
	uint32_t lost_ticks;	 /* periodic interrupts owed to the guest */
	/* host side */
	uint64_t ref_ns; /* host->clock_ns() at which the above hold */
	uint8_t irq_level;
	struct modvmm_device *dev;
	struct modvmm_timer *timer;
};

/* ---- calendar (proleptic Gregorian, any year) ------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* Days from 1970-01-01 to y-m-01, m in 1..12. */
static int64_t days_from_civil(int64_t y, int m)
{
	int64_t era, yoe, doy;

	if (m <= 2)
		y--;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*ret_d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*ret_m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*ret_y = yoe + era * 400 + (*ret_m <= 2);
}

static int days_in_month(int64_t y, int m)
{
	static const uint8_t days[] = { 31, 28, 31, 30, 31, 30,
					31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return days[m - 1] + (m == 2 && leap);
}

/* ---- register encoding ----------------------------------------------- */

static uint8_t enc(const struct rtc *s, unsigned int v)
{
	if (s->cmos[REG_B] & B_DM)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

/* BCD digits above 9 are taken at face value, as the chip counts them. */
static unsigned int dec(const struct rtc *s, uint8_t v)
{
	if (s->cmos[REG_B] & B_DM)
		return v;
	return (v >> 4) * 10u + (v & 0x0f);
}

static uint8_t enc_hour(const struct rtc *s, unsigned int h)
{
	if (s->cmos[REG_B] & B_24H)
		return enc(s, h);
	return enc(s, h % 12 ? h % 12 : 12) | (h >= 12 ? HOUR_PM : 0);
}

static unsigned int dec_hour(const struct rtc *s, uint8_t v)
{
	unsigned int h;

	if (s->cmos[REG_B] & B_24H)
		return dec(s, v);
	h = dec(s, v & ~HOUR_PM);
	if (h == 12)
		h = 0;
	return h + ((v & HOUR_PM) ? 12 : 0);
}

/* The time registers from `seconds`. */
static void regs_from_time(struct rtc *s)
{
	int64_t days = floor_div(s->seconds, 86400), y;
	int64_t tod = s->seconds - days * 86400;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	s->cmos[REG_SEC] = enc(s, (unsigned int)(tod % 60));
	s->cmos[REG_MIN] = enc(s, (unsigned int)(tod / 60 % 60));
	s->cmos[REG_HOUR] = enc_hour(s, (unsigned int)(tod / 3600));
	/* 1970-01-01 was a Thursday; Sunday is 1. */
	s->cmos[REG_WDAY] = enc(s, (unsigned int)((days % 7 + 11) % 7 + 1));
	s->cmos[REG_MDAY] = enc(s, (unsigned int)d);
	s->cmos[REG_MONTH] = enc(s, (unsigned int)m);
	s->cmos[REG_YEAR] = enc(s, (unsigned int)(y % 100));
	s->cmos[REG_CENTURY] = enc(s, (unsigned int)(y / 100 % 100));
}

/*
 * `seconds` from the time registers. Out-of-range values carry into the
 * next unit (February 30 is March 1 or 2, month 13 is January of the next
 * year, month 0 is January); the day of week is derived from the date.
 */
static void time_from_regs(struct rtc *s)
{
	int64_t y = dec(s, s->cmos[REG_YEAR]) +
		    100 * (int64_t)dec(s, s->cmos[REG_CENTURY]);
	int64_t m = dec(s, s->cmos[REG_MONTH]);
	int64_t days;

	if (m == 0)
		m = 1;
	y += (m - 1) / 12;
	m = (m - 1) % 12 + 1;
	days = days_from_civil(y, (int)m) + dec(s, s->cmos[REG_MDAY]) - 1;
	s->seconds = days * 86400 + dec_hour(s, s->cmos[REG_HOUR]) * 3600 +
		     dec(s, s->cmos[REG_MIN]) * 60 + dec(s, s->cmos[REG_SEC]);
}

static int is_time_reg(unsigned int idx)
{
	return idx <= REG_YEAR ? !(idx & 1) || idx > REG_ALARM_HOUR
			       : idx == REG_CENTURY;
}

/* ---- the divider chain and the flags ----------------------------------- */

static int chain_running(const struct rtc *s)
{
	return (s->cmos[REG_A] & A_DV) == A_DV_NORMAL;
}

/* Chain cycles per periodic edge; 0 for none. Rates 1 and 2 alias the
 * 256 and 128 Hz taps (rates 8 and 9), as the datasheet's table says. */
static uint64_t period_cycles(const struct rtc *s)
{
	unsigned int rs = s->cmos[REG_A] & A_RS;

	if (!rs)
		return 0;
	if (rs <= 2)
		rs += 7;
	return 1ull << (rs - 1);
}

static uint64_t cycles_at(uint64_t phase)
{
	return phase * CHAIN_HZ / NS;
}

/* The phase at which chain cycle c (0..32768) completes. */
static uint64_t phase_of_cycle(uint64_t c)
{
	return (c * NS + CHAIN_HZ - 1) / CHAIN_HZ;
}

static int alarm_byte_matches(uint8_t alarm, uint8_t now)
{
	return (alarm & DONT_CARE) == DONT_CARE || alarm == now;
}

/* The first second after t0 whose h:m:s the alarm bytes match. */
static int64_t alarm_next(const struct rtc *s, int64_t t0)
{
	uint8_t want[3] = { s->cmos[REG_ALARM_HOUR], s->cmos[REG_ALARM_MIN],
			    s->cmos[REG_ALARM_SEC] };
	uint8_t hit_h[24], hit_m[60], hit_s[60];
	int any_h = 0, any_m = 0, any_s = 0;
	int64_t t = t0 + 1, limit = t0 + 2 * 86400;

	for (unsigned int i = 0; i < 60; i++) {
		if (i < 24) {
			hit_h[i] = alarm_byte_matches(want[0], enc_hour(s, i));
			any_h |= hit_h[i];
		}
		hit_m[i] = alarm_byte_matches(want[1], enc(s, i));
		hit_s[i] = alarm_byte_matches(want[2], enc(s, i));
		any_m |= hit_m[i];
		any_s |= hit_s[i];
	}
	if (!any_h || !any_m || !any_s)
		return NEVER;
	/* Skip whole hours, then whole minutes, that cannot match. */
	while (t <= limit) {
		int64_t day = floor_div(t, 86400) * 86400, tod = t - day;

		if (!hit_h[tod / 3600])
			t = day + (tod / 3600 + 1) * 3600;
		else if (!hit_m[tod / 60 % 60])
			t = day + (tod / 60 + 1) * 60;
		else if (!hit_s[tod % 60])
			t++;
		else
			return t;
	}
	return NEVER;
}

/* `edges` periodic edges went by: PF, and ticks the guest missed. */
static void periodic_edges(struct rtc *s, uint64_t edges)
{
	uint64_t lost = edges;

	if (!(s->cmos[REG_C] & C_PF)) {
		s->cmos[REG_C] |= C_PF;
		lost--;
	}
	if (!s->lost_ticks_on || !(s->cmos[REG_B] & B_PIE))
		return;
	s->lost_ticks = lost >= LOST_TICKS_MAX - s->lost_ticks
				? LOST_TICKS_MAX
				: s->lost_ticks + (uint32_t)lost;
}

/* Brings the time and the flags up to host->clock_ns(). */
static void rtc_advance(struct rtc *s)
{
	uint64_t now = host->clock_ns(s->dev);
	uint64_t elapsed = now - s->ref_ns, total, carry, period;
	uint32_t old_phase = s->phase_ns;
	int64_t old_seconds = s->seconds;

	s->ref_ns = now;
	if (!chain_running(s) || !elapsed)
		return;
	total = s->phase_ns + elapsed;
	carry = total / NS;
	s->phase_ns = (uint32_t)(total % NS);
	period = period_cycles(s);
	if (period) {
		uint64_t edges = carry * (CHAIN_HZ / period) +
				 cycles_at(s->phase_ns) / period -
				 cycles_at(old_phase) / period;

		if (edges)
			periodic_edges(s, edges);
	}
	if (!carry || (s->cmos[REG_B] & B_SET))
		return;
	s->seconds += (int64_t)carry;
	s->cmos[REG_C] |= C_UF;
	if (alarm_next(s, old_seconds) <= s->seconds)
		s->cmos[REG_C] |= C_AF;
}

static void rtc_drive_irq(struct rtc *s, int force)
{
	uint8_t level = !!(s->cmos[REG_C] & s->cmos[REG_B] & C_FLAGS);

	if (level)
		s->cmos[REG_C] |= C_IRQF;
	else
		s->cmos[REG_C] &= ~C_IRQF;
	if (force || level != s->irq_level) {
		s->irq_level = level;
		host->irq_set(s->dev, s->irq, level);
	}
}

/*
 * Arms the timer for the next event that would raise the line: only for
 * an enabled interrupt whose flag is clear (a set flag already holds the
 * line up, and further edges are counted when the guest next looks).
 * Called right after rtc_advance(), so seconds and phase hold at ref_ns.
 */
static void rtc_rearm(struct rtc *s)
{
	uint8_t b = s->cmos[REG_B], c = s->cmos[REG_C];
	uint64_t deadline = UINT64_MAX, period = period_cycles(s);
	int64_t t;

	if (!chain_running(s)) {
		host->timer_del(s->timer);
		return;
	}
	if ((b & B_PIE) && period && !(c & C_PF)) {
		uint64_t next = (cycles_at(s->phase_ns) / period + 1) * period;

		deadline = s->ref_ns + phase_of_cycle(next) - s->phase_ns;
	}
	if ((b & B_UIE) && !(b & B_SET) && !(c & C_UF) &&
	    s->ref_ns + NS - s->phase_ns < deadline)
		deadline = s->ref_ns + NS - s->phase_ns;
	if ((b & B_AIE) && !(b & B_SET) && !(c & C_AF) &&
	    (t = alarm_next(s, s->seconds)) != NEVER &&
	    s->ref_ns + (uint64_t)(t - s->seconds) * NS - s->phase_ns <
		    deadline)
		deadline = s->ref_ns + (uint64_t)(t - s->seconds) * NS -
			   s->phase_ns;
	if (deadline == UINT64_MAX)
		host->timer_del(s->timer);
	else
		host->timer_mod(s->timer, deadline);
}

static void rtc_timer(void *opaque)
{
	struct rtc *s = opaque;

	rtc_advance(s);
	rtc_drive_irq(s, 0);
	rtc_rearm(s);
}

/* ---- guest accesses ---------------------------------------------------- */

static uint8_t reg_read(struct rtc *s, unsigned int idx)
{
	uint8_t v;

	switch (idx) {
	case REG_A:
		v = s->cmos[REG_A];
		if (chain_running(s) && !(s->cmos[REG_B] & B_SET) &&
		    s->phase_ns >= NS - UIP_NS)
			v |= A_UIP;
		return v;
	case REG_C:
		/* IRQF as the flags are now, without pulsing the line. */
		v = s->cmos[REG_C] & ~C_IRQF;
		if (v & s->cmos[REG_B] & C_FLAGS)
			v |= C_IRQF;
		s->cmos[REG_C] = 0;
		rtc_drive_irq(s, 0);
		/* Reading C acknowledges; a missed tick follows at once. */
		if (s->lost_ticks && (s->cmos[REG_B] & B_PIE)) {
			s->lost_ticks--;
			s->cmos[REG_C] = C_PF;
		}
		return v;
	case REG_D:
		return D_VRT;
	}
	if (is_time_reg(idx) && !(s->cmos[REG_B] & B_SET))
		regs_from_time(s);
	return s->cmos[idx];
}

static void reg_write(struct rtc *s, unsigned int idx, uint8_t v)
{
	uint8_t old;

	switch (idx) {
	case REG_A:
		old = s->cmos[REG_A];
		s->cmos[REG_A] = v & ~A_UIP;
		/* The first update comes 500 ms after the chain leaves reset. */
		if ((old & A_DV_RESET) == A_DV_RESET && chain_running(s))
			s->phase_ns = NS / 2;
		return;
	case REG_B:
		old = s->cmos[REG_B];
		if (v & B_SET)
			v &= ~B_UIE; /* the datasheet: SET clears UIE */
		s->cmos[REG_B] = v;
		/* Under SET the guest edits the time as it was when set. */
		if (!(old & B_SET) && (v & B_SET))
			regs_from_time(s);
		else if ((old & B_SET) && !(v & B_SET))
			time_from_regs(s);
		if (!(v & B_PIE))
			s->lost_ticks = 0;
		return;
	case REG_C:
	case REG_D:
		return; /* read-only */
	}
	if (is_time_reg(idx) && !(s->cmos[REG_B] & B_SET)) {
		/* Outside SET, a write sets the time at once. */
		regs_from_time(s);
		s->cmos[idx] = v;
		time_from_regs(s);
		return;
	}
	s->cmos[idx] = v;
}

static uint64_t rtc_read(void *opaque, uint64_t offset, uint32_t width)
{
	struct rtc *s = opaque;
	uint8_t v;

	(void)width;
	if (offset == 0)
		return 0xff; /* the index port is write-only */
	rtc_advance(s);
	v = reg_read(s, s->index & 0x7f);
	rtc_drive_irq(s, 0);
	rtc_rearm(s);
	return v;
}

static void rtc_write(void *opaque, uint64_t offset, uint64_t value,
		      uint32_t width)
{
	struct rtc *s = opaque;

	(void)width;
	if (offset == 0) {
		s->index = (uint8_t)value;
		return;
	}
	rtc_advance(s);
	reg_write(s, s->index & 0x7f, (uint8_t)value);
	rtc_drive_irq(s, 0);
	rtc_rearm(s);
}

/* ---- lifecycle --------------------------------------------------------- */

/* "utc" (the host's time now) or "YYYY-MM-DDTHH:MM:SS" in UTC. */
static int32_t parse_base(struct rtc *s)
{
	const char *b = s->base ? s->base : "utc";
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	unsigned int f[6] = { 0 };
	struct timespec ts;
	int64_t days;

	if (!strcmp(b, "utc")) {
		clock_gettime(CLOCK_REALTIME, &ts);
		s->seconds = ts.tv_sec;
		s->phase_ns = (uint32_t)ts.tv_nsec;
		return 0;
	}
	for (size_t i = 0, n = 0; i < sizeof(shape); i++) {
		if (shape[i] == 'd' && b[i] >= '0' && b[i] <= '9')
			f[n] = f[n] * 10 + (unsigned int)(b[i] - '0');
		else if (shape[i] == 'd' || b[i] != shape[i])
			goto bad;
		else
			n++; /* a separator, or the NUL at the end */
	}
	if (f[1] < 1 || f[1] > 12 || f[2] < 1 ||
	    f[2] > (unsigned int)days_in_month(f[0], (int)f[1]) || f[3] > 23 ||
	    f[4] > 59 || f[5] > 59)
		goto bad;
	days = days_from_civil(f[0], (int)f[1]) + f[2] - 1;
	s->seconds = days * 86400 + f[3] * 3600 + f[4] * 60 + f[5];
	s->phase_ns = 0;
	return 0;
bad:
	host->log(s->dev, MODVMM_LOG_ERROR,
		  "base=%s: expected utc or a UTC time YYYY-MM-DDTHH:MM:SS", b);
	return -EINVAL;
}

static void rtc_reset(struct modvmm_device *dev, void *state)
{
	struct rtc *s = state;

	(void)dev;
	/* The datasheet's RESET: time, date, alarm and RAM are kept. */
	rtc_advance(s);
	s->cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
	s->cmos[REG_C] = 0;
	s->lost_ticks = 0;
	rtc_drive_irq(s, 0);
	rtc_rearm(s);
}

static int32_t rtc_realize(struct modvmm_device *dev, void *state)
{
	struct rtc *s = state;
	const struct modvmm_region region = {
		.size = sizeof(region),
		.space = MODVMM_SPACE_PIO,
		.base = s->iobase,
		.length = 2,
		.name = "cmos-rtc",
		.read = rtc_read,
		.write = rtc_write,
		/* Linux's rtc-cmos binds to it through ACPI (PNP0B00). */
		.acpi_hid = "PNP0B00",
		.acpi_irq = s->irq,
		.acpi_flags = MODVMM_ACPI_IRQ,
	};
	int32_t r;

	s->dev = dev;
	r = parse_base(s);
	if (r < 0)
		return r;
	r = host->region_add(dev, &region, s);
	if (r < 0)
		return r;
	s->timer = host->timer_new(dev, rtc_timer, s);
	/* What a PC BIOS leaves: 32.768 kHz, 1024 Hz rate, 24 h, BCD. */
	s->cmos[REG_A] = A_DV_NORMAL | 0x06;
	s->cmos[REG_B] = B_24H;
	s->cmos[REG_D] = D_VRT;
	s->ref_ns = host->clock_ns(dev);
	regs_from_time(s);
	return 0;
}

static void rtc_unrealize(struct modvmm_device *dev, void *state)
{
	struct rtc *s = state;

	(void)dev;
	host->timer_free(s->timer);
}

/* ---- state ------------------------------------------------------------- */

static int32_t rtc_pre_save(void *state)
{
	struct rtc *s = state;

	/* Flags and registers as of now; version 1 has only the registers. */
	rtc_advance(s);
	if (!(s->cmos[REG_B] & B_SET))
		regs_from_time(s);
	return 0;
}

/* The load goes into a copy of this host's state: what the stream does
 * not carry must not survive from it. */
static int32_t rtc_pre_load(void *state)
{
	struct rtc *s = state;

	s->lost_ticks = 0;
	return 0;
}

static int32_t rtc_post_load(void *state, uint32_t version)
{
	struct rtc *s = state;

	if (version < 2) {
		time_from_regs(s);
		s->phase_ns = 0;
	}
	if (!s->lost_ticks_on || !(s->cmos[REG_B] & B_PIE))
		s->lost_ticks = 0;
	s->cmos[REG_A] &= ~A_UIP;
	s->cmos[REG_D] = D_VRT;
	s->ref_ns = host->clock_ns(s->dev);
	rtc_drive_irq(s, 1);
	rtc_rearm(s);
	return 0;
}

#if RTC_VMS_VERSION >= 2
static int32_t rtc_phase_valid(const void *state, uint32_t version,
			       const char **ret_message)
{
	const struct rtc *s = state;

	(void)version;
	if (s->phase_ns >= NS) {
		*ret_message = "phase_ns is a second or more";
		return -EINVAL;
	}
	return 0;
}
#endif

#if RTC_LOST_TICKS
static int32_t rtc_lost_ticks_valid(const void *state, uint32_t version,
				    const char **ret_message)
{
	const struct rtc *s = state;

	(void)version;
	if (s->lost_ticks > LOST_TICKS_MAX) {
		*ret_message = "more than 4096 lost ticks";
		return -EINVAL;
	}
	return 0;
}

static int32_t rtc_lost_ticks_needed(const void *state)
{
	const struct rtc *s = state;

	return s->lost_ticks_on;
}
#endif

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */
#if RTC_LOST_TICKS
static const struct modvmm_vmstate_field rtc_lost_ticks_fields[] = {
	MODVMM_VMS_FIELD(U32, struct rtc, lost_ticks, 1),
	MODVMM_VMS_VALIDATE_FIELD("lost_ticks_valid", rtc_lost_ticks_valid, 1),
};

static const struct modvmm_vmstate rtc_lost_ticks_vmstate = {
	.size          = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version       = 1,                             /* since 1.1.0 */
	.min_version   = 1,                             /* oldest loaded */
	.name          = "cmos-rtc/lost-ticks",         /* parent/child */
	.fields        = rtc_lost_ticks_fields,
	.n_fields      = MODVMM_ARRAY_SIZE(rtc_lost_ticks_fields),
};

static const struct modvmm_vmstate_subsection rtc_subsections[] = {
	{
		.size   = sizeof(struct modvmm_vmstate_subsection),
		.flags  = 0,                     /* a 1.0 host must refuse */
		.vms    = &rtc_lost_ticks_vmstate,
		.needed = rtc_lost_ticks_needed, /* property lost-ticks=on */
	},
};
#endif

static const struct modvmm_vmstate_field rtc_fields[] = {
	MODVMM_VMS_BUFFER_FIELD(struct rtc, cmos, 1),
	MODVMM_VMS_FIELD(U8, struct rtc, index, 1),
#if RTC_VMS_VERSION >= 2
	MODVMM_VMS_FIELD(I64, struct rtc, seconds, 2),
	MODVMM_VMS_FIELD(U32, struct rtc, phase_ns, 2),
	MODVMM_VMS_VALIDATE_FIELD("phase_valid", rtc_phase_valid, 2),
#endif
};

static const struct modvmm_vmstate rtc_vmstate = {
	.size             = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version          = RTC_VMS_VERSION,               /* saved now */
	.min_version      = 1,                             /* oldest loaded */
	.min_save_version = 1,                             /* for 1.x hosts */
	.name             = "cmos-rtc",                    /* = modinfo vmstate= */
	.fields           = rtc_fields,
	.n_fields         = MODVMM_ARRAY_SIZE(rtc_fields),
#if RTC_LOST_TICKS
	.n_subsections    = MODVMM_ARRAY_SIZE(rtc_subsections),
	.subsections      = rtc_subsections,
#endif
	.pre_save         = rtc_pre_save,                  /* time up to date */
	.pre_load         = rtc_pre_load,                  /* nothing stale */
	.post_load        = rtc_post_load,                 /* rebase, re-arm */
};

static const struct modvmm_property rtc_properties[] = {
	MODVMM_PROP_U16_DEFINE("iobase", struct rtc, iobase, 0x70,
			       "index port; data is at iobase+1"),
	MODVMM_PROP_U32_DEFINE("irq", struct rtc, irq, 8,
			       "interrupt line (GSI)"),
	MODVMM_PROP_STR_DEFINE("base", struct rtc, base, "utc",
			       "start time: utc or YYYY-MM-DDTHH:MM:SS (UTC)"),
#if RTC_LOST_TICKS
	/* Off is how 1.0 behaved: such a guest can go back to 1.0. */
	MODVMM_PROP_BOOL_ADDED("lost-ticks", struct rtc, lost_ticks_on, 1, 0,
			       "re-raise missed periodic interrupts "
			       "(sends cmos-rtc/lost-ticks)"),
#endif
};

static const struct modvmm_device_type rtc_type = {
	.size          = sizeof(struct modvmm_device_type), /* ABI struct size */
	.instance_size = sizeof(struct rtc),                /* host allocates */
	.name          = "cmos-rtc",                        /* --device name */
	.description   = "MC146818 CMOS real-time clock",
	.properties    = rtc_properties,                    /* --device k=v */
	.n_properties  = MODVMM_ARRAY_SIZE(rtc_properties),
	.realize       = rtc_realize,                       /* time, ports */
	.unrealize     = rtc_unrealize,                     /* free the timer */
	.reset         = rtc_reset,                         /* interrupts off */
	.vmstate       = &rtc_vmstate,                      /* migratable state */
};

static const struct modvmm_device_type *const rtc_types[] = {
	&rtc_type,
};

static const struct modvmm_module rtc_module = {
	MODVMM_MODULE_DESCRIPTOR_INIT,            /* magic, ABI, size */
	.name           = "cmos-rtc",             /* = modinfo name */
	.version        = RTC_VERSION,            /* = modinfo version */
	.device_types   = rtc_types,              /* = modinfo device= */
	.n_device_types = MODVMM_ARRAY_SIZE(rtc_types),
	.init           = NULL,                   /* no module-wide state */
	.exit           = NULL,
};
/* clang-format on */

const struct modvmm_module *modvmm_module_init(const struct modvmm_host *h)
{
	host = h;
	return &rtc_module;
}
