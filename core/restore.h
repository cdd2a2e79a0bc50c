/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_RESTORE_H
#define CORE_RESTORE_H

#include <glib.h>

#include "compat/negotiate.h"
#include "machine.h"
#include "snapshot.h"

/*
 * A machine built from a snapshot's head: a file's (--restore) or an
 * incoming migration's. Nothing here talks to a peer: the verdict is
 * returned, and the receiving side (core/incoming.c) sends it.
 */

/*
 * Loads the modules as `cfg` says, for the snapshot's machine type, and
 * judges the snapshot against them by the one rule (compat_negotiate();
 * cfg->machine, when set, is the type this host was asked to run). Also
 * checks that each cfg->devices spec names (id=) a device of the
 * snapshot, of its type: it replaces that device's spec.
 * *ret_m (modules loaded, no devices, no KVM) and *ret_v, the verdict,
 * are set whenever a verdict was reached, also on a refusal, which is
 * -EPROTO with the verdict's text in `error`; the caller frees both.
 */
int restore_judge(const struct machine_config *cfg, struct snap_reader *s,
		  struct machine **ret_m, struct compat_verdict **ret_v,
		  GError **error);

/*
 * After an accepted verdict: the devices created as it agreed (without
 * the properties this host's types lack, with the legacy values of those
 * only they have), KVM opened, the vCPUs created, and every record of
 * the snapshot loaded.
 */
int restore_build(struct machine *m, const struct machine_config *cfg,
		  struct snap_reader *s, const struct compat_verdict *v,
		  GError **error);

#endif
