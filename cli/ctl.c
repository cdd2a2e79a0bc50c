// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/ctl.c - modvmm ctl: one command to a running modvmm's control
 * socket, its arguments typed from the server's own query-commands, and
 * the reply as readable text or (--json) as it came.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#include "cli/cli.h"

static gboolean opt_json;
static int opt_timeout = 30;

static const GOptionEntry ctl_options[] = {
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print the reply (or each event) as JSON", NULL },
	{ "timeout", 't', 0, G_OPTION_ARG_INT, &opt_timeout,
	  "Seconds to wait for the reply (default 30)", "S" },
	{ NULL },
};

struct conn {
	GSocket *sock;
	GString *buf;
	const char *path;
	int eof_ok;	     /* watch: the server closing is the normal end */
	JsonNode *migration; /* the last MIGRATION event's data */
	int keepalive; /* waiting for events: ask something now and then */
	gint64 asked;  /* monotonic µs of the last keepalive */
};

/*
 * The server disconnects a client that sends no request for its idle
 * limit (at least CONTROL_IDLE_MIN, 5 s): a client that only waits for
 * events asks for the status every KEEPALIVE_US, and skips the replies.
 */
#define KEEPALIVE_US (2 * G_USEC_PER_SEC)
#define KEEPALIVE_ID "modvmm-ctl-keepalive"
#define KEEPALIVE_LINE                                                         \
	"{\"execute\": \"query-status\", \"id\": \"" KEEPALIVE_ID "\"}\n"

static void say(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

static void say(const char *fmt, va_list ap)
{
	fputs("modvmm: ctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static int fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
	return STATUS_FAILED;
}

/* The next line from the server, parsed; NULL with a message printed. */
static JsonNode *conn_read(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->buf->str, '\n', c->buf->len);
		char chunk[65536];
		g_autoptr(GError) err = NULL;
		gssize n;

		if (!nl && c->keepalive) {
			gint64 now = g_get_monotonic_time();

			if (now - c->asked >= KEEPALIVE_US) {
				if (g_socket_send(c->sock, KEEPALIVE_LINE,
						  strlen(KEEPALIVE_LINE), NULL,
						  &err) < 0) {
					fail("%s: %s", c->path, err->message);
					return NULL;
				}
				c->asked = now;
			}
			if (!g_socket_condition_timed_wait(
				    c->sock, G_IO_IN,
				    c->asked + KEEPALIVE_US - now, NULL, NULL))
				continue;
		}
		if (nl) {
			g_autofree char *line = g_strndup(
				c->buf->str, (gsize)(nl - c->buf->str));
			JsonNode *node;

			g_string_erase(c->buf, 0, nl - c->buf->str + 1);
			node = json_from_string(line, &err);
			if (!node)
				fail("%s: the server sent what is not JSON: %s",
				     c->path, err->message);
			return node;
		}
		n = g_socket_receive(c->sock, chunk, sizeof(chunk), NULL, &err);
		if (n < 0) {
			fail("%s: %s", c->path, err->message);
			return NULL;
		}
		if (n == 0) {
			if (!c->eof_ok)
				fail("%s: the server closed the connection",
				     c->path);
			return NULL;
		}
		g_string_append_len(c->buf, chunk, n);
	}
}

static int conn_send(struct conn *c, JsonNode *req)
{
	g_autofree char *text = json_to_string(req, FALSE);
	g_autofree char *line = g_strconcat(text, "\n", NULL);
	g_autoptr(GError) err = NULL;

	if (g_socket_send(c->sock, line, strlen(line), NULL, &err) < 0)
		return fail("%s: %s", c->path, err->message);
	return 0;
}

static JsonObject *member_object(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* Keeps what a MIGRATION event said; prints it with --json. */
static void note_event(struct conn *c, JsonNode *n)
{
	JsonObject *o =
		JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
	JsonNode *d = o ? json_object_get_member(o, "data") : NULL;
	const char *ev =
		o ? json_object_get_string_member_with_default(o, "event", "")
		  : "";

	if (strcmp(ev, "MIGRATION") || !d || !JSON_NODE_HOLDS_OBJECT(d))
		return;
	if (c->migration)
		json_node_unref(c->migration);
	c->migration = json_node_copy(d);
	if (opt_json) {
		g_autofree char *t = json_to_string(n, FALSE);

		printf("%s\n", t);
		fflush(stdout);
	}
}

/*
 * Sends a request and returns the reply to it, skipping the events that
 * come before it. An error reply is printed and NULL returned.
 */
static JsonNode *conn_execute(struct conn *c, const char *cmd, JsonNode *args)
{
	JsonObject *o = json_object_new();
	JsonNode *req = json_node_new(JSON_NODE_OBJECT);

	json_object_set_string_member(o, "execute", cmd);
	if (args)
		json_object_set_member(o, "arguments", args);
	json_node_take_object(req, o);
	if (conn_send(c, req) < 0) {
		json_node_unref(req);
		return NULL;
	}
	json_node_unref(req);
	for (;;) {
		JsonNode *n = conn_read(c);
		JsonObject *r, *e;

		if (!n)
			return NULL;
		r = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
		if (r && !g_strcmp0(json_object_get_string_member_with_default(
					    r, "id", NULL),
				    KEEPALIVE_ID)) {
			json_node_unref(n);
			continue;
		}
		if (r && json_object_has_member(r, "return"))
			return n;
		if (r && (e = member_object(r, "error"))) {
			if (opt_json) {
				g_autofree char *t = json_to_string(n, TRUE);

				printf("%s\n", t);
			}
			fail("%s: %s (%s)", cmd,
			     json_object_get_string_member_with_default(
				     e, "desc", "?"),
			     json_object_get_string_member_with_default(
				     e, "class", "?"));
			json_node_unref(n);
			return NULL;
		}
		note_event(c, n);
		json_node_unref(n);
	}
}

/* Argument typing -------------------------------------------------------- */

/* The type query-commands gives `key` of `cmd`; NULL when unknown. */
static const char *arg_type(JsonNode *commands, const char *cmd,
			    const char *key)
{
	JsonArray *a = json_node_get_array(commands);

	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		JsonArray *args;

		if (strcmp(json_object_get_string_member(o, "name"), cmd))
			continue;
		args = json_object_get_array_member(o, "arguments");
		for (guint j = 0; j < json_array_get_length(args); j++) {
			JsonObject *ao = json_array_get_object_element(args, j);

			if (!strcmp(json_object_get_string_member(ao, "name"),
				    key))
				return json_object_get_string_member(ao,
								     "type");
		}
	}
	return NULL;
}

static int parse_bool(const char *s, gboolean *ret)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (!strcmp(s, yes[i]))
			return *ret = TRUE, 0;
		if (!strcmp(s, no[i]))
			return *ret = FALSE, 0;
	}
	return -EINVAL;
}

/* A usage error: the message, and -EINVAL (the exit status is 2). */
static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Before connecting: every word is key=value, once per key. */
static int check_words(const char *cmd, char **words)
{
	for (char **w = words; *w; w++) {
		char *eq = strchr(*w, '=');

		if (!eq || eq == *w)
			return usage_error("%s: '%s' is not key=value", cmd,
					   *w);
		for (char **p = words; p < w; p++)
			if (!strncmp(*p, *w, (size_t)(eq - *w) + 1))
				return usage_error("%s: '%.*s' is given twice",
						   cmd, (int)(eq - *w), *w);
	}
	return 0;
}

/*
 * key=value words as the command's arguments, typed by the schema; a
 * word that is not of its argument's type is a usage error (-EINVAL):
 * nothing is sent.
 */
static int build_args(JsonNode *commands, const char *cmd, char **words,
		      JsonNode **ret)
{
	JsonObject *o = json_object_new();

	for (; *words; words++) {
		char *eq = strchr(*words, '=');
		g_autofree char *key = NULL;
		const char *type, *val;

		key = g_strndup(*words, (gsize)(eq - *words));
		val = eq + 1;
		type = arg_type(commands, cmd, key);
		if (type && !strcmp(type, "int")) {
			gint64 v;
			char *end;

			errno = 0;
			v = g_ascii_strtoll(val, &end, 0);
			if (!*val || *end || errno) {
				json_object_unref(o);
				return usage_error("%s: %s=%s: not an integer "
						   "(or beyond 64 bits)",
						   cmd, key, val);
			}
			json_object_set_int_member(o, key, v);
		} else if (type && !strcmp(type, "bool")) {
			gboolean b;

			if (parse_bool(val, &b) < 0) {
				json_object_unref(o);
				return usage_error("%s: %s=%s: not on or off",
						   cmd, key, val);
			}
			json_object_set_boolean_member(o, key, b);
		} else {
			/* Strings, and what the server will refuse by name. */
			json_object_set_string_member(o, key, val);
		}
	}
	*ret = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(*ret, o);
	return 0;
}

/* Readable output -------------------------------------------------------- */

static const char *str(JsonObject *o, const char *key)
{
	JsonNode *n = json_object_get_member(o, key);

	if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_STRING)
		return "-";
	return json_node_get_string(n);
}

static void print_modules(JsonArray *a)
{
	printf("%-16s %-10s %-5s %-11s %-9s %s\n", "module", "version", "ABI",
	       "origin", "instances", "devices");
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		JsonArray *d = json_object_get_array_member(o, "devices");
		g_autoptr(GString) devs = g_string_new(NULL);

		for (guint j = 0; d && j < json_array_get_length(d); j++)
			g_string_append_printf(
				devs, "%s%s", j ? ", " : "",
				json_array_get_string_element(d, j));
		printf("%-16s %-10s %-5s %-11s %-9" G_GINT64_FORMAT " %s\n",
		       str(o, "name"), str(o, "version"), str(o, "abi"),
		       json_object_get_boolean_member(o, "intree")
			       ? "in-tree"
			       : "out-of-tree",
		       json_object_get_int_member(o, "instances"), devs->str);
	}
}

static void print_devices(JsonArray *a)
{
	printf("%-16s %-16s %-16s %-20s %s\n", "id", "driver", "module",
	       "vmstate", "properties");
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		JsonObject *p = json_object_get_object_member(o, "properties");
		g_autoptr(GList) keys = json_object_get_members(p);
		g_autoptr(GString) props = g_string_new(NULL);
		g_autofree char *mod = g_strdup_printf(
			"%s %s", str(o, "module"), str(o, "module-version"));

		for (GList *l = keys; l; l = l->next)
			g_string_append_printf(
				props, "%s%s=%s", props->len ? "," : "",
				(char *)l->data,
				json_object_get_string_member(p, l->data));
		printf("%-16s %-16s %-16s %-20s %s\n", str(o, "id"),
		       str(o, "driver"), mod, str(o, "vmstate"),
		       props->len ? props->str : "-");
	}
}

static void print_machines(JsonArray *a)
{
	printf("%-16s %-10s %-11s %-11s %-11s %s\n", "machine type", "released",
	       "status", "deprecated", "removed", "");
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		g_autofree char *alias =
			json_object_has_member(o, "alias")
				? g_strdup_printf(" (alias %s)",
						  str(o, "alias"))
				: g_strdup("");

		printf("%-16s %-10s %-11s %-11s %-11s %s%s\n", str(o, "name"),
		       str(o, "released"), str(o, "status"),
		       str(o, "deprecated-on"), str(o, "removed-on"),
		       json_object_get_boolean_member(o, "current")
			       ? "this guest"
			       : "",
		       alias);
	}
}

static void print_commands(JsonArray *a)
{
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		JsonArray *args = json_object_get_array_member(o, "arguments");
		g_autoptr(GString) s = g_string_new(str(o, "name"));

		for (guint j = 0; j < json_array_get_length(args); j++) {
			JsonObject *ao = json_array_get_object_element(args, j);
			int req =
				json_object_get_boolean_member(ao, "required");

			g_string_append_printf(s, " %s%s=%s%s", req ? "" : "[",
					       str(ao, "name"), str(ao, "type"),
					       req ? "" : "]");
		}
		if (json_object_get_boolean_member(o, "open-arguments"))
			g_string_append(s, " [PROPERTY=VALUE...]");
		printf("%s\n", s->str);
	}
}

/*
 * What a command that changes something and returns {} did, said in a
 * line as device-add's "added ID": `args` are the arguments it was sent.
 * NULL for any other command.
 */
static char *confirmation(const char *cmd, JsonObject *args)
{
	static const struct {
		const char *cmd, *text, *arg;
	} said[] = {
		{ "stop", "paused", NULL },
		{ "cont", "running", NULL },
		{ "quit", "quitting: the run ends", NULL },
		{ "device-del", "deleted", "id" },
		{ "module-unload", "unloaded", "name" },
		{ "migrate-cancel", "migration cancelled", NULL },
		{ "migrate-incoming", "waiting for the guest on", "uri" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(said); i++) {
		if (strcmp(cmd, said[i].cmd))
			continue;
		if (!said[i].arg)
			return g_strdup(said[i].text);
		return g_strdup_printf("%s %s", said[i].text,
				       args ? str(args, said[i].arg) : "-");
	}
	return NULL;
}

static void print_reply(const char *cmd, JsonObject *args, JsonNode *ret)
{
	JsonObject *o =
		JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
	JsonArray *a =
		JSON_NODE_HOLDS_ARRAY(ret) ? json_node_get_array(ret) : NULL;
	g_autofree char *text = NULL;

	if (o && !json_object_get_size(o) && (text = confirmation(cmd, args))) {
		printf("%s\n", text);
	} else if (o && !strcmp(cmd, "query-status")) {
		printf("%s\n", str(o, "status"));
	} else if (a && !strcmp(cmd, "query-modules")) {
		print_modules(a);
	} else if (a && !strcmp(cmd, "query-devices")) {
		print_devices(a);
	} else if (a && !strcmp(cmd, "query-machines")) {
		print_machines(a);
	} else if (a && !strcmp(cmd, "query-commands")) {
		print_commands(a);
	} else if (o && !strcmp(cmd, "module-load")) {
		printf("loaded %s %s (ABI %s, %s) from %s\n", str(o, "name"),
		       str(o, "version"), str(o, "abi"),
		       json_object_get_boolean_member(o, "intree")
			       ? "in-tree"
			       : "out-of-tree",
		       str(o, "path"));
	} else if (o && !strcmp(cmd, "migrate-check")) {
		printf("%s", str(o, "verdict"));
	} else if (o && !strcmp(cmd, "snapshot-save")) {
		printf("saved %s (%" G_GINT64_FORMAT " bytes)\n",
		       str(o, "file"), json_object_get_int_member(o, "bytes"));
	} else if (o && !strcmp(cmd, "device-add")) {
		printf("added %s\n", str(o, "id"));
	} else if (!o || json_object_get_size(o)) {
		/* Documents (a manifest, an inventory) print as they are,
		 * so that they can be saved and handed to modvmm compat. */
		text = json_to_string(ret, TRUE);
		printf("%s\n", text);
	}
}

static double mib(JsonObject *o, const char *key)
{
	return (double)json_object_get_int_member_with_default(o, key, 0) /
	       (1 << 20);
}

/* query-migrate's time-left-ms as ", about 1 min 5 s to go"; "" if absent. */
static char *time_left(JsonObject *o)
{
	gint64 s =
		json_object_get_int_member_with_default(o, "time-left-ms", -1);

	if (s < 0)
		return g_strdup("");
	s = (s + 999) / 1000;
	if (s < 60)
		return g_strdup_printf(", about %" G_GINT64_FORMAT " s to go",
				       s);
	if (s < 3600)
		return g_strdup_printf(", about %" G_GINT64_FORMAT
				       " min %" G_GINT64_FORMAT " s to go",
				       s / 60, s % 60);
	return g_strdup_printf(", about %" G_GINT64_FORMAT
			       " h %" G_GINT64_FORMAT " min to go",
			       s / 3600, s % 3600 / 60);
}

/*
 * The progress line, from query-migrate: the round shown is the one
 * going out (rounds counts those sent whole), the percentage that of
 * guest RAM the first round has covered.
 */
static void print_progress(JsonObject *o, int tty)
{
	g_autofree char *left = time_left(o);
	gint64 round = json_object_get_int_member_with_default(o, "rounds", 0);

	if (!strcmp(str(o, "status"), "active"))
		round++;
	printf("%s%-9s %8.1f MiB sent, %3" G_GINT64_FORMAT
	       "%% of RAM, %7.1f MiB/s, %7.1f MiB left%s, dirty %6.1f MiB/s, "
	       "round %" G_GINT64_FORMAT ", expected downtime %" G_GINT64_FORMAT
	       " ms%s",
	       tty ? "\r" : "", str(o, "status"), mib(o, "transferred"),
	       json_object_get_int_member_with_default(o, "ram-percent", 0),
	       mib(o, "bandwidth"), mib(o, "remaining"), left,
	       mib(o, "dirty-rate"), round,
	       json_object_get_int_member_with_default(
		       o, "expected-downtime-ms", 0),
	       tty ? "\033[K" : "\n");
	fflush(stdout);
}

/*
 * After migrate: until it ends, a progress line on a terminal (every 0.2
 * s), with --json each MIGRATION event as it comes; then a summary. The
 * source's server closing the connection right after "completed" is the
 * normal end (the guest has left).
 */
/* The last MIGRATION event's data, if it says the migration is over. */
static JsonObject *migration_over(struct conn *c)
{
	JsonObject *d =
		c->migration ? json_node_get_object(c->migration) : NULL;
	const char *st = d ? str(d, "status") : "";

	return !strcmp(st, "completed") || !strcmp(st, "failed") ||
			       !strcmp(st, "cancelled") ||
			       !strcmp(st, "unknown")
		       ? d
		       : NULL;
}

/*
 * After migrate: until it ends, a progress line on a terminal (every 0.2
 * s), with --json each MIGRATION event as it comes; then a summary. The
 * source closes the connection right after "completed" (the guest has
 * left), so the end is known from the event, not from a reply.
 */
static int follow_migration(struct conn *c)
{
	int tty = isatty(STDOUT_FILENO) && !opt_json;
	gint64 rounds;
	JsonObject *d;

	c->eof_ok = 1;
	/* A long migration may go a while between events; on a terminal
	 * query-migrate is asked every 0.2 s anyway. */
	g_socket_set_timeout(c->sock, 0);
	c->keepalive = !tty;
	while (!(d = migration_over(c))) {
		g_autoptr(JsonNode) n = NULL;

		if (tty) {
			g_autoptr(JsonNode) q =
				conn_execute(c, "query-migrate", NULL);

			if (!q)
				break;
			print_progress(
				json_object_get_object_member(
					json_node_get_object(q), "return"),
				1);
			if (!g_socket_condition_timed_wait(c->sock, G_IO_IN,
							   200000, NULL, NULL))
				continue;
		}
		n = conn_read(c);
		if (!n)
			break;
		note_event(c, n);
	}
	if (tty)
		printf("\r\033[K");
	if (!d)
		return fail("migrate: the connection closed before the "
			    "migration ended");
	if (strcmp(str(d, "status"), "completed"))
		return fail("migrate: %s: %s", str(d, "status"),
			    str(d, "error"));
	rounds = json_object_get_int_member_with_default(d, "rounds", 0);
	if (!opt_json)
		printf("migrated to %s: %.1f MiB in %" G_GINT64_FORMAT
		       " ms, downtime %" G_GINT64_FORMAT
		       " ms, %" G_GINT64_FORMAT " round%s\n",
		       str(d, "uri"), mib(d, "transferred"),
		       json_object_get_int_member_with_default(
			       d, "total-time-ms", 0),
		       json_object_get_int_member_with_default(d, "downtime-ms",
							       0),
		       rounds, rounds == 1 ? "" : "s");
	return STATUS_OK;
}

/* An event's timestamp as ISO 8601, UTC, to the millisecond. */
static char *iso_time(JsonObject *ts)
{
	gint64 sec =
		ts ? json_object_get_int_member_with_default(ts, "seconds", 0)
		   : 0;
	gint64 us = ts ? json_object_get_int_member_with_default(
				 ts, "microseconds", 0)
		       : 0;
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(sec);
	g_autofree char *day =
		t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%S") : NULL;

	return g_strdup_printf("%s.%03dZ", day ? day : "?",
			       (int)(CLAMP(us, 0, 999999) / 1000));
}

/* watch: every event until the server closes, one line each. */
static int watch(struct conn *c)
{
	for (;;) {
		g_autoptr(JsonNode) n = conn_read(c);
		JsonObject *o;
		g_autofree char *text = NULL, *data = NULL, *when = NULL;

		if (!n)
			return STATUS_OK;
		if (!JSON_NODE_HOLDS_OBJECT(n) ||
		    !json_object_has_member(json_node_get_object(n), "event"))
			continue;
		text = json_to_string(n, FALSE);
		if (opt_json) {
			printf("%s\n", text);
		} else {
			o = json_node_get_object(n);
			when = iso_time(member_object(o, "timestamp"));
			data = json_object_has_member(o, "data")
				       ? json_to_string(json_object_get_member(
								o, "data"),
							FALSE)
				       : g_strdup("{}");
			printf("%s %s %s\n", when, str(o, "event"), data);
		}
		fflush(stdout);
	}
}

/*
 * A path a socket can have: GLib would cut a long one silently. One that
 * cannot be is a usage error, as no modvmm could listen there.
 */
static int conn_path_check(const char *path)
{
	size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;

	if (!*path)
		return -fail("the socket path is empty (give the --control "
			     "PATH of a running modvmm)");
	if (strlen(path) > max)
		return -fail("%s: a socket path has at most %zu bytes, this "
			     "one %zu",
			     path, max, strlen(path));
	return 0;
}

/* The options and words; -1 (a usage error, said) when they do not do. */
static int parse_ctl(int *argc, char ***argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new(
		"SOCKET COMMAND [KEY=VALUE...] - send a command to a running "
		"modvmm ('watch' prints events; 'query-commands' lists the "
		"commands)");
	g_autoptr(GError) err = NULL;

	g_option_context_add_main_entries(ctx, ctl_options, NULL);
	/* KEY=VALUE words may start with '-' (a negative number). */
	g_option_context_set_strict_posix(ctx, TRUE);
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		print_error(err);
		return -1;
	}
	if (*argc < 3) {
		fprintf(stderr, "modvmm: ctl: usage: modvmm ctl [--json] "
				"SOCKET COMMAND "
				"[KEY=VALUE...]\n");
		return -1;
	}
	if (opt_timeout < 1) {
		fprintf(stderr, "modvmm: ctl: --timeout %d: at least 1\n",
			opt_timeout);
		return -1;
	}
	if (conn_path_check((*argv)[1]) < 0)
		return -1;
	if (!strcmp((*argv)[2], "watch") && *argc > 3) {
		fprintf(stderr, "modvmm: ctl: watch takes no arguments\n");
		return -1;
	}
	return check_words((*argv)[2], *argv + 3);
}

/* Why nothing answered at `path`, in the words of what to do next. */
static void conn_refused(const char *path, const GError *err)
{
	struct stat st;

	if ((lstat(path, &st) < 0 && errno == ENOENT) ||
	    g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)) {
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			fail("%s is not a socket (give the --control PATH of "
			     "a running modvmm)",
			     path);
		else
			fail("no modvmm listens on %s (is it running with "
			     "--control %s?)",
			     path, path);
	} else if (g_error_matches(err, G_IO_ERROR,
				   G_IO_ERROR_PERMISSION_DENIED)) {
		fail("%s: permission denied (only the user who runs that "
		     "modvmm may use its control socket)",
		     path);
	} else {
		fail("%s: %s", path, err ? err->message : "cannot connect");
	}
}

/* Connected, greeted and negotiated; -1 (said) when not. */
static int conn_open(struct conn *c, const char *cmd)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	g_autoptr(JsonNode) greeting = NULL, caps = NULL;

	c->buf = g_string_new(NULL);
	c->sock = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
			       G_SOCKET_PROTOCOL_DEFAULT, &err);
	addr = g_unix_socket_address_new(c->path);
	if (!c->sock || !g_socket_connect(c->sock, addr, NULL, &err)) {
		conn_refused(c->path, err);
		return -1;
	}
	g_socket_set_timeout(c->sock, strcmp(cmd, "watch") ? opt_timeout : 0);
	greeting = conn_read(c);
	if (!greeting)
		return -1;
	if (!JSON_NODE_HOLDS_OBJECT(greeting) ||
	    !json_object_has_member(json_node_get_object(greeting), "QMP")) {
		g_autofree char *t = json_to_string(greeting, FALSE);

		fail("%s: not a control socket greeting: %s", c->path, t);
		return -1;
	}
	caps = conn_execute(c, "qmp_capabilities", NULL);
	return caps ? 0 : -1;
}

/*
 * One command, its arguments typed from the server's query-commands, and
 * its reply printed: the exit status.
 */
static int run_command(struct conn *c, const char *cmd, char **words)
{
	g_autoptr(JsonNode) commands = NULL, reply = NULL;
	JsonNode *args = NULL;
	g_autoptr(JsonNode) sent = NULL;
	int status;

	commands = conn_execute(c, "query-commands", NULL);
	if (!commands || !JSON_NODE_HOLDS_ARRAY(json_object_get_member(
				 json_node_get_object(commands), "return")))
		return STATUS_FAILED;
	if (build_args(json_object_get_member(json_node_get_object(commands),
					      "return"),
		       cmd, words, &args) < 0)
		return STATUS_USAGE;
	/* conn_execute() takes `args`; the confirmation names them. */
	sent = json_node_ref(args);
	reply = conn_execute(c, cmd, args);
	if (!reply)
		return STATUS_FAILED;
	if (opt_json) {
		g_autofree char *t = json_to_string(reply, TRUE);

		printf("%s\n", t);
	} else {
		print_reply(cmd, json_node_get_object(sent),
			    json_object_get_member(json_node_get_object(reply),
						   "return"));
	}
	status = STATUS_OK;
	/* A migration is followed to its end: that is what one waits for. */
	if (!strcmp(cmd, "migrate"))
		status = follow_migration(c);
	/* A refusal is a failure for scripts, as for modvmm compat check. */
	if (!strcmp(cmd, "migrate-check") &&
	    !json_object_get_boolean_member_with_default(
		    json_object_get_object_member(json_node_get_object(reply),
						  "return"),
		    "accepted", FALSE))
		status = STATUS_FAILED;
	return status;
}

int cmd_ctl(int argc, char **argv)
{
	struct conn c = { 0 };
	const char *cmd;
	int status = STATUS_FAILED;

	if (parse_ctl(&argc, &argv) < 0)
		return STATUS_USAGE;
	c.path = argv[1];
	cmd = argv[2];
	if (conn_open(&c, cmd) < 0)
		goto out;
	if (!strcmp(cmd, "watch")) {
		c.eof_ok = 1;
		c.keepalive = 1;
		status = watch(&c);
	} else {
		status = run_command(&c, cmd, argv + 3);
	}
out:
	if (c.migration)
		json_node_unref(c.migration);
	if (c.sock)
		g_object_unref(c.sock);
	g_string_free(c.buf, TRUE);
	return status;
}
