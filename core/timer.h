/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_TIMER_H
#define CORE_TIMER_H

#include <stdint.h>

#include <glib.h>

/*
 * Guest-clock timers for devices. One thread fires them; it takes
 * `call_lock` (the lock that serialises every call into device code)
 * before a callback, so callbacks run like every other device call.
 * Lock order: call_lock, then the timers' own lock.
 */
struct timers;
struct timer;

typedef void (*timer_cb)(void *opaque);

struct timers *timers_new(GMutex *call_lock);
void timers_free(struct timers *ts);

/*
 * Guest time in ns: monotonic while it runs. It stands still, and no
 * timer fires, between timers_pause() and _resume() (the VM paused) and
 * between timers_hold() and _release() (the guest has not run yet, or
 * has ended); the two are independent, so an operator's pause and the
 * start of the guest do not undo each other. It starts at 0, running.
 */
uint64_t timers_clock_ns(struct timers *ts);
void timers_pause(struct timers *ts);
void timers_resume(struct timers *ts);
void timers_hold(struct timers *ts);
void timers_release(struct timers *ts);
/*
 * The clock reads `ns` from now on (a restored or incoming guest's, while
 * held): armed deadlines stay as they are, on the new clock.
 */
void timers_set_clock(struct timers *ts, uint64_t ns);

/* The clock moves on by `ns` at once (core/kvm-time.c). */
void timers_advance(struct timers *ts, uint64_t ns);

struct timer *timer_new(struct timers *ts, timer_cb cb, void *opaque);
void timer_mod(struct timer *t, uint64_t expire_ns);
void timer_del(struct timer *t);
/*
 * Called with call_lock held (as device code always is), so a callback of
 * this timer is never running at the same time. NULL is accepted.
 */
void timer_free(struct timer *t);

#endif
