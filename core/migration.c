// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/migration.c - live migration, the source's side: its thread, the
 * dry run (migrate-check), the destination's verdict read and held to at
 * stop time. The records are the snapshot file's (core/snapshot.c,
 * docs/stream-format.md) plus VERDICT and COMPLETE, which go back from
 * the destination; the transports are core/transport.c's and the
 * destination's side is core/incoming.c.
 *
 * Invariant: the guest on the source is paused from the last RAM round
 * on. Every way out before the commit (COMPLETE came, COMMIT about to go)
 * resumes it; after it, the source never resumes it by itself: RUNNING
 * ends the run here, and anything else leaves the guest paused "in
 * doubt" (MIGRATION_UNKNOWN) until an operator says where it lives
 * (migration_resolve()). Every wait on the peer, on either side, ends
 * after the migration's timeout (core/transport.c).
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "base/json-read.h"
#include "compat/negotiate.h"
#include "device.h"
#include "fault.h"
#include "inventory.h"
#include "kvm-cpu.h"
#include "machine.h"
#include "migration.h"
#include "sandbox.h"
#include "snapshot.h"
#include "tls.h"
#include "transport.h"

struct migration {
	struct machine *m;
	struct migration_sink sink;
	char *uri;
	uint32_t downtime_limit; /* ms */
	uint32_t timeout;	 /* s the destination may move nothing */
	GThread *thread;
	struct addrinfo *ai; /* tcp: the destination, looked up beforehand */
	struct tls_creds *tls; /* NULL: plaintext */
	int fd;
	struct stream_io *io; /* TLS: what the records go through */

	GMutex lock; /* guards what follows */
	enum migration_state state;
	char *error;
	uint64_t ram_bytes;
	uint64_t transferred;
	uint64_t remaining;  /* bytes of the round left, or dirty at a count */
	uint64_t dirty_rate; /* bytes/s the guest dirtied in the last round */
	uint64_t bandwidth;  /* bytes/s of the round going out, or the last */
	uint32_t rounds;     /* RAM rounds sent whole */
	/* The round going out, counted as its records go (record_sent()):
	 * its pages, how many of them went, the bytes sent before it. */
	uint64_t round_pages;
	uint64_t round_sent;
	uint64_t round_bytes0;
	gint64 round_started;	    /* µs, monotonic; 0: no round going out */
	uint64_t expected_downtime; /* ms */
	uint64_t downtime;	    /* ms, measured, once completed */
	gint64 started;		    /* µs, monotonic */
	gint64 total_time;	    /* ms, once over */
	int cancel;
	int committed; /* COMMIT decided: the guest is not ours to resume */
	GCond ended;   /* state >= MIGRATION_COMPLETED */
	struct compat_verdict *verdict; /* the destination's, once it came */
};

static const char *state_name(enum migration_state s)
{
	static const char *const names[] = {
		[MIGRATION_NONE] = "none",
		[MIGRATION_SETUP] = "setup",
		[MIGRATION_ACTIVE] = "active",
		[MIGRATION_DEVICE] = "device",
		[MIGRATION_COMPLETED] = "completed",
		[MIGRATION_FAILED] = "failed",
		[MIGRATION_CANCELLED] = "cancelled",
		[MIGRATION_UNKNOWN] = "unknown",
	};

	return names[s];
}

/*
 * How much of guest RAM the first round has covered, in percent (where
 * it stopped, for one that failed).
 */
static gint64 ram_percent_locked(const struct migration *mig)
{
	if (mig->rounds)
		return 100;
	if (!mig->round_pages)
		return 0;
	return (gint64)(mig->round_sent * 100 / mig->round_pages);
}

/*
 * An estimate of the time the RAM copy still takes, in ms: the rest of
 * the round going out at the pace measured in it (pages, so that zero
 * pages count as the quick pages they are), or between rounds the pages
 * counted dirty at the last bandwidth. -1 while nothing was measured.
 * Later rounds are not foreseen: they are usually far shorter.
 */
static gint64 time_left_locked(const struct migration *mig)
{
	gint64 dt = g_get_monotonic_time() - mig->round_started;

	if (mig->state != MIGRATION_ACTIVE)
		return -1;
	if (mig->round_started) {
		if (!mig->round_sent || dt <= 0)
			return -1;
		return (gint64)((mig->round_pages - mig->round_sent) *
				(uint64_t)dt / mig->round_sent / 1000);
	}
	if (!mig->bandwidth)
		return -1;
	return (gint64)(mig->remaining * 1000 / mig->bandwidth);
}

static JsonNode *status_locked(struct migration *mig)
{
	gint64 left = time_left_locked(mig);

	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_object_set_string_member(o, "status", state_name(mig->state));
	json_object_set_string_member(o, "uri", mig->uri);
	json_object_set_int_member(o, "ram-bytes", (gint64)mig->ram_bytes);
	json_object_set_int_member(o, "transferred", (gint64)mig->transferred);
	json_object_set_int_member(o, "remaining", (gint64)mig->remaining);
	json_object_set_int_member(o, "dirty-rate", (gint64)mig->dirty_rate);
	json_object_set_int_member(o, "bandwidth", (gint64)mig->bandwidth);
	json_object_set_int_member(o, "rounds", mig->rounds);
	json_object_set_int_member(o, "ram-percent", ram_percent_locked(mig));
	if (left >= 0)
		json_object_set_int_member(o, "time-left-ms", left);
	json_object_set_int_member(o, "expected-downtime-ms",
				   (gint64)mig->expected_downtime);
	json_object_set_int_member(o, "downtime-limit-ms", mig->downtime_limit);
	json_object_set_int_member(o, "timeout-s", mig->timeout);
	json_object_set_int_member(
		o, "total-time-ms",
		mig->total_time
			? mig->total_time
			: (g_get_monotonic_time() - mig->started) / 1000);
	if (mig->state == MIGRATION_COMPLETED)
		json_object_set_int_member(o, "downtime-ms",
					   (gint64)mig->downtime);
	if (mig->error)
		json_object_set_string_member(o, "error", mig->error);
	json_node_take_object(n, o);
	return n;
}

JsonNode *migration_status(struct migration *mig)
{
	JsonNode *n;

	g_mutex_lock(&mig->lock);
	n = status_locked(mig);
	g_mutex_unlock(&mig->lock);
	return n;
}

int migration_running(struct migration *mig)
{
	int r;

	if (!mig)
		return 0;
	g_mutex_lock(&mig->lock);
	r = mig->state < MIGRATION_COMPLETED;
	g_mutex_unlock(&mig->lock);
	return r;
}

static void report(struct migration *mig, JsonNode *status)
{
	if (mig->sink.status)
		mig->sink.status(mig->sink.opaque, status);
	else
		json_node_unref(status);
}

static void set_state(struct migration *mig, enum migration_state st,
		      const char *error)
{
	JsonNode *ev;

	g_mutex_lock(&mig->lock);
	mig->state = st;
	if (error) {
		g_free(mig->error);
		mig->error = g_strdup(error);
	}
	if (st >= MIGRATION_COMPLETED && !mig->total_time)
		mig->total_time =
			(g_get_monotonic_time() - mig->started) / 1000;
	if (st >= MIGRATION_COMPLETED)
		g_cond_broadcast(&mig->ended);
	ev = status_locked(mig);
	g_mutex_unlock(&mig->lock);
	report(mig, ev);
}

static int cancelled(struct migration *mig, GError **error)
{
	int c;

	g_mutex_lock(&mig->lock);
	c = mig->cancel;
	g_mutex_unlock(&mig->lock);
	return c ? error_setf(error, ECANCELED, "cancelled") : 0;
}

/* The source's thread ----------------------------------------------------- */

static uint64_t count_bits(const uint64_t *b, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(b[i]);
	return n;
}

/* The phases of a migration, as messages name them (docs/control.md). */
enum phase {
	PHASE_HANDSHAKE,    /* HELLO, MANIFEST, CONFIG go out */
	PHASE_VERDICT,	    /* waiting for the destination's verdict */
	PHASE_RAM,	    /* RAM rounds, the guest running */
	PHASE_DEVICE_STATE, /* the guest paused: last pages, vCPU, devices */
	PHASE_COMPLETE,	    /* waiting for COMPLETE */
	PHASE_RUNNING,	    /* COMMIT sent, waiting for RUNNING */
};

static const struct {
	const char *name;
	int reading; /* the source waits for the destination to send */
} phases[] = {
	[PHASE_HANDSHAKE] = { "handshake", 0 },
	[PHASE_VERDICT] = { "verdict", 1 },
	[PHASE_RAM] = { "ram", 0 },
	[PHASE_DEVICE_STATE] = { "device state", 0 },
	[PHASE_COMPLETE] = { "complete", 1 },
	[PHASE_RUNNING] = { "running", 1 },
};

/*
 * A failure of a step that waits on the destination, told with its
 * phase: a timeout as what the destination did not do and for how long,
 * the connection closing as that, anything else as it came.
 */
static int peer_error(enum phase ph, uint32_t timeout, int r, GError **error)
{
	const char *name = phases[ph].name;
	g_autofree char *was = NULL;

	if (r >= 0 || !error || !*error)
		return r;
	was = g_strdup((*error)->message);
	g_clear_error(error);
	if (r == -ETIMEDOUT)
		return error_setf(error, ETIMEDOUT,
				  "the destination %s nothing for %u s during "
				  "'%s'",
				  phases[ph].reading ? "sent" : "took", timeout,
				  name);
	/* Reading, EPIPE is the end of the stream. */
	if (r == -EPIPE && phases[ph].reading)
		return error_setf(error, EPIPE,
				  "the destination closed the connection "
				  "during '%s'",
				  name);
	if (r == -EPIPE || r == -ECONNRESET)
		return error_setf(error, -r,
				  "the destination closed the connection "
				  "during '%s' (%s)",
				  name, g_strerror(-r));
	return error_setf(error, -r, "%s (during '%s')", was, name);
}

/*
 * Whether the VERDICT's sender ends a migration with the commit. The text
 * is one compat_verdict_parse() took, under the same bound.
 */
static int peer_commits(const struct snap_record *rec)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	JsonObject *o;

	if (json_read_parse(p, (const char *)rec->data, rec->len,
			    COMPAT_VERDICT_MAX_DEPTH, NULL) < 0 ||
	    !(o = json_read_root_object(p)))
		return 0;
	return json_read_type(json_object_get_member(o, "commit")) ==
		       G_TYPE_INT64 &&
	       json_object_get_int_member(o, "commit") >= SNAPSHOT_COMMIT;
}

/*
 * The destination's VERDICT record, parsed (compat_verdict_parse()) and,
 * when it accepts, held to what this guest offered (compat_verdict_check():
 * no device at version 0 or at one it cannot save).
 */
static int receive_verdict(struct machine *m, int fd, struct stream_io *io,
			   const char *uri,
			   uint32_t timeout, struct compat_verdict **ret,
			   GError **error)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	struct compat_verdict *v;
	struct manifest *mf;
	struct snap_record rec;
	size_t off = 0;
	int r;

	r = stream_read_record(fd, io, uri, SNAPSHOT_FORMAT, &off, buf, &rec,
			       error);
	if (r < 0)
		return peer_error(PHASE_VERDICT, timeout, r, error);
	if (rec.type != SNAP_VERDICT || rec.len > SNAPSHOT_HEAD_MAX)
		return error_setf(error, EPROTO,
				  "%s: the destination sent no verdict", uri);
	r = compat_verdict_parse(uri, (const char *)rec.data, rec.len, &v,
				 error);
	if (r < 0)
		return r;
	mf = inventory_guest(m->devs, m->type, m->alias, m->cpu, 0);
	r = compat_verdict_check(uri, v, mf, error);
	manifest_free(mf);
	if (!r && v->accepted && !peer_commits(&rec))
		r = error_setf(error, EPROTO,
			       "%s: the destination does not take COMMIT at "
			       "the end of a migration (an older modvmm): "
			       "the guest could end up running on both "
			       "hosts; refused",
			       uri);
	if (r < 0) {
		compat_verdict_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

static int read_verdict(struct migration *mig, GError **error)
{
	int r = receive_verdict(mig->m, mig->fd, mig->io, mig->uri, mig->timeout,
				&mig->verdict, error);

	if (r < 0)
		return r;
	if (!mig->verdict->accepted)
		return error_setf(error, EPROTO,
				  "refused by the destination; the guest keeps "
				  "running here:\n%s",
				  mig->verdict->text);
	return 0;
}

int migration_check(struct machine *m, const char *uri,
		    struct tls_creds *tls, JsonNode **ret, GError **error)
{
	struct snap_writer w = { .what = uri };
	struct compat_verdict *v = NULL;
	JsonObject *o;
	int r;

	r = transport_open(uri, MIGRATION_CHECK_TIMEOUT, tls, &w.io, error);
	if (r < 0)
		return r;
	w.fd = r;
	r = snapshot_write_head(&w, m, 1, error);
	if (r < 0)
		r = peer_error(PHASE_HANDSHAKE, MIGRATION_CHECK_TIMEOUT, r,
			       error);
	else
		r = receive_verdict(m, w.fd, w.io, uri,
				    MIGRATION_CHECK_TIMEOUT, &v, error);
	if (!g_str_has_prefix(uri, "fd:"))
		stream_close(w.fd, w.io);
	if (r == -ETIMEDOUT || r == -EPIPE || r == -ECONNRESET)
		g_prefix_error(error, "%s: ", uri);
	if (r < 0)
		return r;
	/* What the caller shows: the decision and the text. */
	o = json_object_new();
	json_object_set_boolean_member(o, "accepted", v->accepted);
	json_object_set_string_member(o, "verdict", v->text);
	*ret = json_node_init_object(json_node_alloc(), o);
	json_object_unref(o);
	compat_verdict_free(v);
	return 0;
}

/*
 * At stop time, the re-check of ARCHITECTURE.md (compat_recheck()): a
 * subsection that became needed after the verdict and that the
 * destination does not know aborts the migration now, while the guest can
 * still resume here.
 */
static int recheck_subsections(struct migration *mig, GError **error)
{
	struct machine *m = mig->m;
	struct manifest *mf =
		inventory_guest(m->devs, m->type, m->alias, m->cpu, 0);
	g_autoptr(GPtrArray) reasons = g_ptr_array_new_with_free_func(g_free);
	int r = 0;

	compat_recheck(mig->verdict, mf, reasons);
	if (reasons->len)
		r = error_setf(error, EPROTO, "%s; the guest keeps running here",
			       (const char *)reasons->pdata[0]);
	manifest_free(mf);
	return r;
}

/*
 * A record went out (snap_writer.sent): what query-migrate says moves
 * with it, not only at the end of a round, which for the first round of
 * a large guest is most of the migration.
 */
static void record_sent(const struct snap_writer *w, uint8_t type,
			const void *a, size_t len)
{
	struct migration *mig = w->opaque;
	uint64_t pages = 0, v[2], bytes;
	gint64 dt;

	if (type == SNAP_RAM && len >= 8)
		pages = (len - 8) / 4096;
	if (type == SNAP_RAM_ZERO && len >= sizeof(v)) {
		memcpy(v, a, sizeof(v));
		pages = v[1];
	}
	g_mutex_lock(&mig->lock);
	mig->transferred = w->bytes;
	if (mig->round_started) {
		mig->round_sent =
			MIN(mig->round_sent + pages, mig->round_pages);
		mig->remaining = (mig->round_pages - mig->round_sent) * 4096;
		bytes = w->bytes - mig->round_bytes0;
		dt = g_get_monotonic_time() - mig->round_started;
		/* Under 1 MiB, the rate says little (as in send_round()). */
		if (bytes >= (1u << 20) && dt > 0)
			mig->bandwidth = bytes * G_USEC_PER_SEC / (uint64_t)dt;
	}
	g_mutex_unlock(&mig->lock);
}

/* Sends the dirty pages; updates the figures from how long it took. */
static int send_round(struct migration *mig, struct snap_writer *w,
		      const uint64_t *dirty, uint64_t pages, GError **error)
{
	gint64 t0 = g_get_monotonic_time();
	uint64_t before = w->bytes, dt;
	int r;

	g_mutex_lock(&mig->lock);
	mig->round_pages = pages;
	mig->round_sent = 0;
	mig->round_bytes0 = w->bytes;
	mig->round_started = t0;
	mig->remaining = pages * 4096;
	g_mutex_unlock(&mig->lock);
	r = snapshot_write_ram(w, mig->m, dirty, error);
	if (r < 0)
		r = peer_error(PHASE_RAM, mig->timeout, r, error);
	dt = (uint64_t)MAX(g_get_monotonic_time() - t0, 1);
	g_mutex_lock(&mig->lock);
	mig->transferred = w->bytes;
	mig->round_started = 0;
	if (r >= 0)
		mig->rounds++;
	if (pages * 4096 >= (1u << 20))
		mig->bandwidth = (w->bytes - before) * G_USEC_PER_SEC / dt;
	g_mutex_unlock(&mig->lock);
	return r;
}

/* Resuming after all: the disks' locks back, or a word why not. */
static void relock(struct migration *mig)
{
	g_autoptr(GError) err = NULL;
	struct vm_devices_sinks *sk = &mig->m->devs->sinks;

	if (devices_lock_files(mig->m->devs, &err) < 0 && sk->log)
		sk->log(sk->opaque, "migration", MODVMM_LOG_WARNING,
			err->message);
}

/* The destination's next record, which must be an empty `type`. */
static int await_record(struct migration *mig, uint8_t type, enum phase ph,
			GError **error)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	struct snap_record rec;
	size_t off = 0;
	int r;

	r = stream_read_record(mig->fd, mig->io, mig->uri, SNAPSHOT_FORMAT,
			       &off, buf, &rec, error);
	if (r < 0)
		return peer_error(ph, mig->timeout, r, error);
	if (rec.type != type || rec.len)
		return error_setf(error, EPROTO,
				  "%s: the destination answered with a %s "
				  "record of %u bytes, not %s",
				  mig->uri, stream_record_name(rec.type),
				  rec.len, stream_record_name(type));
	return 0;
}

/*
 * The handshake: connect, send HELLO, MANIFEST and CONFIG, and read the
 * destination's verdict. Nothing of the guest has moved yet.
 */
static int migrate_handshake(struct migration *mig, struct snap_writer *w,
			     GError **error)
{
	int r;

	r = mig->ai ? transport_connect_tcp(mig->uri + 4, mig->ai, mig->timeout,
					    mig->tls, &w->io, error)
		    : transport_open(mig->uri, mig->timeout, mig->tls, &w->io,
				     error);
	if (r < 0)
		return r;
	g_mutex_lock(&mig->lock);
	mig->fd = w->fd = r;
	mig->io = w->io;
	g_mutex_unlock(&mig->lock);
	fault_point(FAULT_MIGRATE_CONNECT);
	r = snapshot_write_head(w, mig->m, 0, error);
	if (r < 0)
		return peer_error(PHASE_HANDSHAKE, mig->timeout, r, error);
	fault_point(FAULT_MIGRATE_MANIFEST);
	r = read_verdict(mig, error);
	if (r < 0)
		return r;
	fault_point(FAULT_MIGRATE_VERDICT);
	return 0;
}

/*
 * The RAM rounds, the guest running: everything once, then what it
 * rewrote, until what is left fits the downtime limit or the rounds run
 * out. On return 0, `dirty` holds the pages rewritten since the last
 * round, which go with the device state.
 */
static int migrate_ram_rounds(struct migration *mig, struct snap_writer *w,
			      uint64_t *dirty, uint64_t words, GError **error)
{
	struct kvm *kvm = mig->m->kvm;
	gint64 t;
	int r;

	r = send_round(mig, w, NULL, kvm->ram_size / 4096, error);
	if (!r)
		fault_point(FAULT_MIGRATE_RAM);
	for (;;) {
		uint64_t n, bw;

		t = g_get_monotonic_time();
		if (r < 0 || (r = cancelled(mig, error)) < 0 ||
		    (r = kvm_dirty_log_get(kvm, dirty, error)) < 0)
			return r;
		n = count_bits(dirty, words);
		g_mutex_lock(&mig->lock);
		bw = MAX(mig->bandwidth, 1u << 20);
		mig->remaining = n * 4096;
		mig->expected_downtime = n * 4096 * 1000 / bw;
		g_mutex_unlock(&mig->lock);
		if (mig->expected_downtime <= mig->downtime_limit ||
		    mig->rounds >= MIGRATION_MAX_ROUNDS)
			return 0;
		r = send_round(mig, w, dirty, n, error);
		memset(dirty, 0, words * 8);
		g_mutex_lock(&mig->lock);
		mig->dirty_rate = n * 4096 * G_USEC_PER_SEC /
				  (uint64_t)MAX(g_get_monotonic_time() - t, 1);
		g_mutex_unlock(&mig->lock);
	}
}

/*
 * The guest paused: the subsections checked once more against the
 * verdict, the last dirty pages, then the vCPUs' and devices' state.
 */
static int migrate_device_state(struct migration *mig, struct snap_writer *w,
				uint64_t *dirty, GError **error)
{
	struct machine *m = mig->m;
	int r;

	set_state(mig, MIGRATION_DEVICE, NULL);
	r = recheck_subsections(mig, error);
	if (!r)
		r = kvm_dirty_log_get(m->kvm, dirty, error);
	if (!r) {
		r = snapshot_write_ram(w, m, dirty, error);
		if (!r)
			fault_point(FAULT_MIGRATE_DEVICE_STATE);
		if (!r)
			r = snapshot_write_state(w, m, mig->verdict, error);
		if (r < 0)
			r = peer_error(PHASE_DEVICE_STATE, mig->timeout, r,
				       error);
	}
	g_mutex_lock(&mig->lock);
	mig->transferred = w->bytes;
	mig->remaining = 0;
	g_mutex_unlock(&mig->lock);
	return r;
}

/*
 * The commit: once COMMIT may have reached the destination, the guest is
 * not ours to resume. A destination that gave up since COMPLETE (it
 * closed the connection) cannot run it, and a COMMIT that could not be
 * written did not reach it: both resume here (an error return; the
 * disks' locks are back by then).
 */
static int migrate_commit(struct migration *mig, struct snap_writer *w,
			  GError **error)
{
	int r;

	r = stream_peer_gone(mig->fd, mig->io);
	g_mutex_lock(&mig->lock);
	mig->committed = !mig->cancel && !r;
	g_mutex_unlock(&mig->lock);
	if (r < 0)
		return error_setf(error, -r,
				  "the destination closed the connection after "
				  "COMPLETE");
	if (!mig->committed)
		return error_setf(error, ECANCELED, "cancelled");
	/* The disks' locks go with the guest (devices_lock_files()). */
	devices_unlock_files(mig->m->devs);
	r = stream_write_record(w, SNAP_COMMIT, NULL, 0, NULL, 0, error);
	if (r < 0) {
		g_mutex_lock(&mig->lock);
		mig->committed = 0;
		g_mutex_unlock(&mig->lock);
		r = peer_error(PHASE_COMPLETE, mig->timeout, r, error);
		relock(mig);
	}
	return r;
}

/*
 * One migration, start to end. Every way out before the commit stops
 * dirty logging and resumes the guest if it paused it; after the commit
 * (a failure waiting for RUNNING), the guest stays paused: see the
 * invariant at the top of this file.
 */
static int migrate(struct migration *mig, GError **error)
{
	struct machine *m = mig->m;
	struct kvm *kvm = m->kvm;
	uint64_t words = (kvm->ram_size / 4096 + 63) / 64;
	g_autofree uint64_t *dirty = g_new0(uint64_t, words);
	struct snap_writer w = { .what = mig->uri,
				 .sent = record_sent,
				 .opaque = mig };
	gint64 stop_at;
	int paused = 0, r;

	r = migrate_handshake(mig, &w, error);
	if (r < 0)
		return r;
	set_state(mig, MIGRATION_ACTIVE, NULL);
	r = kvm_dirty_log_start(kvm, error);
	if (r < 0)
		return r;
	r = migrate_ram_rounds(mig, &w, dirty, words, error);
	if (r < 0)
		goto fail;

	/* Stop and copy. */
	stop_at = g_get_monotonic_time();
	r = machine_pause(m, error);
	if (r < 0)
		goto fail;
	paused = 1;
	r = migrate_device_state(mig, &w, dirty, error);
	if (r < 0)
		goto fail;
	r = await_record(mig, SNAP_COMPLETE, PHASE_COMPLETE, error);
	if (r < 0)
		goto fail;
	fault_point(FAULT_MIGRATE_COMPLETE);
	r = migrate_commit(mig, &w, error);
	if (r < 0)
		goto fail;
	kvm_dirty_log_stop(kvm);
	fault_point(FAULT_MIGRATE_COMMIT);
	r = await_record(mig, SNAP_RUNNING, PHASE_RUNNING, error);
	if (r < 0)
		return r;
	fault_point(FAULT_MIGRATE_RUNNING);
	g_mutex_lock(&mig->lock);
	mig->downtime = (uint64_t)(g_get_monotonic_time() - stop_at) / 1000;
	g_mutex_unlock(&mig->lock);
	return 0;
fail:
	kvm_dirty_log_stop(kvm);
	if (paused)
		machine_resume(m, NULL);
	return r;
}

static gpointer migration_thread(gpointer data)
{
	struct migration *mig = data;
	g_autoptr(GError) err = NULL;
	g_autofree char *msg = NULL;
	int r = sandbox_enter(SANDBOX_MIGRATION, &err);
	int fd;

	if (!r)
		r = migrate(mig, &err);
	/* Not to be shut down by a cancel once closed. */
	g_mutex_lock(&mig->lock);
	fd = mig->fd;
	mig->fd = -1;
	g_mutex_unlock(&mig->lock);
	if (fd >= 0 && !g_str_has_prefix(mig->uri, "fd:"))
		stream_close(fd, mig->io);
	mig->io = NULL;
	if (r == 0) {
		set_state(mig, MIGRATION_COMPLETED, NULL);
		msg = g_strdup_printf("guest migrated to %s", mig->uri);
		kvm_cpus_stop(mig->m->kvm, KVM_END_MIGRATED, 0, msg);
	} else if (mig->committed) {
		struct vm_devices_sinks *sk = &mig->m->devs->sinks;
		g_autofree char *why = g_strdup_printf(
			"%s after COMMIT: the destination may or may not run "
			"the guest; it stays paused here until 'cont' (it "
			"runs here) or 'quit' (it runs there)",
			err ? err->message : g_strerror(-r));

		set_state(mig, MIGRATION_UNKNOWN, why);
		if (sk->log) {
			g_autofree char *line =
				g_strdup_printf("to %s: %s", mig->uri, why);

			sk->log(sk->opaque, "migration", MODVMM_LOG_ERROR,
				line);
		}
	} else {
		int cancel;

		g_mutex_lock(&mig->lock);
		cancel = mig->cancel;
		g_mutex_unlock(&mig->lock);
		const char *why = cancel ? "cancelled"
				  : err	 ? err->message
					 : g_strerror(-r);
		struct vm_devices_sinks *sk = &mig->m->devs->sinks;

		set_state(mig, cancel ? MIGRATION_CANCELLED : MIGRATION_FAILED,
			  cancel ? "cancelled; the guest keeps running here"
				 : why);
		/* The operator of the source hears it where modvmm runs too. */
		if (sk->log) {
			g_autofree char *line = g_strdup_printf(
				"to %s: %s; the guest keeps running here",
				mig->uri, why);

			sk->log(sk->opaque, "migration", MODVMM_LOG_WARNING,
				line);
		}
	}
	return NULL;
}

int migration_start(struct machine *m, const struct migration_sink *sink,
		    const char *uri, uint32_t downtime_ms, uint32_t timeout_s,
		    struct tls_creds *tls, struct migration **ret,
		    GError **error)
{
	struct migration *mig;
	struct stream_io *io;
	GError *err = NULL;
	int fd;

	/* Its message for a URI of no known transport. */
	if (!g_str_has_prefix(uri, "unix:") && !g_str_has_prefix(uri, "tcp:") &&
	    !g_str_has_prefix(uri, "fd:"))
		return transport_open(uri, 0, NULL, &io, error);
	if (g_str_has_prefix(uri, "fd:") && (fd = transport_fd(uri + 3, &err)) < 0) {
		g_propagate_error(error, err);
		return fd;
	}
	mig = g_new0(struct migration, 1);
	if (g_str_has_prefix(uri, "tcp:") &&
	    transport_resolve(uri + 4, &mig->ai, error) < 0) {
		g_free(mig);
		return -EHOSTUNREACH;
	}
	mig->m = m;
	if (sink)
		mig->sink = *sink;
	mig->uri = g_strdup(uri);
	mig->downtime_limit = downtime_ms;
	mig->timeout = timeout_s;
	mig->tls = tls_creds_ref(tls);
	mig->fd = -1;
	mig->ram_bytes = m->kvm->ram_size;
	mig->started = g_get_monotonic_time();
	mig->state = MIGRATION_SETUP;
	g_mutex_init(&mig->lock);
	g_cond_init(&mig->ended);
	report(mig, migration_status(mig));
	mig->thread = g_thread_new("migration", migration_thread, mig);
	*ret = mig;
	return 0;
}

int migration_cancel(struct migration *mig, GError **error)
{
	int r = 0;

	g_mutex_lock(&mig->lock);
	if (mig->state >= MIGRATION_COMPLETED)
		r = error_setf(error, EALREADY, "no migration is running");
	else if (mig->committed)
		r = error_setf(error, EBUSY,
			       "the migration has committed: the destination "
			       "has the guest (waiting for it to say it runs)");
	else
		mig->cancel = 1;
	/* A thread blocked on the socket notices now. */
	if (!r && mig->fd >= 0)
		shutdown(mig->fd, SHUT_RDWR);
	g_mutex_unlock(&mig->lock);
	return r;
}

void migration_settle(struct migration *mig)
{
	if (!mig)
		return;
	g_mutex_lock(&mig->lock);
	if (mig->state < MIGRATION_COMPLETED && !mig->committed) {
		mig->cancel = 1;
		if (mig->fd >= 0)
			shutdown(mig->fd, SHUT_RDWR);
	}
	while (mig->state < MIGRATION_COMPLETED)
		g_cond_wait(&mig->ended, &mig->lock);
	g_mutex_unlock(&mig->lock);
}

int migration_in_doubt(struct migration *mig)
{
	int r;

	if (!mig)
		return 0;
	g_mutex_lock(&mig->lock);
	r = mig->state == MIGRATION_UNKNOWN;
	g_mutex_unlock(&mig->lock);
	return r;
}

void migration_resolve(struct migration *mig, const char *how)
{
	g_autofree char *msg = NULL;

	if (!migration_in_doubt(mig))
		return;
	msg = g_strdup_printf("in doubt; resolved by %s", how);
	set_state(mig, MIGRATION_FAILED, msg);
}

void migration_free(struct migration *mig)
{
	if (!mig)
		return;
	g_thread_join(mig->thread);
	g_cond_clear(&mig->ended);
	g_mutex_clear(&mig->lock);
	if (mig->ai)
		freeaddrinfo(mig->ai);
	tls_creds_unref(mig->tls);
	compat_verdict_free(mig->verdict);
	g_free(mig->error);
	g_free(mig->uri);
	g_free(mig);
}
