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
 *   triple     end with a triple fault (a divide error with an empty IDT)
 *   fill=N     first, write one non-zero word into every page of N MiB
 *              from 4 MiB, then print "fill N MiB" (for the migration
 *              benchmark: no page of that RAM is left all zeros)
 *
 * Devices it finds, it drives (they are not in the machine by default):
 *   virtio-blk at 0xd0000000: each counter line writes one 4 KiB block
 *     (a sequence number, its block number and a checksum in it) after
 *     checking that the block still holds what was last written there,
 *     and reads it back; the last line checks every block written. The
 *     table of what was written lives in guest RAM, so the checks hold
 *     across a snapshot or a migration too.
 *   virtio-rng at 0xd0001000: reads 16 bytes, which must not be zero.
 *   blkbench=N [blkkib=K] [blkrand] [blkwrite]: first, N requests of K
 *     KiB (default 4) to virtio-blk, one at a time, for the benchmark.
 *   cmos-rtc at 0x70: reads the date, counts periodic interrupts (1 kHz)
 *     and needs some before it passes.
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
#define VIRTIO_BLK 0xd0000000ull
#define VIRTIO_RNG 0xd0001000ull
#define VQ_MEM 0x200000ull /* rings and buffers, 64 KiB per device */
#define BLK_BLOCKS_MAX 64
#define BLK_BENCH_BUF 0x1000000ull /* 16 MiB: up to 1 MiB requests */
#define RTC_PORT 0x70

/* What interrupt handlers call saves every register it uses. */
#define ISR_SAFE __attribute__((no_caller_saved_registers))

volatile uint64_t guest_ticks;
volatile uint64_t guest_unexpected;
static volatile uint64_t virtio_irqs, rtc_ticks;
static volatile uint64_t virtio_found; /* bit 0: virtio-blk, 1: virtio-rng */

struct interrupt_frame;
__attribute__((interrupt)) static void isr_virtio(struct interrupt_frame *f);
__attribute__((interrupt)) static void isr_rtc(struct interrupt_frame *f);
void isr_timer(void);
void isr_other(void);
void guest_main(const char *cmdline);

static inline ISR_SAFE void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline ISR_SAFE uint8_t inb(uint16_t port)
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

static void idt_set(int vec, const void *fn)
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
	idt_set(37, (const void *)isr_virtio);
	idt_set(38, (const void *)isr_virtio);
	idt_set(40, (const void *)isr_rtc);
	__asm__ volatile("lidt %0" : : "m"(d));
}

/* PIC: IRQs 0-7 at vectors 32-39, 8-15 at 40-47; unmasked: the timer
 * (0), the cascade (2), virtio-blk (5), virtio-rng (6) and the RTC (8). */
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
	outb(0x21, (uint8_t) ~(1 | 4 | 32 | 64));
	outb(0xa1, 0xfe);
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

/*
 * Word 1 of each page, not word 0: pages= rewrites and checksums word 0
 * of the same pages, and its sum must not change under it.
 */
static void mem_fill(uint64_t mib)
{
	for (uint64_t i = 0; i < mib * 256; i++)
		*(volatile uint64_t *)(MEM_BASE + i * 4096 + 8) =
			(i + 1) * 0xbf58476d1ce4e5b9ull;
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

static inline ISR_SAFE uint32_t mmio_read(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline ISR_SAFE void mmio_write(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static ISR_SAFE void pic_eoi(int slave)
{
	if (slave)
		outb(0xa0, 0x20);
	outb(0x20, 0x20);
}

/* IRQ 5 and 6: a virtio device used buffers; acknowledge both. */
__attribute__((interrupt)) static void isr_virtio(struct interrupt_frame *f)
{
	(void)f;
	virtio_irqs++;
	if (virtio_found & 1)
		mmio_write(VIRTIO_BLK + 0x64, mmio_read(VIRTIO_BLK + 0x60));
	if (virtio_found & 2)
		mmio_write(VIRTIO_RNG + 0x64, mmio_read(VIRTIO_RNG + 0x60));
	pic_eoi(0);
}

static ISR_SAFE uint8_t cmos_read(uint8_t reg)
{
	outb(RTC_PORT, reg);
	return inb(RTC_PORT + 1);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	outb(RTC_PORT, reg);
	outb(RTC_PORT + 1, v);
}

/* IRQ 8: reading register C acknowledges the RTC. */
__attribute__((interrupt)) static void isr_rtc(struct interrupt_frame *f)
{
	(void)f;
	rtc_ticks++;
	cmos_read(0x0c);
	pic_eoi(1);
}

struct vq {
	uint64_t regs;
	uint64_t desc, avail, used, buf;
	uint16_t num, next_avail, seen_used;
};

/* Waits for the device to hand back one more buffer: 1, or 0 after about
 * two seconds of PIT ticks. */
static int vq_wait(struct vq *q)
{
	volatile uint16_t *used_idx = (volatile uint16_t *)(q->used + 2);

	/* Spin a little first: a request usually completes sooner than
	 * the next interrupt would wake a halted vCPU. */
	for (int i = 0; i < 20000 && *used_idx == q->seen_used; i++)
		__asm__ volatile("pause");
	for (uint64_t until = guest_ticks + 2000; *used_idx == q->seen_used;) {
		if (guest_ticks >= until)
			return 0;
		__asm__ volatile("hlt");
	}
	q->seen_used++;
	return 1;
}

static void vq_desc(struct vq *q, int i, uint64_t addr, uint32_t len,
		    uint16_t flags)
{
	volatile uint8_t *d = (volatile uint8_t *)(q->desc + 16 * i);

	*(volatile uint64_t *)d = addr;
	*(volatile uint32_t *)(d + 8) = len;
	*(volatile uint16_t *)(d + 12) = flags;
	*(volatile uint16_t *)(d + 14) = (uint16_t)(i + 1);
}

/* Offers the chain at descriptor 0 and rings the doorbell. */
static int vq_kick(struct vq *q)
{
	volatile uint16_t *ring = (volatile uint16_t *)(q->avail + 4);

	ring[q->next_avail % q->num] = 0;
	__asm__ volatile("" ::: "memory");
	q->next_avail++;
	*(volatile uint16_t *)(q->avail + 2) = q->next_avail;
	mmio_write(q->regs + 0x50, 0);
	return vq_wait(q);
}

/* The driver's side of virtio-mmio initialisation, one queue of 16. */
static int virtio_init(struct vq *q, uint64_t regs, uint32_t id, uint64_t mem)
{
	if (mmio_read(regs) != 0x74726976 || mmio_read(regs + 4) != 2 ||
	    mmio_read(regs + 8) != id)
		return 0;
	*q = (struct vq){
		regs, mem, mem + 0x1000, mem + 0x2000, mem + 0x3000, 16, 0, 0
	};
	for (uint64_t a = mem; a < mem + 0x3000; a += 8)
		*(volatile uint64_t *)a = 0;
	mmio_write(regs + 0x70, 0);
	mmio_write(regs + 0x70, 1 | 2);
	mmio_write(regs + 0x24, 1);
	mmio_write(regs + 0x20, 1); /* VERSION_1 */
	mmio_write(regs + 0x24, 0);
	mmio_write(regs + 0x20, 0);
	mmio_write(regs + 0x70, 1 | 2 | 8);
	if (!(mmio_read(regs + 0x70) & 8))
		return -1;
	mmio_write(regs + 0x30, 0);
	if (mmio_read(regs + 0x34) < q->num)
		return -1;
	mmio_write(regs + 0x38, q->num);
	mmio_write(regs + 0x80, (uint32_t)q->desc);
	mmio_write(regs + 0x84, 0);
	mmio_write(regs + 0x90, (uint32_t)q->avail);
	mmio_write(regs + 0x94, 0);
	mmio_write(regs + 0xa0, (uint32_t)q->used);
	mmio_write(regs + 0xa4, 0);
	mmio_write(regs + 0x44, 1);
	mmio_write(regs + 0x70, 1 | 2 | 8 | 4);
	return 1;
}

static struct vq blk_q;
static uint64_t blk_blocks, blk_writes, blk_reads;
/* Sequence number last written to each block, 0 for none. */
static uint64_t blk_seq[BLK_BLOCKS_MAX];

/* One request: header, `len` bytes at `data`, status. The status, or
 * 0xfe when the device never answered. */
static uint8_t blk_req(uint32_t type, uint64_t sector, uint64_t data,
		       uint32_t len)
{
	volatile uint32_t *h = (volatile uint32_t *)(blk_q.buf);
	volatile uint8_t *status = (volatile uint8_t *)(blk_q.buf + 0x20);

	h[0] = type;
	h[1] = 0;
	*(volatile uint64_t *)(blk_q.buf + 8) = sector;
	*status = 0xff;
	vq_desc(&blk_q, 0, blk_q.buf, 16, 1);
	vq_desc(&blk_q, 1, data, len, 1 | (type ? 0 : 2));
	vq_desc(&blk_q, 2, blk_q.buf + 0x20, 1, 2);
	if (!vq_kick(&blk_q))
		return 0xfe;
	return *status;
}

/* Block `block` (4 KiB) to or from the buffer. */
static uint8_t blk_io(uint32_t type, uint64_t block)
{
	return blk_req(type, block * 8, blk_q.buf + 0x1000, 4096);
}

/*
 * The benchmark (bench/virtio_blk.py): n requests of kib KiB, at random
 * offsets or one after the other, reads or writes, one at a time. The
 * data is not looked at: what is measured is the device's side.
 */
static int blk_bench(uint64_t n, uint64_t kib, uint64_t rnd, uint64_t wr)
{
	uint64_t sectors = (uint64_t)mmio_read(VIRTIO_BLK + 0x100) |
			   (uint64_t)mmio_read(VIRTIO_BLK + 0x104) << 32;
	uint64_t per = kib * 2, slots = sectors / per, x = 88172645463325252ull;

	if (!slots || kib > 1024)
		return 0;
	puts_serial("blkbench: start\n");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t slot = i % slots;

		if (rnd) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			slot = x % slots;
		}
		if (blk_req(wr ? 1 : 0, slot * per, BLK_BENCH_BUF,
			    (uint32_t)(kib * 1024)) != 0)
			return 0;
	}
	puts_serial("blkbench: done ");
	put_u64(n);
	puts_serial("\n");
	return 1;
}

static uint64_t blk_word(uint64_t seq, uint64_t block, int i)
{
	return (seq * 0x9e3779b97f4a7c15ull) ^ (block << 32) ^ (uint64_t)i;
}

/* Fills the buffer with block `block` as written at `seq`. */
static void blk_fill(uint64_t block, uint64_t seq)
{
	volatile uint64_t *w = (volatile uint64_t *)(blk_q.buf + 0x1000);
	uint64_t sum = 0;

	w[0] = 0x6b6c626d6d76646dull; /* "mdvmmblk" */
	w[1] = seq;
	w[2] = block;
	for (int i = 3; i < 511; i++)
		w[i] = blk_word(seq, block, i);
	for (int i = 0; i < 511; i++)
		sum += w[i] * (uint64_t)(i + 1);
	w[511] = sum;
}

/* Reads block `block` and checks it holds what was written at `seq`. */
static int blk_verify(uint64_t block, uint64_t seq)
{
	volatile uint64_t *w = (volatile uint64_t *)(blk_q.buf + 0x1000);
	uint64_t sum = 0;

	w[1] = ~seq;
	if (blk_io(0, block) != 0)
		return 0;
	blk_reads++;
	for (int i = 0; i < 511; i++)
		sum += w[i] * (uint64_t)(i + 1);
	if (w[0] != 0x6b6c626d6d76646dull || w[1] != seq || w[2] != block ||
	    w[511] != sum)
		return 0;
	for (int i = 3; i < 511; i++)
		if (w[i] != blk_word(seq, block, i))
			return 0;
	return 1;
}

/* Round n: the block it overwrites must hold its last write. */
static int blk_round(uint64_t n)
{
	uint64_t b = n % blk_blocks;

	if (blk_seq[b] && !blk_verify(b, blk_seq[b]))
		return 0;
	blk_fill(b, n);
	if (blk_io(1, b) != 0)
		return 0;
	blk_seq[b] = n;
	blk_writes++;
	return blk_verify(b, n);
}

static int blk_check_all(void)
{
	for (uint64_t b = 0; b < blk_blocks; b++)
		if (blk_seq[b] && !blk_verify(b, blk_seq[b]))
			return 0;
	return 1;
}

static int blk_init(void)
{
	int r = virtio_init(&blk_q, VIRTIO_BLK, 2, VQ_MEM);

	if (r <= 0)
		return r;
	blk_blocks = mmio_read(VIRTIO_BLK + 0x100) / 8;
	if (blk_blocks > BLK_BLOCKS_MAX)
		blk_blocks = BLK_BLOCKS_MAX;
	if (!blk_blocks)
		return -1;
	puts_serial("virtio-blk: ");
	put_u64(blk_blocks);
	puts_serial(" blocks of 4 KiB\n");
	return 1;
}

static int rng_check(void)
{
	struct vq q;
	volatile uint64_t *w;
	int r = virtio_init(&q, VIRTIO_RNG, 4, VQ_MEM + 0x10000);

	if (r <= 0)
		return r;
	w = (volatile uint64_t *)q.buf;
	w[0] = w[1] = 0;
	vq_desc(&q, 0, q.buf, 16, 2);
	if (!vq_kick(&q) || *(volatile uint32_t *)(q.used + 8) != 16 ||
	    (!w[0] && !w[1]))
		return -1;
	puts_serial("virtio-rng: ");
	put_hex(w[0]);
	put_hex(w[1]);
	puts_serial("\n");
	return 1;
}

static uint8_t bcd(uint8_t v)
{
	return (uint8_t)((v >> 4) * 10 + (v & 0xf));
}

static void put_2(uint8_t v)
{
	putc_serial((char)('0' + v / 10));
	putc_serial((char)('0' + v % 10));
}

/* CMOS RAM holds what it is given, where nothing answers 0xff. */
static int rtc_init(void)
{
	uint8_t y, mo, d, h, mi, sec;

	cmos_write(0x40, 0x5a);
	if (cmos_read(0x40) != 0x5a)
		return 0;
	for (int i = 0; i < 100000 && (cmos_read(0x0a) & 0x80); i++)
		;
	sec = bcd(cmos_read(0x00));
	mi = bcd(cmos_read(0x02));
	h = bcd(cmos_read(0x04));
	d = bcd(cmos_read(0x07));
	mo = bcd(cmos_read(0x08));
	y = bcd(cmos_read(0x09));
	if (bcd(cmos_read(0x32)) < 20 || !d || d > 31 || !mo || mo > 12 ||
	    h > 23 || mi > 59 || sec > 59)
		return -1;
	puts_serial("cmos-rtc: ");
	put_2(bcd(cmos_read(0x32)));
	put_2(y);
	putc_serial('-');
	put_2(mo);
	putc_serial('-');
	put_2(d);
	putc_serial(' ');
	put_2(h);
	putc_serial(':');
	put_2(mi);
	putc_serial(':');
	put_2(sec);
	puts_serial(" UTC\n");
	/* 1024 Hz periodic interrupts (rate 6), PIE on. */
	cmos_write(0x0a, (uint8_t)((cmos_read(0x0a) & 0xf0) | 6));
	cmos_write(0x0b, (uint8_t)(cmos_read(0x0b) | 0x40));
	cmos_read(0x0c);
	return 1;
}

/* Reports the failed check; 0, for the steps below to return. */
static int fail(int check, const char *what)
{
	puts_serial("modvmm guest: FAIL check ");
	put_u64((uint64_t)check);
	puts_serial(": ");
	puts_serial(what);
	puts_serial("\n");
	outb(DEBUG_EXIT, (uint8_t)check);
	return 0;
}

/* The words of the command line (see the top of this file). */
struct guest_args {
	uint64_t count, pages, ticks, forever, pace;
	uint64_t hotplug, reset, panic, fill, triple;
};

/* Field by field: a struct copy could become a memset call. */
static void args_parse(const char *cmdline, struct guest_args *a)
{
	a->count = 3;
	a->pages = 64;
	a->ticks = 5;
	a->forever = a->pace = a->hotplug = 0;
	a->reset = a->panic = a->fill = a->triple = 0;
	arg(cmdline, "count", &a->count);
	arg(cmdline, "pages", &a->pages);
	arg(cmdline, "ticks", &a->ticks);
	arg(cmdline, "forever", &a->forever);
	arg(cmdline, "reset", &a->reset);
	arg(cmdline, "pace", &a->pace);
	arg(cmdline, "hotplug", &a->hotplug);
	arg(cmdline, "panic", &a->panic);
	arg(cmdline, "fill", &a->fill);
	arg(cmdline, "triple", &a->triple);
}

/*
 * What every machine has: the UART, the i8042, memory that holds what
 * was written (its checksum in *ret_sum), then interrupts: the PIT's
 * ticks, and no vector nobody asked for.
 */
static int check_platform(const struct guest_args *a, uint64_t *ret_sum)
{
	uint64_t sum;

	if (!check_uart())
		return fail(1, "uart16550 scratch/line status");
	if (!check_i8042())
		return fail(2, "i8042 status");

	sum = mem_rewrite(a->pages, 0);
	if (mem_sum(a->pages) != sum)
		return fail(3, "memory checksum");
	if (a->fill) {
		mem_fill(a->fill);
		puts_serial("fill ");
		put_u64(a->fill);
		puts_serial(" MiB\n");
	}
	*ret_sum = sum;

	idt_load();
	pic_init();
	pit_init();
	__asm__ volatile("sti");
	while (guest_ticks < a->ticks)
		__asm__ volatile("hlt");
	if (guest_unexpected)
		return fail(4, "unexpected interrupt vector");
	return 1;
}

/*
 * The optional devices: virtio-blk (and its benchmark), virtio-rng,
 * cmos-rtc. *ret_blk and *ret_rtc say which of those driven later are
 * there.
 */
static int devices_init(const char *cmdline, int *ret_blk, int *ret_rtc)
{
	uint64_t bench;
	int blk, rtc, r;

	blk = blk_init();
	if (blk < 0)
		return fail(9, "virtio-blk set-up");
	if (blk && arg(cmdline, "blkbench", &bench)) {
		uint64_t kib = 4, rnd = 0, wr = 0;

		arg(cmdline, "blkkib", &kib);
		arg(cmdline, "blkrand", &rnd);
		arg(cmdline, "blkwrite", &wr);
		if (!blk_bench(bench, kib, rnd, wr))
			return fail(9, "virtio-blk benchmark request failed");
	}
	r = rng_check();
	if (r < 0)
		return fail(11, "virtio-rng bytes");
	rtc = rtc_init();
	if (rtc < 0)
		return fail(10, "cmos-rtc date");
	*ret_blk = blk;
	*ret_rtc = rtc;
	return 1;
}

/* The counter lines: what a snapshot or a migration must not disturb. */
static int count_rounds(const struct guest_args *a, int blk, uint64_t sum)
{
	uint8_t slot = 0xff;

	for (uint64_t n = 1; a->forever || n <= a->count; n++) {
		for (uint64_t until = guest_ticks + a->pace;
		     guest_ticks < until;)
			__asm__ volatile("hlt");
		if (a->hotplug)
			slot = hotplug_poll(slot);
		/* Memory holds what the last round wrote: also after a
		 * snapshot is restored or the guest has migrated. */
		if (mem_sum(a->pages) != sum)
			return fail(8, "memory changed between rounds");
		sum = mem_rewrite(a->pages, n);
		if (mem_sum(a->pages) != sum)
			return fail(5, "memory checksum after rewrite");
		if (blk && !blk_round(n))
			return fail(9, "virtio-blk block lost or corrupt");
		puts_serial("count ");
		put_u64(n);
		puts_serial(" ticks ");
		put_u64(guest_ticks);
		puts_serial(" sum ");
		put_hex(sum);
		puts_serial("\n");
	}
	return 1;
}

/* What the devices must show once the rounds are over. */
static int devices_final(int blk, int rtc)
{
	if (blk) {
		if (!blk_check_all())
			return fail(9, "virtio-blk block lost or corrupt");
		puts_serial("virtio-blk: ");
		put_u64(blk_writes);
		puts_serial(" writes, ");
		put_u64(blk_reads);
		puts_serial(" reads verified\n");
	}
	if (rtc) {
		for (uint64_t until = guest_ticks + 2000;
		     rtc_ticks < 4 && guest_ticks < until;)
			__asm__ volatile("hlt");
		if (rtc_ticks < 4)
			return fail(10, "cmos-rtc periodic interrupts");
		puts_serial("cmos-rtc: periodic interrupts counted\n");
	}
	return 1;
}

/* The end the command line asked for; debug-exit 0 by default. */
static void end_run(const struct guest_args *a)
{
	if (a->panic) {
		puts_serial("modvmm guest: panic\n");
		outb(PVPANIC, 1);
		fail(7, "pvpanic did not end the run");
		return;
	}
	if (a->reset) {
		__asm__ volatile("cli");
		outb(0x64, 0xfe);
		fail(6, "i8042 reset did not reset");
		return;
	}
	if (a->triple) {
		/*
		 * With no gate present, neither the divide error, nor the
		 * fault raised for its gate, nor the double fault is
		 * delivered. (lidt and int3 are emulated under some
		 * paravirtualised KVMs, which cannot emulate them here.)
		 */
		puts_serial("modvmm guest: triple fault\n");
		__asm__ volatile("cli");
		for (int v = 0; v < 256; v++)
			idt[v] = (struct idt_entry){ 0 };
		__asm__ volatile("xor %%ecx, %%ecx; div %%ecx"
				 :
				 :
				 : "eax", "ecx", "edx", "memory");
		fail(12, "the triple fault did not end the run");
		return;
	}
	outb(DEBUG_EXIT, 0);
}

/* Each step reports its own failure through debug-exit, and ends it. */
void guest_main(const char *cmdline)
{
	struct guest_args a;
	uint64_t sum = 0;
	int blk = 0, rtc = 0;

	args_parse(cmdline, &a);
	puts_serial("modvmm guest: hello\n");
	if (!check_platform(&a, &sum) || !devices_init(cmdline, &blk, &rtc) ||
	    !count_rounds(&a, blk, sum) || !devices_final(blk, rtc))
		return;
	puts_serial("modvmm guest: PASS\n");
	end_run(&a);
}
