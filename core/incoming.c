// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/incoming.c - the receiving protocol of a migration: accept, the
 * head (HELLO, MANIFEST, CONFIG), the verdict back before anything else
 * moves, then the state and COMPLETE. Judging and building the machine
 * are core/restore.c's, the records core/snapshot.c's, the transports
 * core/migration.c's.
 */
#include <unistd.h>

#include "fault.h"
#include "incoming.h"
#include "transport.h"
#include "restore.h"

int incoming_take(int listener, const char *uri, uint32_t timeout,
		  const struct machine_config *cfg, struct machine **ret,
		  GError **error)
{
	g_autoptr(GError) err = NULL;
	struct compat_verdict *v = NULL;
	struct snapshot *s = NULL;
	struct machine *m = NULL;
	int fd, r;

	*ret = NULL;
	r = transport_accept(listener, uri, timeout, &fd, error);
	if (r < 0)
		return r;
	r = snapshot_receive(fd, uri, &s, error);
	if (r < 0) {
		close(fd);
		return r;
	}
	fault_point(FAULT_INCOMING_MANIFEST);
	r = restore_judge(cfg, s, &m, &v, &err);
	/* The source hears the verdict first, a refusal too. */
	if (v)
		snapshot_send_verdict(s, v, NULL);
	if (s->check && v) {
		/* A dry run is answered by its verdict, whatever it says. */
		r = 0;
		g_clear_pointer(&m, machine_free);
	} else {
		if (r < 0)
			g_propagate_error(error, g_steal_pointer(&err));
		if (!r)
			r = restore_build(m, cfg, s, v, error);
		if (!r)
			r = snapshot_send_complete(s, error);
		if (r < 0)
			g_clear_pointer(&m, machine_free);
	}
	compat_verdict_free(v);
	close(s->fd);
	snapshot_free(s);
	*ret = m;
	return r;
}
