/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_STREAM_H
#define CORE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <glib.h>

/*
 * Records of snapshot files and migration streams (docs/stream-format.md):
 * framing and checksums, and nothing of what they carry (core/snapshot.c).
 */

#define SNAPSHOT_FORMAT 2		/* written */
#define SNAPSHOT_FORMAT_OLDEST 1	/* read, without checksums */
#define SNAPSHOT_RECORD_MAX (64u << 20) /* bytes of one record's payload */
#define SNAPSHOT_HEAD_MAX (64u << 10)	/* HELLO and CONFIG */

enum snapshot_record {
	SNAP_HELLO = 1,
	SNAP_MANIFEST = 2,
	SNAP_CONFIG = 3,
	SNAP_RAM = 4,	   /* u64 offset, then whole pages */
	SNAP_RAM_ZERO = 5, /* u64 offset, u64 pages: all zero */
	SNAP_CPU = 6,	   /* u32 index, then a "kvm-cpu" section */
	SNAP_VM = 7,	   /* a "kvm-vm" section */
	SNAP_DEVICE = 8,   /* u8 id length, id, then the device's section */
	SNAP_END = 9,
	/* Live migration only, destination to source. */
	SNAP_VERDICT = 10,  /* JSON: "accepted", "verdict" (text) */
	SNAP_COMPLETE = 11, /* empty: everything loaded, COMMIT awaited */
	/* Files only: zeros, so that the next RAM record's pages start on
	 * a page boundary of the file (aligned reads on restore). */
	SNAP_PAD = 12,
	/* The end of a migration (docs/stream-format.md, "The commit"). */
	SNAP_COMMIT = 13,  /* source to destination, empty: run the guest */
	SNAP_RUNNING = 14, /* destination to source, empty: it runs here */
};

/* The end-phase protocol a peer speaks, in HELLO and VERDICT: "commit". */
#define SNAPSHOT_COMMIT 1

/*
 * A layer the bytes of a migration stream go through instead of its
 * socket's own reads and writes (TLS, core/tls.c); the records stay the
 * same. Each call moves what it can without waiting: a count, 0 at the
 * end of the stream (read), -EAGAIN when it has to wait for the socket
 * (readable for a read, writable for a write), or another negative
 * errno. The socket itself stays the caller's handle: its timeouts bound
 * the waits, and shutdown() on it (a cancel) ends them.
 */
struct stream_io {
	ssize_t (*read)(struct stream_io *io, void *buf, size_t len);
	ssize_t (*write)(struct stream_io *io, const void *buf, size_t len);
	/* -EPIPE when the peer has ended the stream, without taking data. */
	int (*gone)(struct stream_io *io);
	/* Closes the socket too. */
	void (*close)(struct stream_io *io);
};

/* Where records go: a file or a migration's socket. */
struct snap_writer {
	int fd;
	struct stream_io *io; /* NULL: fd's own writes */
	uint64_t bytes;	      /* written so far */
	const char *what;     /* names it in messages */
	int align;	      /* a file: RAM pages start page-aligned */
	/*
	 * Guest RAM cannot change while it is written (the machine is
	 * paused): pages are checksummed where they lie. Otherwise (a live
	 * migration round) each run of pages is copied first, so that the
	 * checksum is that of the bytes sent.
	 */
	int paused;
	uint32_t format; /* 0: SNAPSHOT_FORMAT */
	/*
	 * Told of each record once it is written (NULL: nobody), with its
	 * first part `a` and its payload's length; w->bytes counts it
	 * already. A migration's progress moves as records go out, not at
	 * the end of a round.
	 */
	void (*sent)(const struct snap_writer *w, uint8_t type, const void *a,
		     size_t len);
	void *opaque; /* for `sent` */
};

#define REC_HEADER 16u /* bytes of a record header, format 2 on */

/* The format a writer writes: w->format, or SNAPSHOT_FORMAT. */
uint32_t stream_writer_format(const struct snap_writer *w);
/* Bytes of a record header in `format`. */
uint32_t stream_header_size(uint32_t format);

/* Bytes as they are (a magic): all of them, or an error. */
int stream_write(struct snap_writer *w, const void *buf, size_t len,
		 GError **error);

/* One record: the header, then `a` and `b` (either may be empty). */
int stream_write_record(struct snap_writer *w, uint8_t type, const void *a,
			size_t alen, const void *b, size_t blen,
			GError **error);

/* A record as read: the payload lies in the file or in `buf`. */
struct snap_record {
	size_t at;	/* offset of its header in the stream */
	size_t data_at; /* offset of its payload */
	uint8_t type;
	const uint8_t *data;
	uint32_t len;
	uint32_t crc; /* format 2 on: the payload's CRC-32C, as carried */
};

/* "HELLO", "RAM", ...: a record type's name in messages. */
const char *stream_record_name(uint8_t type);

/*
 * The fields of a record header `h` read at offset `at`, of a file
 * (`file`: PAD allowed) or a stream (VERDICT and COMPLETE allowed): from
 * format 2 on, only once the header's own checksum is right.
 */
int stream_parse_header(const char *what, uint32_t format, const uint8_t *h,
			size_t at, int file, struct snap_record *rec,
			GError **error);

/* rec's payload against the checksum its header `h` carries. */
int stream_check_payload(const char *what, uint32_t format, const uint8_t *h,
			 const struct snap_record *rec, GError **error);
/*
 * The same for a payload the caller read in pieces and checksummed
 * itself: `got` is the CRC-32C of all rec->len bytes of it.
 */
int stream_check_crc(const char *what, uint32_t format,
		     const struct snap_record *rec, uint32_t got,
		     GError **error);

/*
 * Reads one record of `format` from a stream into `buf` (the peer has the
 * socket's timeouts for it); its checksums are checked before it is
 * returned. *offset counts the stream's bytes.
 */
int stream_read_record(int fd, struct stream_io *io, const char *what,
		       uint32_t format, size_t *offset, GByteArray *buf,
		       struct snap_record *rec, GError **error);

/*
 * `len` bytes from `fd` (through `io` when not NULL): 0, -ETIMEDOUT when
 * the socket's SO_RCVTIMEO ran out (the peer sent nothing for that
 * long), -EPIPE at its end.
 */
int stream_read_full(int fd, struct stream_io *io, void *buf, size_t len);

/*
 * -EPIPE when the peer of a stream has closed its end (nothing more will
 * come), 0 when it has not or data waits; takes nothing from the stream.
 */
int stream_peer_gone(int fd, struct stream_io *io);

/* Closes a stream: `io` with its socket, or else `fd`. */
void stream_close(int fd, struct stream_io *io);

/* The seconds of a socket's SO_RCVTIMEO or SO_SNDTIMEO, for messages. */
unsigned int stream_timeout(int fd, int opt);

static inline uint32_t le32_get(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return GUINT32_FROM_LE(v);
}

static inline void le32_put(uint8_t *p, uint32_t v)
{
	v = GUINT32_TO_LE(v);
	memcpy(p, &v, 4);
}

#endif
