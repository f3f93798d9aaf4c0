/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_nvclient [INDEX] [watch MS SECONDS]: loads libnvidia-ml.so.1 as
 * nvidia-smi and the Go tools do and prints what NVML says about device
 * INDEX (default 0):
 *   mem total=<> free=<> used=<>          (nvmlDeviceGetMemoryInfo)
 *   mem2 total=<> free=<> used=<>         (nvmlDeviceGetMemoryInfo_v2)
 *   procs=<n>  then  proc pid=<> used=<>  (…ComputeRunningProcesses_v3)
 * With "watch MS SECONDS" it instead samples the sum of the process list
 * every MS milliseconds and prints "max_used=<bytes>" at the end.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda_abi.h"

#define SYM(h, name) dlsym(h, name)

int main(int argc, char **argv)
{
	void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*byindex)(unsigned int, nvmlDevice_t *);
	nvmlReturn_t (*meminfo)(nvmlDevice_t, nvmlMemory_t *);
	nvmlReturn_t (*meminfo2)(nvmlDevice_t, nvmlMemory_v2_t *);
	nvmlReturn_t (*procs)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
	nvmlDevice_t dev;
	nvmlMemory_t m;
	nvmlMemory_v2_t m2;
	nvmlProcessInfo_t infos[256];
	unsigned int n = 256, i, idx = argc > 1 ? (unsigned int)atoi(argv[1]) : 0;
	nvmlReturn_t r;

	if (!h) {
		fprintf(stderr, "dl_nvclient: %s\n", dlerror());
		return 4;
	}
	init = (nvmlReturn_t(*)(void))SYM(h, "nvmlInit_v2");
	byindex = (nvmlReturn_t(*)(unsigned int, nvmlDevice_t *))SYM(h, "nvmlDeviceGetHandleByIndex_v2");
	meminfo = (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_t *))SYM(h, "nvmlDeviceGetMemoryInfo");
	meminfo2 = (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_v2_t *))SYM(h, "nvmlDeviceGetMemoryInfo_v2");
	procs = (nvmlReturn_t(*)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *))SYM(
		h, "nvmlDeviceGetComputeRunningProcesses_v3");
	if (!init || !byindex || !meminfo || !meminfo2 || !procs)
		return 4;
	if ((r = init()) != NVML_SUCCESS) {
		printf("init=ERR %d\n", r);
		return 3;
	}
	if ((r = byindex(idx, &dev)) != NVML_SUCCESS) {
		printf("handle=ERR %d\n", r);
		return 3;
	}
	if (argc > 4 && !strcmp(argv[2], "watch")) {
		long ms = atol(argv[3]);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L }, t0, t1;
		unsigned long long max = 0;
		double secs = atof(argv[4]);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			unsigned long long sum = 0;
			n = 256;
			if (procs(dev, &n, infos) == NVML_SUCCESS)
				for (i = 0; i < n; i++)
					sum += infos[i].usedGpuMemory;
			if (sum > max)
				max = sum;
			nanosleep(&ts, NULL);
			clock_gettime(CLOCK_MONOTONIC, &t1);
		} while ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 < secs);
		printf("max_used=%llu\n", max);
		return 0;
	}
	if ((r = meminfo(dev, &m)) == NVML_SUCCESS)
		printf("mem total=%llu free=%llu used=%llu\n", m.total, m.free, m.used);
	else
		printf("mem=ERR %d\n", r);
	memset(&m2, 0, sizeof(m2));
	m2.version = nvmlMemory_v2;
	if ((r = meminfo2(dev, &m2)) == NVML_SUCCESS)
		printf("mem2 total=%llu free=%llu used=%llu\n", m2.total, m2.free, m2.used);
	else
		printf("mem2=ERR %d\n", r);
	if ((r = procs(dev, &n, infos)) == NVML_SUCCESS) {
		printf("procs=%u\n", n);
		for (i = 0; i < n; i++)
			printf("proc pid=%u used=%llu\n", infos[i].pid, infos[i].usedGpuMemory);
	} else {
		printf("procs=ERR %d\n", r);
	}
	return 0;
}
