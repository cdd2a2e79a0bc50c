// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/fault.c - fault points, for tests: MODVMM_FAULT=NAME[:stop] arms
 * one of them, read once at start-up. The process then dies or stops by
 * its own signal at that point, so that a test reaches a phase of a
 * migration exactly, which a kill from outside only does by luck.
 *
 * raise() is used, not kill(): its calls (rt_sigprocmask, getpid,
 * gettid, tgkill) are allowed to every thread kind by core/sandbox.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "fault.h"

static const char *const names[FAULT_N] = {
	[FAULT_MIGRATE_CONNECT] = "migrate-connect",
	[FAULT_MIGRATE_MANIFEST] = "migrate-manifest",
	[FAULT_MIGRATE_VERDICT] = "migrate-verdict",
	[FAULT_MIGRATE_RAM] = "migrate-ram",
	[FAULT_MIGRATE_DEVICE_STATE] = "migrate-device-state",
	[FAULT_MIGRATE_COMPLETE] = "migrate-complete",
	[FAULT_MIGRATE_COMMIT] = "migrate-commit",
	[FAULT_MIGRATE_RUNNING] = "migrate-running",
	[FAULT_INCOMING_CONNECT] = "incoming-connect",
	[FAULT_INCOMING_MANIFEST] = "incoming-manifest",
	[FAULT_INCOMING_VERDICT] = "incoming-verdict",
	[FAULT_INCOMING_RAM] = "incoming-ram",
	[FAULT_INCOMING_DEVICE_STATE] = "incoming-device-state",
	[FAULT_INCOMING_COMPLETE] = "incoming-complete",
	[FAULT_INCOMING_COMMIT] = "incoming-commit",
	[FAULT_INCOMING_RUNNING] = "incoming-running",
};

/* Written before any thread exists, only read after. */
static int armed = -1;
static int armed_signal = SIGKILL;

static char *known_names(void)
{
	GString *s = g_string_new(NULL);

	for (int i = 0; i < FAULT_N; i++)
		g_string_append_printf(s, "%s%s", i ? ", " : "", names[i]);
	return g_string_free(s, FALSE);
}

int fault_init(GError **error)
{
	const char *v = getenv("MODVMM_FAULT");
	g_autofree char *known = NULL;
	const char *colon;
	size_t len;

	if (!v || !*v)
		return 0;
	colon = strchr(v, ':');
	len = colon ? (size_t)(colon - v) : strlen(v);
	if (colon && strcmp(colon + 1, "stop"))
		return error_setf(error, EINVAL,
				  "MODVMM_FAULT=%s: the action '%s' is not "
				  "'stop' (without one: SIGKILL)",
				  v, colon + 1);
	for (int i = 0; i < FAULT_N; i++) {
		if (strlen(names[i]) == len && !strncmp(names[i], v, len)) {
			armed = i;
			armed_signal = colon ? SIGSTOP : SIGKILL;
			return 0;
		}
	}
	known = known_names();
	return error_setf(error, EINVAL,
			  "MODVMM_FAULT=%s: no such fault point (known: %s)", v,
			  known);
}

void fault_point(enum fault f)
{
	if ((int)f == armed)
		raise(armed_signal);
}
