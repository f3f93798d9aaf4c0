/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_alloc [N] [BYTES]: mean time of one cuMemAlloc_v2 + cuMemFree_v2
 * pair on device 0, best of 5 rounds of N pairs.  Prints "pair_ns=<x>".
 * Run it with and without the library: the difference is its cost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cuda_abi.h"

CUresult cuInit(unsigned int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
CUresult cuMemFree_v2(CUdeviceptr);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000, i;
	size_t bytes = argc > 2 ? strtoull(argv[2], NULL, 10) : (1 << 20);
	double best = 1e18;
	CUcontext ctx;
	CUdeviceptr p;
	int round;

	if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx, 0) || cuCtxSetCurrent(ctx))
		return 1;
	for (round = 0; round < 5; round++) {
		double t0 = now();
		for (i = 0; i < n; i++) {
			if (cuMemAlloc_v2(&p, bytes) != CUDA_SUCCESS || cuMemFree_v2(p) != CUDA_SUCCESS) {
				fprintf(stderr, "bench_alloc: allocation failed\n");
				return 1;
			}
		}
		if ((now() - t0) / (double)n < best)
			best = (now() - t0) / (double)n;
	}
	printf("pair_ns=%.1f\n", best);
	return 0;
}
