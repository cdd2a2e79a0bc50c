// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-load: what loading a module costs beyond the dynamic linker.
 *
 * Each sample loads and unloads one file ITERATIONS times and reports the
 * mean per load+unload; the median and range of REPS samples are printed.
 *   - dlopen:   dlopen(RTLD_NOW|RTLD_LOCAL) + dlclose of an empty .so, the
 *               floor any module loader pays;
 *   - modinfo:  reading and checking the metadata only (no dlopen);
 *   - loader:   modvmm's whole path: trust checks, metadata, dlopen, entry,
 *               descriptor checks, init, registration, then unload.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "../core/device.h"
#include "../core/host.h"
#include "../core/loader.h"
#include "../core/vmm.h"

#define REPS 7

static struct bench_sample bench_dlopen(const char *path, int n)
{
	double v[REPS];

	for (int r = 0; r < REPS; r++) {
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
	return bench_summarise(v, REPS);
}

static struct bench_sample bench_modinfo(const char *path, int n)
{
	double v[REPS];

	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now_us();

		for (int i = 0; i < n; i++) {
			struct modinfo *mi = NULL;

			if (modinfo_read(path, &mi, NULL) < 0)
				exit(1);
			modinfo_free(mi);
		}
		v[r] = (bench_now_us() - t0) / n;
	}
	return bench_summarise(v, REPS);
}

static struct bench_sample bench_loader(const char *path, int n)
{
	struct vmm *vmm = vmm_new(host_services());
	double v[REPS];

	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now_us();

		for (int i = 0; i < n; i++) {
			struct module *m = NULL;
			GError *err = NULL;

			if (loader_load(vmm->loader, path, &m, &err) < 0 ||
			    loader_unload(vmm->loader, m, &err) < 0) {
				fprintf(stderr, "bench-load: %s\n",
					err->message);
				exit(1);
			}
		}
		v[r] = (bench_now_us() - t0) / n;
	}
	device_destroy_all(vmm);
	vmm_free(vmm);
	return bench_summarise(v, REPS);
}

static void row(const char *name, struct bench_sample r, double base)
{
	printf("| %-34s | %8.1f | %8.1f-%-8.1f | %6.2fx |\n", name, r.median,
	       r.min, r.max, r.median / base);
}

int main(int argc, char **argv)
{
	struct bench_sample d, mi, ld;
	int n;

	if (argc != 4) {
		fprintf(stderr,
			"usage: bench-load EMPTY.so MODULE.so ITERATIONS\n");
		return 2;
	}
	n = atoi(argv[3]);
	if (n <= 0)
		return 2;
	/* Warm the page cache and the dynamic linker's own state. */
	bench_dlopen(argv[1], 10);
	d = bench_dlopen(argv[1], n);
	mi = bench_modinfo(argv[2], n);
	ld = bench_loader(argv[2], n);
	printf("module load, %d load+unload per sample, median of %d "
	       "samples\n\n",
	       n, REPS);
	printf("| %-34s | %8s | %-17s | %7s |\n", "what", "us/op", "min-max",
	       "ratio");
	printf("|------------------------------------|----------|--------------"
	       "-----|---------|\n");
	row("dlopen+dlclose, empty .so", d, d.median);
	row("modvmm metadata read only", mi, d.median);
	row("modvmm load+unload (debug-exit)", ld, d.median);
	return 0;
}
