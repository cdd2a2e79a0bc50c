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

struct control_event_desc {
	const char *name;
	const char *const *data; /* members of "data", NULL-terminated */
};

/* modvmm's commands, for control_new() and sessions. */
const struct control_commands *control_commands(void);

#endif
