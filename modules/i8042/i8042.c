// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * i8042 - the PC keyboard controller, as much of it as a guest needs to
 * find it and to reset the machine: status and data ports, the command
 * byte, self-test, port enable/disable, and reset through command 0xfe or
 * output-port bit 0 (how Linux reboots with reboot=k). No keyboard or
 * mouse is attached.
 */
#include <modvmm/module.h>

MODVMM_MODULE_INFO("i8042", "1.0.0");
MODVMM_MODULE_LICENSE("LGPL-2.1-or-later");
MODVMM_MODULE_AUTHOR("modvmm developers");
MODVMM_MODULE_DESCRIPTION("PC keyboard controller: probing and reset");
MODVMM_MODULE_DEVICE("i8042");
MODVMM_MODULE_VMSTATE("i8042", 1);

#define PORT_DATA 0x60
#define PORT_CMD 0x64

#define STS_OBF 0x01 /* output buffer full */
#define STS_SYS 0x04 /* self-test passed */
#define STS_CMD 0x08 /* last write was a command */
#define STS_INH 0x10 /* keyboard not inhibited */

#define CMD_READ_CB 0x20
#define CMD_WRITE_CB 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_RESET 0xfe

static const struct modvmm_host *host;

struct i8042 {
	struct modvmm_device *dev;
	uint8_t status;
	uint8_t cb;	 /* command byte */
	uint8_t out;	 /* output buffer */
	uint8_t pending; /* command waiting for its data byte */
	uint8_t outport;
};

static void reply(struct i8042 *s, uint8_t v)
{
	s->out = v;
	s->status |= STS_OBF;
}

static void command(struct i8042 *s, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CB:
		reply(s, s->cb);
		break;
	case CMD_WRITE_CB:
	case CMD_WRITE_OUTPORT:
		s->pending = cmd;
		break;
	case CMD_SELF_TEST:
		s->status |= STS_SYS;
		reply(s, 0x55);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST:
		reply(s, 0x00);
		break;
	case CMD_READ_OUTPORT:
		reply(s, s->outport);
		break;
	case CMD_KBD_DISABLE:
		s->cb |= 0x10;
		break;
	case CMD_KBD_ENABLE:
		s->cb &= ~0x10;
		break;
	case CMD_AUX_DISABLE:
		s->cb |= 0x20;
		break;
	case CMD_AUX_ENABLE:
		s->cb &= ~0x20;
		break;
	case CMD_RESET:
		host->request(s->dev, MODVMM_REQUEST_RESET, 0);
		break;
	}
}

/* Offsets are relative to each one-port region, so each has its own. */
static uint64_t i8042_status_read(void *opaque, uint64_t offset, uint32_t width)
{
	struct i8042 *s = opaque;

	(void)offset;
	(void)width;
	return s->status;
}

static void i8042_command_write(void *opaque, uint64_t offset, uint64_t value,
				uint32_t width)
{
	struct i8042 *s = opaque;

	(void)offset;
	(void)width;
	s->status |= STS_CMD;
	command(s, (uint8_t)value);
}

static uint64_t i8042_data_read(void *opaque, uint64_t offset, uint32_t width)
{
	struct i8042 *s = opaque;

	(void)offset;
	(void)width;
	s->status &= ~STS_OBF;
	return s->out;
}

static void i8042_data_write(void *opaque, uint64_t offset, uint64_t value,
			     uint32_t width)
{
	struct i8042 *s = opaque;
	uint8_t v = (uint8_t)value;

	(void)offset;
	(void)width;
	s->status &= ~STS_CMD;
	switch (s->pending) {
	case CMD_WRITE_CB:
		s->cb = v;
		break;
	case CMD_WRITE_OUTPORT:
		s->outport = v;
		/* Bit 0 low holds the CPU in reset. */
		if (!(v & 1))
			host->request(s->dev, MODVMM_REQUEST_RESET, 0);
		break;
	default:
		/* A byte for a keyboard that is not there: it answers
		 * nothing, as an empty port would. */
		break;
	}
	s->pending = 0;
}

static void i8042_reset(struct modvmm_device *dev, void *state)
{
	struct i8042 *s = state;

	(void)dev;
	s->status = STS_SYS | STS_INH;
	s->cb = 0x30; /* both ports disabled, no interrupts */
	s->out = 0;
	s->pending = 0;
	s->outport = 0x01;
}

static int32_t i8042_realize(struct modvmm_device *dev, void *state)
{
	struct i8042 *s = state;
	/* 0x60-0x64: data, and (at +4) status/command; 0x61-0x63 are other
	 * devices' on a PC and read as all-ones here. */
	const struct modvmm_region data = {
		.size = sizeof(data),
		.space = MODVMM_SPACE_PIO,
		.base = PORT_DATA,
		.length = 1,
		.name = "i8042-data",
		.read = i8042_data_read,
		.write = i8042_data_write,
	};
	const struct modvmm_region cmd = {
		.size = sizeof(cmd),
		.space = MODVMM_SPACE_PIO,
		.base = PORT_CMD,
		.length = 1,
		.name = "i8042-cmd",
		.read = i8042_status_read,
		.write = i8042_command_write,
	};
	int32_t r;

	s->dev = dev;
	i8042_reset(dev, s);
	r = host->region_add(dev, &data, s);
	return r < 0 ? r : host->region_add(dev, &cmd, s);
}

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */
static const struct modvmm_vmstate_field i8042_fields[] = {
	MODVMM_VMS_FIELD(U8, struct i8042, status, 1),
	MODVMM_VMS_FIELD(U8, struct i8042, cb, 1),
	MODVMM_VMS_FIELD(U8, struct i8042, out, 1),
	MODVMM_VMS_FIELD(U8, struct i8042, pending, 1),
	MODVMM_VMS_FIELD(U8, struct i8042, outport, 1),
};

static const struct modvmm_vmstate i8042_vmstate = {
	.size          = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version       = 1,                             /* saved now */
	.min_version   = 1,                             /* oldest loaded */
	.name          = "i8042",                       /* = modinfo vmstate= */
	.fields        = i8042_fields,
	.n_fields      = MODVMM_ARRAY_SIZE(i8042_fields),
};

static const struct modvmm_device_type i8042_type = {
	.size          = sizeof(struct modvmm_device_type), /* ABI struct size */
	.instance_size = sizeof(struct i8042),              /* host allocates */
	.name          = "i8042",                           /* --device name */
	.description   = "PC keyboard controller (probing and reset)",
	.properties    = NULL,                              /* fixed ports */
	.n_properties  = 0,
	.realize       = i8042_realize,                     /* claim ports */
	.unrealize     = NULL,                              /* host releases */
	.reset         = i8042_reset,                       /* power-on state */
	.vmstate       = &i8042_vmstate,                    /* migratable state */
};

static const struct modvmm_device_type *const i8042_types[] = {
	&i8042_type,
};

static const struct modvmm_module i8042_module = {
	MODVMM_MODULE_DESCRIPTOR_INIT,            /* magic, ABI, size */
	.name           = "i8042",                /* = modinfo name */
	.version        = "1.0.0",                /* = modinfo version */
	.device_types   = i8042_types,            /* = modinfo device= */
	.n_device_types = MODVMM_ARRAY_SIZE(i8042_types),
	.init           = NULL,                   /* no module-wide state */
	.exit           = NULL,
};
/* clang-format on */

const struct modvmm_module *modvmm_module_init(const struct modvmm_host *h)
{
	host = h;
	return &i8042_module;
}
