// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-boot: a guest's start-up as its user sees it, from the outside.
 *
 * For each of REPS runs of COMMAND (its stdout piped here): time from
 * fork to the first byte the guest writes to its serial console, time to
 * the process's exit, and the process's peak RSS (ru_maxrss). Prints the
 * median and range.
 *   bench-boot REPS COMMAND [ARGS...]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n, const char *unit)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("| %-28s | %9.1f | %9.1f-%-9.1f | %-3s |\n", what, v[n / 2],
	       v[0], v[n - 1], unit);
}

int main(int argc, char **argv)
{
	int reps = argc > 2 ? atoi(argv[1]) : 0;
	double *first, *total, *rss;

	if (reps < 1) {
		fprintf(stderr, "usage: bench-boot REPS COMMAND [ARGS...]\n");
		return 2;
	}
	first = calloc((size_t)reps, sizeof(double));
	total = calloc((size_t)reps, sizeof(double));
	rss = calloc((size_t)reps, sizeof(double));
	for (int i = 0; i < reps; i++) {
		struct rusage ru;
		int fds[2], status;
		double t0;
		char buf[4096];
		ssize_t n;
		pid_t pid;

		if (pipe(fds) < 0)
			return 1;
		t0 = now_ms();
		pid = fork();
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(fds[1], STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(fds[0]);
			close(fds[1]);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		close(fds[1]);
		first[i] = -1;
		while ((n = read(fds[0], buf, sizeof(buf))) > 0)
			if (first[i] < 0)
				first[i] = now_ms() - t0;
		close(fds[0]);
		if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "bench-boot: run %d failed (status 0x%x)\n",
				i, status);
			return 1;
		}
		total[i] = now_ms() - t0;
		rss[i] = ru.ru_maxrss / 1024.0;
	}
	printf("%d runs of:", reps);
	for (int i = 2; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n\n| %-28s | %9s | %-19s | %-3s |\n", "what", "median", "min-max",
	       "");
	printf("|------------------------------|-----------|---------------------|-----|\n");
	report("start to first serial byte", first, reps, "ms");
	report("start to exit", total, reps, "ms");
	report("peak RSS of the process", rss, reps, "MiB");
	return 0;
}
