// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-sandbox: what the system call filters cost.
 *   - installing a kind's filter, as each thread does when it starts (µs);
 *   - one KVM ioctl (KVM_CHECK_EXTENSION on /dev/kvm, the cheapest call
 *     a vCPU makes through the filter on each exit) with no filter and
 *     under each kind's, in ns per call.
 * Each measurement runs in a thread of its own, filtered or not; median
 * and range of 7 samples (BENCH_REPS). BENCH_SMOKE makes a hundredth of
 * the calls.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench.h"
#include "core/sandbox.h"

#define REPS 7
#define CALLS 200000

static int reps, calls;

struct job {
	int kind; /* -1: no filter */
	int kvm;
	double enter_us;
	double call_ns;
};

static void *run(void *data)
{
	struct job *j = data;
	double t0 = bench_now_us();

	if (j->kind >= 0)
		sandbox_enter_or_die((enum sandbox_kind)j->kind);
	j->enter_us = bench_now_us() - t0;
	t0 = bench_now_us();
	for (int i = 0; i < calls; i++)
		ioctl(j->kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
	j->call_ns = (bench_now_us() - t0) * 1e3 / calls;
	return NULL;
}

static struct job measure(int kind, int kvm, struct bench_sample *enter,
			  struct bench_sample *call)
{
	double *e = bench_samples_new(reps), *c = bench_samples_new(reps);
	struct job j = { .kind = kind, .kvm = kvm };

	for (int i = 0; i < reps; i++) {
		pthread_t t;

		pthread_create(&t, NULL, run, &j);
		pthread_join(t, NULL);
		e[i] = j.enter_us;
		c[i] = j.call_ns;
	}
	*enter = bench_summarise(e, reps);
	*call = bench_summarise(c, reps);
	free(e);
	free(c);
	return j;
}

int main(void)
{
	struct bench_sample none_e, none_c, e, c;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0) {
		perror("bench-sandbox: /dev/kvm");
		return 1;
	}
	reps = bench_reps(REPS);
	calls = (int)bench_scale(CALLS);
	if (sandbox_setup(SANDBOX_ENFORCE, NULL) < 0)
		return 1;
	measure(-1, kvm, &none_e, &none_c);
	bench_info("sandbox.calls", "%d KVM ioctls per sample", calls);
	bench_row("sandbox.none.ioctl", "KVM ioctl, no filter", "ns", none_c,
		  reps);
	for (int k = 0; k < SANDBOX_N_KINDS; k++) {
		const char *name = sandbox_kind_name((enum sandbox_kind)k);
		char key[64], label[64];

		measure(k, kvm, &e, &c);
		snprintf(key, sizeof(key), "sandbox.%s.install", name);
		snprintf(label, sizeof(label), "filter install, %s thread",
			 name);
		bench_row(key, label, "us", e, reps);
		snprintf(key, sizeof(key), "sandbox.%s.ioctl", name);
		snprintf(label, sizeof(label), "KVM ioctl, %s filter", name);
		bench_row(key, label, "ns", c, reps);
	}
	return 0;
}
