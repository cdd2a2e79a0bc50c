/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

/* What every benchmark reports: the median of n samples and their range. */
#include <stdlib.h>
#include <time.h>

struct bench_sample {
	double median, min, max;
};

static inline double bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v. */
static inline struct bench_sample bench_summarise(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp);
	return (struct bench_sample){ v[n / 2], v[0], v[n - 1] };
}

#endif
