/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_CONTROL_CMDS_H
#define CORE_CONTROL_CMDS_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "control.h"

/*
 * The control protocol's commands and events: one table each, which
 * query-commands and query-events return and docs/control.md documents
 * (tests/kvm/control-suite.py holds the two against each other).
 */

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

struct control_event_desc {
	const char *name;
	const char *const *data; /* members of "data", NULL-terminated */
};

const struct control_cmd *control_cmd_find(const char *name);

/* The QMP error class for an error a command returned. */
const char *control_error_class(const GError *err);

#endif
