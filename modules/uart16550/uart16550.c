// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * uart16550 - an 8250/16550A-compatible serial port.
 *
 * Registers THR/RBR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR and the divisor
 * latch; 16-byte receive FIFO with trigger levels; interrupts for received
 * data, transmitter empty, line status and modem status, gated by MCR OUT2
 * as on a PC; loopback mode. Transmission is immediate: a byte written to
 * THR goes to the console at once and the transmitter is empty again.
 *
 * console= stdio (default: output to stdout, input from stdin), file:PATH
 * (output appended to PATH), pty (a new pseudo-terminal; its name is
 * logged), none. Input is polled every 10 ms by a timer.
 */
#define _GNU_SOURCE /* ptsname_r */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <modvmm/module.h>

MODVMM_MODULE_INFO("uart16550", "1.0.0");
MODVMM_MODULE_LICENSE("LGPL-2.1-or-later");
MODVMM_MODULE_AUTHOR("modvmm developers");
MODVMM_MODULE_DESCRIPTION("8250/16550A-compatible serial port");
MODVMM_MODULE_DEVICE("uart16550");
MODVMM_MODULE_VMSTATE("uart16550", 1);

#define FIFO_SIZE 16
#define POLL_NS 10000000ull

enum {
	REG_DATA = 0, /* RBR / THR / DLL */
	REG_IER = 1,  /* IER / DLM */
	REG_IIR = 2,  /* IIR / FCR */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08  /* modem status */
#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_DCTS 0x01
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static const struct modvmm_host *host;

struct uart {
	/* properties */
	uint16_t iobase;
	uint32_t irq;
	const char *console;
	/* registers */
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint16_t divisor;
	uint8_t fifo[FIFO_SIZE];
	uint8_t rx_head, rx_count;
	uint8_t thr_pending; /* THR-empty interrupt not yet acknowledged */
	uint8_t irq_level;
	/* host side */
	struct modvmm_device *dev;
	struct modvmm_timer *poll;
	int out_fd, in_fd, own_out, own_in;
};

static const uint8_t trigger_levels[4] = { 1, 4, 8, 14 };

static uint8_t pending_iir(const struct uart *s)
{
	if ((s->ier & IER_RLSI) && (s->lsr & LSR_OE))
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count &&
	    (!(s->fcr & FCR_ENABLE) ||
	     s->rx_count >= trigger_levels[s->fcr >> 6]))
		return IIR_RDI;
	/* Below the trigger level, data still raises the timeout case. */
	if ((s->ier & IER_RDI) && s->rx_count)
		return 0x0c;
	if ((s->ier & IER_THRI) && s->thr_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && (s->msr & 0x0f))
		return IIR_MSI;
	return IIR_NONE;
}

static void update_irq(struct uart *s)
{
	uint8_t level = pending_iir(s) != IIR_NONE && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		host->irq_set(s->dev, s->irq, level);
	}
}

static void rx_push(struct uart *s, uint8_t byte)
{
	if (s->rx_count == FIFO_SIZE) {
		s->lsr |= LSR_OE;
		return;
	}
	s->fifo[(s->rx_head + s->rx_count) % FIFO_SIZE] = byte;
	s->rx_count++;
	s->lsr |= LSR_DR;
}

static uint8_t rx_pop(struct uart *s)
{
	uint8_t b;

	if (!s->rx_count)
		return 0;
	b = s->fifo[s->rx_head];
	s->rx_head = (s->rx_head + 1) % FIFO_SIZE;
	if (!--s->rx_count)
		s->lsr &= ~LSR_DR;
	return b;
}

static void transmit(struct uart *s, uint8_t byte)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, byte);
	} else if (s->out_fd >= 0) {
		/* A console that went away loses output, never the guest. */
		while (write(s->out_fd, &byte, 1) < 0 && errno == EINTR)
			;
	}
	s->lsr |= LSR_THRE | LSR_TEMT;
	s->thr_pending = 1;
}

/* In loopback, the modem inputs follow the modem outputs. */
static uint8_t msr_value(const struct uart *s)
{
	uint8_t m = s->msr & 0x0f;

	if (!(s->mcr & MCR_LOOP))
		return m | MSR_DCD | MSR_DSR | MSR_CTS;
	if (s->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (s->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (s->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static uint64_t uart_read(void *opaque, uint64_t offset, uint32_t width)
{
	struct uart *s = opaque;
	uint8_t v = 0xff, iir;

	(void)width;
	switch (offset) {
	case REG_DATA:
		v = (s->lcr & LCR_DLAB) ? (uint8_t)s->divisor : rx_pop(s);
		break;
	case REG_IER:
		v = (s->lcr & LCR_DLAB) ? (uint8_t)(s->divisor >> 8) : s->ier;
		break;
	case REG_IIR:
		iir = pending_iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if (iir == IIR_THRI)
			s->thr_pending = 0;
		v = iir | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
		break;
	case REG_LCR:
		v = s->lcr;
		break;
	case REG_MCR:
		v = s->mcr;
		break;
	case REG_LSR:
		v = s->lsr;
		s->lsr &= ~LSR_OE; /* cleared by reading */
		break;
	case REG_MSR:
		v = msr_value(s);
		s->msr &= ~0x0f;
		break;
	case REG_SCR:
		v = s->scr;
		break;
	}
	update_irq(s);
	return v;
}

static void uart_write(void *opaque, uint64_t offset, uint64_t value,
		       uint32_t width)
{
	struct uart *s = opaque;
	uint8_t v = (uint8_t)value;
	uint8_t old;

	(void)width;
	switch (offset) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB)
			s->divisor = (uint16_t)((s->divisor & 0xff00) | v);
		else
			transmit(s, v);
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->divisor = (uint16_t)((s->divisor & 0xff) | (v << 8));
		} else {
			/* Enabling THRI with THR empty raises it at once. */
			if (!(s->ier & IER_THRI) && (v & IER_THRI) &&
			    (s->lsr & LSR_THRE))
				s->thr_pending = 1;
			s->ier = v & 0x0f;
		}
		break;
	case REG_IIR:
		s->fcr = v & 0xc9;
		if (v & FCR_CLEAR_RX) {
			s->rx_head = s->rx_count = 0;
			s->lsr &= ~LSR_DR;
		}
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		old = msr_value(s);
		s->mcr = v & 0x1f;
		/* Delta bits record modem-input changes seen in loopback. */
		if ((old ^ msr_value(s)) & MSR_CTS)
			s->msr |= MSR_DCTS;
		if ((old ^ msr_value(s)) & MSR_DSR)
			s->msr |= 0x02;
		if ((old & MSR_RI) && !(msr_value(s) & MSR_RI))
			s->msr |= 0x04;
		if ((old ^ msr_value(s)) & MSR_DCD)
			s->msr |= 0x08;
		break;
	case REG_LSR:
	case REG_MSR:
		break; /* read-only */
	case REG_SCR:
		s->scr = v;
		break;
	}
	update_irq(s);
}

static void uart_poll(void *opaque)
{
	struct uart *s = opaque;
	uint8_t buf[FIFO_SIZE];
	ssize_t n;

	if (s->in_fd < 0)
		return;
	/* A full FIFO leaves input waiting in the host until it drains. */
	n = s->rx_count < FIFO_SIZE
		    ? read(s->in_fd, buf, FIFO_SIZE - s->rx_count)
		    : -1;
	if (n == 0) {
		s->in_fd = -1; /* end of input: stop polling */
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		rx_push(s, buf[i]);
	update_irq(s);
	host->timer_mod(s->poll, host->clock_ns(s->dev) + POLL_NS);
}

static int32_t open_pty(struct uart *s)
{
	char name[64];
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 ||
	    ptsname_r(fd, name, sizeof(name))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	host->log(s->dev, MODVMM_LOG_WARNING, "console on %s", name);
	s->out_fd = s->in_fd = fd;
	s->own_out = 1;
	return 0;
}

static int32_t open_console(struct uart *s)
{
	const char *c = s->console ? s->console : "stdio";

	s->out_fd = s->in_fd = -1;
	if (!strcmp(c, "stdio")) {
		s->out_fd = STDOUT_FILENO;
		s->in_fd = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	} else if (!strncmp(c, "file:", 5) && c[5]) {
		s->out_fd = open(
			c + 5, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (s->out_fd < 0) {
			int e = errno;

			host->log(s->dev, MODVMM_LOG_ERROR, "console %s: %s",
				  c + 5, strerror(e));
			return -e;
		}
		s->own_out = 1;
	} else if (!strcmp(c, "pty")) {
		return open_pty(s);
	} else if (strcmp(c, "none")) {
		host->log(s->dev, MODVMM_LOG_ERROR,
			  "console=%s: expected stdio, file:PATH, pty or none",
			  c);
		return -EINVAL;
	}
	return 0;
}

static void uart_reset(struct modvmm_device *dev, void *state)
{
	struct uart *s = state;

	(void)dev;
	s->ier = s->lcr = s->mcr = s->msr = s->scr = s->fcr = 0;
	s->lsr = LSR_THRE | LSR_TEMT;
	s->divisor = 12; /* 9600 baud */
	s->rx_head = s->rx_count = 0;
	s->thr_pending = 0;
	update_irq(s);
}

static int32_t uart_realize(struct modvmm_device *dev, void *state)
{
	struct uart *s = state;
	const struct modvmm_region region = {
		.size = sizeof(region),
		.space = MODVMM_SPACE_PIO,
		.base = s->iobase,
		.length = 8,
		.name = "uart16550",
		.read = uart_read,
		.write = uart_write,
		/* Linux with ACPI (hardware-reduced) maps an ISA interrupt
		 * only for a device the DSDT names. */
		.acpi_hid = "PNP0501",
		.acpi_irq = s->irq,
		.acpi_flags = MODVMM_ACPI_IRQ,
	};
	int32_t r;

	s->dev = dev;
	r = open_console(s);
	if (r < 0)
		return r;
	r = host->region_add(dev, &region, s);
	if (r < 0)
		return r;
	uart_reset(dev, s);
	if (s->in_fd >= 0) {
		fcntl(s->in_fd, F_SETFL, fcntl(s->in_fd, F_GETFL) | O_NONBLOCK);
		s->poll = host->timer_new(dev, uart_poll, s);
		host->timer_mod(s->poll, host->clock_ns(dev) + POLL_NS);
	}
	return 0;
}

static void uart_unrealize(struct modvmm_device *dev, void *state)
{
	struct uart *s = state;

	(void)dev;
	host->timer_free(s->poll);
	if (s->own_out && s->out_fd >= 0)
		close(s->out_fd);
}

/* A saved FIFO must be one this code can have produced. */
static int32_t uart_fifo_valid(const void *state, uint32_t version,
			       const char **ret_message)
{
	const struct uart *s = state;

	(void)version;
	if (s->rx_head >= FIFO_SIZE || s->rx_count > FIFO_SIZE) {
		*ret_message = "receive FIFO head or count beyond 16";
		return -EINVAL;
	}
	return 0;
}

/* The interrupt line follows from the registers; drive it as they say. */
static int32_t uart_post_load(void *state, uint32_t version)
{
	struct uart *s = state;

	(void)version;
	/* Driven whatever this host's line was: it may be up with nothing
	 * pending in the loaded state. */
	s->irq_level = pending_iir(s) != IIR_NONE && (s->mcr & MCR_OUT2);
	host->irq_set(s->dev, s->irq, s->irq_level);
	return 0;
}

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */
static const struct modvmm_vmstate_field uart_fields[] = {
	MODVMM_VMS_FIELD(U8, struct uart, ier, 1),
	MODVMM_VMS_FIELD(U8, struct uart, lcr, 1),
	MODVMM_VMS_FIELD(U8, struct uart, mcr, 1),
	MODVMM_VMS_FIELD(U8, struct uart, lsr, 1),
	MODVMM_VMS_FIELD(U8, struct uart, msr, 1),
	MODVMM_VMS_FIELD(U8, struct uart, scr, 1),
	MODVMM_VMS_FIELD(U8, struct uart, fcr, 1),
	MODVMM_VMS_FIELD(U16, struct uart, divisor, 1),
	MODVMM_VMS_ARRAY_FIELD(U8, struct uart, fifo, 1),
	MODVMM_VMS_FIELD(U8, struct uart, rx_head, 1),
	MODVMM_VMS_FIELD(U8, struct uart, rx_count, 1),
	MODVMM_VMS_FIELD(U8, struct uart, thr_pending, 1),
	MODVMM_VMS_VALIDATE_FIELD("fifo_valid", uart_fifo_valid, 1),
};

static const struct modvmm_vmstate uart_vmstate = {
	.size          = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version       = 1,                             /* saved now */
	.min_version   = 1,                             /* oldest loaded */
	.name          = "uart16550",                   /* = modinfo vmstate= */
	.fields        = uart_fields,
	.n_fields      = MODVMM_ARRAY_SIZE(uart_fields),
	.post_load     = uart_post_load,                /* drive the irq line */
};

static const struct modvmm_property uart_properties[] = {
	MODVMM_PROP_U16_DEFINE("iobase", struct uart, iobase, 0x3f8,
			       "first of the 8 I/O ports"),
	MODVMM_PROP_U32_DEFINE("irq", struct uart, irq, 4,
			       "interrupt line (GSI)"),
	MODVMM_PROP_STR_DEFINE("console", struct uart, console, "stdio",
			       "stdio, file:PATH, pty or none"),
};

static const struct modvmm_device_type uart_type = {
	.size          = sizeof(struct modvmm_device_type), /* ABI struct size */
	.instance_size = sizeof(struct uart),               /* host allocates */
	.name          = "uart16550",                       /* --device name */
	.description   = "8250/16550A-compatible serial port",
	.properties    = uart_properties,                   /* --device k=v */
	.n_properties  = MODVMM_ARRAY_SIZE(uart_properties),
	.realize       = uart_realize,                      /* console, ports */
	.unrealize     = uart_unrealize,                    /* close console */
	.reset         = uart_reset,                        /* power-on state */
	.vmstate       = &uart_vmstate,                     /* migratable state */
};

static const struct modvmm_device_type *const uart_types[] = {
	&uart_type,
};

static const struct modvmm_module uart_module = {
	MODVMM_MODULE_DESCRIPTOR_INIT,            /* magic, ABI, size */
	.name           = "uart16550",            /* = modinfo name */
	.version        = "1.0.0",                /* = modinfo version */
	.device_types   = uart_types,             /* = modinfo device= */
	.n_device_types = MODVMM_ARRAY_SIZE(uart_types),
	.init           = NULL,                   /* no module-wide state */
	.exit           = NULL,
};
/* clang-format on */

const struct modvmm_module *modvmm_module_init(const struct modvmm_host *h)
{
	host = h;
	return &uart_module;
}
