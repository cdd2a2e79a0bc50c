// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/control.c - the control socket: framing, sessions, clients and
 * events (what each command does is control-cmds.c's).
 *
 * Everything here runs on the control thread's GMainContext, except
 * control_event(), which only hands a finished line over to it. Sockets
 * are non-blocking; a client's output is queued and written as the
 * socket takes it. Bounds: a request line of CONTROL_LINE_MAX bytes (a
 * longer one is answered with an error and skipped to its newline),
 * CONTROL_OUTPUT_MAX bytes of queued output, CONTROL_MAX_CLIENTS, the
 * timeout for the handshake and for output that does not move, and the
 * idle limit for a client that sends no request.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include <modvmm/abi.h>

#include "base/error.h"
#include "base/json-read.h"
#include "control.h"
#include "migration.h"
#include "sandbox.h"

#define MAX_DEPTH 32

struct client {
	struct control *c;
	struct control_session s;
	GSocket *sock;
	GSource *in_src;
	GSource *out_src;
	GString *in;
	int discarding; /* inside a line that was too long */
	GString *out;
	gsize out_pos;
	gint64 deadline;  /* monotonic µs: handshake or stalled output */
	gint64 last_line; /* monotonic µs: the last request line */
	unsigned int serial;
	int closing; /* the client closed its end: go once output is out */
};

struct control {
	GMutex lock;	   /* m and incoming, set by the main thread */
	struct machine *m; /* NULL while an incoming migration is awaited */
	char *incoming;	   /* the URI migrate-incoming gave */
	int awaiting;	   /* the main thread waits for it */
	int wait_ended;	   /* a signal ended that wait */
	GCond incoming_cond;
	struct incoming *arriving; /* the guest's migration in, meanwhile */
	char *path;
	/* The socket this control made at `path` (its directory resolved),
	 * and its inode: what is removed at the end must still be it. */
	char *canon;
	dev_t sock_dev;
	ino_t sock_ino;
	unsigned int timeout; /* s */
	unsigned int idle;    /* s a client may send nothing; 0: no limit */
	GSocket *listener;
	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	GPtrArray *clients; /* struct client * */
	unsigned int serial;
	/* The last outgoing migration (the protocol thread's), or NULL;
	 * replaced and settled under mig_lock. */
	struct migration *migration;
	GMutex mig_lock;
	const struct control_commands *cmds;
};

/* Replies ----------------------------------------------------------------- */

static char *node_line(JsonNode *n)
{
	char *s = json_to_string(n, FALSE);

	json_node_unref(n);
	return s;
}

static JsonNode *error_node(const char *cls, const char *desc, JsonNode *id)
{
	JsonObject *o = json_object_new(), *e = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	/* What a client sent may not be UTF-8 (a lone \u escape). */
	g_autofree char *valid = g_utf8_make_valid(desc, -1);

	json_object_set_string_member(e, "class", cls);
	json_object_set_string_member(e, "desc", valid);
	json_object_set_object_member(o, "error", e);
	if (id)
		json_object_set_member(o, "id", json_node_copy(id));
	json_node_take_object(n, o);
	return n;
}

char *control_error_line(const char *cls, const char *desc)
{
	return node_line(error_node(cls, desc, NULL));
}

char *control_greeting(void)
{
	JsonObject *o = json_object_new(), *q = json_object_new();
	JsonObject *v = json_object_new(), *qemu = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	g_auto(GStrv) parts = g_strsplit(MODVMM_VERSION, ".", 3);

	/* QMP clients read version.qemu; ours is modvmm's own. */
	json_object_set_int_member(qemu, "major",
				   parts[0] ? atoi(parts[0]) : 0);
	json_object_set_int_member(qemu, "minor",
				   parts[0] && parts[1] ? atoi(parts[1]) : 0);
	json_object_set_int_member(
		qemu, "micro",
		parts[0] && parts[1] && parts[2] ? atoi(parts[2]) : 0);
	json_object_set_object_member(v, "qemu", qemu);
	json_object_set_string_member(v, "package", "modvmm " MODVMM_VERSION);
	json_object_set_string_member(v, "abi", MODVMM_ABI_STRING);
	json_object_set_object_member(q, "version", v);
	json_object_set_array_member(q, "capabilities", json_array_new());
	json_object_set_object_member(o, "QMP", q);
	json_node_take_object(n, o);
	return node_line(n);
}

/* Sessions ---------------------------------------------------------------- */

static GType arg_gtype(const char *type)
{
	if (!strcmp(type, "int"))
		return G_TYPE_INT64;
	if (!strcmp(type, "bool"))
		return G_TYPE_BOOLEAN;
	return G_TYPE_STRING;
}

/* Checks `args` against the command's table; the message as QEMU words it. */
static char *args_check(const struct control_cmd *cmd, JsonObject *args)
{
	g_autoptr(GList) members = json_object_get_members(args);

	for (GList *l = members; l; l = l->next) {
		const struct control_arg *a = cmd->args;
		JsonNode *v = json_object_get_member(args, l->data);

		while (a->name && strcmp(a->name, l->data))
			a++;
		if (!a->name) {
			if (cmd->open_args)
				continue;
			return g_strdup_printf("Parameter '%s' is unexpected",
					       (char *)l->data);
		}
		if (json_read_type(v) != arg_gtype(a->type))
			return g_strdup_printf("Invalid parameter type for "
					       "'%s', expected: %s",
					       a->name, a->type);
	}
	for (const struct control_arg *a = cmd->args; a->name; a++)
		if (a->required && !json_object_has_member(args, a->name))
			return g_strdup_printf("Parameter '%s' is missing",
					       a->name);
	return NULL;
}

struct machine *control_machine(struct control *c)
{
	struct machine *m;

	g_mutex_lock(&c->lock);
	m = c->m;
	g_mutex_unlock(&c->lock);
	return m;
}

void control_end_wait(struct control *c)
{
	g_mutex_lock(&c->lock);
	c->wait_ended = 1;
	g_cond_broadcast(&c->incoming_cond);
	g_mutex_unlock(&c->lock);
}

void control_attach_incoming(struct control *c, struct incoming *in)
{
	g_mutex_lock(&c->lock);
	c->arriving = in;
	g_mutex_unlock(&c->lock);
}

struct incoming *control_incoming(struct control *c)
{
	struct incoming *in;

	if (!c)
		return NULL;
	g_mutex_lock(&c->lock);
	in = c->arriving;
	g_mutex_unlock(&c->lock);
	return in;
}

void control_migration_lock(struct control *c)
{
	g_mutex_lock(&c->mig_lock);
}

void control_migration_unlock(struct control *c)
{
	g_mutex_unlock(&c->mig_lock);
}

void control_settle_migration(struct control *c)
{
	if (!c)
		return;
	g_mutex_lock(&c->mig_lock);
	migration_settle(c->migration);
	g_mutex_unlock(&c->mig_lock);
}

void control_attach(struct control *c, struct machine *m)
{
	g_mutex_lock(&c->lock);
	c->m = m;
	g_mutex_unlock(&c->lock);
}

char *control_wait_incoming(struct control *c)
{
	char *uri;

	g_mutex_lock(&c->lock);
	while (!c->incoming && !c->wait_ended)
		g_cond_wait(&c->incoming_cond, &c->lock);
	uri = g_strdup(c->incoming);
	g_mutex_unlock(&c->lock);
	return uri;
}

int control_set_incoming(struct control *c, const char *uri, GError **error)
{
	int r = 0;

	if (!c)
		return error_setf(error, EOPNOTSUPP,
				  "no incoming migration is awaited");
	g_mutex_lock(&c->lock);
	if (!c->awaiting || c->incoming || c->m)
		r = error_setf(error, EALREADY,
			       c->incoming
				       ? "the incoming migration has its "
					 "URI already (%s)"
				       : "no incoming migration is awaited "
					 "(start modvmm run with --incoming "
					 "defer)",
			       c->incoming);
	else
		c->incoming = g_strdup(uri);
	g_cond_broadcast(&c->incoming_cond);
	g_mutex_unlock(&c->lock);
	return r;
}

/*
 * Whether `uri` is "fd:N" for a descriptor of the control socket itself
 * (its listener or a client's connection): the migration commands take
 * any socket this process holds, and a stream written to a client, or
 * read from it, would garble the protocol. On the control thread only.
 */
static int names_own_socket(struct control *c, const char *uri)
{
	char *end;
	long fd;

	if (!c || !g_str_has_prefix(uri, "fd:"))
		return 0;
	fd = strtol(uri + 3, &end, 10);
	if (!uri[3] || *end)
		return 0;
	if (fd == g_socket_get_fd(c->listener))
		return 1;
	for (guint i = 0; i < c->clients->len; i++)
		if (fd ==
		    g_socket_get_fd(
			    ((struct client *)c->clients->pdata[i])->sock))
			return 1;
	return 0;
}

/*
 * The request's envelope as QEMU checks it: only known members, a string
 * "execute", an object "arguments" (absent: none). Returns NULL, or the
 * error reply; *ret_args is left alone when there are no arguments.
 */
static JsonNode *request_check(JsonObject *req, JsonNode *id,
			       const char **ret_name, JsonObject **ret_args)
{
	static const char *const known[] = { "execute", "arguments", "id" };
	g_autoptr(GList) members = json_object_get_members(req);
	g_autofree char *bad = NULL;
	JsonNode *exec, *an;

	for (GList *l = members; l; l = l->next) {
		size_t i = 0;

		while (i < G_N_ELEMENTS(known) && strcmp(known[i], l->data))
			i++;
		if (i == G_N_ELEMENTS(known)) {
			bad = g_strdup_printf("QMP input member '%s' is "
					      "unexpected",
					      (char *)l->data);
			return error_node("GenericError", bad, id);
		}
	}
	exec = json_object_get_member(req, "execute");
	if (!exec)
		return error_node("GenericError",
				  "QMP input lacks member 'execute'", id);
	if (json_read_type(exec) != G_TYPE_STRING)
		return error_node("GenericError",
				  "QMP input member 'execute' must be a string",
				  id);
	an = json_object_get_member(req, "arguments");
	if (an && !JSON_NODE_HOLDS_OBJECT(an))
		return error_node(
			"GenericError",
			"QMP input member 'arguments' must be an object", id);
	if (an)
		*ret_args = json_node_get_object(an);
	*ret_name = json_node_get_string(exec);
	return NULL;
}

/*
 * The command `name` may run now, with these arguments: negotiation
 * first, then only once; known; its arguments as its table says; a
 * migration's "uri" not the control socket's own. NULL or the error.
 */
static JsonNode *command_check(struct control_session *s, const char *name,
			       const struct control_cmd *cmd, JsonObject *args,
			       JsonNode *id)
{
	g_autofree char *bad = NULL;

	if (!s->negotiated && (!cmd || strcmp(name, "qmp_capabilities")))
		return error_node("CommandNotFound",
				  "Expecting capabilities negotiation with "
				  "'qmp_capabilities'",
				  id);
	if (s->negotiated && cmd && !strcmp(name, "qmp_capabilities"))
		return error_node("CommandNotFound",
				  "Capabilities negotiation is already "
				  "complete, command ignored",
				  id);
	if (!cmd) {
		bad = g_strdup_printf("The command %s has not been found",
				      name);
		return error_node("CommandNotFound", bad, id);
	}
	bad = args_check(cmd, args);
	if (bad)
		return error_node("GenericError", bad, id);
	if (json_object_has_member(args, "uri") && !cmd->open_args &&
	    names_own_socket(s->c,
			     json_object_get_string_member(args, "uri"))) {
		bad = g_strdup_printf(
			"%s: a descriptor of the control socket, "
			"not one for a migration",
			json_object_get_string_member(args, "uri"));
		return error_node("GenericError", bad, id);
	}
	return NULL;
}

static JsonNode *session_run(struct control_session *s, JsonNode *root)
{
	g_autoptr(JsonObject) empty = json_object_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *bad = NULL;
	const struct control_cmd *cmd;
	JsonObject *req, *args = empty;
	JsonNode *id, *ret, *reply;
	const char *name = NULL;

	if (!JSON_NODE_HOLDS_OBJECT(root))
		return error_node("GenericError",
				  "QMP input must be a JSON object", NULL);
	req = json_node_get_object(root);
	id = json_object_get_member(req, "id");
	if ((reply = request_check(req, id, &name, &args)))
		return reply;
	cmd = s->cmds->find(name);
	if ((reply = command_check(s, name, cmd, args, id)))
		return reply;
	/* The guest may have arrived (an incoming migration) meanwhile. */
	if (s->c)
		s->m = control_machine(s->c);
	if (!s->m && !cmd->without_machine) {
		bad = g_strdup_printf("%s: the guest has not arrived yet (an "
				      "incoming migration is awaited)",
				      name);
		return error_node("GenericError", bad, id);
	}
	ret = cmd->fn(s, args, &err);
	if (!ret)
		return error_node(s->cmds->error_class(err), err->message, id);
	reply = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(reply, json_object_new());
	json_object_set_member(json_node_get_object(reply), "return", ret);
	if (id)
		json_object_set_member(json_node_get_object(reply), "id",
				       json_node_copy(id));
	return reply;
}

/*
 * json-glib reads an integer beyond 64 bits as a wrapped value (-1, 1)
 * and a number beyond a double's range as infinity, which it then writes
 * as `inf.0`, not JSON: so such a number is found in the text first,
 * with the member it is the value of (or is in). The text has passed
 * json_read_check(): outside strings there are only JSON's characters,
 * nested at most MAX_DEPTH levels.
 * Returns the offset of the number, or -1 if every number is in range.
 */
static gssize number_out_of_range(const char *s, size_t len, char **ret_key,
				  const char **ret_kind)
{
	/* The member each open array or object is the value of. */
	const char *outer[MAX_DEPTH + 1];
	size_t outer_len[MAX_DEPTH + 1];
	const char *key = NULL;
	size_t key_len = 0;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		size_t end = i + 1;

		if ((s[i] == '{' || s[i] == '[') && depth <= MAX_DEPTH) {
			outer[depth] = key;
			outer_len[depth++] = key_len;
			continue;
		}
		if ((s[i] == '}' || s[i] == ']') && depth > 0) {
			key = outer[--depth];
			key_len = outer_len[depth];
			continue;
		}

		if (s[i] == '"') {
			size_t start = i + 1, j;

			while (end < len && s[end] != '"')
				end += s[end] == '\\' ? 2 : 1;
			/* A string followed by ':' names the values after it. */
			for (j = end + 1; j < len && g_ascii_isspace(s[j]); j++)
				;
			if (j < len && s[j] == ':') {
				key = s + start;
				key_len = MIN(end, len) - start;
			}
			i = end;
			continue;
		}
		if (s[i] != '-' && !g_ascii_isdigit(s[i]))
			continue;
		while (end < len && strchr("+-.0123456789eE", s[end]))
			end++;
		{
			g_autofree char *num = g_strndup(s + i, end - i);
			int integer = !strpbrk(num, ".eE");
			char *stop;

			errno = 0;
			if (integer)
				g_ascii_strtoll(num, &stop, 10);
			if ((integer && errno == ERANGE) ||
			    (!integer && isinf(g_ascii_strtod(num, &stop)))) {
				*ret_key = key ? g_strndup(key, key_len) : NULL;
				*ret_kind = integer ? "a 64-bit integer"
						    : "a double";
				return (gssize)i;
			}
		}
		i = end - 1;
	}
	return -1;
}

static char *out_of_range_line(const char *line, size_t len, gssize at,
			       const char *key, const char *kind)
{
	size_t n = 0;
	g_autofree char *msg = NULL;

	while (at + n < len && strchr("+-.0123456789eE", line[at + n]))
		n++;
	msg = g_strdup_printf("JSON number out of range at offset %zd%s%s%s: "
			      "%.*s%s is beyond %s",
			      at, key ? " (member '" : "", key ? key : "",
			      key ? "')" : "", (int)MIN(n, 40), line + at,
			      n > 40 ? "..." : "", kind);
	return control_error_line("GenericError", msg);
}

char *control_session_line(struct control_session *s, const char *line,
			   size_t len)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *msg = NULL, *key = NULL;
	const char *kind;
	JsonNode *root;
	gssize bad_at;

	while (len && g_ascii_isspace(line[len - 1]))
		len--;
	/* Every line gets one reply: a client waiting for one must not
	 * wait forever. */
	if (!len)
		return control_error_line("GenericError",
					  "QMP input is an empty line: "
					  "expected a JSON object");
	/* Checked before the numbers are looked at, and again (at no
	 * cost worth a second function) as the text is parsed. */
	if (json_read_check(line, len, MAX_DEPTH, &err) < 0) {
		msg = g_strdup_printf("JSON parse error: %s", err->message);
		return control_error_line("GenericError", msg);
	}
	bad_at = number_out_of_range(line, len, &key, &kind);
	if (bad_at >= 0)
		return out_of_range_line(line, len, bad_at, key, kind);
	parser = json_parser_new_immutable();
	if (json_read_parse(parser, line, len, MAX_DEPTH, &err) < 0) {
		msg = g_strdup_printf("JSON parse error: %s", err->message);
		return control_error_line("GenericError", msg);
	}
	root = json_parser_get_root(parser);
	if (!root)
		return control_error_line("GenericError",
					  "QMP input is an empty line: "
					  "expected a JSON object");
	if (!json_read_all_utf8(root))
		return control_error_line("GenericError",
					  "JSON parse error: a string is not "
					  "valid UTF-8");
	return node_line(session_run(s, root));
}

/* Clients ----------------------------------------------------------------- */

/*
 * Runs fn on the control thread, after what it is doing now: a command's
 * reply goes out before the events it caused, and no client goes away
 * under the code that serves it. `destroy` frees data, also when the
 * loop ends before fn ran.
 */
static void queue(struct control *c, GSourceFunc fn, gpointer data,
		  GDestroyNotify destroy)
{
	GSource *src = g_idle_source_new();

	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, fn, data, destroy);
	g_source_attach(src, c->ctx);
	g_source_unref(src);
}

static void client_free(struct client *cl)
{
	if (cl->in_src) {
		g_source_destroy(cl->in_src);
		g_source_unref(cl->in_src);
	}
	if (cl->out_src) {
		g_source_destroy(cl->out_src);
		g_source_unref(cl->out_src);
	}
	g_socket_close(cl->sock, NULL);
	g_object_unref(cl->sock);
	g_string_free(cl->in, TRUE);
	g_string_free(cl->out, TRUE);
	g_free(cl);
}

static void client_drop(struct client *cl, const char *why)
{
	struct control *c = cl->c;

	struct machine *m = control_machine(c);

	if (why && m && m->devs->sinks.log) {
		g_autofree char *id = g_strdup_printf("control#%u", cl->serial);

		m->devs->sinks.log(m->devs->sinks.opaque, id,
				   MODVMM_LOG_WARNING, why);
	}
	g_ptr_array_remove(c->clients, cl);
	client_free(cl);
}

static gboolean client_writable(GSocket *sock, GIOCondition cond,
				gpointer data);

/* Writes what the socket takes now; returns -1 when the client is gone. */
static int client_flush(struct client *cl)
{
	while (cl->out_pos < cl->out->len) {
		g_autoptr(GError) err = NULL;
		gssize n =
			g_socket_send(cl->sock, cl->out->str + cl->out_pos,
				      cl->out->len - cl->out_pos, NULL, &err);

		if (n < 0 &&
		    g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			break;
		if (n <= 0) {
			client_drop(cl, NULL);
			return -1;
		}
		cl->out_pos += (gsize)n;
		if (cl->s.negotiated)
			cl->deadline = 0;
	}
	if (cl->out_pos == cl->out->len) {
		g_string_truncate(cl->out, 0);
		cl->out_pos = 0;
		if (cl->out_src) {
			g_source_destroy(cl->out_src);
			g_clear_pointer(&cl->out_src, g_source_unref);
		}
		if (cl->closing) {
			client_drop(cl, NULL);
			return -1;
		}
		return 0;
	}
	if (!cl->deadline)
		cl->deadline = g_get_monotonic_time() +
			       (gint64)cl->c->timeout * G_USEC_PER_SEC;
	if (!cl->out_src) {
		cl->out_src = g_socket_create_source(cl->sock, G_IO_OUT, NULL);
		g_source_set_callback(cl->out_src,
				      G_SOURCE_FUNC(client_writable), cl, NULL);
		g_source_attach(cl->out_src, cl->c->ctx);
	}
	return 0;
}

static gboolean client_writable(GSocket *sock, GIOCondition cond, gpointer data)
{
	struct client *cl = data;

	(void)sock;
	(void)cond;
	client_flush(cl);
	return G_SOURCE_CONTINUE;
}

/* Queues one line; -1 when the client was dropped. */
static int client_send(struct client *cl, const char *line)
{
	if (cl->out->len - cl->out_pos + strlen(line) + 1 >
	    CONTROL_OUTPUT_MAX) {
		client_drop(cl, "client does not read its output; "
				"disconnected");
		return -1;
	}
	g_string_append(cl->out, line);
	g_string_append_c(cl->out, '\n');
	return client_flush(cl);
}

static char *too_long_line(void)
{
	g_autofree char *msg =
		g_strdup_printf("request line longer than %u bytes: discarded",
				CONTROL_LINE_MAX);

	return control_error_line("GenericError", msg);
}

/* Handles the complete lines in cl->in; -1 when the client is gone. */
static int client_lines(struct client *cl)
{
	gsize start = 0;
	char *nl;

	while ((nl = memchr(cl->in->str + start, '\n', cl->in->len - start))) {
		gsize len = (gsize)(nl - (cl->in->str + start));
		g_autofree char *reply = NULL;

		if (cl->discarding)
			cl->discarding = 0;
		else if (len > CONTROL_LINE_MAX)
			reply = too_long_line();
		else
			reply = control_session_line(&cl->s,
						     cl->in->str + start, len);
		start += len + 1;
		cl->last_line = g_get_monotonic_time();
		if (cl->s.negotiated && !cl->out_src)
			cl->deadline = 0;
		if (reply && client_send(cl, reply) < 0)
			return -1;
	}
	g_string_erase(cl->in, 0, (gssize)start);
	if (cl->in->len > CONTROL_LINE_MAX) {
		g_autofree char *line = too_long_line();

		g_string_truncate(cl->in, 0);
		if (!cl->discarding) {
			cl->discarding = 1;
			return client_send(cl, line);
		}
	}
	return 0;
}

static struct client *client_by_serial(struct control *c, unsigned int serial)
{
	for (guint i = 0; i < c->clients->len; i++) {
		struct client *cl = c->clients->pdata[i];

		if (cl->serial == serial)
			return cl;
	}
	return NULL;
}

struct close_msg {
	struct control *c;
	unsigned int serial;
};

/* The client may have gone meanwhile (a timeout); hence the serial. */
static gboolean client_closed(gpointer data)
{
	struct close_msg *cm = data;
	struct client *cl = client_by_serial(cm->c, cm->serial);

	if (cl) {
		cl->closing = 1;
		client_flush(cl);
	}
	return G_SOURCE_REMOVE;
}

static gboolean client_readable(GSocket *sock, GIOCondition cond, gpointer data)
{
	struct client *cl = data;
	char buf[16384];
	g_autoptr(GError) err = NULL;
	gssize n;

	(void)cond;
	n = g_socket_receive(sock, buf, sizeof(buf), NULL, &err);
	if (n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
		return G_SOURCE_CONTINUE;
	if (n == 0) {
		/* It may still read: what its requests caused (replies
		 * queued, events queued behind them) goes out first. */
		g_source_destroy(cl->in_src);
		g_clear_pointer(&cl->in_src, g_source_unref);
		{
			struct close_msg *cm = g_new0(struct close_msg, 1);

			cm->c = cl->c;
			cm->serial = cl->serial;
			queue(cl->c, client_closed, cm, g_free);
		}
		return G_SOURCE_REMOVE;
	}
	if (n < 0) {
		/* GLib holds the source while it dispatches it. */
		client_drop(cl, NULL);
		return G_SOURCE_REMOVE;
	}
	g_string_append_len(cl->in, buf, n);
	client_lines(cl);
	return G_SOURCE_CONTINUE;
}

static gboolean control_accept(GSocket *sock, GIOCondition cond, gpointer data)
{
	struct control *c = data;
	g_autofree char *greeting = NULL;
	struct client *cl;
	GSocket *s;

	(void)cond;
	s = g_socket_accept(sock, NULL, NULL);
	if (!s)
		return G_SOURCE_CONTINUE;
	g_socket_set_blocking(s, FALSE);
	if (c->clients->len >= CONTROL_MAX_CLIENTS) {
		g_autofree char *msg =
			g_strdup_printf("too many control clients (at most %u)",
					CONTROL_MAX_CLIENTS);
		g_autofree char *line = control_error_line("GenericError", msg);
		g_autofree char *nl = g_strconcat(line, "\n", NULL);

		g_socket_send(s, nl, strlen(nl), NULL, NULL);
		g_socket_close(s, NULL);
		g_object_unref(s);
		return G_SOURCE_CONTINUE;
	}
	cl = g_new0(struct client, 1);
	cl->c = c;
	cl->s.c = c;
	cl->s.cmds = c->cmds;
	cl->sock = s;
	cl->in = g_string_new(NULL);
	cl->out = g_string_new(NULL);
	cl->serial = ++c->serial;
	cl->last_line = g_get_monotonic_time();
	cl->deadline = cl->last_line + (gint64)c->timeout * G_USEC_PER_SEC;
	g_ptr_array_add(c->clients, cl);
	cl->in_src =
		g_socket_create_source(s, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(cl->in_src, G_SOURCE_FUNC(client_readable), cl,
			      NULL);
	g_source_attach(cl->in_src, c->ctx);
	greeting = control_greeting();
	client_send(cl, greeting);
	return G_SOURCE_CONTINUE;
}

/*
 * Once a second: clients past their handshake or output deadline go, and
 * so do clients that sent no request for the idle limit, which would
 * otherwise hold the CONTROL_MAX_CLIENTS places for ever and lock the
 * operator out.
 */
static gboolean control_tick(gpointer data)
{
	struct control *c = data;
	gint64 now = g_get_monotonic_time();

	for (guint i = c->clients->len; i-- > 0;) {
		struct client *cl = c->clients->pdata[i];

		if (c->idle && cl->s.negotiated &&
		    now - cl->last_line >= (gint64)c->idle * G_USEC_PER_SEC) {
			g_autofree char *why = g_strdup_printf(
				"no request for %u s (the idle limit); "
				"disconnected",
				c->idle);

			client_drop(cl, why);
			continue;
		}
		if (!cl->deadline || now < cl->deadline)
			continue;
		client_drop(cl, cl->s.negotiated
					? "client output stalled past the "
					  "timeout; disconnected"
					: "no qmp_capabilities within the "
					  "timeout; disconnected");
	}
	return G_SOURCE_CONTINUE;
}

/* Events ------------------------------------------------------------------ */

struct event_msg {
	struct control *c;
	char *line;
};

static gboolean deliver_event(gpointer data)
{
	struct event_msg *e = data;

	for (guint i = e->c->clients->len; i-- > 0;) {
		struct client *cl = e->c->clients->pdata[i];

		if (cl->s.negotiated)
			client_send(cl, e->line);
	}
	return G_SOURCE_REMOVE;
}

static void event_msg_free(gpointer data)
{
	struct event_msg *e = data;

	g_free(e->line);
	g_free(e);
}

void control_event(struct control *c, const char *name, JsonNode *data)
{
	JsonObject *o, *ts;
	JsonNode *n;
	struct event_msg *e;
	gint64 now = g_get_real_time();

	if (!c) {
		if (data)
			json_node_unref(data);
		return;
	}
	o = json_object_new();
	ts = json_object_new();
	json_object_set_string_member(o, "event", name);
	if (!data) {
		data = json_node_new(JSON_NODE_OBJECT);
		json_node_take_object(data, json_object_new());
	}
	json_object_set_member(o, "data", data);
	json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
	json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
	json_object_set_object_member(o, "timestamp", ts);
	n = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(n, o);
	e = g_new0(struct event_msg, 1);
	e->c = c;
	e->line = node_line(n);
	queue(c, deliver_event, e, event_msg_free);
}

static JsonNode *shutdown_data(gboolean guest, const char *reason)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_object_set_boolean_member(o, "guest", guest);
	json_object_set_string_member(o, "reason", reason);
	json_node_take_object(n, o);
	return n;
}

void control_run_ended(struct control *c, const struct kvm_result *res)
{
	const char *reason = "host-error";
	gboolean guest = TRUE;
	JsonNode *d;

	switch (res->end) {
	case KVM_END_EXIT:
		reason = "guest-exit";
		break;
	case KVM_END_POWEROFF:
		reason = "guest-shutdown";
		break;
	case KVM_END_RESET:
		reason = "guest-reset";
		control_event(c, "RESET", shutdown_data(TRUE, reason));
		break;
	case KVM_END_TRIPLE_FAULT:
		reason = "guest-triple-fault";
		control_event(c, "RESET", shutdown_data(TRUE, reason));
		break;
	case KVM_END_PANIC:
		reason = "guest-panic";
		d = json_node_new(JSON_NODE_OBJECT);
		json_node_take_object(d, json_object_new());
		json_object_set_string_member(json_node_get_object(d), "action",
					      "shutdown");
		control_event(c, "GUEST_PANICKED", d);
		break;
	case KVM_END_STOPPED:
		reason = "host-signal";
		guest = FALSE;
		break;
	case KVM_END_QUIT:
		reason = "host-qmp-quit";
		guest = FALSE;
		break;
	case KVM_END_MIGRATED:
		reason = "migrated";
		guest = FALSE;
		break;
	default:
		guest = FALSE;
		break;
	}
	d = shutdown_data(guest, reason);
	if (res->message)
		json_object_set_string_member(json_node_get_object(d),
					      "message", res->message);
	if (res->end == KVM_END_EXIT)
		json_object_set_int_member(json_node_get_object(d), "status",
					   res->arg);
	control_event(c, "SHUTDOWN", d);
}

/* The server -------------------------------------------------------------- */

static gpointer control_thread(gpointer data)
{
	struct control *c = data;

	/* Module loading runs here: main's list has what dlopen() needs. */
	sandbox_enter_or_die(SANDBOX_MAIN);
	g_main_context_push_thread_default(c->ctx);
	g_main_loop_run(c->loop);
	g_main_context_pop_thread_default(c->ctx);
	return NULL;
}

/* A socket file nobody listens on is left over from an earlier run. */
static int claim_path(const char *path, GError **error)
{
	g_autoptr(GSocket) probe = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return error_setf(error, EEXIST,
				  "control socket %s: the path exists and is "
				  "not a socket",
				  path);
	probe = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
			     G_SOCKET_PROTOCOL_DEFAULT, NULL);
	addr = g_unix_socket_address_new(path);
	if (probe && g_socket_connect(probe, addr, NULL, NULL))
		return error_setf(error, EADDRINUSE,
				  "control socket %s: another process "
				  "listens on it",
				  path);
	unlink(path);
	return 0;
}

/* The socket is bound as PATH.new first; GLib would cut a long name. */
static int path_check(const char *path, GError **error)
{
	size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1 -
		     strlen(".new");

	if (!*path)
		return error_setf(error, EINVAL,
				  "--control: the socket path is empty");
	if (strlen(path) > max)
		return error_setf(error, ENAMETOOLONG,
				  "control socket %s: a control socket path "
				  "has at most %zu bytes, this one %zu",
				  path, max, strlen(path));
	return 0;
}

/*
 * Why the socket could not be made, said of the directory the user gave
 * and without GLib's wording (its bind error names a GObject type).
 */
static int listen_error(const char *path, const GError *err, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	const char *why = err ? strrchr(err->message, ':') : NULL;

	/* GLib's text ends in strerror()'s, after the last colon. */
	why = why ? why + 1 + strspn(why + 1, " ") : NULL;

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
		return error_setf(error, ENOENT,
				  "control socket %s: directory %s does not "
				  "exist (create it, or give a path in one "
				  "that does)",
				  path, dir);
	if (!why || !*why)
		why = err ? err->message : "not created";
	return error_setf(error, EADDRNOTAVAIL, "control socket %s: %s", path,
			  why);
}

/* `path` with its directory resolved: the same name however it is
 * spelt, even for a file that does not exist (yet). */
static char *canonical_path(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *real = realpath(dir, NULL);

	return g_build_filename(real ? real : dir, base, NULL);
}

int control_is_socket_path(struct control *c, const char *path)
{
	g_autofree char *canon = NULL;
	struct stat st;

	if (stat(path, &st) == 0)
		return st.st_dev == c->sock_dev && st.st_ino == c->sock_ino;
	canon = canonical_path(path);
	return !strcmp(canon, c->canon);
}

int control_new(struct machine *m, const char *path, unsigned int timeout,
		unsigned int idle, const struct control_commands *cmds,
		struct control **ret, GError **error)
{
	struct stat st;
	g_autoptr(GSocketAddress) addr = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *tmp = NULL;
	struct control *c;
	mode_t old_mask;
	gboolean bound;
	GSource *src;
	int r;

	r = path_check(path, error);
	if (r < 0)
		return r;
	r = claim_path(path, error);
	if (r < 0)
		return r;
	c = g_new0(struct control, 1);
	g_mutex_init(&c->lock);
	g_mutex_init(&c->mig_lock);
	g_cond_init(&c->incoming_cond);
	c->m = m;
	c->cmds = cmds;
	c->awaiting = !m; /* from the start: a client may be quick */
	c->path = g_strdup(path);
	c->timeout = timeout ? timeout : CONTROL_TIMEOUT_DEFAULT;
	c->idle = idle;
	c->clients = g_ptr_array_new();
	c->listener = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
				   G_SOCKET_PROTOCOL_DEFAULT, &err);
	/* Bound and listening under a temporary name, then renamed: a
	 * client that sees the path can connect. Only the user who runs
	 * modvmm may drive it, from the start. */
	tmp = g_strconcat(path, ".new", NULL);
	unlink(tmp);
	addr = g_unix_socket_address_new(tmp);
	old_mask = umask(0177);
	bound = c->listener && g_socket_bind(c->listener, addr, FALSE, &err);
	umask(old_mask);
	if (bound && g_socket_listen(c->listener, &err) &&
	    rename(tmp, path) < 0)
		g_set_error(&err, G_IO_ERROR, g_io_error_from_errno(errno),
			    "rename from %s: %s", tmp, g_strerror(errno));
	if (!bound || err) {
		unlink(tmp);
		r = listen_error(path, err, error);
		g_clear_object(&c->listener);
		g_ptr_array_unref(c->clients);
		g_free(c->path);
		g_free(c);
		return r;
	}
	c->canon = canonical_path(path);
	if (lstat(path, &st) == 0) {
		c->sock_dev = st.st_dev;
		c->sock_ino = st.st_ino;
	}
	g_socket_set_blocking(c->listener, FALSE);
	c->ctx = g_main_context_new();
	c->loop = g_main_loop_new(c->ctx, FALSE);
	src = g_socket_create_source(c->listener, G_IO_IN, NULL);
	g_source_set_callback(src, G_SOURCE_FUNC(control_accept), c, NULL);
	g_source_attach(src, c->ctx);
	g_source_unref(src);
	src = g_timeout_source_new_seconds(1);
	g_source_set_callback(src, control_tick, c, NULL);
	g_source_attach(src, c->ctx);
	g_source_unref(src);
	c->thread = g_thread_new("control", control_thread, c);
	*ret = c;
	return 0;
}

/* On the control thread: what each client is owed, then the loop ends. */
static gboolean control_finish(gpointer data)
{
	struct control *c = data;
	gint64 until = g_get_monotonic_time() + G_USEC_PER_SEC;

	while (c->clients->len) {
		struct client *cl = c->clients->pdata[c->clients->len - 1];

		g_socket_set_blocking(cl->sock, TRUE);
		while (cl->out_pos < cl->out->len &&
		       g_get_monotonic_time() < until) {
			gssize n;

			g_socket_set_timeout(cl->sock, 1);
			n = g_socket_send(cl->sock, cl->out->str + cl->out_pos,
					  cl->out->len - cl->out_pos, NULL,
					  NULL);
			if (n <= 0)
				break;
			cl->out_pos += (gsize)n;
		}
		g_ptr_array_remove_index(c->clients, c->clients->len - 1);
		client_free(cl);
	}
	g_main_loop_quit(c->loop);
	return G_SOURCE_REMOVE;
}

void control_free(struct control *c)
{
	struct stat st;

	if (!c)
		return;
	/* Queued after every event already sent, so those go out first. */
	queue(c, control_finish, c, NULL);
	g_thread_join(c->thread);
	/* Before the machine goes: its thread uses it. What it still
	 * reports goes nowhere now. */
	if (migration_running(c->migration))
		migration_cancel(c->migration, NULL);
	migration_free(c->migration);
	g_socket_close(c->listener, NULL);
	g_object_unref(c->listener);
	/* Only the socket made here: whatever replaced it is someone's. */
	if (lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == c->sock_dev && st.st_ino == c->sock_ino)
		unlink(c->path);
	g_main_loop_unref(c->loop);
	g_main_context_unref(c->ctx);
	g_ptr_array_unref(c->clients);
	g_mutex_clear(&c->lock);
	g_mutex_clear(&c->mig_lock);
	g_cond_clear(&c->incoming_cond);
	g_free(c->incoming);
	g_free(c->path);
	g_free(c->canon);
	g_free(c);
}

struct migration **control_migration(struct control *c)
{
	return &c->migration;
}
