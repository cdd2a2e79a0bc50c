// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: what the source of a migration reads back from the
 * destination: a VERDICT record, then what comes after it. The low bit
 * of the first byte says how the rest is taken:
 *   0: as the bytes the destination sends, records framed as they are;
 *   1: as the VERDICT's JSON text, up to the first NUL byte, which the
 *      target frames as a record (checksums included), followed by the
 *      bytes after the NUL, or by a COMPLETE record when there is none;
 *      so that the fuzzer works on the JSON, not on the framing.
 * The source's own code (core/migration.c, included for its static
 * functions) reads the verdict; when it is an acceptance, the target goes
 * on as migrate() does once the guest is paused: the re-check of needed subsections
 * against the verdict's "known", each device's state saved at the
 * version of the verdict's "versions", and the COMPLETE record the
 * commit starts from (a verdict without "commit" is refused first).
 * Invariants: a refusal carries a message (compat_verdict_parse()
 * refuses a version outside 1..2^32-1); a device's state saved at a version the
 * destination named loads back here; nothing the destination sends
 * crashes the source, whose guest goes on running on any refusal.
 */
#define _GNU_SOURCE /* memfd_create */
#include "core/migration.c"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/device.h"
#include "core/loader.h"
#include "fuzz-machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * json-glib's accessors warn (g_return_val_if_fail) when a member of a
 * hostile verdict has the wrong type or is missing, and return NULL or
 * FALSE, which the source's code expects. The warnings are kept off
 * stderr, so that the fuzzer runs fast and its log stays readable.
 */
static void quiet(const char *domain, GLogLevelFlags level, const char *msg,
		  gpointer data)
{
	(void)domain;
	(void)level;
	(void)msg;
	(void)data;
}

static void save_devices(struct machine *m, const struct compat_verdict *cv)
{
	for (guint i = 0; i < m->devs->devices->len; i++) {
		struct modvmm_device *dev = m->devs->devices->pdata[i];
		const struct state_desc *v = dev->type->vms;
		g_autoptr(GByteArray) out = g_byte_array_new();
		g_autofree void *copy = g_memdup2(dev->state, v->state_size);
		g_autoptr(GError) err = NULL;
		uint32_t version = v->d.version;

		/* As snapshot_write_state() picks the version. */
		if (compat_verdict_version(cv, dev->id))
			version = compat_verdict_version(cv, dev->id);
		if (vmstate_save(v, dev->state, version, out, &err) < 0) {
			if (!err || !*err->message || out->len)
				abort();
			continue;
		}
		if (vmstate_load(v, copy, out->data, out->len, 0, dev->id, NULL,
				 &err) < 0) {
			fprintf(stderr, "%s saved at version %u: %s\n", dev->id,
				version, err->message);
			abort();
		}
	}
}

/* What snapshot_send_verdict() and snapshot_send_complete() write. */
static void frame(int fd, const uint8_t *data, size_t size)
{
	struct snap_writer w = { .fd = fd, .what = "fuzz" };
	const uint8_t *nul = memchr(data, 0, size);
	size_t len = nul ? (size_t)(nul - data) : size;

	if (stream_write_record(&w, SNAP_VERDICT, data, len, NULL, 0, NULL) <
	    0)
		abort();
	if (!nul) {
		if (stream_write_record(&w, SNAP_COMPLETE, NULL, 0, NULL, 0,
					  NULL) < 0)
			abort();
	} else if (write(fd, nul + 1, size - len - 1) !=
		   (ssize_t)(size - len - 1)) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct machine *m = fuzz_machine();
	struct migration mig = { .m = m, .uri = (char *)"fuzz", .fd = -1 };
	g_autoptr(GError) err = NULL;
	int r;

	if (fd < 0) {
		g_log_set_handler("Json", G_LOG_LEVEL_CRITICAL, quiet, NULL);
		fd = memfd_create("fuzz-verdict", MFD_CLOEXEC);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (size && (data[0] & 1))
		frame(fd, data + 1, size - 1);
	else if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)size - 1)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	fuzz_machine_reset(m);
	mig.fd = fd;
	g_mutex_init(&mig.lock);

	r = read_verdict(&mig, &err);
	if (r < 0) {
		if (!err || !*err->message)
			abort();
		goto out;
	}
	/* As compat_verdict_parse() leaves it: versions in range. */
	for (guint i = 0; i < mig.verdict->devices->len; i++)
		if (!((struct compat_device_verdict *)
			      mig.verdict->devices->pdata[i])
			     ->id)
			abort();
	r = recheck_subsections(&mig, &err);
	if (r < 0) {
		if (!err || !*err->message)
			abort();
		goto out;
	}
	save_devices(m, mig.verdict);
	/* As migrate() waits for it before the commit. */
	r = await_record(&mig, SNAP_COMPLETE, PHASE_COMPLETE, &err);
	if (r < 0 && (!err || !*err->message))
		abort();
out:
	/* FUZZ_VERBOSE=1 says where an input stopped: seeds are made so. */
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz-verdict: %s\n",
			err ? err->message : "went through");
	compat_verdict_free(mig.verdict);
	g_mutex_clear(&mig.lock);
	return 0;
}
