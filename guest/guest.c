// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The built-in test guest. Freestanding, general registers only (the host
 * does not enable SSE for it), deterministic, and small: under
 * paravirtualised KVM guest code runs slowly, so it touches one word per
 * page, not every byte.
 *
 * It checks the devices it knows and reports through debug-exit: 0 when
 * every check passed, otherwise the number of the first failed check.
 * Words of its command line (--append):
 *   count=N    print N counter lines (default 3)
 *   pages=N    rewrite and checksum N pages (default 64)
 *   ticks=N    wait for N PIT interrupts (default 5)
 *   forever    keep counting and rewriting memory until stopped
 *   pace=N     wait for N more PIT interrupts before each counter line
 *   hotplug    watch the hot-plug slot (below) and report what it sees
 *   reset      end with an i8042 reset (0xfe) instead of debug-exit
 *   panic      end by reporting a panic through pvpanic (port 0x505)
 *
 * The hot-plug slot is the port range 0x520-0x52f. A device added there
 * at run time answers a non-0xff byte at 0x520 (its id; ports nobody
 * claims read all-ones) and a value at 0x521. The guest looks once per
 * counter line and prints a line when a device appears or goes.
 */
#include <stdint.h>

#define COM1 0x3f8
#define DEBUG_EXIT 0x501
#define PVPANIC 0x505
#define HOTPLUG_SLOT 0x520
#define MEM_BASE 0x400000ull /* 4 MiB: above image, tables and stack */

volatile uint64_t guest_ticks;
volatile uint64_t guest_unexpected;
void isr_timer(void);
void isr_other(void);
void guest_main(const char *cmdline);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc_serial(char c)
{
	/* Wait for THR empty: the UART must say so before each byte. */
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		;
	outb(COM1, (uint8_t)c);
}

static void puts_serial(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_serial('\r');
		putc_serial(*s);
	}
}

static void put_u64(uint64_t v)
{
	char buf[21];
	int i = 20;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_serial(buf + i);
}

static void put_hex(uint64_t v)
{
	char buf[17];

	for (int i = 15; i >= 0; i--, v >>= 4)
		buf[i] = "0123456789abcdef"[v & 0xf];
	buf[16] = '\0';
	puts_serial(buf);
}

static int word_is(const char *w, int len, const char *s)
{
	int i = 0;

	for (; i < len && s[i]; i++)
		if (w[i] != s[i])
			return 0;
	return i == len && !s[i];
}

/* Finds `key=N` or the bare word `key` (*ret = 1) in the command line. */
static int arg(const char *cmdline, const char *key, uint64_t *ret)
{
	const char *p = cmdline;

	while (p && *p) {
		const char *w = p;
		int len = 0, klen = 0;

		while (w[len] && w[len] != ' ')
			len++;
		while (klen < len && w[klen] != '=')
			klen++;
		if (word_is(w, klen, key)) {
			uint64_t v = 0;

			if (klen == len) {
				*ret = 1;
				return 1;
			}
			for (int i = klen + 1; i < len; i++)
				v = v * 10 + (uint64_t)(w[i] - '0');
			*ret = v;
			return 1;
		}
		p = w + len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

struct idt_entry {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off1;
	uint32_t off2;
	uint32_t zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));

static void idt_set(int vec, void (*fn)(void))
{
	uint64_t a = (uint64_t)fn;

	idt[vec] = (struct idt_entry){
		.off0 = (uint16_t)a,
		.sel = 0x10,
		.type = 0x8e, /* present, interrupt gate */
		.off1 = (uint16_t)(a >> 16),
		.off2 = (uint32_t)(a >> 32),
	};
}

static void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (uint64_t)idt };

	for (int v = 0; v < 256; v++)
		idt_set(v, isr_other);
	idt_set(32, isr_timer);
	__asm__ volatile("lidt %0" : : "m"(d));
}

/* PIC: IRQs 0-7 at vectors 32-39, 8-15 at 40-47; only IRQ 0 unmasked. */
static void pic_init(void)
{
	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 32);
	outb(0xa1, 40);
	outb(0x21, 4);
	outb(0xa1, 2);
	outb(0x21, 1);
	outb(0xa1, 1);
	outb(0x21, 0xfe);
	outb(0xa1, 0xff);
}

/* PIT channel 0, rate generator at about 1 kHz. */
static void pit_init(void)
{
	uint16_t div = 1193;

	outb(0x43, 0x34);
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
}

static int check_uart(void)
{
	/* The scratch register holds what it is given. */
	outb(COM1 + 7, 0x5a);
	if (inb(COM1 + 7) != 0x5a)
		return 0;
	outb(COM1 + 7, 0xa5);
	return inb(COM1 + 7) == 0xa5 && (inb(COM1 + 5) & 0x60) == 0x60;
}

static int check_i8042(void)
{
	/* Status port answers, input buffer empty (bit 1 clear). */
	return (inb(0x64) & 0x02) == 0;
}

/* One word per page: pattern depends on the round and the page. */
static uint64_t mem_rewrite(uint64_t pages, uint64_t round)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < pages; i++) {
		volatile uint64_t *w =
			(volatile uint64_t *)(MEM_BASE + i * 4096);
		/* Multiplying in the round changes every word each round;
		 * a XOR of a small round would cancel out in the sum. */
		uint64_t v = ((round << 32) + i + 1) * 0x9e3779b97f4a7c15ull;

		*w = v;
		sum += v;
	}
	return sum;
}

static uint64_t mem_sum(uint64_t pages)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < pages; i++)
		sum += *(volatile uint64_t *)(MEM_BASE + i * 4096);
	return sum;
}

/* Reports a change in the hot-plug slot; returns what it saw. */
static uint8_t hotplug_poll(uint8_t was)
{
	uint8_t id = inb(HOTPLUG_SLOT);

	if (id == was)
		return id;
	if (id == 0xff) {
		puts_serial("hotplug: slot 0x520 empty\n");
	} else {
		puts_serial("hotplug: slot 0x520 id ");
		put_u64(id);
		puts_serial(" value ");
		put_u64(inb(HOTPLUG_SLOT + 1));
		puts_serial("\n");
	}
	return id;
}

static void fail(int check, const char *what)
{
	puts_serial("modvmm guest: FAIL check ");
	put_u64((uint64_t)check);
	puts_serial(": ");
	puts_serial(what);
	puts_serial("\n");
	outb(DEBUG_EXIT, (uint8_t)check);
}

void guest_main(const char *cmdline)
{
	uint64_t count = 3, pages = 64, ticks = 5, forever = 0, reset = 0;
	uint64_t pace = 0, hotplug = 0, panic = 0;
	uint8_t slot = 0xff;
	uint64_t sum;

	arg(cmdline, "count", &count);
	arg(cmdline, "pages", &pages);
	arg(cmdline, "ticks", &ticks);
	arg(cmdline, "forever", &forever);
	arg(cmdline, "reset", &reset);
	arg(cmdline, "pace", &pace);
	arg(cmdline, "hotplug", &hotplug);
	arg(cmdline, "panic", &panic);

	puts_serial("modvmm guest: hello\n");
	if (!check_uart())
		return fail(1, "uart16550 scratch/line status");
	if (!check_i8042())
		return fail(2, "i8042 status");

	sum = mem_rewrite(pages, 0);
	if (mem_sum(pages) != sum)
		return fail(3, "memory checksum");

	idt_load();
	pic_init();
	pit_init();
	__asm__ volatile("sti");
	while (guest_ticks < ticks)
		__asm__ volatile("hlt");
	if (guest_unexpected)
		return fail(4, "unexpected interrupt vector");

	for (uint64_t n = 1; forever || n <= count; n++) {
		for (uint64_t until = guest_ticks + pace; guest_ticks < until;)
			__asm__ volatile("hlt");
		if (hotplug)
			slot = hotplug_poll(slot);
		/* Memory holds what the last round wrote: also after a
		 * snapshot is restored or the guest has migrated. */
		if (mem_sum(pages) != sum)
			return fail(8, "memory changed between rounds");
		sum = mem_rewrite(pages, n);
		if (mem_sum(pages) != sum)
			return fail(5, "memory checksum after rewrite");
		puts_serial("count ");
		put_u64(n);
		puts_serial(" ticks ");
		put_u64(guest_ticks);
		puts_serial(" sum ");
		put_hex(sum);
		puts_serial("\n");
	}

	puts_serial("modvmm guest: PASS\n");
	if (panic) {
		puts_serial("modvmm guest: panic\n");
		outb(PVPANIC, 1);
		return fail(7, "pvpanic did not end the run");
	}
	if (reset) {
		__asm__ volatile("cli");
		outb(0x64, 0xfe);
		return fail(6, "i8042 reset did not reset");
	}
	outb(DEBUG_EXIT, 0);
}
