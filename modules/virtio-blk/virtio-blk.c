// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio-blk - a block device backed by a raw file, on the virtio-mmio
 * transport (libmodvmm-virtio).
 *
 * Requests: read, write, flush, get-id. Each is carried out and answered
 * in the doorbell's callback, through a bounce buffer of BOUNCE bytes, so
 * a request of any length costs no more host memory than that. Nothing is
 * ever in flight outside a callback, and the host runs every pending
 * doorbell before it pauses the guest: a saved state (snapshot,
 * migration) holds no half-done request, and every write the guest was
 * told is done is in the file. The destination of a migration opens the
 * same file (shared storage); its size is part of the state, so a
 * destination whose file differs in size refuses the guest.
 */
#define _GNU_SOURCE /* O_CLOEXEC, pread/pwrite of large files */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <modvmm/module.h>
#include <modvmm/virtio.h>

MODVMM_MODULE_INFO("virtio-blk", "1.0.0");
MODVMM_MODULE_LICENSE("LGPL-2.1-or-later");
MODVMM_MODULE_AUTHOR("modvmm developers");
MODVMM_MODULE_DESCRIPTION("virtio block device backed by a raw file");
MODVMM_MODULE_DEVICE("virtio-blk");
MODVMM_MODULE_VMSTATE("virtio-blk", 1);

#define VIRTIO_ID_BLOCK 2
#define SECTOR 512u
#define BOUNCE (1u << 20)
#define QUEUE_SIZE 256u
#define ID_BYTES 20u

#define VIRTIO_BLK_F_SEG_MAX (1u << 2)
#define VIRTIO_BLK_F_RO (1u << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1u << 6)
#define VIRTIO_BLK_F_FLUSH (1u << 9)

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

static const struct modvmm_host *host;

struct virtio_blk {
	struct modvmm_virtio vio;
	uint64_t capacity; /* sectors, as saved */

	/* Properties. */
	const char *file;
	const char *serial;
	uint64_t base;
	uint32_t irq;
	uint8_t readonly;

	uint64_t file_sectors; /* of the file opened here */
	int fd;
	uint8_t *bounce;
	struct modvmm_virtio_chain chain;
};

struct blk_req_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* Little-endian, byte by byte: the config space as the driver sees it. */
static uint64_t blk_config_read(struct modvmm_virtio *v, uint64_t offset,
				uint32_t width)
{
	struct virtio_blk *s = (struct virtio_blk *)v;
	uint8_t cfg[24] = { 0 };
	uint64_t val = 0;

	for (int i = 0; i < 8; i++)
		cfg[i] = (uint8_t)(s->capacity >> (8 * i));
	cfg[12] = QUEUE_SIZE - 2; /* seg_max: header and status use two */
	cfg[21] = SECTOR >> 8;	  /* blk_size */
	for (uint32_t i = 0; i < width && offset + i < sizeof(cfg); i++)
		val |= (uint64_t)cfg[offset + i] << (8 * i);
	return val;
}

/* Moves `len` bytes between the file at `pos` and the chain's data
 * buffers (after the header for a write, from the start for a read). */
static int blk_transfer(struct virtio_blk *s, int to_guest, uint64_t pos,
			uint64_t len)
{
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < BOUNCE ? len - done : BOUNCE;
		ssize_t r;

		if (to_guest) {
			r = pread(s->fd, s->bounce, n, (off_t)(pos + done));
			if (r != (ssize_t)n)
				return r < 0 ? -errno : -EIO;
			r = modvmm_virtio_chain_write(&s->vio, &s->chain, done,
						      s->bounce, n);
		} else {
			r = modvmm_virtio_chain_read(
				&s->vio, &s->chain,
				sizeof(struct blk_req_header) + done, s->bounce,
				n);
			if (r < 0)
				return (int)r;
			r = pwrite(s->fd, s->bounce, n, (off_t)(pos + done));
			if (r != (ssize_t)n)
				return r < 0 ? -errno : -EIO;
			r = 0;
		}
		if (r < 0)
			return (int)r;
		done += n;
	}
	return 0;
}

/* Whole sectors inside the disk. */
static int blk_range_ok(const struct virtio_blk *s, uint64_t sector,
			uint64_t len)
{
	return len % SECTOR == 0 && sector <= s->capacity &&
	       len / SECTOR <= s->capacity - sector;
}

/* One request; -EFAULT when guest memory refused (the device is in its
 * error state then, and the request is not answered). */
static int blk_handle(struct virtio_blk *s)
{
	struct modvmm_virtio_chain *c = &s->chain;
	struct blk_req_header h;
	uint32_t written = 0;
	uint8_t status = VIRTIO_BLK_S_OK;
	uint8_t id[ID_BYTES] = { 0 };
	int r;

	if (c->out_len < sizeof(h) || c->in_len < 1) {
		modvmm_virtio_fail(&s->vio, "request without a header or a "
					    "status byte");
		return -EINVAL;
	}
	r = modvmm_virtio_chain_read(&s->vio, c, 0, &h, sizeof(h));
	if (r < 0)
		return r;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		written = c->in_len - 1;
		if (!blk_range_ok(s, h.sector, written)) {
			status = VIRTIO_BLK_S_IOERR;
			written = 0;
			break;
		}
		r = blk_transfer(s, 1, h.sector * SECTOR, written);
		break;
	case VIRTIO_BLK_T_OUT:
		if (s->readonly ||
		    !blk_range_ok(s, h.sector, c->out_len - sizeof(h))) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		r = blk_transfer(s, 0, h.sector * SECTOR,
				 c->out_len - sizeof(h));
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (fdatasync(s->fd) < 0)
			r = -errno;
		break;
	case VIRTIO_BLK_T_GET_ID:
		strncpy((char *)id, s->serial ? s->serial : "", sizeof(id));
		written = c->in_len - 1 < ID_BYTES ? c->in_len - 1 : ID_BYTES;
		r = modvmm_virtio_chain_write(&s->vio, c, 0, id, written);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (r == -EFAULT)
		return r;
	if (r < 0) {
		host->log(s->vio.dev, MODVMM_LOG_WARNING,
			  "%s: request %u at sector %llu: %s", s->file, h.type,
			  (unsigned long long)h.sector, strerror(-r));
		status = VIRTIO_BLK_S_IOERR;
		written = 0;
	}
	r = modvmm_virtio_chain_write(&s->vio, c, c->in_len - 1, &status, 1);
	if (r < 0)
		return r;
	return modvmm_virtio_push(&s->vio, 0, c->head, written + 1);
}

static void blk_queue_notify(struct modvmm_virtio *v, uint32_t queue)
{
	struct virtio_blk *s = (struct virtio_blk *)v;

	while (modvmm_virtio_pop(v, queue, &s->chain) == 1)
		if (blk_handle(s) == -EFAULT)
			break;
	modvmm_virtio_notify(v, queue);
}

static const struct modvmm_virtio_ops blk_ops = {
	.size = sizeof(struct modvmm_virtio_ops),
	.queue_notify = blk_queue_notify,
	.config_read = blk_config_read,
};

static int32_t blk_realize(struct modvmm_device *dev, void *state)
{
	struct virtio_blk *s = state;
	struct stat st;
	int r;

	s->fd = -1;
	if (!s->file || !*s->file) {
		host->log(dev, MODVMM_LOG_ERROR,
			  "no backing file: give file=PATH");
		return -EINVAL;
	}
	/* The host opens it: it refuses an image another device or
	 * another modvmm writes, and locks it against them. */
	s->fd = host->file_open(dev, s->file,
				s->readonly ? 0 : MODVMM_FILE_WRITE);
	if (s->fd < 0)
		return s->fd;
	if (fstat(s->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		host->log(dev, MODVMM_LOG_ERROR,
			  "%s: not a regular file or block device", s->file);
		r = -EINVAL;
		goto fail;
	}
	s->bounce = malloc(BOUNCE);
	if (!s->bounce) {
		r = -ENOMEM;
		goto fail;
	}
	s->file_sectors = (uint64_t)st.st_size / SECTOR;
	s->capacity = s->file_sectors;
	if (!s->serial)
		s->serial = host->device_id(dev);

	s->vio.host = host;
	s->vio.dev = dev;
	s->vio.ops = &blk_ops;
	s->vio.base = s->base;
	s->vio.irq = s->irq;
	s->vio.device_id = VIRTIO_ID_BLOCK;
	s->vio.device_features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
				 VIRTIO_BLK_F_FLUSH |
				 (s->readonly ? VIRTIO_BLK_F_RO : 0);
	s->vio.n_queues = 1;
	s->vio.queue_size_max = QUEUE_SIZE;
	r = modvmm_virtio_realize(&s->vio);
	if (!r)
		return 0;
fail:
	/* A failed realize is not followed by unrealize. */
	close(s->fd);
	free(s->bounce);
	return r;
}

static void blk_unrealize(struct modvmm_device *dev, void *state)
{
	struct virtio_blk *s = state;

	(void)dev;
	if (s->fd >= 0)
		close(s->fd);
	free(s->bounce);
}

static void blk_reset(struct modvmm_device *dev, void *state)
{
	struct virtio_blk *s = state;

	(void)dev;
	modvmm_virtio_reset(&s->vio);
}

/* The guest was given this disk size; another is another disk. */
static int32_t blk_same_size(const void *state, uint32_t version,
			     const char **ret_message)
{
	const struct virtio_blk *s = state;

	(void)version;
	if (s->capacity == s->file_sectors)
		return 0;
	*ret_message = "the backing file here differs in size from the "
		       "source's (the same file, on shared storage, is "
		       "needed)";
	return -EINVAL;
}

static const struct modvmm_property blk_properties[] = {
	MODVMM_PROP_STR_DEFINE("file", struct virtio_blk, file, NULL,
			       "raw disk image (or block device)"),
	MODVMM_PROP_BOOL_DEFINE("readonly", struct virtio_blk, readonly, 0,
				"refuse writes"),
	MODVMM_PROP_STR_DEFINE("serial", struct virtio_blk, serial, NULL,
			       "id the guest reads (default: the device id)"),
	MODVMM_PROP_U64_DEFINE("base", struct virtio_blk, base, 0xd0000000,
			       "MMIO address of the virtio-mmio registers"),
	MODVMM_PROP_U32_DEFINE("irq", struct virtio_blk, irq, 5,
			       "interrupt line (GSI)"),
};

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */

static const struct modvmm_vmstate_field blk_fields[] = {
	MODVMM_VMS_STRUCT_FIELD(struct virtio_blk, vio, &modvmm_virtio_vmstate, 1),
	MODVMM_VMS_FIELD(U64, struct virtio_blk, capacity, 1),
	MODVMM_VMS_VALIDATE_FIELD("same disk size", blk_same_size, 1),
};

static const struct modvmm_vmstate blk_vmstate = {
	.size          = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version       = 1,                             /* saved now */
	.min_version   = 1,                             /* oldest loaded */
	.name          = "virtio-blk",                  /* = modinfo vmstate= */
	.fields        = blk_fields,                    /* transport, size */
	.n_fields      = MODVMM_ARRAY_SIZE(blk_fields),
};

static const struct modvmm_device_type blk_type = {
	.size          = sizeof(struct modvmm_device_type), /* ABI struct size */
	.instance_size = sizeof(struct virtio_blk),         /* host allocates */
	.name          = "virtio-blk",                      /* --device name */
	.description   = "virtio block device (virtio-mmio)",
	.properties    = blk_properties,                    /* --device k=v */
	.n_properties  = MODVMM_ARRAY_SIZE(blk_properties),
	.realize       = blk_realize,                       /* open the file */
	.unrealize     = blk_unrealize,                     /* close it */
	.reset         = blk_reset,                         /* transport reset */
	.vmstate       = &blk_vmstate,                      /* transport + size */
};

static const struct modvmm_device_type *const blk_types[] = {
	&blk_type,
};

static const struct modvmm_module blk_module = {
	MODVMM_MODULE_DESCRIPTOR_INIT,            /* magic, ABI, size */
	.name           = "virtio-blk",           /* = modinfo name */
	.version        = "1.0.0",                /* = modinfo version */
	.device_types   = blk_types,              /* = modinfo device= */
	.n_device_types = MODVMM_ARRAY_SIZE(blk_types),
	.init           = NULL,                   /* no module-wide state */
	.exit           = NULL,
};

/* clang-format on */

const struct modvmm_module *modvmm_module_init(const struct modvmm_host *h)
{
	host = h;
	return &blk_module;
}
