// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/timer.c - device timers on the guest clock.
 *
 * The clock runs only while the guest does: it stands still while the VM
 * is paused (timers_pause) and while it is held (timers_hold: before the
 * guest first runs here, after it ended), and no callback runs then. A
 * destination sets it to the source's value (timers_set_clock) while it
 * is held, so device time goes on across a move where it stopped.
 *
 * Invariant: a callback runs with call_lock held and the timer disarmed.
 * timer_free() is only called with call_lock held, so a timer can never be
 * freed while its callback runs, and the firing thread re-checks under both
 * locks that the timer is still armed and due.
 */
#include <time.h>

#include "sandbox.h"
#include "timer.h"

struct timer {
	struct timers *ts;
	timer_cb cb;
	void *opaque;
	uint64_t expire;
	int armed;
};

struct timers {
	GMutex lock;
	GCond cond;
	GMutex *call_lock;
	GPtrArray *all; /* struct timer * */
	GThread *thread;
	int stop;
	int paused;	 /* timers_pause(), until timers_resume() */
	int held;	 /* timers_hold(), until timers_release() */
	uint64_t offset; /* host ns minus guest ns, while running */
	uint64_t frozen; /* guest ns while paused or held */
};

static uint64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int stopped(const struct timers *ts)
{
	return ts->paused || ts->held;
}

static uint64_t clock_locked(struct timers *ts)
{
	return stopped(ts) ? ts->frozen : host_ns() - ts->offset;
}

/*
 * Sets one of the two reasons to stand still (`paused` or `held`) to
 * `on`; the clock stops when the first is set and goes on from where it
 * stood when the last is cleared.
 */
static void set_stopped(struct timers *ts, int *flag, int on)
{
	int was;

	g_mutex_lock(&ts->lock);
	was = stopped(ts);
	if (on && !was)
		ts->frozen = clock_locked(ts);
	*flag = on;
	if (was && !stopped(ts)) {
		ts->offset = host_ns() - ts->frozen;
		g_cond_broadcast(&ts->cond);
	}
	g_mutex_unlock(&ts->lock);
}

uint64_t timers_clock_ns(struct timers *ts)
{
	uint64_t now;

	g_mutex_lock(&ts->lock);
	now = clock_locked(ts);
	g_mutex_unlock(&ts->lock);
	return now;
}

void timers_pause(struct timers *ts)
{
	set_stopped(ts, &ts->paused, 1);
}

void timers_resume(struct timers *ts)
{
	set_stopped(ts, &ts->paused, 0);
}

void timers_hold(struct timers *ts)
{
	set_stopped(ts, &ts->held, 1);
}

void timers_release(struct timers *ts)
{
	set_stopped(ts, &ts->held, 0);
}

void timers_set_clock(struct timers *ts, uint64_t ns)
{
	g_mutex_lock(&ts->lock);
	if (stopped(ts))
		ts->frozen = ns;
	else
		ts->offset = host_ns() - ns;
	/* Deadlines may have come closer: the thread looks again. */
	g_cond_broadcast(&ts->cond);
	g_mutex_unlock(&ts->lock);
}

void timers_advance(struct timers *ts, uint64_t ns)
{
	g_mutex_lock(&ts->lock);
	if (stopped(ts))
		ts->frozen += ns;
	else
		ts->offset -= ns;
	g_cond_broadcast(&ts->cond);
	g_mutex_unlock(&ts->lock);
}

static struct timer *earliest(struct timers *ts)
{
	struct timer *best = NULL;

	for (guint i = 0; i < ts->all->len; i++) {
		struct timer *t = ts->all->pdata[i];

		if (t->armed && (!best || t->expire < best->expire))
			best = t;
	}
	return best;
}

static gpointer timers_thread(gpointer data)
{
	struct timers *ts = data;

	sandbox_enter_or_die(SANDBOX_IO);
	g_mutex_lock(&ts->lock);
	while (!ts->stop) {
		struct timer *t = earliest(ts);
		uint64_t now = clock_locked(ts);

		if (!t || stopped(ts)) {
			g_cond_wait(&ts->cond, &ts->lock);
			continue;
		}
		if (t->expire > now) {
			gint64 until = g_get_monotonic_time() +
				       (gint64)((t->expire - now) / 1000) + 1;

			g_cond_wait_until(&ts->cond, &ts->lock, until);
			continue;
		}
		g_mutex_unlock(&ts->lock);
		g_mutex_lock(ts->call_lock);
		g_mutex_lock(&ts->lock);
		while (!ts->stop && !stopped(ts) && (t = earliest(ts)) &&
		       t->expire <= clock_locked(ts)) {
			t->armed = 0;
			g_mutex_unlock(&ts->lock);
			t->cb(t->opaque);
			g_mutex_lock(&ts->lock);
		}
		g_mutex_unlock(&ts->lock);
		g_mutex_unlock(ts->call_lock);
		g_mutex_lock(&ts->lock);
	}
	g_mutex_unlock(&ts->lock);
	return NULL;
}

struct timers *timers_new(GMutex *call_lock)
{
	struct timers *ts = g_new0(struct timers, 1);

	g_mutex_init(&ts->lock);
	g_cond_init(&ts->cond);
	ts->call_lock = call_lock;
	ts->all = g_ptr_array_new();
	ts->offset = host_ns();
	ts->thread = g_thread_new("timers", timers_thread, ts);
	return ts;
}

void timers_free(struct timers *ts)
{
	if (!ts)
		return;
	g_mutex_lock(&ts->lock);
	ts->stop = 1;
	g_cond_broadcast(&ts->cond);
	g_mutex_unlock(&ts->lock);
	g_thread_join(ts->thread);
	g_ptr_array_free(ts->all, TRUE);
	g_mutex_clear(&ts->lock);
	g_cond_clear(&ts->cond);
	g_free(ts);
}

struct timer *timer_new(struct timers *ts, timer_cb cb, void *opaque)
{
	struct timer *t = g_new0(struct timer, 1);

	t->ts = ts;
	t->cb = cb;
	t->opaque = opaque;
	g_mutex_lock(&ts->lock);
	g_ptr_array_add(ts->all, t);
	g_mutex_unlock(&ts->lock);
	return t;
}

void timer_mod(struct timer *t, uint64_t expire_ns)
{
	g_mutex_lock(&t->ts->lock);
	t->expire = expire_ns;
	t->armed = 1;
	g_cond_broadcast(&t->ts->cond);
	g_mutex_unlock(&t->ts->lock);
}

void timer_del(struct timer *t)
{
	g_mutex_lock(&t->ts->lock);
	t->armed = 0;
	g_mutex_unlock(&t->ts->lock);
}

void timer_free(struct timer *t)
{
	if (!t)
		return;
	g_mutex_lock(&t->ts->lock);
	g_ptr_array_remove_fast(t->ts->all, t);
	g_mutex_unlock(&t->ts->lock);
	g_free(t);
}
