/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_CONTROL_H
#define CORE_CONTROL_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "kvm-cpu.h"
#include "machine.h"

/*
 * The control socket: a QMP-style protocol on a unix socket (docs/
 * control.md). Requests are JSON objects, one per line; every request gets
 * one reply; events go to every client that has negotiated. The protocol
 * runs on a thread of its own, so no client can hold up the vCPUs, and a
 * client that does not read its replies is dropped once its output passes
 * CONTROL_OUTPUT_MAX or stays unwritten for the timeout.
 */

#define CONTROL_LINE_MAX (64 * 1024)   /* bytes of one request line */
#define CONTROL_OUTPUT_MAX (16u << 20) /* pending output of one client */
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_TIMEOUT_DEFAULT 60 /* seconds: handshake, stalled output */
/* Seconds a negotiated client may send no request; 0 is no limit. */
#define CONTROL_IDLE_DEFAULT 600
#define CONTROL_IDLE_MIN 5 /* modvmm ctl watch asks every 2 s */

struct control;
struct control_session;

struct control_arg {
	const char *name;
	const char *type; /* "string", "int" or "bool" */
	int required;
};

struct control_cmd {
	const char *name;
	const struct control_arg *args; /* NULL-name terminated */
	/* Members not in `args` are allowed (device-add's properties). */
	int open_args;
	/* Returns the "return" value, or NULL with *error set. */
	JsonNode *(*fn)(struct control_session *s, JsonObject *args,
			GError **error);
	/* Runs before the guest has arrived (--incoming defer). */
	int without_machine;
};

/*
 * The commands a control answers (control-cmds.c's: control_commands()),
 * given by the front end, so that the protocol knows none of them.
 */
struct control_commands {
	const struct control_cmd *(*find)(const char *name);
	/* The QMP error class for an error a command returned. */
	const char *(*error_class)(const GError *err);
};

/*
 * Listens on `path` (a stale socket left there is replaced; anything else
 * is refused) and starts the protocol thread. `timeout` is in seconds;
 * `idle`, the seconds a negotiated client may send no request before it
 * is disconnected (0: no limit).
 */
int control_new(struct machine *m, const char *path, unsigned int timeout,
		unsigned int idle, const struct control_commands *cmds,
		struct control **ret, GError **error);

/*
 * A destination started with --incoming defer: the control socket runs
 * before there is a machine (m NULL in control_new()). The main thread
 * waits for the URI a client gives with migrate-incoming, and attaches
 * the machine once the guest has arrived.
 */
char *control_wait_incoming(struct control *c);
int control_set_incoming(struct control *c, const char *uri, GError **error);
/* Ends control_wait_incoming() without a URI (NULL): a signal came. */
void control_end_wait(struct control *c);
/*
 * The migration the guest arrives by, while it does, for query-migrate
 * and migrate-cancel (NULL: none). It must outlive the control.
 */
struct incoming;
void control_attach_incoming(struct control *c, struct incoming *in);
struct incoming *control_incoming(struct control *c);
void control_attach(struct control *c, struct machine *m);
struct machine *control_machine(struct control *c);

/*
 * Where the control keeps the outgoing migration its commands start: it
 * owns it, and ends it in control_free(), before the machine goes.
 * For the protocol thread only.
 */
struct migration;
struct migration **control_migration(struct control *c);
/* Held while the protocol thread replaces it. */
void control_migration_lock(struct control *c);
void control_migration_unlock(struct control *c);
/* For a stop, from any thread: migration_settle() on it. */
void control_settle_migration(struct control *c);

/* Sends an event to every negotiated client; takes `data` (may be NULL).
 * Callable from any thread. */
void control_event(struct control *c, const char *name, JsonNode *data);

/* The events that say how the run ended (SHUTDOWN and what led to it). */
void control_run_ended(struct control *c, const struct kvm_result *res);

/*
 * True when `path` names this control's socket: the same file (device
 * and inode, links followed), or, where nothing exists, the same name.
 * A snapshot must not take its place.
 */
int control_is_socket_path(struct control *c, const char *path);

/* Writes what clients are still owed (for at most a second), closes them,
 * removes the socket if the path still is the one made here, and stops
 * the thread. NULL is fine. */
void control_free(struct control *c);

/*
 * One protocol session without a socket: what a client line gets in
 * reply. Used by the socket code, the fuzz target and unit tests.
 */
struct control_session {
	struct control *c;
	struct machine *m;
	const struct control_commands *cmds;
	int negotiated;
};

/* Returns the reply line (no newline); NULL for none. */
char *control_session_line(struct control_session *s, const char *line,
			   size_t len);

/* An error reply line, for input that never became a request. */
char *control_error_line(const char *cls, const char *desc);

/* The greeting a client reads first. */
char *control_greeting(void);

#endif
