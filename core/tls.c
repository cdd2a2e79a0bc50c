// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/tls.c - TLS for migration connections, through GIO (glib-networking
 * with GnuTLS): the certificates of a directory, the handshake, and the
 * layer through which the migration code then reads and writes its
 * records (core/stream.c's struct stream_io; docs/security.md).
 *
 * Invariants:
 * - Handshakes run on one thread of their own ("tls", of the main kind).
 *   glib-networking runs them on GLib's shared worker threads, which
 *   inherit the system call filter of the thread that makes them: made
 *   from a migration thread, they would carry its narrow list into work
 *   that is not a migration's. The migration threads only hand a
 *   connected socket over and wait for the outcome.
 * - After the handshake, the connection is the migration thread's alone:
 *   it reads and writes it without waiting (GnuTLS's record layer over
 *   the non-blocking socket), and waits on the socket itself, with the
 *   socket's timeouts; a shutdown() of the socket (a cancel) ends those
 *   waits as it does in plaintext. Under it, the socket is read ahead and
 *   written in large pieces; a write returns once its bytes have left
 *   for the socket, so nothing waits in a buffer while the thread waits
 *   for the peer.
 * - Files are read when the certificates are loaded, on a thread that
 *   may open files, never during a migration.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "base/error.h"
#include "sandbox.h"
#include "stream.h"
#include "tls.h"

struct tls_creds {
	gint refs;
	char *dir;
	GTlsDatabase *ca;
	GTlsCertificate *client; /* NULL: this directory has none */
	GTlsCertificate *server;
};

/* The thread every TLS connection lives on. */
static struct {
	GMutex lock;
	GMainContext *ctx;
	GThread *thread;
} svc;

/* Loading ---------------------------------------------------------------- */

static gpointer tls_thread(gpointer data)
{
	(void)data;
	sandbox_enter_or_die(SANDBOX_MAIN);
	g_main_context_push_thread_default(svc.ctx);
	for (;;)
		g_main_context_iteration(svc.ctx, TRUE);
	return NULL;
}

static int load_pair(struct tls_creds *c, const char *role,
		     GTlsCertificate **ret, int needed, GError **error)
{
	g_autofree char *cert = g_strdup_printf("%s/%s-cert.pem", c->dir, role);
	g_autofree char *key = g_strdup_printf("%s/%s-key.pem", c->dir, role);
	GError *err = NULL;

	if (!g_file_test(cert, G_FILE_TEST_EXISTS) && !needed)
		return 0;
	*ret = g_tls_certificate_new_from_files(cert, key, &err);
	if (*ret)
		return 0;
	error_setf(error, EINVAL, "migration TLS: %s, %s: %s", cert, key,
		   err->message);
	g_error_free(err);
	return -EINVAL;
}

int tls_creds_load(const char *dir, unsigned int need, struct tls_creds **ret,
		   GError **error)
{
	g_autofree char *ca = g_strdup_printf("%s/ca-cert.pem", dir);
	struct tls_creds *c;
	GError *err = NULL;
	int r;

	/* Loads the GIO modules, glib-networking's among them. */
	if (!g_tls_backend_supports_tls(g_tls_backend_get_default()))
		return error_setf(error, ENOTSUP,
				  "migration TLS: GIO has no TLS backend "
				  "(install glib-networking)");
	c = g_new0(struct tls_creds, 1);
	c->refs = 1;
	c->dir = g_strdup(dir);
	c->ca = g_tls_file_database_new(ca, &err);
	if (!c->ca) {
		error_setf(error, EINVAL, "migration TLS: %s: %s", ca,
			   err->message);
		g_error_free(err);
		tls_creds_unref(c);
		return -EINVAL;
	}
	r = load_pair(c, "client", &c->client, need & TLS_NEED_CLIENT, error);
	if (!r)
		r = load_pair(c, "server", &c->server, need & TLS_NEED_SERVER,
			      error);
	if (r < 0) {
		tls_creds_unref(c);
		return r;
	}
	g_mutex_lock(&svc.lock);
	if (!svc.thread) {
		/*
		 * GLib's idle worker threads end at once instead of waiting
		 * for more work: the handshakes' workers hold GnuTLS's
		 * thread-local state, which LeakSanitizer cannot walk in a
		 * thread still there at exit (ASan builds end in a fatal
		 * error otherwise), and a migration needs them seldom.
		 */
		g_thread_pool_set_max_unused_threads(0);
		svc.ctx = g_main_context_new();
		svc.thread = g_thread_new("tls", tls_thread, NULL);
	}
	g_mutex_unlock(&svc.lock);
	*ret = c;
	return 0;
}

#ifdef ASAN_BUILD
/* Whether a GLib worker thread ("pool-...") is still there. */
static int workers_left(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/task", 0, NULL);
	const char *t;
	int n = 0;

	while (dir && (t = g_dir_read_name(dir))) {
		g_autofree char *path =
			g_strdup_printf("/proc/self/task/%s/comm", t);
		g_autofree char *comm = NULL;

		if (g_file_get_contents(path, &comm, NULL, NULL) &&
		    g_str_has_prefix(comm, "pool"))
			n++;
	}
	return n;
}
#endif

void tls_shutdown(void)
{
#ifdef ASAN_BUILD
	/*
	 * LeakSanitizer's check at exit crashes on the thread-local state
	 * GnuTLS leaves in a GLib worker that ran a handshake, while that
	 * worker is still there. A worker waits half a second for more
	 * work of its pool before it counts as unused and can be stopped.
	 */
	for (int i = 0; svc.thread && i < 100 && workers_left(); i++) {
		g_thread_pool_stop_unused_threads();
		g_usleep(20000);
	}
#endif
}

struct tls_creds *tls_creds_ref(struct tls_creds *c)
{
	if (c)
		g_atomic_int_inc(&c->refs);
	return c;
}

void tls_creds_unref(struct tls_creds *c)
{
	if (!c || !g_atomic_int_dec_and_test(&c->refs))
		return;
	g_clear_object(&c->ca);
	g_clear_object(&c->client);
	g_clear_object(&c->server);
	g_free(c->dir);
	g_free(c);
}

const char *tls_creds_dir(const struct tls_creds *c)
{
	return c->dir;
}

/* Reading ahead ---------------------------------------------------------- */

/*
 * The socket's input under a TLS connection, read in large pieces.
 * GnuTLS asks its transport for each record's header and then its body,
 * two reads of the socket for each 16 KiB: this takes what the socket
 * has, up to READ_AHEAD, in one, and hands it out from memory. The rest
 * (a blocking read during the handshake, a wait) goes to the socket's
 * own stream; a wait is needed only once what was read ahead is taken.
 */
#define READ_AHEAD (256u << 10)

typedef struct {
	GInputStream parent;
	GPollableInputStream *base; /* the socket's */
	uint8_t *buf;
	size_t at, len;
} BulkInput;

typedef struct {
	GInputStreamClass parent_class;
} BulkInputClass;

GType bulk_input_get_type(void);
static void bulk_input_pollable_init(GPollableInputStreamInterface *iface);
G_DEFINE_TYPE_WITH_CODE(BulkInput, bulk_input, G_TYPE_INPUT_STREAM,
			G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM,
					      bulk_input_pollable_init))

static gssize bulk_take(BulkInput *b, void *buf, gsize count)
{
	gsize n = MIN(count, b->len);

	memcpy(buf, b->buf + b->at, n);
	b->at += n;
	b->len -= n;
	return (gssize)n;
}

static gssize bulk_read(GInputStream *stream, void *buf, gsize count,
			GCancellable *cancel, GError **error)
{
	BulkInput *b = (BulkInput *)stream;

	if (b->len)
		return bulk_take(b, buf, count);
	return g_input_stream_read(G_INPUT_STREAM(b->base), buf, count, cancel,
				   error);
}

static gboolean bulk_close(GInputStream *stream, GCancellable *cancel,
			   GError **error)
{
	BulkInput *b = (BulkInput *)stream;

	return g_input_stream_close(G_INPUT_STREAM(b->base), cancel, error);
}

static gboolean bulk_can_poll(GPollableInputStream *stream)
{
	(void)stream;
	return TRUE;
}

static gboolean bulk_is_readable(GPollableInputStream *stream)
{
	BulkInput *b = (BulkInput *)stream;

	return b->len || g_pollable_input_stream_is_readable(b->base);
}

static GSource *bulk_create_source(GPollableInputStream *stream,
				   GCancellable *cancel)
{
	BulkInput *b = (BulkInput *)stream;
	GSource *child =
		b->len ? g_timeout_source_new(0)
		       : g_pollable_input_stream_create_source(b->base, NULL);
	GSource *src = g_pollable_source_new_full(stream, child, cancel);

	g_source_unref(child);
	return src;
}

static gssize bulk_read_nonblocking(GPollableInputStream *stream, void *buf,
				    gsize count, GError **error)
{
	BulkInput *b = (BulkInput *)stream;
	gssize n;

	if (!b->len) {
		n = g_pollable_input_stream_read_nonblocking(
			b->base, b->buf, READ_AHEAD, NULL, error);
		if (n <= 0)
			return n;
		b->at = 0;
		b->len = (size_t)n;
	}
	return bulk_take(b, buf, count);
}

static void bulk_input_finalize(GObject *obj)
{
	BulkInput *b = (BulkInput *)obj;

	g_object_unref(b->base);
	g_free(b->buf);
	G_OBJECT_CLASS(bulk_input_parent_class)->finalize(obj);
}

static void bulk_input_class_init(BulkInputClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = bulk_input_finalize;
	G_INPUT_STREAM_CLASS(klass)->read_fn = bulk_read;
	G_INPUT_STREAM_CLASS(klass)->close_fn = bulk_close;
}

static void bulk_input_pollable_init(GPollableInputStreamInterface *iface)
{
	iface->can_poll = bulk_can_poll;
	iface->is_readable = bulk_is_readable;
	iface->create_source = bulk_create_source;
	iface->read_nonblocking = bulk_read_nonblocking;
}

static void bulk_input_init(BulkInput *b)
{
	b->buf = g_malloc(READ_AHEAD);
}

/*
 * Its output, once the handshake is done (`on`): the records GnuTLS
 * writes, one at a time, gather here and go out in one send when
 * tls_write() has handed over all it was given, or when WRITE_AHEAD is
 * full. Before (the handshake's writes, on GLib's workers) it is the
 * socket's stream as it is.
 */
#define WRITE_AHEAD (256u << 10)

typedef struct {
	GOutputStream parent;
	GPollableOutputStream *base; /* the socket's */
	uint8_t *buf;
	size_t len;
	int on;
} BulkOutput;

typedef struct {
	GOutputStreamClass parent_class;
} BulkOutputClass;

GType bulk_output_get_type(void);
static void bulk_output_pollable_init(GPollableOutputStreamInterface *iface);
G_DEFINE_TYPE_WITH_CODE(BulkOutput, bulk_output, G_TYPE_OUTPUT_STREAM,
			G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_OUTPUT_STREAM,
					      bulk_output_pollable_init))

/* What was gathered, to the socket: 0, -EAGAIN (some is left), -EPIPE. */
static int bulk_flush(BulkOutput *b)
{
	size_t at = 0;
	int r = 0;

	while (at < b->len) {
		g_autoptr(GError) err = NULL;
		gssize n = g_pollable_output_stream_write_nonblocking(
			b->base, b->buf + at, b->len - at, NULL, &err);

		if (n < 0) {
			r = g_error_matches(err, G_IO_ERROR,
					    G_IO_ERROR_WOULD_BLOCK)
				    ? -EAGAIN
				    : -EPIPE;
			break;
		}
		at += (size_t)n;
	}
	memmove(b->buf, b->buf + at, b->len - at);
	b->len -= at;
	return r;
}

static gssize bulk_write(GOutputStream *stream, const void *buf, gsize count,
			 GCancellable *cancel, GError **error)
{
	BulkOutput *b = (BulkOutput *)stream;

	/* Only the handshake writes so; nothing is gathered then. */
	return g_output_stream_write(G_OUTPUT_STREAM(b->base), buf, count,
				     cancel, error);
}

static gboolean bulk_out_close(GOutputStream *stream, GCancellable *cancel,
			       GError **error)
{
	BulkOutput *b = (BulkOutput *)stream;

	return g_output_stream_close(G_OUTPUT_STREAM(b->base), cancel, error);
}

static gboolean bulk_out_can_poll(GPollableOutputStream *stream)
{
	(void)stream;
	return TRUE;
}

static gboolean bulk_is_writable(GPollableOutputStream *stream)
{
	BulkOutput *b = (BulkOutput *)stream;

	return (b->on && b->len < WRITE_AHEAD) ||
	       g_pollable_output_stream_is_writable(b->base);
}

static GSource *bulk_out_create_source(GPollableOutputStream *stream,
				       GCancellable *cancel)
{
	BulkOutput *b = (BulkOutput *)stream;
	GSource *child = g_pollable_output_stream_create_source(b->base, NULL);
	GSource *src = g_pollable_source_new_full(stream, child, cancel);

	g_source_unref(child);
	return src;
}

static gssize bulk_write_nonblocking(GPollableOutputStream *stream,
				     const void *buf, gsize count,
				     GError **error)
{
	BulkOutput *b = (BulkOutput *)stream;
	gsize n;

	if (!b->on)
		return g_pollable_output_stream_write_nonblocking(
			b->base, buf, count, NULL, error);
	if (b->len == WRITE_AHEAD && bulk_flush(b) == -EPIPE) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
				    "the connection ended");
		return -1;
	}
	if (b->len == WRITE_AHEAD) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
				    "the socket is full");
		return -1;
	}
	n = MIN(count, WRITE_AHEAD - b->len);
	memcpy(b->buf + b->len, buf, n);
	b->len += n;
	return (gssize)n;
}

static void bulk_output_finalize(GObject *obj)
{
	BulkOutput *b = (BulkOutput *)obj;

	g_object_unref(b->base);
	g_free(b->buf);
	G_OBJECT_CLASS(bulk_output_parent_class)->finalize(obj);
}

static void bulk_output_class_init(BulkOutputClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = bulk_output_finalize;
	G_OUTPUT_STREAM_CLASS(klass)->write_fn = bulk_write;
	G_OUTPUT_STREAM_CLASS(klass)->close_fn = bulk_out_close;
}

static void bulk_output_pollable_init(GPollableOutputStreamInterface *iface)
{
	iface->can_poll = bulk_out_can_poll;
	iface->is_writable = bulk_is_writable;
	iface->create_source = bulk_out_create_source;
	iface->write_nonblocking = bulk_write_nonblocking;
}

static void bulk_output_init(BulkOutput *b)
{
	b->buf = g_malloc(WRITE_AHEAD);
}

/* A socket connection's streams, read and written in large pieces. */
static GIOStream *bulk_stream(GSocketConnection *conn, BulkOutput **ret_out)
{
	GIOStream *io = G_IO_STREAM(conn);
	BulkInput *in = g_object_new(bulk_input_get_type(), NULL);
	BulkOutput *out = g_object_new(bulk_output_get_type(), NULL);
	GIOStream *s;

	in->base = g_object_ref(
		G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(io)));
	out->base = g_object_ref(
		G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(io)));
	s = g_simple_io_stream_new(G_INPUT_STREAM(in), G_OUTPUT_STREAM(out));
	g_object_unref(in);
	g_object_unref(out);
	/* The connection's streams are its own: it lives as long. */
	g_object_set_data_full(G_OBJECT(s), "connection", g_object_ref(conn),
			       g_object_unref);
	*ret_out = out;
	return s;
}

/* The record I/O ---------------------------------------------------------- */

/*
 * A connection after its handshake, read and written by the migration
 * thread that owns it (core/stream.c's layer): GnuTLS encrypts and
 * decrypts on that thread, with that thread's system call filter (reads,
 * writes and polls of a socket it already has), and no byte is copied
 * through another thread.
 */
struct tls_io {
	struct stream_io io;
	GIOStream *tls;
	GSocket *sock; /* the TCP connection under it */
	GPollableInputStream *in;
	GPollableOutputStream *out;
	BulkOutput *sent; /* under it: what GnuTLS wrote, not yet sent */
	size_t owed;	  /* handed over, not yet reported (a flush waits) */
	/* Read by tls_gone() to see whether the peer ended: read first. */
	uint8_t held[4096];
	size_t held_at, held_len;
	int ended; /* the peer's end, or a TLS error, was read */
};

/* Clears a would-block error; 0 for any other (or none). */
static int would_block(GError **err)
{
	if (!g_error_matches(*err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
		return 0;
	g_clear_error(err);
	return 1;
}

/*
 * What the socket has, decrypted. The peer's end, a cut, a forged record
 * or an unclean close all show as the end of the stream, which the
 * migration's own records judge (a record cut short, or none where one
 * was due).
 */
static ssize_t tls_read(struct stream_io *io, void *buf, size_t len)
{
	struct tls_io *t = (struct tls_io *)io;
	g_autoptr(GError) err = NULL;
	gssize n;

	if (t->held_len) {
		n = (gssize)MIN(len, t->held_len);
		memcpy(buf, t->held + t->held_at, (size_t)n);
		t->held_at += (size_t)n;
		t->held_len -= (size_t)n;
		return n;
	}
	if (t->ended)
		return 0;
	n = g_pollable_input_stream_read_nonblocking(t->in, buf, len, NULL,
						     &err);
	if (n > 0)
		return n;
	if (n < 0 && would_block(&err))
		return -EAGAIN;
	t->ended = 1;
	return 0;
}

/*
 * As many records as go out now, each of 16 KiB at most, and then sent:
 * what is reported written has left for the socket. A flush that must
 * wait reports nothing yet; the caller offers the same bytes again after
 * its wait, and hears then of those already handed over.
 */
static ssize_t tls_write(struct stream_io *io, const void *buf, size_t len)
{
	struct tls_io *t = (struct tls_io *)io;
	ssize_t ret = 0;
	int r;

	if (!t->owed) {
		while ((size_t)ret < len) {
			g_autoptr(GError) err = NULL;
			/*
			 * After a would-block, the caller offers the same
			 * bytes again, as GnuTLS needs: what is counted is
			 * only records handed over whole.
			 */
			gssize n = g_pollable_output_stream_write_nonblocking(
				t->out, (const uint8_t *)buf + ret,
				len - (size_t)ret, NULL, &err);

			if (n < 0) {
				if (!would_block(&err))
					return -EPIPE;
				break;
			}
			ret += n;
		}
		t->owed = (size_t)ret;
	}
	r = bulk_flush(t->sent);
	if (r < 0)
		return r;
	ret = (ssize_t)t->owed;
	t->owed = 0;
	return ret ? ret : -EAGAIN;
}

/*
 * Whether the peer ended: a peek at the socket would see its close_notify
 * or any other record as data, so a record is read, and what it held is
 * kept for the next read.
 */
static int tls_gone(struct stream_io *io)
{
	struct tls_io *t = (struct tls_io *)io;
	ssize_t n;

	if (t->held_len)
		return 0;
	n = tls_read(io, t->held, sizeof(t->held));
	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		return -EPIPE;
	t->held_at = 0;
	t->held_len = (size_t)n;
	return 0;
}

static void tls_close(struct stream_io *io)
{
	struct tls_io *t = (struct tls_io *)io;

	/*
	 * The socket first: closing the TLS connection would otherwise
	 * wait to send its close_notify to a peer that may take nothing.
	 */
	g_socket_close(t->sock, NULL);
	g_object_unref(t->sock);
	g_object_unref(t->tls);
	g_free(t);
}

/* The handshake ---------------------------------------------------------- */

/* A migration thread's request, answered on the TLS thread. */
struct wrap {
	struct tls_creds *c;
	int fd;
	const char *host; /* NULL: the server */
	uint32_t timeout;
	GIOStream *tls;
	GSocket *sock;
	BulkOutput *sent; /* the output under tls */
	GCancellable *cancel;
	GSource *timer;
	GTlsCertificateFlags bad; /* what the peer's certificate failed */
	int timed_out;
	/* The answer. */
	GMutex lock;
	GCond cond;
	int done, ret;
	struct stream_io *io;
	GError *error;
};

static void wrap_answer(struct wrap *w, int ret)
{
	if (w->timer) {
		g_source_destroy(w->timer);
		g_clear_pointer(&w->timer, g_source_unref);
	}
	g_clear_object(&w->cancel);
	g_mutex_lock(&w->lock);
	w->ret = ret;
	w->done = 1;
	g_cond_signal(&w->cond);
	g_mutex_unlock(&w->lock);
}

/* What was wrong with the peer's certificate, in a user's words. */
static char *describe_bad(const struct wrap *w)
{
	const char *peer = w->host ? "the destination's" : "the source's";
	GString *s = g_string_new(NULL);

	if (w->bad & G_TLS_CERTIFICATE_UNKNOWN_CA)
		g_string_append_printf(s,
				       "; %s certificate is not signed by "
				       "the CA of %s/ca-cert.pem",
				       peer, w->c->dir);
	if (w->bad & G_TLS_CERTIFICATE_BAD_IDENTITY)
		g_string_append_printf(s,
				       "; %s certificate is not issued for "
				       "'%s'",
				       peer, w->host);
	if (w->bad & G_TLS_CERTIFICATE_EXPIRED)
		g_string_append_printf(s, "; %s certificate has expired", peer);
	if (w->bad & G_TLS_CERTIFICATE_NOT_ACTIVATED)
		g_string_append_printf(s, "; %s certificate is not valid yet",
				       peer);
	if (w->bad & G_TLS_CERTIFICATE_REVOKED)
		g_string_append_printf(s, "; %s certificate is revoked", peer);
	if (w->bad & G_TLS_CERTIFICATE_INSECURE)
		g_string_append_printf(s,
				       "; %s certificate uses an insecure "
				       "algorithm",
				       peer);
	if (!s->len)
		g_string_append_printf(s, "; %s certificate is not valid",
				       peer);
	return g_string_free(s, FALSE);
}

static gboolean accept_certificate(GTlsConnection *conn, GTlsCertificate *cert,
				   GTlsCertificateFlags errors, gpointer data)
{
	struct wrap *w = data;

	(void)conn;
	(void)cert;
	w->bad |= errors;
	/*
	 * A client hears of its peer's certificate only when it failed a
	 * check; a server hears of every one, and takes those that passed.
	 */
	return !errors;
}

static gboolean handshake_timeout(gpointer data)
{
	struct wrap *w = data;

	w->timed_out = 1;
	g_cancellable_cancel(w->cancel);
	g_clear_pointer(&w->timer, g_source_unref);
	return G_SOURCE_REMOVE;
}

static void handshake_done(GObject *obj, GAsyncResult *res, gpointer data)
{
	struct wrap *w = data;
	g_autoptr(GError) err = NULL;
	const char *peer = w->host ? "the destination" : "the source";
	struct tls_io *t;
	BulkOutput *sent = w->sent;

	if (!g_tls_connection_handshake_finish(G_TLS_CONNECTION(obj), res,
					       &err)) {
		g_autofree char *why = describe_bad(w);

		if (w->bad)
			error_setf(&w->error, EACCES,
				   "TLS handshake with %s refused%s", peer,
				   why);
		else if (w->timed_out)
			error_setf(&w->error, ETIMEDOUT,
				   "TLS handshake with %s: no answer within "
				   "%u s",
				   peer, w->timeout);
		else
			error_setf(&w->error, EPROTO,
				   "TLS handshake with %s failed (%s): does "
				   "it use TLS, with certificates of the same "
				   "CA?",
				   peer, err->message);
		g_socket_close(w->sock, NULL);
		g_clear_object(&w->tls);
		g_clear_object(&w->sock);
		wrap_answer(w, -(w->error->code));
		return;
	}
	t = g_new0(struct tls_io, 1);
	t->io.read = tls_read;
	t->io.write = tls_write;
	t->io.gone = tls_gone;
	t->io.close = tls_close;
	g_signal_handlers_disconnect_by_data(w->tls, w);
	t->tls = g_steal_pointer(&w->tls);
	t->sock = g_steal_pointer(&w->sock);
	t->in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(t->tls));
	t->out =
		G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(t->tls));
	t->sent = sent;
	sent->on = 1;
	w->io = &t->io;
	wrap_answer(w, 0);
}

static gboolean wrap_start(gpointer data)
{
	struct wrap *w = data;
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GIOStream) base = NULL;
	g_autoptr(GSocketConnectable) id = NULL;
	g_autoptr(GError) err = NULL;

	w->sock = g_socket_new_from_fd(w->fd, &err);
	if (!w->sock) {
		close(w->fd);
		error_setf(&w->error, EINVAL, "TLS: %s", err->message);
		wrap_answer(w, -EINVAL);
		return G_SOURCE_REMOVE;
	}
	conn = g_socket_connection_factory_create_connection(w->sock);
	base = bulk_stream(conn, &w->sent);
	if (w->host) {
		id = g_network_address_new(w->host, 0);
		w->tls = g_tls_client_connection_new(base, id, &err);
		if (w->tls)
			g_tls_connection_set_certificate(
				G_TLS_CONNECTION(w->tls), w->c->client);
	} else {
		w->tls = g_tls_server_connection_new(base, w->c->server, &err);
		if (w->tls)
			g_object_set(w->tls, "authentication-mode",
				     G_TLS_AUTHENTICATION_REQUIRED, NULL);
	}
	if (!w->tls) {
		error_setf(&w->error, EINVAL, "TLS: %s", err->message);
		g_socket_close(w->sock, NULL);
		g_clear_object(&w->sock);
		wrap_answer(w, -EINVAL);
		return G_SOURCE_REMOVE;
	}
	g_tls_connection_set_database(G_TLS_CONNECTION(w->tls), w->c->ca);
	g_signal_connect(w->tls, "accept-certificate",
			 G_CALLBACK(accept_certificate), w);
	w->cancel = g_cancellable_new();
	if (w->timeout) {
		w->timer = g_timeout_source_new_seconds(w->timeout);
		g_source_set_callback(w->timer, handshake_timeout, w, NULL);
		g_source_attach(w->timer, svc.ctx);
	}
	g_tls_connection_handshake_async(G_TLS_CONNECTION(w->tls),
					 G_PRIORITY_DEFAULT, w->cancel,
					 handshake_done, w);
	return G_SOURCE_REMOVE;
}

int tls_wrap(struct tls_creds *c, int fd, const char *host, uint32_t timeout,
	     struct stream_io **ret, GError **error)
{
	struct wrap w = { .c = c, .fd = fd, .host = host, .timeout = timeout };
	const char *file = host ? "client" : "server";
	GSource *src;

	if (!(host ? c->client : c->server)) {
		close(fd);
		return error_setf(error, ENOENT,
				  "TLS: %s/%s-cert.pem: no such file (a %s "
				  "needs it)",
				  c->dir, file,
				  host ? "source" : "destination");
	}
	g_mutex_init(&w.lock);
	g_cond_init(&w.cond);
	src = g_idle_source_new();
	g_source_set_callback(src, wrap_start, &w, NULL);
	g_source_attach(src, svc.ctx);
	g_source_unref(src);
	g_mutex_lock(&w.lock);
	while (!w.done)
		g_cond_wait(&w.cond, &w.lock);
	g_mutex_unlock(&w.lock);
	g_mutex_clear(&w.lock);
	g_cond_clear(&w.cond);
	if (w.ret < 0)
		g_propagate_error(error, w.error);
	else
		*ret = w.io;
	return w.ret;
}
