/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen KEY=VALUE...: keeps the simulated GPU busy with "busy" kernels
 * for a while, through one launch path, and reports what it got.
 *
 *   path=launch|ptsz|ex|coop|graph|procaddr   launch path (default launch;
 *        procaddr: cuLaunchKernel taken from cuGetProcAddress_v2, as cudart
 *        does; graph: a graph of `nodes` kernels per cuGraphLaunch)
 *   us=N       kernel duration in microseconds (default 1000)
 *   secs=S     run time (default 5)
 *   sync=N     cuCtxSynchronize after every N launches (default 4)
 *   nodes=N    kernels per graph (default 4)
 *   on=MS off=MS  bursts: launch for `on` ms, then idle `off` ms (default: steady)
 *   say=1      print "launching" once the first launch returned (a test's
 *              mark of when the load began, not when the process did)
 *
 * Prints "launches=<n> gpu_ms=<kernel time launched> wall_ms=<>
 * launch_ns=<mean CPU time of one launch call>" and exits 0, or 1 on a
 * CUDA error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../sim/cuda_api.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *opt(int argc, char **argv, const char *key, const char *def)
{
	size_t n = strlen(key);
	int i;

	for (i = argc - 1; i > 0; i--) /* the last one given counts */
		if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return def;
}

#define CHECK(call) \
	do { \
		CUresult r_ = (call); \
		if (r_ != CUDA_SUCCESS) { \
			fprintf(stderr, "loadgen: %s: error %d\n", #call, (int)r_); \
			return 1; \
		} \
	} while (0)

typedef CUresult (*launch_fn)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int,
			      unsigned int, unsigned int, CUstream, void **, void **);

int main(int argc, char **argv)
{
	const char *path = opt(argc, argv, "path", "launch");
	unsigned long long us = strtoull(opt(argc, argv, "us", "1000"), NULL, 10);
	double secs = atof(opt(argc, argv, "secs", "5"));
	long sync = atol(opt(argc, argv, "sync", "4"));
	int nodes = atoi(opt(argc, argv, "nodes", "4"));
	double on = atof(opt(argc, argv, "on", "0")), off = atof(opt(argc, argv, "off", "0"));
	int say = atoi(opt(argc, argv, "say", "0"));
	void *params[] = { &us };
	static const char image[] = "busy";
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUgraphExec exec = NULL;
	launch_fn fn = cuLaunchKernel;
	long launches = 0, per = 1;
	double t0, end, launch_ms = 0, burst0;

	if (sync < 1)
		sync = 1;
	CHECK(cuInit(0));
	CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CHECK(cuCtxSetCurrent(ctx));
	CHECK(cuModuleLoadData(&mod, image));
	CHECK(cuModuleGetFunction(&f, mod, "busy"));
	if (!strcmp(path, "ptsz")) {
		fn = cuLaunchKernel_ptsz;
	} else if (!strcmp(path, "procaddr")) {
		CUdriverProcAddressQueryResult st;
		void *p = NULL;
		CHECK(cuGetProcAddress_v2("cuLaunchKernel", &p, 13000, 0, &st));
		fn = (launch_fn)p;
	} else if (!strcmp(path, "graph")) {
		CUgraph g;
		CUgraphNode node, prev = NULL;
		int i;
		CHECK(cuGraphCreate(&g, 0));
		for (i = 0; i < nodes; i++) {
			CUDA_KERNEL_NODE_PARAMS_v2 kp;
			memset(&kp, 0, sizeof kp);
			kp.func = f;
			kp.gridDimX = kp.gridDimY = kp.gridDimZ = 1;
			kp.blockDimX = 32;
			kp.blockDimY = kp.blockDimZ = 1;
			kp.kernelParams = params;
			CHECK(cuGraphAddKernelNode_v2(&node, g, prev ? &prev : NULL, prev ? 1 : 0, &kp));
			prev = node;
		}
		CHECK(cuGraphInstantiateWithFlags(&exec, g, 0));
		per = nodes;
	}
	t0 = burst0 = now_ms();
	end = t0 + secs * 1e3;
	while (now_ms() < end) {
		double l0;
		if (on > 0 && now_ms() - burst0 >= on) {
			CHECK(cuCtxSynchronize());
			usleep((useconds_t)(off * 1e3));
			burst0 = now_ms();
		}
		l0 = now_ms();
		if (exec) {
			CHECK(cuGraphLaunch(exec, NULL));
		} else if (!strcmp(path, "ex")) {
			CUlaunchConfig cfg;
			memset(&cfg, 0, sizeof cfg);
			cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
			cfg.blockDimX = 32;
			cfg.blockDimY = cfg.blockDimZ = 1;
			CHECK(cuLaunchKernelEx(&cfg, f, params, NULL));
		} else if (!strcmp(path, "coop")) {
			CHECK(cuLaunchCooperativeKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, params));
		} else {
			CHECK(fn(f, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL));
		}
		launch_ms += now_ms() - l0;
		if (say && launches == 0) {
			printf("launching\n");
			fflush(stdout);
		}
		if (++launches % sync == 0)
			CHECK(cuCtxSynchronize());
	}
	CHECK(cuCtxSynchronize());
	printf("launches=%ld gpu_ms=%.1f wall_ms=%.1f launch_ns=%.0f\n", launches,
	       (double)(launches * per) * (double)us / 1e3, now_ms() - t0, launch_ms * 1e6 / (double)launches);
	return 0;
}
