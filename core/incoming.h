/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_INCOMING_H
#define CORE_INCOMING_H

#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "machine.h"

/*
 * The destination's side of a migration (docs/stream-format.md, "Live
 * migration" and "The commit"), on a socket from transport_listen(), one
 * connection at a time: the source's head received, the guest judged
 * (restore_judge()) and the verdict sent back, a refusal too; then, for
 * a migration, its state loaded (restore_build()), COMPLETE sent and the
 * source's COMMIT awaited. Only COMMIT lets the guest run here; once it
 * runs, incoming_confirm() tells the source, which only then lets go of
 * its paused copy.
 */
struct incoming;

/* Listens on URI; `timeout` (s) bounds each wait for the source. */
int incoming_listen(const char *uri, uint32_t timeout, struct incoming **ret,
		    GError **error);

/*
 * The next connection. Returns 0 with *ret the machine, committed and
 * ready to run, or 0 with *ret NULL for a dry run (migrate-check), which
 * its verdict answered, accepted or not: the caller may wait for the
 * next connection. -ECANCELED after incoming_cancel().
 */
int incoming_take(struct incoming *in, const struct machine_config *cfg,
		  struct machine **ret, GError **error);

/*
 * From any thread: ends the wait or the transfer; the source, seeing the
 * connection close, keeps its guest. -EALREADY once the source committed
 * (the guest is this host's now) or the wait is over.
 */
int incoming_cancel(struct incoming *in, GError **error);

/* The guest runs: RUNNING to the source, and the connection closed. */
int incoming_confirm(struct incoming *in, GError **error);

/* What query-migrate says on the destination. */
JsonNode *incoming_status(struct incoming *in);

/*
 * Before the first incoming_take(): a tcp: source must then show a
 * certificate of `tls`'s CA, over TLS (core/tls.c). Takes a reference.
 */
void incoming_set_tls(struct incoming *in, struct tls_creds *tls);

const char *incoming_uri(struct incoming *in);
void incoming_free(struct incoming *in);

#endif
