/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nvml_cost [ROUNDS]: what the NVML calls of the library's memory check
 * cost on this driver, with whatever runs on GPU 0 now: nvmlInit_v2 (once
 * per process), nvmlDeviceGetHandleByUUID, and the compute-process list
 * (_v3, the size protocol as the library does it), and the two calls
 * softmig-guard makes at every look (nvmlDeviceGetCount_v2,
 * nvmlDeviceGetMemoryInfo, and the _v2 the guard prefers), the graphics
 * list of a full look, and the time authority's per-process utilisation
 * samples (the sizing call and the read, as go-nvml makes them; then
 * apart: the sizing call alone, one call into a buffer of 4096 samples,
 * and one asking only for samples newer than the newest seen), mean of
 * ROUNDS calls.  Prints "init_us= handle_us= list_us= procs= count_us=
 * mem_us= mem2_us= glist_us= util_us= samples= usize_us= uone_us=
 * unew_us= new=".  Built by scripts/gpu-start.sh
 * with gcc (NVML loaded with dlopen, the library's own ABI header).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cuda_abi.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100, i;
	void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	nvmlReturn_t (*init)(void), (*byindex)(unsigned int, nvmlDevice_t *), (*byuuid)(const char *, nvmlDevice_t *);
	nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*list)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
	nvmlReturn_t (*glist)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
	nvmlReturn_t (*count)(unsigned int *), (*mem)(nvmlDevice_t, nvmlMemory_t *);
	nvmlReturn_t (*mem2)(nvmlDevice_t, nvmlMemory_v2_t *);
	nvmlReturn_t (*util)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *, unsigned long long);
	nvmlMemory_t m;
	nvmlMemory_v2_t m2 = { .version = nvmlMemory_v2 };
	static nvmlProcessUtilizationSample_t samples[4096];
	unsigned int ns = 0, gn;
	double t_mem2 = 0, t_glist = 0, t_util = 0, t_usize = 0, t_uone = 0, t_unew = 0;
	unsigned long long newest = 0;
	unsigned int nnew = 0, ngot = 0;
	unsigned int ngpu;
	static nvmlProcessInfo_t infos[4096];
	char u[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	nvmlDevice_t dev;
	unsigned int n = 0;
	double t0, t_init, t_handle = 0, t_list = 0, t_count = 0, t_mem = 0;

	if (!h) {
		fprintf(stderr, "nvml_cost: %s\n", dlerror());
		return 1;
	}
	init = (nvmlReturn_t(*)(void))dlsym(h, "nvmlInit_v2");
	byindex = (nvmlReturn_t(*)(unsigned int, nvmlDevice_t *))dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
	byuuid = (nvmlReturn_t(*)(const char *, nvmlDevice_t *))dlsym(h, "nvmlDeviceGetHandleByUUID");
	uuid = (nvmlReturn_t(*)(nvmlDevice_t, char *, unsigned int))dlsym(h, "nvmlDeviceGetUUID");
	list = (nvmlReturn_t(*)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *))dlsym(
		h, "nvmlDeviceGetComputeRunningProcesses_v3");
	count = (nvmlReturn_t(*)(unsigned int *))dlsym(h, "nvmlDeviceGetCount_v2");
	mem = (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_t *))dlsym(h, "nvmlDeviceGetMemoryInfo");
	mem2 = (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_v2_t *))dlsym(h, "nvmlDeviceGetMemoryInfo_v2");
	glist = (nvmlReturn_t(*)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *))dlsym(
		h, "nvmlDeviceGetGraphicsRunningProcesses_v3");
	util = (nvmlReturn_t(*)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
				unsigned long long))dlsym(h, "nvmlDeviceGetProcessUtilization");
	if (!init || !byindex || !byuuid || !uuid || !list || !count || !mem || !mem2 || !glist || !util) {
		fprintf(stderr, "nvml_cost: NVML lacks a function the library uses\n");
		return 1;
	}
	t0 = now_us();
	if (init() != NVML_SUCCESS || byindex(0, &dev) != NVML_SUCCESS || uuid(dev, u, sizeof(u)) != NVML_SUCCESS)
		return 1;
	t_init = now_us() - t0;
	for (i = 0; i < rounds; i++) {
		t0 = now_us();
		byuuid(u, &dev);
		t_handle += now_us() - t0;
		t0 = now_us();
		n = 128; /* the library's first try (SM_PROC_STACK), then the size asked for */
		if (list(dev, &n, infos) == NVML_ERROR_INSUFFICIENT_SIZE) {
			n += 16;
			list(dev, &n, infos);
		}
		t_list += now_us() - t0;
		t0 = now_us();
		count(&ngpu);
		t_count += now_us() - t0;
		t0 = now_us();
		mem(dev, &m);
		t_mem += now_us() - t0;
		t0 = now_us();
		mem2(dev, &m2);
		t_mem2 += now_us() - t0;
		t0 = now_us();
		gn = 128;
		glist(dev, &gn, infos);
		t_glist += now_us() - t0;
		/* The authority asks for the samples since its last read, 100 ms
		 * ago: the sizing call, then the read. */
		t0 = now_us();
		{
			struct timespec rt;
			unsigned long long since;

			clock_gettime(CLOCK_REALTIME, &rt);
			since = (unsigned long long)rt.tv_sec * 1000000ULL + (unsigned long long)rt.tv_nsec / 1000 - 100000;
			ns = 0;
			if (util(dev, NULL, &ns, since) == NVML_ERROR_INSUFFICIENT_SIZE && ns <= 4096)
				util(dev, samples, &ns, since);
		}
		t_util += now_us() - t0;
		ngot = ns;
		{
			struct timespec rt;
			unsigned long long since;
			unsigned int k;

			clock_gettime(CLOCK_REALTIME, &rt);
			since = (unsigned long long)rt.tv_sec * 1000000ULL + (unsigned long long)rt.tv_nsec / 1000 - 100000;
			t0 = now_us();
			ns = 0;
			util(dev, NULL, &ns, since);
			t_usize += now_us() - t0;
			t0 = now_us();
			ns = 4096;
			util(dev, samples, &ns, since);
			t_uone += now_us() - t0;
			for (k = 0; k < ns && k < 4096; k++)
				if (samples[k].timeStamp > newest)
					newest = samples[k].timeStamp;
			t0 = now_us();
			nnew = 4096;
			if (util(dev, samples, &nnew, newest) != NVML_SUCCESS)
				nnew = 0;
			t_unew += now_us() - t0;
		}
	}
	printf("init_us=%.0f handle_us=%.1f list_us=%.1f procs=%u count_us=%.1f mem_us=%.1f mem2_us=%.1f glist_us=%.1f util_us=%.1f samples=%u usize_us=%.1f uone_us=%.1f unew_us=%.1f new=%u\n",
	       t_init, t_handle / rounds, t_list / rounds, n, t_count / rounds, t_mem / rounds, t_mem2 / rounds,
	       t_glist / rounds, t_util / rounds, ngot, t_usize / rounds, t_uone / rounds, t_unew / rounds, nnew);
	return 0;
}
