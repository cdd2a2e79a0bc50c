// SPDX-License-Identifier: LGPL-2.1-or-later
/* modules/uart16550 register semantics, through the bus, without KVM. */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "check-tap.h"
#include "core/device.h"
#include "core/host.h"
#include "core/vm-devices.h"
#include "core/vmstate.h"

#define BASE 0x3f8
#define IRQ 4

static struct vm_devices *devs;
static char *console;
static GPtrArray *logs;

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
		g_build_filename(g_getenv("MODULE_DIR"), "uart16550.so", NULL);
	g_autofree char *spec = NULL;
	int fd;

	logs = g_ptr_array_new_with_free_func(g_free);
	devs = vm_devices_new(host_services());
	devs->sinks.log = sink_log;
	ck_assert_int_eq(loader_load(devs->loader, path, NULL, NULL), 0);
	fd = g_file_open_tmp("modvmm-uart-XXXXXX", &console, NULL);
	ck_assert_int_ge(fd, 0);
	close(fd);
	spec = g_strdup_printf("uart16550,id=serial0,console=file:%s", console);
	ck_assert_int_eq(device_create(devs, spec, NULL, NULL), 0);
}

static void teardown(void)
{
	device_destroy_all(devs);
	vm_devices_free(devs);
	unlink(console);
	g_free(console);
	g_ptr_array_unref(logs);
}

static uint8_t in(unsigned int reg)
{
	uint64_t v;

	ck_assert_int_eq(vm_devices_pio_read(devs, BASE + reg, 1, &v), 0);
	return (uint8_t)v;
}

static void out(unsigned int reg, uint8_t v)
{
	ck_assert_int_eq(vm_devices_pio_write(devs, BASE + reg, 1, v), 0);
}

START_TEST(test_uart_reset_state)
{
	ck_assert_uint_eq(in(5), 0x60); /* LSR: THRE | TEMT */
	ck_assert_uint_eq(in(2), 0x01); /* IIR: none pending, no FIFO */
	ck_assert_uint_eq(in(6), 0xb0); /* MSR: DCD DSR CTS */
	ck_assert_uint_eq(in(1), 0x00);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
}
END_TEST

START_TEST(test_uart_thr_writes_console)
{
	g_autofree char *text = NULL;

	for (const char *p = "hi\n"; *p; p++)
		out(0, (uint8_t)*p);
	ck_assert(g_file_get_contents(console, &text, NULL, NULL));
	ck_assert_str_eq(text, "hi\n");
	ck_assert_uint_eq(in(5) & 0x60, 0x60);
}
END_TEST

START_TEST(test_uart_scratch_and_divisor_latch)
{
	g_autofree char *text = NULL;

	out(7, 0x5a);
	ck_assert_uint_eq(in(7), 0x5a);
	out(3, 0x83); /* DLAB, 8N1 */
	out(0, 0x01);
	out(1, 0x02);
	ck_assert_uint_eq(in(0), 0x01);
	ck_assert_uint_eq(in(1), 0x02);
	out(3, 0x03);
	ck_assert_uint_eq(in(3), 0x03);
	/* With DLAB clear, offset 0 is THR again and 1 is IER. */
	ck_assert_uint_eq(in(1), 0x00);
	out(0, 'x');
	ck_assert(g_file_get_contents(console, &text, NULL, NULL));
	ck_assert_str_eq(text, "x");
}
END_TEST

START_TEST(test_uart_loopback_receives)
{
	g_autofree char *text = NULL;

	out(4, 0x10); /* LOOP */
	out(0, 'A');
	ck_assert_uint_eq(in(5) & 0x01, 0x01); /* DR */
	ck_assert_uint_eq(in(0), 'A');
	ck_assert_uint_eq(in(5) & 0x01, 0x00);
	ck_assert(g_file_get_contents(console, &text, NULL, NULL));
	ck_assert_str_eq(text, "");
}
END_TEST

START_TEST(test_uart_fifo_overrun_sets_and_clears_oe)
{
	out(4, 0x10);
	for (int i = 0; i < 17; i++)
		out(0, (uint8_t)('a' + i));
	ck_assert_uint_eq(in(5) & 0x03, 0x03); /* DR, OE */
	ck_assert_uint_eq(in(5) & 0x02, 0x00); /* OE cleared by the read */
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(in(0), 'a' + i);
	ck_assert_uint_eq(in(5) & 0x01, 0x00);
}
END_TEST

START_TEST(test_uart_rx_interrupt_raised_and_cleared)
{
	out(4, 0x18); /* LOOP | OUT2 */
	out(1, 0x01); /* RDI */
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	out(0, 'z');
	ck_assert_uint_eq(in(2), 0x04);
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(in(0), 'z');
	ck_assert_uint_eq(in(2), 0x01);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
}
END_TEST

START_TEST(test_uart_thr_empty_interrupt)
{
	out(4, 0x08); /* OUT2 */
	out(1, 0x02); /* THRI: THR is empty, so it is pending at once */
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
	ck_assert_uint_eq(in(2), 0x02);
	/* Reading IIR acknowledged it. */
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(in(2), 0x01);
	out(0, 'q');
	ck_assert_uint_eq(devs->irq_level[IRQ], 1);
}
END_TEST

START_TEST(test_uart_out2_gates_irq_line)
{
	out(1, 0x02);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
	ck_assert_uint_eq(in(2) & 0x0f, 0x02); /* pending all the same */
}
END_TEST

START_TEST(test_uart_fifo_mode_iir_and_trigger)
{
	out(2, 0xc1); /* FIFO on, trigger 14 */
	out(4, 0x18);
	out(1, 0x01);
	out(0, '1');
	/* One byte is below the trigger: the timeout indication. */
	ck_assert_uint_eq(in(2), 0xcc);
	for (int i = 0; i < 13; i++)
		out(0, '2');
	ck_assert_uint_eq(in(2), 0xc4);
	out(2, 0xc3); /* clear RX */
	ck_assert_uint_eq(in(5) & 0x01, 0);
	ck_assert_uint_eq(in(2), 0xc1);
}
END_TEST

START_TEST(test_uart_loopback_modem_status)
{
	/* Entering loopback drops CTS, DSR and DCD (nothing drives them). */
	out(4, 0x10);
	ck_assert_uint_eq(in(6), 0x0b); /* delta CTS, DSR, DCD */
	ck_assert_uint_eq(in(6), 0x00); /* deltas cleared by the read */
	out(4, 0x12);			/* RTS loops back to CTS */
	ck_assert_uint_eq(in(6), 0x11); /* CTS, delta CTS */
	ck_assert_uint_eq(in(6), 0x10);
}
END_TEST

START_TEST(test_uart_bad_console_refused)
{
	GError *err = NULL;

	guint before = logs->len;

	ck_assert_int_eq(device_create(devs,
				       "uart16550,id=s1,iobase=0x2f8,"
				       "console=telnet",
				       NULL, &err),
			 -EINVAL);
	/* The module's own message is the reason, said once. */
	ck_assert_error(err, "s1: realize of uart16550 failed: "
			     "console=telnet: expected stdio, file:PATH, pty "
			     "or none");
	g_error_free(err);
	ck_assert_uint_eq(logs->len, before);
}
END_TEST

/* The core, not the module, refuses a line the irqchip lacks and ports
 * past 0xffff. */
START_TEST(test_uart_irq_and_ports_out_of_range_refused)
{
	GError *err = NULL;

	ck_assert_int_eq(device_create(devs,
				       "uart16550,id=s1,iobase=0x2f8,irq=9999",
				       NULL, &err),
			 -EINVAL);
	ck_assert_error(err, "s1: realize of uart16550 failed: region "
			     "uart16550: IRQ 9999 is not a line of the "
			     "interrupt controller (IOAPIC pins 0-23)");
	g_clear_error(&err);
	ck_assert_int_eq(device_create(devs, "uart16550,id=s1,iobase=0xfffc",
				       NULL, &err),
			 -ERANGE);
	ck_assert_error(err, "s1: realize of uart16550 failed: pio region "
			     "uart16550 at 0xfffc, length 0x8, goes past the "
			     "end of the pio space (0xffff)");
	g_clear_error(&err);
	ck_assert_int_eq(device_create(devs, "uart16550,id=s1,iobase=0xfff8",
				       NULL, NULL),
			 0);
}
END_TEST

START_TEST(test_uart_console_on_pty)
{
	const char *msg;

	ck_assert_int_eq(device_create(devs,
				       "uart16550,id=s1,iobase=0x2f8,"
				       "console=pty",
				       NULL, NULL),
			 0);
	msg = g_ptr_array_index(logs, logs->len - 1);
	ck_assert_msg(g_str_has_prefix(msg, "s1: console on /dev/pts/"), "%s",
		      msg);
}
END_TEST

static void out2(unsigned int reg, uint8_t v)
{
	ck_assert_int_eq(vm_devices_pio_write(devs, 0x2f8 + reg, 1, v), 0);
}

static uint8_t in2(unsigned int reg);

/* The divisor latch came along too. */
static void out2_dlab_check(uint8_t divisor)
{
	out2(3, 0x83);
	ck_assert_uint_eq(in2(0), divisor);
	out2(3, 0x03);
}

static uint8_t in2(unsigned int reg)
{
	uint64_t v;

	ck_assert_int_eq(vm_devices_pio_read(devs, 0x2f8 + reg, 1, &v), 0);
	return (uint8_t)v;
}

/* The module's state description: registers and FIFO move whole. */
START_TEST(test_uart_state_saves_and_loads)
{
	struct modvmm_device *src = device_find(devs, "serial0"), *dst = NULL;
	g_autoptr(GByteArray) saved = g_byte_array_new();
	GError *err = NULL;

	ck_assert_ptr_nonnull(src->type->vms);
	out(3, 0x83);
	out(0, 0x30); /* divisor 0x30 */
	out(3, 0x03);
	out(7, 0x77);
	out(4, 0x18); /* LOOP | OUT2 */
	out(1, 0x01);
	out(0, 'x');
	out(0, 'y');
	ck_assert_int_eq(device_create(devs,
				       "uart16550,id=s1,iobase=0x2f8,"
				       "console=none",
				       &dst, NULL),
			 0);
	ck_assert_int_eq(
		vmstate_save(src->type->vms, src->state, 1, saved, &err), 0);
	ck_assert_int_eq(vmstate_load(dst->type->vms, dst->state, saved->data,
				      saved->len, 0, "s1", NULL, &err),
			 0);
	ck_assert_uint_eq(in2(7), 0x77);
	ck_assert_uint_eq(in2(4), 0x18);
	ck_assert_uint_eq(in2(2), 0x04); /* data waiting */
	ck_assert_uint_eq(in2(0), 'x');
	ck_assert_uint_eq(in2(0), 'y');
	ck_assert_uint_eq(in2(5) & 0x01, 0);
	out2_dlab_check(0x30);
}
END_TEST

/* A line this host had up goes down when the loaded state has nothing
 * pending. */
START_TEST(test_uart_load_lowers_raised_line)
{
	struct modvmm_device *src = device_find(devs, "serial0"), *dst = NULL;
	g_autoptr(GByteArray) saved = g_byte_array_new();

	ck_assert_int_eq(device_create(devs,
				       "uart16550,id=s1,iobase=0x2f8,irq=3,"
				       "console=none",
				       &dst, NULL),
			 0);
	out2(4, 0x08); /* OUT2 */
	out2(1, 0x02); /* THRE interrupt: pending at once */
	ck_assert_uint_eq(devs->irq_level[3], 1);
	ck_assert_int_eq(
		vmstate_save(src->type->vms, src->state, 1, saved, NULL), 0);
	ck_assert_int_eq(vmstate_load(dst->type->vms, dst->state, saved->data,
				      saved->len, 0, "s1", NULL, NULL),
			 0);
	ck_assert_uint_eq(devs->irq_level[3], 0);
}
END_TEST

START_TEST(test_uart_corrupt_fifo_state_refused)
{
	struct modvmm_device *src = device_find(devs, "serial0");
	g_autoptr(GByteArray) saved = g_byte_array_new();
	g_autofree uint8_t *before = NULL;
	GError *err = NULL;
	size_t head;

	ck_assert_int_eq(
		vmstate_save(src->type->vms, src->state, 1, saved, NULL), 0);
	/* Header (3 + 9 + 8), seven registers, divisor, 16 FIFO bytes. */
	head = 3 + strlen("uart16550") + 8 + 7 + 2 + 16;
	saved->data[head] = 200;
	before = g_memdup2(src->state, src->type->t.instance_size);
	ck_assert_int_lt(vmstate_load(src->type->vms, src->state, saved->data,
				      saved->len, 0, "serial0", NULL, &err),
			 0);
	ck_assert_msg(g_str_has_prefix(err->message,
				       "serial0: uart16550: fifo_valid refused "
				       "the state: receive FIFO head or count "
				       "beyond 16 (offset 0x"),
		      "%s", err->message);
	ck_assert_mem_eq(before, src->state, src->type->t.instance_size);
	g_error_free(err);
}
END_TEST

static int stream_tool(const char *a, const char *b, const char *c,
		       char **ret_out, char **ret_err)
{
	const char *argv[] = { g_getenv("MODVMM_STREAM"), a, b, c, NULL };
	int wait;

	ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			       NULL, ret_out, ret_err, &wait, NULL));
	return WEXITSTATUS(wait);
}

/* modvmm-stream shows a real device's saved state, and a cut one fails. */
START_TEST(test_uart_state_decoded_by_modvmm_stream)
{
	struct modvmm_device *src = device_find(devs, "serial0");
	g_autoptr(GByteArray) saved = g_byte_array_new();
	g_autofree char *path = NULL, *text = NULL, *err = NULL;
	g_autofree char *dir =
		g_strdup_printf("--module-dir=%s", g_getenv("MODULE_DIR"));
	g_autoptr(JsonParser) p = json_parser_new();
	JsonObject *sec;
	int fd;

	out(7, 0x77);
	out(4, 0x10);
	out(0, 'x');
	out(0, 'y');
	ck_assert_int_eq(
		vmstate_save(src->type->vms, src->state, 1, saved, NULL), 0);
	fd = g_file_open_tmp("modvmm-state-XXXXXX", &path, NULL);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert(g_file_set_contents(path, (char *)saved->data,
				      (gssize)saved->len, NULL));

	ck_assert_int_eq(stream_tool(dir, path, NULL, &text, &err), 0);
	ck_assert_str_eq(err, "");
	ck_assert(
		g_str_has_prefix(text, "uart16550 version 1 (offset 0x14)\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n  scr = 0x77 (u8)\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n  rx_count = 0x2 (u8)\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n  fifo = [0x78, 0x79, 0x0"));
	ck_assert_ptr_nonnull(
		strstr(text, "\n  fifo_valid = (checked) (validate)\n"));
	g_clear_pointer(&text, g_free);
	g_clear_pointer(&err, g_free);

	ck_assert_int_eq(stream_tool(dir, "--json", path, &text, &err), 0);
	ck_assert(json_parser_load_from_data(p, text, -1, NULL));
	sec = json_array_get_object_element(
		json_node_get_array(json_parser_get_root(p)), 0);
	ck_assert_str_eq(json_object_get_string_member(sec, "section"),
			 "uart16550");
	ck_assert_int_eq(json_object_get_int_member(sec, "version"), 1);
	g_clear_pointer(&text, g_free);
	g_clear_pointer(&err, g_free);

	/* Cut inside the FIFO. */
	ck_assert(g_file_set_contents(path, (char *)saved->data, 30, NULL));
	ck_assert_int_eq(stream_tool(dir, path, NULL, &text, &err), 1);
	ck_assert_msg(g_str_has_prefix(err, "modvmm-stream: "), "%s", err);
	ck_assert_msg(strstr(err, ": device state: section uart16550 at "
				  "offset 0x0 claims "),
		      "%s", err);
	unlink(path);
}
END_TEST

START_TEST(test_uart_reset_restores_power_on_state)
{
	out(4, 0x1b);
	out(1, 0x0f);
	out(7, 0x42);
	device_reset_all(devs);
	ck_assert_uint_eq(in(4), 0);
	ck_assert_uint_eq(in(1), 0);
	ck_assert_uint_eq(in(7), 0);
	ck_assert_uint_eq(in(5), 0x60);
	ck_assert_uint_eq(devs->irq_level[IRQ], 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("uart16550");
	TCase *tc = tcase_create("uart16550");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_uart_reset_state);
	tcase_add_test(tc, test_uart_thr_writes_console);
	tcase_add_test(tc, test_uart_scratch_and_divisor_latch);
	tcase_add_test(tc, test_uart_loopback_receives);
	tcase_add_test(tc, test_uart_fifo_overrun_sets_and_clears_oe);
	tcase_add_test(tc, test_uart_rx_interrupt_raised_and_cleared);
	tcase_add_test(tc, test_uart_thr_empty_interrupt);
	tcase_add_test(tc, test_uart_out2_gates_irq_line);
	tcase_add_test(tc, test_uart_fifo_mode_iir_and_trigger);
	tcase_add_test(tc, test_uart_loopback_modem_status);
	tcase_add_test(tc, test_uart_bad_console_refused);
	tcase_add_test(tc, test_uart_console_on_pty);
	tcase_add_test(tc, test_uart_state_saves_and_loads);
	tcase_add_test(tc, test_uart_load_lowers_raised_line);
	tcase_add_test(tc, test_uart_corrupt_fifo_state_refused);
	tcase_add_test(tc, test_uart_state_decoded_by_modvmm_stream);
	tcase_add_test(tc, test_uart_reset_restores_power_on_state);
	tcase_add_test(tc, test_uart_irq_and_ports_out_of_range_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
