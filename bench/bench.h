/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

/*
 * What every benchmark reports: the median of n samples and their range,
 * one figure a line on stdout, tab-separated, for bench/run to collect:
 *
 *   row	KEY	LABEL	UNIT	MEDIAN	MIN	MAX	SAMPLES
 *   info	KEY	TEXT
 *
 * (tabs between fields). MEDIAN, MIN and MAX are "%.6g", or an integer
 * in full when whole; SAMPLES is how many samples the median is of.
 *
 * KEY is stable across runs and modes (bench/run pairs a figure with its
 * reference by key); LABEL and TEXT are for people and hold no tab.
 *
 * The environment sets how much is measured:
 *   BENCH_REPS=N   samples per figure (N >= 1), else the program's own;
 *   BENCH_SMOKE=1  a token amount of work per sample, so a run checks the
 *                  program and its output in well under two seconds; the
 *                  keys are those of a real run, the numbers mean nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_REPS_MAX 100000
/* What BENCH_SMOKE divides iteration counts by. */
#define BENCH_SMOKE_DIV 100

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

/* BENCH_REPS, or def when unset; a value that is not a count ends the run. */
static inline int bench_reps(int def)
{
	const char *s = getenv("BENCH_REPS");
	char *end;
	long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > BENCH_REPS_MAX) {
		fprintf(stderr,
			"BENCH_REPS=%s: expected a count from 1 to %d\n", s,
			BENCH_REPS_MAX);
		exit(2);
	}
	return (int)v;
}

/* BENCH_SMOKE set to anything but empty or "0". */
static inline int bench_smoke(void)
{
	const char *s = getenv("BENCH_SMOKE");

	return s && *s && !(s[0] == '0' && !s[1]);
}

/* An iteration count as the mode has it: n, or a token share of it. */
static inline size_t bench_scale(size_t n)
{
	if (!bench_smoke())
		return n;
	return n / BENCH_SMOKE_DIV ? n / BENCH_SMOKE_DIV : 1;
}

/* Room for n samples; a benchmark without it has nothing to measure. */
static inline double *bench_samples_new(size_t n)
{
	double *v = calloc(n, sizeof(*v));

	if (!v) {
		fprintf(stderr, "bench: no memory for %zu samples\n", n);
		exit(1);
	}
	return v;
}

/*
 * Six significant digits are more than any timing here holds; a whole
 * number (a size in bytes) is printed in full, so that 1363120 does not
 * come out as 1.36312e+06.
 */
static inline void bench_num(double v)
{
	/* The range first: converting a larger value is undefined. */
	if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
		printf("\t%lld", (long long)v);
	else
		printf("\t%.6g", v);
}

/*
 * Flushed at once, so that bench/run keeps the figures already measured
 * if a later one fails.
 */
static inline void bench_row(const char *key, const char *label,
			     const char *unit, struct bench_sample s, size_t n)
{
	printf("row\t%s\t%s\t%s", key, label, unit);
	bench_num(s.median);
	bench_num(s.min);
	bench_num(s.max);
	printf("\t%zu\n", n);
	fflush(stdout);
}

__attribute__((format(printf, 2, 3))) static inline void
bench_info(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("info\t%s\t", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#endif
