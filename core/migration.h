/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_MIGRATION_H
#define CORE_MIGRATION_H

#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

struct machine;
struct tls_creds;

/*
 * Live migration, source side. On its own thread: connect, send HELLO,
 * MANIFEST and CONFIG, wait for the destination's VERDICT (a refusal
 * ends it here, the guest never stopped), copy RAM while the guest runs
 * and then the pages it dirtied, round after round, until what is left
 * fits the downtime limit (or MIGRATION_MAX_ROUNDS), then pause, send the
 * last pages and the vCPU, VM and device state, and wait for COMPLETE;
 * then commit: COMMIT out, RUNNING in. Any failure before the commit
 * resumes the guest; RUNNING ends it here; anything else after the
 * commit leaves it paused, in doubt (MIGRATION_UNKNOWN).
 */

#define MIGRATION_DOWNTIME_DEFAULT 300 /* ms, as QEMU and Cloud Hypervisor */
#define MIGRATION_MAX_ROUNDS 30
/*
 * Every wait on the peer is bounded: a destination that takes nothing
 * and sends nothing for this long (migrate's timeout-s) fails the
 * migration, naming the phase; the guest resumes here. A destination
 * gives up on a silent source after --migration-timeout seconds.
 */
#define MIGRATION_TIMEOUT_DEFAULT 60 /* s */
#define MIGRATION_TIMEOUT_MAX 3600   /* s */

enum migration_state {
	MIGRATION_NONE,
	MIGRATION_SETUP,  /* connecting, handshake */
	MIGRATION_ACTIVE, /* copying RAM */
	MIGRATION_DEVICE, /* guest paused, state going out */
	MIGRATION_COMPLETED,
	MIGRATION_FAILED,
	MIGRATION_CANCELLED,
	/* COMMIT sent and RUNNING never came: the guest paused here, and
	 * perhaps running there, until an operator says (migration_resolve). */
	MIGRATION_UNKNOWN,
};

struct migration;

/*
 * Who hears of a migration's progress, as vm_devices_sinks are for devices:
 * `status` gets each change of state as migration_status() describes it
 * (and takes it), from the migration's thread.
 */
struct migration_sink {
	void (*status)(void *opaque, JsonNode *status);
	void *opaque;
};

/*
 * "unix:PATH", "tcp:HOST:PORT" or "fd:N". Refused while another runs.
 * Status changes go to `sink` (NULL: nobody). A tcp: migration runs over
 * TLS with `tls` (NULL: plaintext), which it keeps a reference to.
 */
int migration_start(struct machine *m, const struct migration_sink *sink,
		    const char *uri, uint32_t downtime_ms, uint32_t timeout_s,
		    struct tls_creds *tls, struct migration **ret,
		    GError **error);

/*
 * A dry run: HELLO, MANIFEST and CONFIG to the destination, and its
 * verdict back ({"accepted", "verdict"}); nothing else moves, and the
 * destination goes on waiting. Synchronous, bounded by
 * MIGRATION_CHECK_TIMEOUT.
 */
#define MIGRATION_CHECK_TIMEOUT 10 /* s */
int migration_check(struct machine *m, const char *uri,
		    struct tls_creds *tls, JsonNode **ret, GError **error);

/* What query-migrate returns. */
JsonNode *migration_status(struct migration *mig);
int migration_running(struct migration *mig);
int migration_cancel(struct migration *mig, GError **error);
/*
 * For a stop (a signal): cancels the migration unless it committed, and
 * waits until it ended (bounded by its timeout). NULL is fine.
 */
void migration_settle(struct migration *mig);
/* MIGRATION_UNKNOWN: the guest is paused here, in doubt. */
int migration_in_doubt(struct migration *mig);
/* An operator said where the guest lives (`how`: "cont here", ...). */
void migration_resolve(struct migration *mig, const char *how);
/* Waits for the thread; NULL is fine. */
void migration_free(struct migration *mig);

#endif
