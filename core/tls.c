// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/tls.c - TLS for migration connections, through GIO (glib-networking
 * with GnuTLS): the certificates of a directory, the handshake, and a relay
 * that gives the migration code a plain socket (docs/security.md).
 *
 * Invariants:
 * - Every TLS operation runs on one thread of its own ("tls", of the main
 *   kind). glib-networking runs handshakes on GLib's shared worker
 *   threads, which inherit the system call filter of the thread that
 *   makes them: made from a migration thread, they would carry its narrow
 *   list into work that is not a migration's. The migration threads only
 *   hand a connected socket over and wait for the outcome.
 * - Files are read when the certificates are loaded, on a thread that
 *   may open files, never during a migration.
 * - The record layer (core/stream.c) sees one end of a socket pair; the
 *   relay moves bytes between it and the TLS connection. Either side's end
 *   (or any TLS error) ends the relay and shows as the end of the stream
 *   on the other: a cut, a forged record or an unclean close all reach
 *   the migration as a stream that ended, which its own records judge.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "../compat/error.h"
#include "sandbox.h"
#include "tls.h"

#define RELAY_BUF (256u << 10) /* bytes buffered each way */

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

/* The relay -------------------------------------------------------------- */

/*
 * Owned by the TLS thread. `up` goes from the local socket to the peer,
 * `down` from the peer to the local socket; each waits on at most one
 * one-shot source per direction and side.
 */
struct relay {
	GIOStream *tls;
	GSocket *sock; /* the TCP connection under it */
	GPollableInputStream *in;
	GPollableOutputStream *out;
	int fd; /* the TLS thread's end of the pair */
	uint8_t *up, *down;
	size_t up_at, up_len, down_at, down_len;
	int up_eof, down_eof, shut;
	int gone;	  /* the local side closed its end */
	uint32_t timeout; /* s: how long what it sent may wait for the peer */
	GSource *fd_src, *in_src, *out_src, *end_src;
};

static void relay_arm(struct relay *r);

static void relay_free(struct relay *r)
{
	GSource **srcs[] = { &r->fd_src, &r->in_src, &r->out_src, &r->end_src };

	for (unsigned int i = 0; i < G_N_ELEMENTS(srcs); i++) {
		if (*srcs[i]) {
			g_source_destroy(*srcs[i]);
			g_source_unref(*srcs[i]);
			*srcs[i] = NULL;
		}
	}
	close(r->fd);
	/*
	 * The socket first: closing the TLS connection would otherwise
	 * wait to send its close_notify to a peer that may take nothing.
	 */
	g_socket_close(r->sock, NULL);
	g_object_unref(r->sock);
	g_object_unref(r->tls);
	g_free(r->up);
	g_free(r->down);
	g_free(r);
}

/* Bytes `down` can take at its end. */
static size_t down_room(const struct relay *r)
{
	return RELAY_BUF - r->down_at - r->down_len;
}

/* Clears a would-block error; 0 for any other (or none). */
static int would_block(GError **err)
{
	if (!g_error_matches(*err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
		return 0;
	g_clear_error(err);
	return 1;
}

/* Moves what can move now; 1 while the relay goes on, 0 at its end. */
static int relay_pump(struct relay *r)
{
	int progress;

	do {
		g_autoptr(GError) err = NULL;
		ssize_t n;

		progress = 0;
		if (!r->up_len && !r->up_eof) {
			n = recv(r->fd, r->up, RELAY_BUF, MSG_DONTWAIT);
			if (n > 0) {
				r->up_at = 0;
				r->up_len = (size_t)n;
				progress = 1;
			} else if (!n || (errno != EAGAIN && errno != EINTR)) {
				r->up_eof = 1;
			}
		}
		if (r->up_len) {
			/* After a would-block, the same bytes again (GnuTLS). */
			n = g_pollable_output_stream_write_nonblocking(
				r->out, r->up + r->up_at, r->up_len, NULL,
				&err);
			if (n > 0) {
				r->up_at += (size_t)n;
				r->up_len -= (size_t)n;
				progress = 1;
			} else if (!would_block(&err)) {
				return 0;
			}
		}
		/*
		 * A read gives one TLS record (16 KiB at most): as many as
		 * have come go out in one send, so that the migration
		 * thread on the other end wakes once for them, not for each.
		 */
		while (!r->down_eof && down_room(r)) {
			n = g_pollable_input_stream_read_nonblocking(
				r->in, r->down + r->down_at + r->down_len,
				down_room(r), NULL, &err);
			if (n > 0) {
				r->down_len += (size_t)n;
				progress = 1;
			} else {
				/* The peer's end, or a TLS error. */
				if (!would_block(&err))
					r->down_eof = 1;
				break;
			}
		}
		if (r->down_len) {
			n = send(r->fd, r->down + r->down_at, r->down_len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				r->down_at += (size_t)n;
				r->down_len -= (size_t)n;
				if (!r->down_len)
					r->down_at = 0;
				progress = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				return 0;
			}
		}
	} while (progress);
	/* The local side has said all it will and it reached the peer. */
	if (r->up_eof && !r->up_len)
		return 0;
	if (r->down_eof && !r->down_len && !r->shut) {
		shutdown(r->fd, SHUT_WR);
		r->shut = 1;
	}
	return 1;
}

static gboolean on_fd(int fd, GIOCondition cond, gpointer data)
{
	struct relay *r = data;

	(void)fd;
	if (cond & (G_IO_HUP | G_IO_ERR))
		r->gone = 1;
	g_clear_pointer(&r->fd_src, g_source_unref);
	relay_arm(r);
	return G_SOURCE_REMOVE;
}

/* What the local side sent last waited for a silent peer long enough. */
static gboolean on_end(gpointer data)
{
	struct relay *r = data;

	g_clear_pointer(&r->end_src, g_source_unref);
	relay_free(r);
	return G_SOURCE_REMOVE;
}

static gboolean on_in(GObject *stream, gpointer data)
{
	struct relay *r = data;

	(void)stream;
	g_clear_pointer(&r->in_src, g_source_unref);
	relay_arm(r);
	return G_SOURCE_REMOVE;
}

static gboolean on_out(GObject *stream, gpointer data)
{
	struct relay *r = data;

	(void)stream;
	g_clear_pointer(&r->out_src, g_source_unref);
	relay_arm(r);
	return G_SOURCE_REMOVE;
}

/* Pumps, then waits for whatever the relay waits on now. */
static void relay_arm(struct relay *r)
{
	GIOCondition cond = 0;

	if (!relay_pump(r)) {
		relay_free(r);
		return;
	}
	if (!r->up_len && !r->up_eof)
		cond |= G_IO_IN;
	if (r->down_len)
		cond |= G_IO_OUT;
	/* Its close is seen even while the relay waits on the peer only. */
	if (!r->gone)
		cond |= G_IO_HUP;
	/*
	 * Once the local side is done, what it sent last still goes out,
	 * but a peer that takes nothing does not keep the relay forever.
	 */
	if ((r->gone || r->up_eof) && !r->end_src) {
		r->end_src = g_timeout_source_new_seconds(r->timeout);
		g_source_set_callback(r->end_src, on_end, r, NULL);
		g_source_attach(r->end_src, svc.ctx);
	}
	/* A socket source's condition is fixed: it is made anew. */
	if (r->fd_src) {
		g_source_destroy(r->fd_src);
		g_clear_pointer(&r->fd_src, g_source_unref);
	}
	if (cond) {
		r->fd_src = g_unix_fd_source_new(r->fd, cond);
		g_source_set_callback(r->fd_src, G_SOURCE_FUNC(on_fd), r, NULL);
		g_source_attach(r->fd_src, svc.ctx);
	}
	if (down_room(r) && !r->down_eof && !r->in_src) {
		r->in_src = g_pollable_input_stream_create_source(r->in, NULL);
		g_source_set_callback(r->in_src, G_SOURCE_FUNC(on_in), r, NULL);
		g_source_attach(r->in_src, svc.ctx);
	}
	if (r->up_len && !r->out_src) {
		r->out_src =
			g_pollable_output_stream_create_source(r->out, NULL);
		g_source_set_callback(r->out_src, G_SOURCE_FUNC(on_out), r,
				      NULL);
		g_source_attach(r->out_src, svc.ctx);
	}
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
	GCancellable *cancel;
	GSource *timer;
	GTlsCertificateFlags bad; /* what the peer's certificate failed */
	int timed_out;
	/* The answer. */
	GMutex lock;
	GCond cond;
	int done, ret;
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
	struct relay *r;
	int sp[2], size = 4 << 20;

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
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		int e = errno;

		error_setf(&w->error, e, "TLS: socketpair: %s", g_strerror(e));
		g_socket_close(w->sock, NULL);
		g_clear_object(&w->tls);
		g_clear_object(&w->sock);
		wrap_answer(w, -e);
		return;
	}
	/* Room for a few records each way: fewer wake-ups of each side. */
	for (int i = 0; i < 2; i++) {
		setsockopt(sp[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(sp[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	r = g_new0(struct relay, 1);
	g_signal_handlers_disconnect_by_data(w->tls, w);
	r->tls = g_steal_pointer(&w->tls);
	r->sock = g_steal_pointer(&w->sock);
	r->in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(r->tls));
	r->out =
		G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(r->tls));
	r->fd = sp[1];
	r->timeout = w->timeout ? w->timeout : 60;
	r->up = g_malloc(RELAY_BUF);
	r->down = g_malloc(RELAY_BUF);
	wrap_answer(w, sp[0]);
	relay_arm(r);
}

static gboolean wrap_start(gpointer data)
{
	struct wrap *w = data;
	g_autoptr(GSocketConnection) conn = NULL;
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
	if (w->host) {
		id = g_network_address_new(w->host, 0);
		w->tls = g_tls_client_connection_new(G_IO_STREAM(conn), id,
						     &err);
		if (w->tls)
			g_tls_connection_set_certificate(
				G_TLS_CONNECTION(w->tls), w->c->client);
	} else {
		w->tls = g_tls_server_connection_new(G_IO_STREAM(conn),
						     w->c->server, &err);
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
	     GError **error)
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
	return w.ret;
}
