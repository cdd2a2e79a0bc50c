// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: what a control client sends. The input is split into
 * lines, each handed to one protocol session (core/control.c), as the
 * socket code does, against a machine with no guest and no modules (the
 * commands that need either are refused, the rest run). Invariants: every
 * reply is one JSON object, valid UTF-8, holding "return" or an "error"
 * with a non-empty class and description, and nothing else but "id".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/control-cmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct machine *machine(void)
{
	static struct machine *m;
	struct machine_config cfg = { .no_defaults = 1,
				      .offline = 1,
				      .modules.no_default_dir = 1 };

	if (!m && machine_create(&cfg, &m, NULL) < 0)
		abort();
	return m;
}

static void check_reply(const char *reply)
{
	g_autoptr(JsonNode) n = NULL;
	JsonObject *o, *e;
	guint members;

	if (!g_utf8_validate(reply, -1, NULL))
		abort();
	n = json_from_string(reply, NULL);
	if (!n || !JSON_NODE_HOLDS_OBJECT(n))
		abort();
	o = json_node_get_object(n);
	members = json_object_get_size(o) - json_object_has_member(o, "id");
	if (members != 1)
		abort();
	if (json_object_has_member(o, "return"))
		return;
	e = json_object_get_object_member(o, "error");
	if (!e ||
	    !*json_object_get_string_member_with_default(e, "class", "") ||
	    !*json_object_get_string_member_with_default(e, "desc", ""))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first byte says whether the handshake is done already, so
	 * that short inputs reach the commands. */
	struct control_session s = { .cmds = control_commands(),
				     .m = machine(),
				     .negotiated = size && (data[0] & 1) };
	const char *p = (const char *)data + (size ? 1 : 0);
	const char *end = (const char *)data + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *reply;

		if (len > CONTROL_LINE_MAX)
			len = CONTROL_LINE_MAX;
		reply = control_session_line(&s, p, len);
		if (reply)
			check_reply(reply);
		g_free(reply);
		p += len + 1;
	}
	return 0;
}
