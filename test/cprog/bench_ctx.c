/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ctx [N]: mean time of one cuCtxCreate_v2 on device 0 (each
 * followed, off the clock, by its cuCtxDestroy_v2), best of 5 rounds of N.
 * Prints "create_ns=<x> destroy_ns=<y>".  Run it against the null driver
 * with and without the library: the difference is what the library adds
 * to a context's admission.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cuda_abi.h"

CUresult cuInit(unsigned int);
CUresult cuCtxCreate_v2(CUcontext *, unsigned int, CUdevice);
CUresult cuCtxDestroy_v2(CUcontext);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000, i;
	double best_c = 1e18, best_d = 1e18;
	CUcontext ctx;
	int round;

	if (cuInit(0) != CUDA_SUCCESS)
		return 1;
	for (round = 0; round < 5; round++) {
		double c = 0, d = 0, t0, t1;
		for (i = 0; i < n; i++) {
			t0 = now();
			if (cuCtxCreate_v2(&ctx, 0, 0) != CUDA_SUCCESS) {
				fprintf(stderr, "bench_ctx: context refused\n");
				return 1;
			}
			t1 = now();
			if (cuCtxDestroy_v2(ctx) != CUDA_SUCCESS) {
				fprintf(stderr, "bench_ctx: destroy failed\n");
				return 1;
			}
			c += t1 - t0;
			d += now() - t1;
		}
		if (c / (double)n < best_c)
			best_c = c / (double)n;
		if (d / (double)n < best_d)
			best_d = d / (double)n;
	}
	printf("create_ns=%.1f destroy_ns=%.1f\n", best_c, best_d);
	return 0;
}
