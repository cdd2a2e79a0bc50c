// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/stream.c - the records of snapshots and migration streams: their
 * framing and checksums, written to a file or a socket and read back as
 * hostile input (docs/stream-format.md).
 *
 * A record is u8 type, three zero bytes, u32 payload length, the CRC-32C
 * of the payload and that of the header's first 12 bytes, then the
 * payload (format 1 had no checksums). A header is trusted only once its
 * own checksum matches, so a flipped bit in a length is reported as
 * corruption, not as a stream cut short.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "crc32c.h"
#include "stream.h"

#define REC_HEADER_1 8u	 /* format 1: type, zeros, length */
#define HEAD_CRC_LEN 12u /* the bytes the header's own CRC covers */

uint32_t stream_header_size(uint32_t format)
{
	return format == 1 ? REC_HEADER_1 : REC_HEADER;
}

uint32_t stream_writer_format(const struct snap_writer *w)
{
	return w->format ? w->format : SNAPSHOT_FORMAT;
}

/*
 * The seconds of a migration socket's SO_RCVTIMEO or SO_SNDTIMEO (set by
 * core/migration.c), for a message about a peer that went silent.
 */
unsigned int stream_timeout(int fd, int opt)
{
	struct timeval tv = { 0 };
	socklen_t len = sizeof(tv);

	getsockopt(fd, SOL_SOCKET, opt, &tv, &len);
	return (unsigned int)tv.tv_sec;
}

/* Writing ---------------------------------------------------------------- */

/*
 * Waits until a stream's peer takes data again, for the socket's
 * SO_SNDTIMEO at most. (A blocking write with SO_SNDTIMEO returns what
 * it took once that time is up, and the next one waits again: a peer
 * that stopped would be given up on after two or three times it.)
 */
static int writer_wait(struct snap_writer *w, GError **error)
{
	unsigned int t = stream_timeout(w->fd, SO_SNDTIMEO);
	struct pollfd pfd = { .fd = w->fd, .events = POLLOUT };
	int r = poll(&pfd, 1, t ? (int)MIN(t, G_MAXINT / 1000) * 1000 : -1);

	if (r > 0 || (r < 0 && errno == EINTR))
		return 0;
	if (!r)
		return error_setf(error, ETIMEDOUT,
				  "%s: writing at byte %" G_GUINT64_FORMAT
				  ": the peer took nothing for %u s",
				  w->what, w->bytes, t);
	return error_setf(error, errno, "%s: poll: %s", w->what,
			  g_strerror(errno));
}

int stream_write(struct snap_writer *w, const void *buf, size_t len,
		 GError **error)
{
	const uint8_t *p = buf;
	int sock = !w->align; /* a stream; a file is written aligned */

	while (len) {
		ssize_t n;
		int e, r;

		if (w->io) {
			n = w->io->write(w->io, p, len);
			e = n < 0 ? (int)-n : 0;
		} else {
			n = sock ? send(w->fd, p, len, MSG_DONTWAIT)
				 : write(w->fd, p, len);
			e = n < 0 ? errno : 0;
			if (e == ENOTSOCK && sock) {
				sock = 0;
				continue;
			}
		}
		if (e == EINTR)
			continue;
		/* The peer's buffer is full: wait for it to take some. */
		if ((sock || w->io) && (e == EAGAIN || e == EWOULDBLOCK)) {
			r = writer_wait(w, error);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return error_setf(error, e, "%s: writing: %s", w->what,
					  g_strerror(e));
		p += n;
		len -= (size_t)n;
		w->bytes += (uint64_t)n;
	}
	return 0;
}

/* One record: the header, then `a` and `b` (either may be empty). */
int stream_write_record(struct snap_writer *w, uint8_t type, const void *a,
			  size_t alen, const void *b, size_t blen,
			  GError **error)
{
	uint8_t head[REC_HEADER] = { type };
	uint32_t format = stream_writer_format(w);
	int r;

	le32_put(head + 4, (uint32_t)(alen + blen));
	if (format >= 2) {
		le32_put(head + 8, crc32c(crc32c(0, a, alen), b, blen));
		le32_put(head + 12, crc32c(0, head, HEAD_CRC_LEN));
	}
	r = stream_write(w, head, stream_header_size(format), error);
	if (!r && alen)
		r = stream_write(w, a, alen, error);
	if (!r && blen)
		r = stream_write(w, b, blen, error);
	if (!r && w->sent)
		w->sent(w, type, a, alen + blen);
	return r;
}

const char *stream_record_name(uint8_t type)
{
	static const char *const names[] = {
		[SNAP_HELLO] = "HELLO",
		[SNAP_MANIFEST] = "MANIFEST",
		[SNAP_CONFIG] = "CONFIG",
		[SNAP_RAM] = "RAM",
		[SNAP_RAM_ZERO] = "RAM_ZERO",
		[SNAP_CPU] = "CPU",
		[SNAP_VM] = "VM",
		[SNAP_DEVICE] = "DEVICE",
		[SNAP_END] = "END",
		[SNAP_VERDICT] = "VERDICT",
		[SNAP_COMPLETE] = "COMPLETE",
		[SNAP_PAD] = "PAD",
		[SNAP_COMMIT] = "COMMIT",
		[SNAP_RUNNING] = "RUNNING",
	};

	return type < G_N_ELEMENTS(names) && names[type] ? names[type]
							 : "unknown";
}

/*
 * The fields of a record header `h` read at `at`, of a file or a stream
 * (which have no PAD, but VERDICT and COMPLETE). From format 2 on, the
 * header's own checksum is checked first: a length or type is used only
 * once it is known to be the one written.
 */
int stream_parse_header(const char *what, uint32_t format, const uint8_t *h,
			size_t at, int file, struct snap_record *rec,
			GError **error)
{
	int known;

	rec->at = at;
	rec->data_at = at + stream_header_size(format);
	rec->type = h[0];
	rec->len = le32_get(h + 4);
	rec->crc = format >= 2 ? le32_get(h + 8) : 0;
	if (format >= 2) {
		uint32_t want = le32_get(h + HEAD_CRC_LEN);
		uint32_t got = crc32c(0, h, HEAD_CRC_LEN);

		if (got != want)
			return error_setf(error, EBADMSG,
					  "%s: offset %zu: record header (as "
					  "read: %s, %u bytes) has checksum "
					  "0x%08x, but carries 0x%08x (corrupt "
					  "or altered)",
					  what, at, stream_record_name(rec->type),
					  rec->len, got, want);
	}
	/* A captured source stream ends with COMMIT after END. */
	known = file ? rec->type <= SNAP_END || rec->type == SNAP_PAD ||
			       rec->type == SNAP_COMMIT
		     : rec->type <= SNAP_RUNNING && rec->type != SNAP_PAD;
	if (h[1] || h[2] || h[3] || !rec->type || !known)
		return error_setf(error, EINVAL,
				  "%s: offset %zu: not a record header "
				  "(type %u)",
				  what, at, h[0]);
	if (rec->len > SNAPSHOT_RECORD_MAX)
		return error_setf(error, EFBIG,
				  "%s: offset %zu: %s record of %u bytes, "
				  "more than %u",
				  what, at, stream_record_name(rec->type), rec->len,
				  SNAPSHOT_RECORD_MAX);
	return 0;
}

/* The payload against the checksum its header carries (format 2 on). */
int stream_check_payload(const char *what, uint32_t format, const uint8_t *h,
			 const struct snap_record *rec, GError **error)
{
	struct snap_record r = *rec;

	if (format < 2)
		return 0;
	r.crc = le32_get(h + 8);
	return stream_check_crc(what, format, &r,
				crc32c(0, rec->data, rec->len), error);
}

int stream_check_crc(const char *what, uint32_t format,
		     const struct snap_record *rec, uint32_t got,
		     GError **error)
{
	uint32_t want = rec->crc;

	if (format < 2)
		return 0;
	if (got != want)
		return error_setf(error, EBADMSG,
				  "%s: offset %zu: %s record of %u bytes has "
				  "checksum 0x%08x, but its header carries "
				  "0x%08x (corrupt or altered)",
				  what, rec->at, stream_record_name(rec->type),
				  rec->len, got, want);
	return 0;
}

/*
 * Waits until a layered stream's socket has data, for its SO_RCVTIMEO at
 * most (the layer's socket does not block, so the timeout is not the
 * kernel's): -ETIMEDOUT when the peer sent nothing for that long.
 */
static int r_wait(int fd)
{
	unsigned int t = stream_timeout(fd, SO_RCVTIMEO);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r = poll(&pfd, 1, t ? (int)MIN(t, G_MAXINT / 1000) * 1000 : -1);

	if (r > 0 || (r < 0 && errno == EINTR))
		return 0;
	return r ? -errno : -ETIMEDOUT;
}

int stream_read_full(int fd, struct stream_io *io, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n;
		int r;

		if (io) {
			n = io->read(io, p, len);
			if (n == -EAGAIN) {
				r = r_wait(fd);
				if (r < 0)
					return r;
				continue;
			}
			if (n == -EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? (int)n : -EPIPE;
		} else {
			n = read(fd, p, len);
			if (n < 0 && errno == EINTR)
				continue;
			/* SO_RCVTIMEO ran out: the peer sent nothing for
			 * that long. */
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return -ETIMEDOUT;
			if (n <= 0)
				return n < 0 ? -errno : -EPIPE;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int stream_peer_gone(int fd, struct stream_io *io)
{
	uint8_t b;
	ssize_t n;

	if (io)
		return io->gone(io);
	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
		return -EPIPE;
	return 0;
}

void stream_close(int fd, struct stream_io *io)
{
	if (io)
		io->close(io);
	else if (fd >= 0)
		close(fd);
}

int stream_read_record(int fd, struct stream_io *io, const char *what,
		       uint32_t format, size_t *offset, GByteArray *buf,
		       struct snap_record *rec, GError **error)
{
	uint8_t h[REC_HEADER];
	int r;

	r = stream_read_full(fd, io, h, stream_header_size(format));
	if (r < 0)
		return error_setf(error, -r,
				  "%s: offset %zu: the stream ended before a "
				  "record header%s%s",
				  what, *offset, r == -EPIPE ? "" : ": ",
				  r == -EPIPE ? "" : g_strerror(-r));
	r = stream_parse_header(what, format, h, *offset, 0, rec, error);
	if (r < 0)
		return r;
	g_byte_array_set_size(buf, rec->len);
	r = stream_read_full(fd, io, buf->data, rec->len);
	if (r < 0)
		return error_setf(error, -r,
				  "%s: offset %zu: the stream ended inside a "
				  "%s record of %u bytes",
				  what, *offset, stream_record_name(rec->type),
				  rec->len);
	rec->data = buf->data;
	r = stream_check_payload(what, format, h, rec, error);
	if (r < 0)
		return r;
	*offset += stream_header_size(format) + rec->len;
	return 0;
}
