/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_launch MODULE KERNEL [N [ROUNDS [IDLE_MS]]]: mean CPU time of one
 * asynchronous cuLaunchKernel of KERNEL (no parameters, 1 block of 32
 * threads) from MODULE (a cubin on a real GPU; any file on the simulator),
 * best of ROUNDS (default 5) rounds of N launches, synchronising between
 * rounds only.  IDLE_MS (default 0) sleeps between rounds: with a short
 * round the GPU then stays far below any SM limit, which measures what the
 * compute gate costs a job under its share.  Prints "launch_ns=<x>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cuda_abi.h"

CUresult cuInit(unsigned int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuModuleLoad(CUmodule *, const char *);
CUresult cuModuleGetFunction(CUfunction *, CUmodule, const char *);
CUresult cuLaunchKernel(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int,
			unsigned int, unsigned int, CUstream, void **, void **);
CUresult cuCtxSynchronize(void);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 3 ? atol(argv[3]) : 100000, i;
	int rounds = argc > 4 ? atoi(argv[4]) : 5;
	long idle_ms = argc > 5 ? atol(argv[5]) : 0;
	double best = 1e18;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	int round;
	CUresult r;

	if (argc < 3)
		return 2;
	if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx, 0) || cuCtxSetCurrent(ctx))
		return 1;
	if ((r = cuModuleLoad(&mod, argv[1])) != CUDA_SUCCESS || (r = cuModuleGetFunction(&f, mod, argv[2])) != CUDA_SUCCESS) {
		fprintf(stderr, "bench_launch: module: %d\n", r);
		return 1;
	}
	for (round = 0; round < rounds; round++) {
		double t0 = now(), t;
		for (i = 0; i < n; i++)
			if (cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL) != CUDA_SUCCESS)
				return 1;
		t = (now() - t0) / (double)n;
		cuCtxSynchronize();
		if (idle_ms > 0)
			usleep((useconds_t)idle_ms * 1000);
		if (t < best)
			best = t;
	}
	printf("launch_ns=%.1f\n", best);
	return 0;
}
