/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_FAULT_H
#define CORE_FAULT_H

#include <glib.h>

/*
 * Fault points, for tests (docs/user-guide.md, "Fault points, for
 * tests"): named places in a migration where the environment variable
 * MODVMM_FAULT=NAME makes the process die (SIGKILL, as a `kill -9` would
 * there) and MODVMM_FAULT=NAME:stop makes it stop (SIGSTOP, as a hung
 * host looks to its peer), so that a test can check what the other host
 * does at every phase. Without it, a fault point costs a comparison.
 */
enum fault {
	/* The source, in its migration thread. */
	FAULT_MIGRATE_CONNECT,	    /* connected, nothing sent */
	FAULT_MIGRATE_MANIFEST,	    /* HELLO, MANIFEST, CONFIG sent */
	FAULT_MIGRATE_VERDICT,	    /* the verdict came, it accepts */
	FAULT_MIGRATE_RAM,	    /* the first RAM round sent */
	FAULT_MIGRATE_DEVICE_STATE, /* guest paused, last pages sent */
	FAULT_MIGRATE_COMPLETE,	    /* COMPLETE came, COMMIT not sent */
	FAULT_MIGRATE_COMMIT,	    /* COMMIT sent, RUNNING not come */
	FAULT_MIGRATE_RUNNING,	    /* RUNNING came, the run not ended */
	/* The destination, in its main thread. */
	FAULT_INCOMING_CONNECT,	     /* accepted, nothing read */
	FAULT_INCOMING_MANIFEST,     /* HELLO, MANIFEST, CONFIG read */
	FAULT_INCOMING_VERDICT,	     /* the verdict sent */
	FAULT_INCOMING_RAM,	     /* the first RAM record came */
	FAULT_INCOMING_DEVICE_STATE, /* the first record of state came */
	FAULT_INCOMING_COMPLETE,     /* all loaded, COMPLETE not sent */
	FAULT_INCOMING_COMMIT,	     /* COMMIT came, the guest not started */
	FAULT_INCOMING_RUNNING,	     /* vCPUs made, RUNNING not sent */
	FAULT_N,
};

/*
 * Reads MODVMM_FAULT, once, before any thread starts. A name that is no
 * fault point, or an action other than stop, is refused with the list.
 */
int fault_init(GError **error);

/* Dies or stops here when MODVMM_FAULT names this point. */
void fault_point(enum fault f);

#endif
