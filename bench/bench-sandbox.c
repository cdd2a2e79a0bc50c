// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-sandbox: what the system call filters cost.
 *   - installing a kind's filter, as each thread does when it starts (µs);
 *   - one KVM ioctl (KVM_CHECK_EXTENSION on /dev/kvm, the cheapest call
 *     a vCPU makes through the filter on each exit) with no filter and
 *     under each kind's, in ns per call.
 * Each measurement runs in a thread of its own, filtered or not; median
 * and range of 7 samples.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench.h"
#include "../core/sandbox.h"

#define REPS 7
#define CALLS 200000

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
	for (int i = 0; i < CALLS; i++)
		ioctl(j->kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
	j->call_ns = (bench_now_us() - t0) * 1e3 / CALLS;
	return NULL;
}

static struct job measure(int kind, int kvm, struct bench_sample *enter,
			  struct bench_sample *call)
{
	double e[REPS], c[REPS];
	struct job j = { .kind = kind, .kvm = kvm };

	for (int i = 0; i < REPS; i++) {
		pthread_t t;

		pthread_create(&t, NULL, run, &j);
		pthread_join(t, NULL);
		e[i] = j.enter_us;
		c[i] = j.call_ns;
	}
	*enter = bench_summarise(e, REPS);
	*call = bench_summarise(c, REPS);
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
	if (sandbox_setup(SANDBOX_ENFORCE, NULL) < 0)
		return 1;
	measure(-1, kvm, &none_e, &none_c);
	printf("| thread | filter install µs | KVM ioctl ns | vs none |\n"
	       "|---|---:|---:|---:|\n");
	printf("| no filter | - | %.0f (%.0f–%.0f) | 1.00x |\n", none_c.median,
	       none_c.min, none_c.max);
	for (int k = 0; k < SANDBOX_N_KINDS; k++) {
		measure(k, kvm, &e, &c);
		printf("| %s | %.0f (%.0f–%.0f) | %.0f (%.0f–%.0f) | %.2fx |\n",
		       sandbox_kind_name((enum sandbox_kind)k), e.median, e.min,
		       e.max, c.median, c.min, c.max, c.median / none_c.median);
	}
	return 0;
}
