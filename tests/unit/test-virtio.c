// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The virtio-mmio transport (libmodvmm-virtio) through modules/virtio-blk
 * and modules/virtio-rng, without KVM: registers, feature negotiation,
 * block requests against a real file, malformed descriptor chains (the
 * device must enter its error state and touch nothing outside guest RAM),
 * state save and load, and the dirty log of device writes.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "check-tap.h"
#include "core/device.h"
#include "core/host.h"
#include "core/vm-devices.h"
#include "core/vmstate.h"

#define BASE 0xd0000000ull
#define IRQ 5
#define RAM_SIZE (1u << 20)
#define QN 8u /* queue size the driver picks */
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define DATA 0x10000u
#define DISK_SECTORS 64u

#define S_ACK 0x01u
#define S_DRIVER 0x02u
#define S_DRIVER_OK 0x04u
#define S_FEATURES_OK 0x08u
#define S_NEEDS_RESET 0x40u
#define F_NEXT 1u
#define F_WRITE 2u
#define F_INDIRECT 4u

static struct vm_devices *devs;
static uint8_t *ram;
static char *disk;
static uint16_t avail_idx;
static GPtrArray *logs;

static void sink_log(void *opaque, const char *id, uint32_t level,
		     const char *msg)
{
	(void)opaque;
	(void)level;
	g_ptr_array_add(logs, g_strdup_printf("%s: %s", id, msg));
}

static void load_module(const char *name)
{
	g_autofree char *file = g_strdup_printf("%s.so", name);
	g_autofree char *path =
		g_build_filename(g_getenv("MODULE_DIR"), file, NULL);

	ck_assert_int_eq(loader_load(devs->loader, path, NULL, NULL), 0);
}

static struct modvmm_device *create(const char *spec)
{
	struct modvmm_device *dev = NULL;
	g_autoptr(GError) err = NULL;

	ck_assert_msg(device_create(devs, spec, &dev, &err) == 0, "%s: %s",
		      spec, err ? err->message : "?");
	return dev;
}

static void setup(void)
{
	g_autofree char *spec = NULL;
	uint8_t sector[512];
	int fd;

	logs = g_ptr_array_new_with_free_func(g_free);
	devs = vm_devices_new(host_services());
	devs->sinks.log = sink_log;
	ram = g_malloc0(RAM_SIZE);
	ck_assert_int_eq(memory_add(devs->mem, 0, RAM_SIZE, ram), 0);
	memory_dirty_track(devs->mem, ram, RAM_SIZE);
	load_module("virtio-blk");
	load_module("virtio-rng");
	fd = g_file_open_tmp("modvmm-disk-XXXXXX", &disk, NULL);
	ck_assert_int_ge(fd, 0);
	/* Sector n is filled with byte n: reads can be checked exactly. */
	for (unsigned int n = 0; n < DISK_SECTORS; n++) {
		memset(sector, (int)n, sizeof(sector));
		ck_assert_int_eq(write(fd, sector, sizeof(sector)),
				 sizeof(sector));
	}
	close(fd);
	spec = g_strdup_printf("virtio-blk,id=vda,file=%s,serial=disk-one",
			       disk);
	create(spec);
	avail_idx = 0;
}

static void teardown(void)
{
	device_destroy_all(devs);
	vm_devices_free(devs);
	g_free(ram);
	unlink(disk);
	g_free(disk);
	g_ptr_array_unref(logs);
}

static uint32_t rd(uint64_t base, uint64_t off)
{
	uint64_t v;

	ck_assert_int_eq(vm_devices_mmio_read(devs, base + off, 4, &v), 0);
	return (uint32_t)v;
}

static void wr(uint64_t base, uint64_t off, uint32_t v)
{
	ck_assert_int_eq(vm_devices_mmio_write(devs, base + off, 4, v), 0);
}

static void put16(uint64_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return v;
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

/* What Linux's virtio_mmio driver does, in that order. */
static uint32_t negotiate(uint64_t base, uint32_t lo, uint32_t hi)
{
	wr(base, 0x70, 0);
	wr(base, 0x70, S_ACK);
	wr(base, 0x70, S_ACK | S_DRIVER);
	wr(base, 0x24, 0);
	wr(base, 0x20, lo);
	wr(base, 0x24, 1);
	wr(base, 0x20, hi);
	wr(base, 0x70, S_ACK | S_DRIVER | S_FEATURES_OK);
	return rd(base, 0x70);
}

static void driver_init(uint64_t base)
{
	ck_assert_uint_eq(negotiate(base, 0, 1),
			  S_ACK | S_DRIVER | S_FEATURES_OK);
	wr(base, 0x30, 0);
	wr(base, 0x38, QN);
	wr(base, 0x80, DESC);
	wr(base, 0x84, 0);
	wr(base, 0x90, AVAIL);
	wr(base, 0x94, 0);
	wr(base, 0xa0, USED);
	wr(base, 0xa4, 0);
	wr(base, 0x44, 1);
	wr(base, 0x70, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

static void desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = ram + DESC + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void submit(uint64_t base, uint16_t head)
{
	put16(AVAIL + 4 + 2 * (avail_idx % QN), head);
	avail_idx++;
	put16(AVAIL + 2, avail_idx);
	wr(base, 0x50, 0);
}

/* A block request: header at DATA, data at DATA + 0x100, status last. */
static uint8_t blk_request(uint32_t type, uint64_t sector, uint32_t len,
			   int data_writable)
{
	uint8_t *h = ram + DATA;
	uint32_t reserved = 0;
	uint64_t status_at = DATA + 0x100 + len;

	memcpy(h, &type, 4);
	memcpy(h + 4, &reserved, 4);
	memcpy(h + 8, &sector, 8);
	ram[status_at] = 0xee;
	desc(0, DATA, 16, F_NEXT, 1);
	if (len) {
		desc(1, DATA + 0x100, len,
		     F_NEXT | (data_writable ? F_WRITE : 0), 2);
		desc(2, status_at, 1, F_WRITE, 0);
	} else {
		desc(1, status_at, 1, F_WRITE, 0);
	}
	submit(BASE, 0);
	return ram[status_at];
}

START_TEST(test_registers_identify_block_device)
{
	ck_assert_uint_eq(rd(BASE, 0x000), 0x74726976); /* "virt" */
	ck_assert_uint_eq(rd(BASE, 0x004), 2);		/* modern */
	ck_assert_uint_eq(rd(BASE, 0x008), 2);		/* block */
	wr(BASE, 0x14, 0);
	/* SEG_MAX, BLK_SIZE, FLUSH; no RO on a writable disk. */
	ck_assert_uint_eq(rd(BASE, 0x10), (1u << 2) | (1u << 6) | (1u << 9));
	wr(BASE, 0x14, 1);
	ck_assert_uint_eq(rd(BASE, 0x10), 1); /* VERSION_1 */
	wr(BASE, 0x30, 0);
	ck_assert_uint_eq(rd(BASE, 0x34), 256);
	wr(BASE, 0x30, 1);
	ck_assert_uint_eq(rd(BASE, 0x34), 0); /* no second queue */
	ck_assert_uint_eq(rd(BASE, 0x100), DISK_SECTORS);
	ck_assert_uint_eq(rd(BASE, 0x104), 0);
	ck_assert_uint_eq(rd(BASE, 0x10c), 254); /* seg_max */
	ck_assert_uint_eq(rd(BASE, 0x114), 512); /* blk_size */
}
END_TEST

START_TEST(test_features_without_version_1_refused)
{
	ck_assert_uint_eq(negotiate(BASE, 1u << 9, 0), S_ACK | S_DRIVER);
	/* Nor a feature the device did not offer. */
	ck_assert_uint_eq(negotiate(BASE, 1u << 28, 1), S_ACK | S_DRIVER);
	ck_assert_uint_eq(negotiate(BASE, 1u << 9, 1),
			  S_ACK | S_DRIVER | S_FEATURES_OK);
}
END_TEST

START_TEST(test_write_then_read_blocks)
{
	uint8_t sector[512];
	int fd;

	driver_init(BASE);
	memset(ram + DATA + 0x100, 0xab, 1024);
	ck_assert_uint_eq(blk_request(1, 3, 1024, 0), 0);
	ck_assert_uint_eq(get16(USED + 2), 1);
	ck_assert_uint_eq(get32(USED + 4), 0); /* head */
	ck_assert_uint_eq(get32(USED + 8), 1); /* status byte only */
	ck_assert_uint_eq(devs->irq_pulses[IRQ], 1);
	ck_assert_uint_eq(rd(BASE, 0x60), 1);
	wr(BASE, 0x64, 1);
	ck_assert_uint_eq(rd(BASE, 0x60), 0);

	fd = open(disk, O_RDONLY);
	ck_assert_int_eq(pread(fd, sector, 512, 4 * 512), 512);
	close(fd);
	ck_assert_uint_eq(sector[0], 0xab);
	ck_assert_uint_eq(sector[511], 0xab);

	memset(ram + DATA + 0x100, 0, 2048);
	ck_assert_uint_eq(blk_request(0, 2, 2048, 1), 0);
	ck_assert_uint_eq(ram[DATA + 0x100], 2);
	ck_assert_uint_eq(ram[DATA + 0x100 + 512], 0xab);
	ck_assert_uint_eq(ram[DATA + 0x100 + 1024], 0xab);
	ck_assert_uint_eq(ram[DATA + 0x100 + 1536], 5);
	ck_assert_uint_eq(get16(USED + 2), 2);
	ck_assert_uint_eq(get32(USED + 16), 2049);
	ck_assert_uint_eq(devs->irq_pulses[IRQ], 2);
}
END_TEST

START_TEST(test_flush_get_id_and_unsupported)
{
	driver_init(BASE);
	ck_assert_uint_eq(blk_request(4, 0, 0, 0), 0);
	ck_assert_uint_eq(blk_request(8, 0, 20, 1), 0);
	ck_assert_str_eq((char *)ram + DATA + 0x100, "disk-one");
	ck_assert_uint_eq(blk_request(99, 0, 0, 0), 2);
	ck_assert_uint_eq(get16(USED + 2), 3);
}
END_TEST

START_TEST(test_read_past_end_is_ioerr)
{
	driver_init(BASE);
	ck_assert_uint_eq(blk_request(0, DISK_SECTORS - 1, 1024, 1), 1);
	ck_assert_uint_eq(blk_request(0, UINT64_MAX / 512, 512, 1), 1);
	/* Not whole sectors. */
	ck_assert_uint_eq(blk_request(1, 0, 100, 0), 1);
	ck_assert_uint_eq(rd(BASE, 0x70) & S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(test_readonly_refuses_writes)
{
	g_autofree char *spec = g_strdup_printf(
		"virtio-blk,id=ro,file=%s,readonly=on,base=0xd0002000,irq=7",
		disk);

	/* Alone on the file: vda would be writing it. */
	device_destroy(device_find(devs, "vda"));
	create(spec);
	wr(0xd0002000, 0x14, 0);
	ck_assert_uint_ne(rd(0xd0002000, 0x10) & (1u << 5), 0);
}
END_TEST

/* Each malformed ring: the device's error state, nothing answered. */
enum bad_chain {
	BAD_LOOP,
	BAD_NEXT_OUTSIDE,
	BAD_HEAD_OUTSIDE,
	BAD_BUFFER_OUTSIDE_RAM,
	BAD_AVAIL_JUMP,
	BAD_INDIRECT,
	BAD_READABLE_AFTER_WRITABLE,
	BAD_NO_STATUS,
	BAD_RING_OUTSIDE_RAM,
};

static const char *const bad_chain_message[] = {
	[BAD_LOOP] = "descriptor chain longer than the queue (a loop)",
	[BAD_NEXT_OUTSIDE] = "descriptor chain leaves the descriptor table",
	[BAD_HEAD_OUTSIDE] = "chain head outside the descriptor table",
	[BAD_BUFFER_OUTSIDE_RAM] = "buffer outside guest RAM",
	[BAD_AVAIL_JUMP] = "available index ran more than a queue ahead",
	[BAD_INDIRECT] = "indirect descriptor, a feature not offered",
	[BAD_READABLE_AFTER_WRITABLE] = "device-readable buffer after a "
					"writable one",
	[BAD_NO_STATUS] = "request without a header or a status byte",
	[BAD_RING_OUTSIDE_RAM] = "descriptor table outside guest RAM",
};

START_TEST(test_malformed_chain_needs_reset)
{
	g_autofree char *want = g_strdup_printf(
		"vda: %s; the device needs a reset by its driver",
		bad_chain_message[_i]);
	uint16_t head = 0;

	driver_init(BASE);
	desc(0, DATA, 16, F_NEXT, 1);
	desc(1, DATA + 0x100, 512, F_NEXT | F_WRITE, 2);
	desc(2, DATA + 0x300, 1, F_WRITE, 0);
	switch ((enum bad_chain)_i) {
	case BAD_LOOP:
		desc(2, DATA + 0x300, 1, F_WRITE | F_NEXT, 1);
		break;
	case BAD_NEXT_OUTSIDE:
		desc(1, DATA + 0x100, 512, F_NEXT | F_WRITE, QN);
		break;
	case BAD_HEAD_OUTSIDE:
		head = QN + 3;
		break;
	case BAD_BUFFER_OUTSIDE_RAM:
		/* A read into a buffer that ends past guest RAM. */
		desc(1, RAM_SIZE - 256, 512, F_NEXT | F_WRITE, 2);
		break;
	case BAD_AVAIL_JUMP:
		avail_idx = QN + 1;
		break;
	case BAD_INDIRECT:
		desc(1, DATA + 0x100, 512, F_NEXT | F_INDIRECT, 2);
		break;
	case BAD_READABLE_AFTER_WRITABLE:
		desc(2, DATA + 0x300, 1, 0, 0);
		break;
	case BAD_NO_STATUS:
		desc(0, DATA, 8, 0, 0);
		break;
	case BAD_RING_OUTSIDE_RAM:
		wr(BASE, 0x70, 0);
		driver_init(BASE);
		wr(BASE, 0x44, 0);
		wr(BASE, 0x80, 0xfffff000);
		wr(BASE, 0x84, 0x7);
		wr(BASE, 0x44, 1);
		break;
	}
	memset(ram + DATA, 0, 16); /* a read of sector 0 */
	submit(BASE, head);
	ck_assert_uint_eq(rd(BASE, 0x70) & S_NEEDS_RESET, S_NEEDS_RESET);
	ck_assert_uint_eq(rd(BASE, 0x60) & 2, 2); /* configuration change */
	ck_assert_uint_eq(devs->irq_pulses[IRQ], 1);
	ck_assert_uint_eq(get16(USED + 2), 0);
	ck_assert_uint_eq(logs->len, 1);
	ck_assert_str_eq(logs->pdata[0], want);
	/* Nothing more happens until the driver resets the device. */
	wr(BASE, 0x50, 0);
	ck_assert_uint_eq(get16(USED + 2), 0);
	wr(BASE, 0x70, 0);
	ck_assert_uint_eq(rd(BASE, 0x70), 0);
	avail_idx = 0;
	put16(AVAIL + 2, 0);
	driver_init(BASE);
	desc(0, DATA, 16, F_NEXT, 1);
	desc(1, DATA + 0x100, 512, F_NEXT | F_WRITE, 2);
	desc(2, DATA + 0x300, 1, F_WRITE, 0);
	submit(BASE, 0);
	ck_assert_uint_eq(get16(USED + 2), 1);
	ck_assert_uint_eq(ram[DATA + 0x300], 0);
}
END_TEST

START_TEST(test_queue_size_not_offered_needs_reset)
{
	ck_assert_uint_eq(negotiate(BASE, 0, 1),
			  S_ACK | S_DRIVER | S_FEATURES_OK);
	wr(BASE, 0x30, 0);
	wr(BASE, 0x38, 12); /* not a power of two */
	wr(BASE, 0x44, 1);
	ck_assert_uint_eq(rd(BASE, 0x44), 0);
	ck_assert_uint_eq(rd(BASE, 0x70) & S_NEEDS_RESET, S_NEEDS_RESET);
}
END_TEST

START_TEST(test_device_writes_are_dirty_logged)
{
	uint64_t bitmap[RAM_SIZE / 4096 / 64] = { 0 };

	driver_init(BASE);
	memory_dirty_take(devs->mem, bitmap);
	memset(bitmap, 0, sizeof(bitmap));
	ck_assert_uint_eq(blk_request(0, 1, 4096, 1), 0);
	memory_dirty_take(devs->mem, bitmap);
	/* Used ring (page 3), data (pages 16-17), status (page 17). */
	ck_assert_uint_eq(bitmap[0], (1ull << 3) | (1ull << 16) | (1ull << 17));
	memset(bitmap, 0, sizeof(bitmap));
	memory_dirty_take(devs->mem, bitmap);
	ck_assert_uint_eq(bitmap[0], 0);
}
END_TEST

START_TEST(test_state_round_trip_and_size_check)
{
	struct modvmm_device *src = device_find(devs, "vda");
	g_autofree char *spec =
		g_strdup_printf("virtio-blk,id=vda,file=%s", disk);
	g_autoptr(GByteArray) saved = g_byte_array_new();
	g_autoptr(GError) err = NULL;
	int fd;

	driver_init(BASE);
	ck_assert_uint_eq(blk_request(0, 1, 512, 1), 0);
	ck_assert_int_eq(
		vmstate_save(src->type->vms, src->state, 1, saved, &err), 0);
	/* A second disk of the same size takes the state and goes on. */
	device_destroy(src);
	create(spec);
	src = device_find(devs, "vda");
	ck_assert_int_eq(vmstate_load(src->type->vms, src->state, saved->data,
				      saved->len, 0, "vda", NULL, &err),
			 0);
	ck_assert_uint_eq(rd(BASE, 0x70),
			  S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	ck_assert_uint_eq(blk_request(0, 2, 512, 1), 0);
	ck_assert_uint_eq(get16(USED + 2), 2);
	ck_assert_uint_eq(ram[DATA + 0x100], 2);

	/* Another size: another disk. */
	fd = open(disk, O_WRONLY);
	ck_assert_int_eq(ftruncate(fd, 512 * (DISK_SECTORS + 1)), 0);
	close(fd);
	device_destroy(src);
	create(spec);
	src = device_find(devs, "vda");
	ck_assert_int_lt(vmstate_load(src->type->vms, src->state, saved->data,
				      saved->len, 0, "vda", NULL, &err),
			 0);
	ck_assert_msg(strstr(err->message,
			     "the backing file here differs in size from the "
			     "source's"),
		      "%s", err->message);
}
END_TEST

START_TEST(test_missing_file_refused)
{
	struct modvmm_device *dev = NULL;
	g_autoptr(GError) err = NULL;

	ck_assert_int_lt(
		device_create(devs,
			      "virtio-blk,id=x,file=/nonexistent/d.img,"
			      "base=0xd0004000",
			      &dev, &err),
		0);
	ck_assert_str_eq(err->message,
			 "x: realize of virtio-blk failed: /nonexistent/d.img: "
			 "No such file or directory");
}
END_TEST

/* Tries to create `spec`; the error message, or NULL when it was made. */
static char *create_error(const char *fmt, const char *file)
{
	g_autofree char *spec = NULL;
	GError *err = NULL;
	char *msg;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	spec = g_strdup_printf(fmt, file);
#pragma GCC diagnostic pop
	if (device_create(devs, spec, NULL, &err) == 0)
		return NULL;
	msg = g_strdup(err->message);
	g_error_free(err);
	return msg;
}

/*
 * A disk image vda writes: another device may neither write nor read it;
 * a lock another open file description (another process) holds on it
 * refuses it as well, unless the VM takes no locks (an incoming guest);
 * the lock goes with the device.
 */
START_TEST(test_disk_in_use_refused)
{
	const char *rw = "virtio-blk,id=x,file=%s,base=0xd0004000,irq=9";
	const char *ro = "virtio-blk,id=x,file=%s,readonly=on,"
			 "base=0xd0004000,irq=9";
	g_autofree char *want = g_strdup_printf(
		"x: realize of virtio-blk failed: %s: in use: device vda "
		"(virtio-blk) has it open read-write",
		disk);
	g_autofree char *locked = g_strdup_printf(
		"x: realize of virtio-blk failed: %s: in use: another process "
		"holds a lock on it for reading or writing",
		disk);
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char *msg;
	int fd;

	msg = create_error(rw, disk);
	ck_assert_str_eq(msg, want);
	g_free(msg);
	msg = create_error(ro, disk);
	ck_assert_str_eq(msg, want);
	g_free(msg);
	/* While vda has it, nobody else can lock it for writing. */
	fd = open(disk, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_lt(fcntl(fd, F_OFD_SETLK, &lock), 0);
	device_destroy(device_find(devs, "vda"));
	ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &lock), 0);
	msg = create_error(rw, disk);
	ck_assert_str_eq(msg, locked);
	g_free(msg);
	devs->no_file_locks = 1;
	ck_assert_ptr_null(create_error(rw, disk));
	close(fd);
}
END_TEST

START_TEST(test_rng_fills_buffer)
{
	const uint64_t rbase = 0xd0001000;
	int nonzero = 0;

	create("virtio-rng,id=rng0");
	ck_assert_uint_eq(rd(rbase, 0x008), 4);
	driver_init(rbase);
	memset(ram + DATA, 0, 64);
	desc(0, DATA, 64, F_WRITE, 0);
	submit(rbase, 0);
	ck_assert_uint_eq(get16(USED + 2), 1);
	ck_assert_uint_eq(get32(USED + 8), 64);
	for (int i = 0; i < 64; i++)
		nonzero += ram[DATA + i] != 0;
	ck_assert_int_gt(nonzero, 32);
	ck_assert_uint_eq(devs->irq_pulses[6], 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio");
	TCase *tc = tcase_create("virtio");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_registers_identify_block_device);
	tcase_add_test(tc, test_features_without_version_1_refused);
	tcase_add_test(tc, test_write_then_read_blocks);
	tcase_add_test(tc, test_flush_get_id_and_unsupported);
	tcase_add_test(tc, test_read_past_end_is_ioerr);
	tcase_add_test(tc, test_readonly_refuses_writes);
	tcase_add_loop_test(tc, test_malformed_chain_needs_reset, 0,
			    G_N_ELEMENTS(bad_chain_message));
	tcase_add_test(tc, test_queue_size_not_offered_needs_reset);
	tcase_add_test(tc, test_device_writes_are_dirty_logged);
	tcase_add_test(tc, test_state_round_trip_and_size_check);
	tcase_add_test(tc, test_missing_file_refused);
	tcase_add_test(tc, test_disk_in_use_refused);
	tcase_add_test(tc, test_rng_fills_buffer);
	suite_add_tcase(s, tc);
	return check_run(s);
}
