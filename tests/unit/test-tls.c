// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/tls.c without KVM: certificates made here with certtool, a client
 * and a server on the two ends of a socket pair, each on its own thread
 * as a source and a destination are. A good pair carries bytes both ways
 * through the layer core/stream.c reads and writes records with,
 * unchanged, and sees the other's end; its waits end at the socket's
 * timeout, and at a shutdown() of the socket (a cancel). A host name
 * the server's certificate is not for, certificates of another CA, and a
 * directory without its files are refused with the message an operator
 * reads.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "check-tap.h"
#include "core/stream.h"
#include "core/tls.h"

static char *root; /* certificate directories: good, other-ca */

static void certtool(const char *const *argv)
{
	g_autoptr(GError) err = NULL;
	gint status;

	ck_assert_msg(g_spawn_sync(NULL, (char **)argv, NULL,
				   G_SPAWN_SEARCH_PATH |
					   G_SPAWN_STDOUT_TO_DEV_NULL |
					   G_SPAWN_STDERR_TO_DEV_NULL,
				   NULL, NULL, NULL, NULL, &status, &err),
		      "certtool: %s", err ? err->message : "");
	ck_assert_msg(g_spawn_check_wait_status(status, NULL), "certtool %s",
		      argv[1]);
}

static void write_file(const char *path, const char *text)
{
	ck_assert(g_file_set_contents(path, text, -1, NULL));
}

/* DIR/NAME-{key,cert}.pem, signed by CA_DIR's CA (self-signed: NULL). */
static void make_pair(const char *dir, const char *name, const char *ca_dir,
		      const char *tmpl)
{
	g_autofree char *key = g_strdup_printf("%s/%s-key.pem", dir, name);
	g_autofree char *cert = g_strdup_printf("%s/%s-cert.pem", dir, name);
	g_autofree char *t = g_strdup_printf("%s/%s.tmpl", dir, name);
	g_autofree char *cac = g_strdup_printf("%s/ca-cert.pem", ca_dir);
	g_autofree char *cak = g_strdup_printf("%s/ca-key.pem", ca_dir);

	write_file(t, tmpl);
	certtool((const char *const[]){ "certtool", "--generate-privkey",
					"--key-type=ecdsa", "--outfile", key,
					NULL });
	if (!strcmp(name, "ca"))
		certtool((const char *const[]){
			"certtool", "--generate-self-signed", "--load-privkey",
			key, "--template", t, "--outfile", cert, NULL });
	else
		certtool((const char *const[]){
			"certtool", "--generate-certificate", "--load-privkey",
			key, "--load-ca-certificate", cac, "--load-ca-privkey",
			cak, "--template", t, "--outfile", cert, NULL });
}

#define SERVER_FOR(names)                                                      \
	"cn = \"destination\"\n" names "tls_www_server\nsigning_key\n"         \
	"encryption_key\nexpiration_days = 2\n"
#define CLIENT                                                                 \
	"cn = \"source\"\ntls_www_client\nsigning_key\n"                       \
	"expiration_days = 2\n"
#define CA "cn = \"test CA\"\nca\ncert_signing_key\nexpiration_days = 2\n"

static char *make_dir(const char *name, const char *server)
{
	char *d = g_build_filename(root, name, NULL);

	ck_assert_int_eq(g_mkdir(d, 0700), 0);
	make_pair(d, "ca", d, CA);
	make_pair(d, "server", d, server);
	make_pair(d, "client", d, CLIENT);
	return d;
}

/* ROOT/FROM to ROOT/TO. */
static void copy(const char *from, const char *to)
{
	g_autofree char *f = g_build_filename(root, from, NULL);
	g_autofree char *t = g_build_filename(root, to, NULL);
	g_autofree char *text = NULL;

	ck_assert(g_file_get_contents(f, &text, NULL, NULL));
	write_file(t, text);
}

static void setup(void)
{
	g_autofree char *dir = NULL;

	root = g_dir_make_tmp("modvmm-tls-XXXXXX", NULL);
	ck_assert(root);
	g_free(make_dir("good", SERVER_FOR("ip_address = \"127.0.0.1\"\n"
					   "dns_name = \"localhost\"\n")));
	g_free(make_dir("other-ca",
			SERVER_FOR("ip_address = \"127.0.0.1\"\n")));
	/* good's CA, and a client pair of the other CA. */
	g_free(dir);
	dir = g_build_filename(root, "client-other-ca", NULL);
	ck_assert_int_eq(g_mkdir(dir, 0700), 0);
	copy("good/ca-cert.pem", "client-other-ca/ca-cert.pem");
	copy("other-ca/client-cert.pem", "client-other-ca/client-cert.pem");
	copy("other-ca/client-key.pem", "client-other-ca/client-key.pem");
}

static void teardown(void)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", root);

	/* Each test runs in a child of its own, which ends here. */
	tls_shutdown();
	ck_assert_int_eq(system(cmd), 0);
	g_free(root);
}

static struct tls_creds *load(const char *name, unsigned int need)
{
	g_autofree char *d = g_build_filename(root, name, NULL);
	g_autoptr(GError) err = NULL;
	struct tls_creds *c = NULL;

	ck_assert_msg(tls_creds_load(d, need, &c, &err) == 0, "%s",
		      err ? err->message : "");
	return c;
}

/* The destination's side, on its own thread. */
struct server {
	struct tls_creds *c;
	int fd;
	int ret;
	struct stream_io *io;
	GError *error;
};

static gpointer serve(gpointer data)
{
	struct server *s = data;

	s->ret = tls_wrap(s->c, s->fd, NULL, 5, &s->io, &s->error);
	return NULL;
}

/* Client and server handshakes: 0 or -errno of each, ends closed. */
static void handshake(struct tls_creds *client, struct tls_creds *server,
		      const char *host, int *ret_c, GError **err_c,
		      struct server *srv)
{
	struct stream_io *io = NULL;
	int sp[2];
	GThread *t;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	*srv = (struct server){ .c = server, .fd = sp[1] };
	t = g_thread_new("server", serve, srv);
	*ret_c = tls_wrap(client, sp[0], host, 5, &io, err_c);
	g_thread_join(t);
	/* A client may finish before its server refuses it. */
	if (!*ret_c)
		stream_close(sp[0], io);
	if (!srv->ret)
		stream_close(srv->fd, srv->io);
}

/* A good pair's client end, with its layer. */
struct pair {
	int fd;
	struct stream_io *io;
	struct server s;
};

static void connect_pair(struct tls_creds *c, struct pair *p)
{
	g_autoptr(GError) err = NULL;
	int sp[2], r;
	GThread *t;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	p->s = (struct server){ .c = c, .fd = sp[1] };
	t = g_thread_new("server", serve, &p->s);
	r = tls_wrap(c, sp[0], "127.0.0.1", 5, &p->io, &err);
	g_thread_join(t);
	ck_assert_msg(r == 0, "%s", err ? err->message : "");
	ck_assert_msg(p->s.ret == 0, "%s",
		      p->s.error ? p->s.error->message : "");
	p->fd = sp[0];
}

/* How long `fd`'s reads and writes may wait for the peer. */
static void set_timeout(int fd, int s)
{
	struct timeval tv = { .tv_sec = s };

	ck_assert_int_eq(
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
}

START_TEST(test_good_pair_carries_bytes_both_ways)
{
	struct tls_creds *c = load("good", TLS_NEED_CLIENT | TLS_NEED_SERVER);
	g_autoptr(GError) err = NULL;
	g_autofree uint8_t *big = g_malloc(3 << 20), *got = g_malloc(3 << 20);
	struct pair p;
	struct snap_writer wc = { .what = "client" }, ws = { .what = "server" };
	size_t n = 0;

	connect_pair(c, &p);
	/* A write returns with its bytes sent: none waits in a buffer. */
	set_timeout(p.fd, 2);
	set_timeout(p.s.fd, 2);
	wc.fd = p.fd;
	wc.io = p.io;
	ws.fd = p.s.fd;
	ws.io = p.s.io;
	for (size_t i = 0; i < 3 << 20; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 13));
	/* More than the socket holds: it moves as it is read. */
	while (n < 3u << 20) {
		size_t k = MIN(65536, (3u << 20) - n);

		ck_assert_int_eq(stream_write(&wc, big + n, k, &err), 0);
		ck_assert_int_eq(stream_read_full(p.s.fd, p.s.io, got + n, k),
				 0);
		n += k;
	}
	ck_assert(!memcmp(big, got, 3 << 20));
	ck_assert_int_eq(wc.bytes, 3 << 20);
	ck_assert_int_eq(stream_write(&ws, "verdict", 7, &err), 0);
	/* Data waiting is not an end, and a look at it takes nothing. */
	ck_assert_int_eq(stream_peer_gone(p.fd, p.io), 0);
	ck_assert_int_eq(stream_peer_gone(p.fd, p.io), 0);
	ck_assert_int_eq(stream_read_full(p.fd, p.io, got, 7), 0);
	ck_assert(!memcmp(got, "verdict", 7));
	ck_assert_int_eq(stream_peer_gone(p.fd, p.io), 0);
	/* One end closes: the other sees the end of the stream. */
	stream_close(p.fd, p.io);
	ck_assert_int_eq(stream_peer_gone(p.s.fd, p.s.io), -EPIPE);
	ck_assert_int_eq(stream_read_full(p.s.fd, p.s.io, got, 1), -EPIPE);
	ck_assert_int_lt(stream_write(&ws, "x", 1, &err), 0);
	stream_close(p.s.fd, p.s.io);
	tls_creds_unref(c);
}
END_TEST

/* A silent peer: reads and writes end at the socket's timeouts. */
START_TEST(test_waits_end_at_the_socket_timeout)
{
	struct tls_creds *c = load("good", TLS_NEED_CLIENT | TLS_NEED_SERVER);
	g_autoptr(GError) err = NULL;
	g_autofree uint8_t *big = g_malloc(1 << 20);
	struct pair p;
	struct snap_writer wc = { .what = "client" };
	gint64 t0;
	uint8_t b;
	int r = 0;

	connect_pair(c, &p);
	set_timeout(p.fd, 1);
	set_timeout(p.s.fd, 1);
	t0 = g_get_monotonic_time();
	ck_assert_int_eq(stream_read_full(p.s.fd, p.s.io, &b, 1), -ETIMEDOUT);
	ck_assert_int_ge(g_get_monotonic_time() - t0, G_USEC_PER_SEC / 2);
	/* Writes until the socket is full, and the peer takes nothing. */
	wc.fd = p.fd;
	wc.io = p.io;
	memset(big, 0x5a, 1 << 20);
	for (int i = 0; i < 64 && !r; i++)
		r = stream_write(&wc, big, 1 << 20, &err);
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_msg(strstr(err->message, "the peer took nothing for 1 s"),
		      "%s", err->message);
	stream_close(p.fd, p.io);
	stream_close(p.s.fd, p.s.io);
	tls_creds_unref(c);
}
END_TEST

struct reader {
	struct pair *p;
	int ret;
};

static gpointer read_one(gpointer data)
{
	struct reader *rd = data;
	uint8_t b;

	rd->ret = stream_read_full(rd->p->s.fd, rd->p->s.io, &b, 1);
	return NULL;
}

/* A cancel shuts the socket down: a read that waits without bound ends. */
START_TEST(test_shutdown_ends_a_wait)
{
	struct tls_creds *c = load("good", TLS_NEED_CLIENT | TLS_NEED_SERVER);
	struct pair p;
	struct reader rd = { .p = &p, .ret = 1 };
	GThread *t;

	connect_pair(c, &p);
	set_timeout(p.s.fd, 0);
	t = g_thread_new("reader", read_one, &rd);
	g_usleep(200000);
	ck_assert_int_eq(shutdown(p.s.fd, SHUT_RDWR), 0);
	g_thread_join(t);
	ck_assert_int_eq(rd.ret, -EPIPE);
	stream_close(p.fd, p.io);
	stream_close(p.s.fd, p.s.io);
	tls_creds_unref(c);
}
END_TEST

START_TEST(test_wrong_host_refused_by_the_source)
{
	struct tls_creds *c = load("good", TLS_NEED_CLIENT | TLS_NEED_SERVER);
	g_autoptr(GError) err = NULL;
	struct server s;
	int fd;

	/* The server's certificate is for 127.0.0.1 and localhost. */
	handshake(c, c, "10.9.9.9", &fd, &err, &s);
	ck_assert_int_eq(fd, -EACCES);
	ck_assert_error(err, "TLS handshake with the destination refused; "
			     "the destination's certificate is not issued "
			     "for '10.9.9.9'");
	ck_assert_int_lt(s.ret, 0);
	g_clear_error(&s.error);
	tls_creds_unref(c);
}
END_TEST

START_TEST(test_other_ca_refused_by_both_sides)
{
	struct tls_creds *c = load("good", TLS_NEED_CLIENT | TLS_NEED_SERVER);
	struct tls_creds *d = load("other-ca", TLS_NEED_SERVER);
	g_autoptr(GError) err = NULL;
	g_autofree char *want = g_strdup_printf(
		"TLS handshake with the destination refused; the "
		"destination's certificate is not signed by the CA of "
		"%s/good/ca-cert.pem",
		root);
	struct server s;
	int fd;

	handshake(c, d, "127.0.0.1", &fd, &err, &s);
	ck_assert_int_eq(fd, -EACCES);
	ck_assert_error(err, want);
	ck_assert_int_lt(s.ret, 0);
	g_clear_error(&s.error);
	/* And a source of another CA, at a destination of good's. */
	g_clear_error(&err);
	tls_creds_unref(d);
	d = load("client-other-ca", TLS_NEED_CLIENT);
	handshake(d, c, "127.0.0.1", &fd, &err, &s);
	ck_assert_int_lt(s.ret, 0);
	g_free(want);
	want = g_strdup_printf("TLS handshake with the source refused; the "
			       "source's certificate is not signed by the CA "
			       "of %s/good/ca-cert.pem",
			       root);
	ck_assert_error(s.error, want);
	g_clear_error(&s.error);
	tls_creds_unref(c);
	tls_creds_unref(d);
}
END_TEST

START_TEST(test_missing_files_named)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *d = g_build_filename(root, "nothing", NULL);
	g_autofree char *good = g_build_filename(root, "good", NULL);
	g_autofree char *key = NULL;
	struct tls_creds *c = NULL;
	struct stream_io *io = NULL;

	ck_assert_int_eq(tls_creds_load(d, 0, &c, &err), -EINVAL);
	ck_assert(g_str_has_prefix(err->message, "migration TLS: "));
	ck_assert_msg(strstr(err->message, "/nothing/ca-cert.pem: "), "%s",
		      err->message);
	g_clear_error(&err);
	/* A destination needs its pair. */
	key = g_strdup_printf("%s/server-key.pem", good);
	ck_assert_int_eq(unlink(key), 0);
	ck_assert_int_eq(tls_creds_load(good, TLS_NEED_SERVER, &c, &err),
			 -EINVAL);
	ck_assert_msg(strstr(err->message, "/good/server-cert.pem, "), "%s",
		      err->message);
	g_clear_error(&err);
	/* Loaded without it, the server side is refused when used. */
	g_free(key);
	key = g_strdup_printf("%s/server-cert.pem", good);
	ck_assert_int_eq(unlink(key), 0);
	ck_assert_int_eq(tls_creds_load(good, TLS_NEED_CLIENT, &c, &err), 0);
	ck_assert_int_eq(tls_wrap(c, dup(0), NULL, 1, &io, &err), -ENOENT);
	g_free(key);
	key = g_strdup_printf("TLS: %s/server-cert.pem: no such file (a "
			      "destination needs it)",
			      good);
	ck_assert_error(err, key);
	tls_creds_unref(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_good_pair_carries_bytes_both_ways);
	tcase_add_test(tc, test_waits_end_at_the_socket_timeout);
	tcase_add_test(tc, test_shutdown_ends_a_wait);
	tcase_add_test(tc, test_wrong_host_refused_by_the_source);
	tcase_add_test(tc, test_other_ca_refused_by_both_sides);
	tcase_add_test(tc, test_missing_files_named);
	suite_add_tcase(s, tc);
	return check_run(s);
}
