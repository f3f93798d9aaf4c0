/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVML memory, process lists and utilisation, computed from the shared
 * state: memory from the process table, utilisation from the busy ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvml_sim.h"

#define SECOND_NS 1000000000ULL
#define NO_INSTANCE 0xffffffffu /* gpuInstanceId / computeInstanceId without MIG */

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
	uint64_t used, total;
	int i;
	nvmlReturn_t r = nvml_dev(device, &i);
	if (r)
		return r;
	if (!memory)
		return NVML_ERROR_INVALID_ARGUMENT;
	total = sim_st->dev[i].total;
	sim_lock();
	sim_reap_locked();
	used = sim_dev_used_locked(i);
	sim_unlock();
	memory->total = total;
	memory->used = used;
	memory->free = used < total ? total - used : 0;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
	nvmlMemory_t m;
	nvmlReturn_t r;
	if (!memory)
		return nvml_ready() ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_UNINITIALIZED;
	if (memory->version != nvmlMemory_v2)
		return nvml_ready() ? NVML_ERROR_ARGUMENT_VERSION_MISMATCH : NVML_ERROR_UNINITIALIZED;
	r = nvmlDeviceGetMemoryInfo(device, &m);
	if (r)
		return r;
	memory->total = m.total;
	memory->reserved = 0;
	memory->free = m.free;
	memory->used = m.used;
	return NVML_SUCCESS;
}

/* With SOFTMIG_SIM_NVML_TRACE set, each read of a process list appends
 * the reader's pid to that file, so tests can tell who read it. */
static void trace_read(void)
{
	const char *path = getenv("SOFTMIG_SIM_NVML_TRACE");
	int saved = errno, fd;

	if (path && *path && (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666)) >= 0) {
		dprintf(fd, "%d\n", (int)getpid());
		close(fd);
	}
	errno = saved;
}

/* The real size protocol: *count in is the capacity of infos; out, the
 * number of processes.  Too small: NVML_ERROR_INSUFFICIENT_SIZE. */
static nvmlReturn_t processes(nvmlDevice_t device, unsigned int *count, void *infos, int v1,
			      int none)
{
	struct sim_proc_info list[SIM_MAX_PROCS];
	int i, n = 0;
	nvmlReturn_t r = nvml_dev(device, &i);
	if (r)
		return r;
	if (!count || (!infos && *count))
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!none) {
		trace_read();
		sim_lock();
		sim_reap_locked();
		n = sim_list_procs_locked(i, list, SIM_MAX_PROCS);
		sim_unlock();
	}
	if (*count < (unsigned int)n) {
		*count = (unsigned int)n;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	*count = (unsigned int)n;
	for (int k = 0; k < n; k++) {
		if (v1) {
			nvmlProcessInfo_v1_t *p = (nvmlProcessInfo_v1_t *)infos + k;
			p->pid = list[k].pid;
			p->usedGpuMemory = list[k].used;
		} else {
			nvmlProcessInfo_t *p = (nvmlProcessInfo_t *)infos + k;
			p->pid = list[k].pid;
			p->usedGpuMemory = list[k].used;
			p->gpuInstanceId = NO_INSTANCE;
			p->computeInstanceId = NO_INSTANCE;
		}
	}
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
						  nvmlProcessInfo_v1_t *infos)
{
	return processes(device, infoCount, infos, 1, 0);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
						     nvmlProcessInfo_t *infos)
{
	return processes(device, infoCount, infos, 0, 0);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
						     nvmlProcessInfo_t *infos)
{
	return processes(device, infoCount, infos, 0, 0);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
						   nvmlProcessInfo_v1_t *infos)
{
	return processes(device, infoCount, infos, 1, 1);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device,
						      unsigned int *infoCount,
						      nvmlProcessInfo_t *infos)
{
	return processes(device, infoCount, infos, 0, 1);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device,
						      unsigned int *infoCount,
						      nvmlProcessInfo_t *infos)
{
	return processes(device, infoCount, infos, 0, 1);
}

nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t device,
							unsigned int *infoCount,
							nvmlProcessInfo_t *infos)
{
	return processes(device, infoCount, infos, 0, 1);
}

unsigned int nvml_gpu_util(int i)
{
	uint64_t now = sim_now_ns(), busy;
	sim_lock();
	busy = sim_busy_ns_locked(i, now - SECOND_NS, now, 0);
	sim_unlock();
	return (unsigned int)((busy * 100 + SECOND_NS / 2) / SECOND_NS);
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
	unsigned int gpu;
	int i;
	nvmlReturn_t r = nvml_dev(device, &i);
	if (r)
		return r;
	if (!utilization)
		return NVML_ERROR_INVALID_ARGUMENT;
	gpu = nvml_gpu_util(i);
	utilization->gpu = gpu > 100 ? 100 : gpu;
	utilization->memory = utilization->gpu * 2 / 5;
	return NVML_SUCCESS;
}

/* The driver's samples, in bins (sim.h: sim_samples_locked): every
 * complete bin that ends after lastSeenTimeStamp, at most the last second. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
					     nvmlProcessUtilizationSample_t *utilization,
					     unsigned int *processSamplesCount,
					     unsigned long long lastSeenTimeStamp)
{
	struct sim_sample *s = NULL;
	uint64_t now = sim_now_ns(), from = now - SECOND_NS, bin;
	int i, n;
	nvmlReturn_t r = nvml_dev(device, &i);
	if (r)
		return r;
	if (!processSamplesCount)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (lastSeenTimeStamp * 1000ULL > from)
		from = lastSeenTimeStamp * 1000ULL;
	if (from >= now)
		return NVML_ERROR_NOT_FOUND;
	bin = (uint64_t)sim_st->sample_ms * 1000000ULL;
	sim_lock();
	sim_reap_locked(); /* host pids for intervals queued in other PID namespaces */
	n = sim_samples_locked(i, from, now, &s);
	sim_unlock();
	if (n < 0)
		return NVML_ERROR_UNKNOWN;
	if (!n)
		return NVML_ERROR_NOT_FOUND;
	if (!utilization || *processSamplesCount < (unsigned int)n) {
		*processSamplesCount = (unsigned int)n;
		free(s);
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	*processSamplesCount = (unsigned int)n;
	for (int k = 0; k < n; k++) {
		uint64_t pct = (s[k].busy_ns * 100 + bin / 2) / bin;
		memset(&utilization[k], 0, sizeof utilization[k]);
		utilization[k].pid = s[k].pid;
		utilization[k].timeStamp = s[k].end_ns / 1000ULL;
		utilization[k].smUtil = (unsigned int)(pct > 100 ? 100 : pct);
		utilization[k].memUtil = utilization[k].smUtil * 2 / 5;
	}
	free(s);
	return NVML_SUCCESS;
}
