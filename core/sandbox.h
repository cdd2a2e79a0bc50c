/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MODVMM_SANDBOX_H
#define MODVMM_SANDBOX_H

#include <glib.h>

/*
 * Defined in AddressSanitizer builds (gcc or clang), whose runtime needs
 * calls the filters otherwise refuse; the tests expect those calls too.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

/*
 * System call filters, one allowlist per kind of thread (docs/security.md).
 * A thread enters its kind once, at its start; threads it creates inherit
 * its filter and add their own, so every list is a subset of main's.
 */
enum sandbox_mode {
	SANDBOX_OFF,	 /* no filters: the library's default, for tests */
	SANDBOX_LOG,	 /* every call runs; the kernel logs the others */
	SANDBOX_ENFORCE, /* a call outside the list ends the process */
};

enum sandbox_kind {
	SANDBOX_MAIN,	   /* main, control and signal threads */
	SANDBOX_MIGRATION, /* an outgoing migration */
	SANDBOX_VCPU,	   /* KVM_RUN and the device handlers it calls */
	SANDBOX_IO,	   /* doorbells and device timers */
	SANDBOX_N_KINDS,
};

/* The process exits with this status after a refused call. */
#define SANDBOX_EXIT_STATUS 159

int sandbox_parse_mode(const char *text, enum sandbox_mode *ret,
		       GError **error);
const char *sandbox_kind_name(enum sandbox_kind kind);

/*
 * Sets the mode for every thread that enters a kind from now on and, in
 * enforce mode, installs the handler that reports a refused call. Call
 * once, before the first thread is created.
 */
int sandbox_setup(enum sandbox_mode mode, GError **error);
enum sandbox_mode sandbox_mode(void);

/* Installs the calling thread's filter; nothing when the mode is off. */
int sandbox_enter(enum sandbox_kind kind, GError **error);

/* For threads that cannot report: a failure ends the process. */
void sandbox_enter_or_die(enum sandbox_kind kind);

/*
 * Around a name lookup (getaddrinfo()), whose NSS modules are the host's
 * and may make calls no list has: between these two, on this thread, a
 * refused call is reported and fails with ENOSYS instead of ending the
 * process. No call is allowed that the filter refuses.
 */
void sandbox_lookup_begin(void);
void sandbox_lookup_end(void);

#endif
