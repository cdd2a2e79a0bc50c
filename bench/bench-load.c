// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-load: what loading a module costs beyond the dynamic linker.
 *
 * Each sample loads and unloads one file ITERATIONS times (a hundredth of
 * it under BENCH_SMOKE) and reports the mean per load+unload; the median
 * and range of REPS samples (BENCH_REPS) are printed, in us per op.
 *   - dlopen:   dlopen(RTLD_NOW|RTLD_LOCAL) + dlclose of an empty .so, the
 *               floor any module loader pays;
 *   - modinfo:  reading and checking the metadata only (no dlopen);
 *   - loader:   modvmm's whole path: trust checks, metadata, dlopen, entry,
 *               descriptor checks, init, registration, then unload.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/device.h"
#include "core/host.h"
#include "core/loader.h"
#include "core/modules.h"
#include "core/vm-devices.h"

#define REPS 7

static int reps;

static struct bench_sample bench_dlopen(const char *path, int n)
{
	double *v = bench_samples_new(reps);
	struct bench_sample s;

	for (int r = 0; r < reps; r++) {
		double t0 = bench_now_us();

		for (int i = 0; i < n; i++) {
			void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

			if (!h) {
				fprintf(stderr, "bench-load: %s\n", dlerror());
				exit(1);
			}
			dlclose(h);
		}
		v[r] = (bench_now_us() - t0) / n;
	}
	s = bench_summarise(v, reps);
	free(v);
	return s;
}

static struct bench_sample bench_modinfo(const char *path, int n)
{
	double *v = bench_samples_new(reps);
	struct bench_sample s;

	for (int r = 0; r < reps; r++) {
		double t0 = bench_now_us();

		for (int i = 0; i < n; i++) {
			struct modinfo *mi = NULL;

			if (modinfo_read(path, &mi, NULL) < 0)
				exit(1);
			modinfo_free(mi);
		}
		v[r] = (bench_now_us() - t0) / n;
	}
	s = bench_summarise(v, reps);
	free(v);
	return s;
}

static struct bench_sample bench_loader(const char *path, int n)
{
	/* An empty world: the module is what the loop loads. */
	struct modules_config cfg = { .no_default_dir = 1 };
	struct vm_devices *devs = NULL;
	double *v = bench_samples_new(reps);
	struct bench_sample s;

	if (modules_open(&cfg, &devs, NULL, NULL) < 0)
		abort();

	for (int r = 0; r < reps; r++) {
		double t0 = bench_now_us();

		for (int i = 0; i < n; i++) {
			struct module *m = NULL;
			GError *err = NULL;

			if (loader_load(devs->loader, path, &m, &err) < 0 ||
			    loader_unload(devs->loader, m, &err) < 0) {
				fprintf(stderr, "bench-load: %s\n",
					err->message);
				exit(1);
			}
		}
		v[r] = (bench_now_us() - t0) / n;
	}
	device_destroy_all(devs);
	modules_close(devs);
	s = bench_summarise(v, reps);
	free(v);
	return s;
}

int main(int argc, char **argv)
{
	struct bench_sample d, mi, ld;
	const char *base;
	char label[128];
	int n, len;

	if (argc != 4) {
		fprintf(stderr,
			"usage: bench-load EMPTY.so MODULE.so ITERATIONS\n");
		return 2;
	}
	n = atoi(argv[3]);
	if (n <= 0)
		return 2;
	n = (int)bench_scale((size_t)n);
	reps = bench_reps(REPS);
	/* The label names the module measured: its file name without ".so". */
	base = strrchr(argv[2], '/');
	base = base ? base + 1 : argv[2];
	len = (int)strlen(base);
	if (len > 3 && !strcmp(base + len - 3, ".so"))
		len -= 3;
	/* Warm the page cache and the dynamic linker's own state. */
	bench_dlopen(argv[1], 10);
	d = bench_dlopen(argv[1], n);
	mi = bench_modinfo(argv[2], n);
	ld = bench_loader(argv[2], n);
	bench_info("load.iterations", "%d load+unload per sample", n);
	bench_row("load.dlopen", "dlopen+dlclose, empty .so", "us", d, reps);
	bench_row("load.modinfo", "modvmm metadata read only", "us", mi, reps);
	snprintf(label, sizeof(label), "modvmm load+unload (%.*s)", len, base);
	bench_row("load.modvmm", label, "us", ld, reps);
	return 0;
}
