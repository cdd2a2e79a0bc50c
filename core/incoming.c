// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/incoming.c - the receiving protocol of a migration: accept, the
 * head (HELLO, MANIFEST, CONFIG), the verdict back before anything else
 * moves, the state, then the commit: COMPLETE out, COMMIT in, and
 * RUNNING out once the guest runs. Judging and building the machine are
 * core/restore.c's, the records core/snapshot.c's, the transports
 * core/transport.c's.
 *
 * Invariant: the guest runs here only after the source's COMMIT, after
 * which the source never resumes it by itself. Every way out before
 * COMMIT (a silence, the connection closing, a cancel, a signal) drops
 * the machine without running it, and the source keeps the guest.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "device.h"
#include "fault.h"
#include "incoming.h"
#include "restore.h"
#include "stream.h"
#include "tls.h"
#include "transport.h"

enum incoming_state {
	INCOMING_WAITING,   /* for a source to connect */
	INCOMING_ACTIVE,    /* a source's stream is coming in */
	INCOMING_COMMITTED, /* COMMIT came: the guest is this host's */
	INCOMING_RUNNING,   /* RUNNING sent */
	INCOMING_FAILED,
	INCOMING_CANCELLED,
};

struct incoming {
	char *uri;
	uint32_t timeout;
	struct tls_creds *tls; /* tcp: TLS, the source's certificate checked */

	GMutex lock; /* guards what follows */
	enum incoming_state state;
	int listener;	       /* -1 once closed */
	int fd;		       /* the connection served, or -1 */
	struct snap_reader *s; /* after COMMIT, for RUNNING */
	char *error;
};

static const char *const state_names[] = {
	[INCOMING_WAITING] = "setup",	    [INCOMING_ACTIVE] = "active",
	[INCOMING_COMMITTED] = "committed", [INCOMING_RUNNING] = "completed",
	[INCOMING_FAILED] = "failed",	    [INCOMING_CANCELLED] = "cancelled",
};

int incoming_listen(const char *uri, uint32_t timeout, struct incoming **ret,
		    GError **error)
{
	struct incoming *in;
	int fd = transport_listen(uri, error);

	if (fd < 0)
		return fd;
	in = g_new0(struct incoming, 1);
	in->uri = g_strdup(uri);
	in->timeout = timeout;
	in->listener = fd;
	in->fd = -1;
	g_mutex_init(&in->lock);
	*ret = in;
	return 0;
}

static void set_state(struct incoming *in, enum incoming_state st,
		      const GError *err)
{
	g_mutex_lock(&in->lock);
	/* A cancel is what ended it, whatever the read that saw it said. */
	if (in->state != INCOMING_CANCELLED) {
		in->state = st;
		if (err) {
			g_free(in->error);
			in->error = g_strdup(err->message);
		}
	}
	g_mutex_unlock(&in->lock);
}

/*
 * Judges what the source sent against this host: the verdict, and the
 * machine to build when it accepts. A source that would not commit could
 * leave the guest running on both hosts: it is refused, in the verdict
 * it reads.
 */
static int serve_judge(struct incoming *in, const struct machine_config *cfg,
		       struct snap_reader *s, struct machine **ret_m,
		       struct compat_verdict **ret_v, GError **error)
{
	struct compat_verdict *v;
	int r;

	r = restore_judge(cfg, s, ret_m, ret_v, error);
	v = *ret_v;
	if (v && s->commit < SNAPSHOT_COMMIT) {
		g_ptr_array_add(v->reasons,
				g_strdup("the source does not end a migration "
					 "with COMMIT (an older modvmm): the "
					 "guest could end up running on both "
					 "hosts"));
		if (v->accepted && !r)
			r = error_setf(error, EPROTO,
				       "%s: the source does not end a "
				       "migration with COMMIT (an older "
				       "modvmm); refused",
				       in->uri);
		v->accepted = 0;
	}
	return r;
}

/*
 * The accepted guest: its state into the machine, COMPLETE out and the
 * source's COMMIT in, after which the guest is this host's, with its
 * disks' locks (the source let them go when it committed).
 */
static int serve_commit(struct incoming *in, struct machine *m,
			const struct machine_config *cfg, struct snap_reader *s,
			struct compat_verdict *v, GError **error)
{
	int r;

	r = restore_build(m, cfg, s, v, error);
	if (!r)
		r = snapshot_send_complete(s, error);
	if (!r)
		r = snapshot_await_commit(s, error);
	if (!r) {
		g_mutex_lock(&in->lock);
		if (in->state == INCOMING_CANCELLED) {
			r = -ECANCELED;
		} else {
			in->state = INCOMING_COMMITTED;
			/* No other source may come now. */
			transport_unlisten(in->listener, in->uri);
			in->listener = -1;
		}
		g_mutex_unlock(&in->lock);
	}
	if (!r)
		r = devices_lock_files(m->devs, error);
	return r;
}

/* Serves one connection: 0 and a machine after COMMIT, or a dry run's 0. */
static int serve(struct incoming *in, int fd, struct stream_io *io,
		 const struct machine_config *cfg, struct machine **ret,
		 GError **error)
{
	g_autoptr(GError) err = NULL;
	struct compat_verdict *v = NULL;
	struct snap_reader *s = NULL;
	struct machine *m = NULL;
	int r;

	r = snapshot_receive(fd, io, in->uri, &s, error);
	if (r < 0) {
		stream_close(fd, io);
		return r;
	}
	fault_point(FAULT_INCOMING_MANIFEST);
	r = serve_judge(in, cfg, s, &m, &v, &err);
	/* The source hears the verdict first, a refusal too. */
	if (v)
		snapshot_send_verdict(s, v, NULL);
	if (s->check && v) {
		/* A dry run is answered by its verdict, whatever it says. */
		r = 0;
		g_clear_pointer(&m, machine_free);
		goto out;
	}
	if (r < 0)
		g_propagate_error(error, g_steal_pointer(&err));
	if (!r)
		r = serve_commit(in, m, cfg, s, v, error);
	if (r < 0) {
		g_clear_pointer(&m, machine_free);
		goto out;
	}
	/* Kept for RUNNING. */
	in->s = g_steal_pointer(&s);
out:
	compat_verdict_free(v);
	if (s) {
		g_mutex_lock(&in->lock);
		in->fd = -1;
		g_mutex_unlock(&in->lock);
		stream_close(s->fd, s->io);
		snapshot_free(s);
	}
	*ret = m;
	return r;
}

int incoming_take(struct incoming *in, const struct machine_config *cfg,
		  struct machine **ret, GError **error)
{
	g_autoptr(GError) err = NULL;
	struct stream_io *io = NULL;
	int fd, r;

	*ret = NULL;
	g_mutex_lock(&in->lock);
	r = in->state == INCOMING_CANCELLED ? -ECANCELED : 0;
	if (!r)
		in->state = INCOMING_WAITING;
	g_mutex_unlock(&in->lock);
	if (!r)
		r = transport_accept(in->listener, in->uri, in->timeout,
				     in->tls, &fd, &io, &err);
	if (!r) {
		g_mutex_lock(&in->lock);
		if (in->state == INCOMING_CANCELLED) {
			r = -ECANCELED;
			if (!g_str_has_prefix(in->uri, "fd:"))
				stream_close(fd, io);
		} else {
			in->state = INCOMING_ACTIVE;
			in->fd = fd;
		}
		g_mutex_unlock(&in->lock);
	}
	if (!r)
		r = serve(in, fd, io, cfg, ret, &err);
	g_mutex_lock(&in->lock);
	if (in->state == INCOMING_CANCELLED) {
		r = r < 0 ? -ECANCELED : r;
		g_clear_error(&err);
	}
	g_mutex_unlock(&in->lock);
	if (r == -ECANCELED)
		return error_setf(error, ECANCELED, "%s: cancelled", in->uri);
	if (r < 0) {
		set_state(in, INCOMING_FAILED, err);
		g_propagate_error(error, g_steal_pointer(&err));
	}
	return r;
}

int incoming_cancel(struct incoming *in, GError **error)
{
	int r = 0;

	g_mutex_lock(&in->lock);
	if (in->state >= INCOMING_COMMITTED) {
		r = error_setf(error, EALREADY,
			       in->state < INCOMING_FAILED
				       ? "the source has committed: the guest "
					 "is this host's"
				       : "no incoming migration is running");
	} else {
		in->state = INCOMING_CANCELLED;
		/* Blocked in accept() or a read, the main thread wakes. */
		if (in->listener >= 0)
			shutdown(in->listener, SHUT_RDWR);
		if (in->fd >= 0)
			shutdown(in->fd, SHUT_RDWR);
	}
	g_mutex_unlock(&in->lock);
	return r;
}

int incoming_confirm(struct incoming *in, GError **error)
{
	struct snap_reader *s = in->s;
	int r;

	if (!s)
		return 0;
	fault_point(FAULT_INCOMING_RUNNING);
	r = snapshot_send_running(s, error);
	set_state(in, INCOMING_RUNNING, NULL);
	in->s = NULL;
	stream_close(s->fd, s->io);
	snapshot_free(s);
	return r;
}

JsonNode *incoming_status(struct incoming *in)
{
	g_autoptr(JsonObject) o = json_object_new();

	g_mutex_lock(&in->lock);
	json_object_set_string_member(o, "status", state_names[in->state]);
	json_object_set_string_member(o, "uri", in->uri);
	if (in->error)
		json_object_set_string_member(o, "error", in->error);
	g_mutex_unlock(&in->lock);
	return json_node_init_object(json_node_alloc(), o);
}

void incoming_set_tls(struct incoming *in, struct tls_creds *tls)
{
	in->tls = tls_creds_ref(tls);
}

const char *incoming_uri(struct incoming *in)
{
	return in->uri;
}

void incoming_free(struct incoming *in)
{
	if (!in)
		return;
	if (in->s) {
		stream_close(in->s->fd, in->s->io);
		snapshot_free(in->s);
	}
	transport_unlisten(in->listener, in->uri);
	tls_creds_unref(in->tls);
	g_mutex_clear(&in->lock);
	g_free(in->error);
	g_free(in->uri);
	g_free(in);
}
