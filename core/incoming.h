/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_INCOMING_H
#define CORE_INCOMING_H

#include <stdint.h>

#include <glib.h>

#include "machine.h"

/*
 * The destination's side of a migration, one connection at a time, on a
 * socket from transport_listen(): the source's head received, the guest
 * judged (restore_judge()) and the verdict sent back, a refusal too;
 * then, for a migration, its state loaded (restore_build()) and COMPLETE
 * sent. Returns 0 with *ret the machine, ready to run, or 0 with *ret
 * NULL for a dry run (migrate-check), which its verdict answered,
 * accepted or not: the caller may wait for the next connection. `timeout` (s) bounds each
 * wait for the source.
 */
int incoming_take(int listener, const char *uri, uint32_t timeout,
		  const struct machine_config *cfg, struct machine **ret,
		  GError **error);

#endif
