/*
 * NVML memory, process lists and utilisation, computed from the shared
 * state: memory from the process table, utilisation from the busy ring.
 */
#include <stdlib.h>
#include <string.h>

#include "nvml_sim.h"

#define SECOND_NS 1000000000ULL
#define SAMPLE_NS 20000000ULL /* the driver's sampling period */
#define SAMPLE_KEEP 128 /* periods kept: 2.56 s */
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

/* Fills the size protocol's answer: NVML_ERROR_INSUFFICIENT_SIZE with
 * the count when utilization is NULL or too small. */
static nvmlReturn_t samples_out(nvmlProcessUtilizationSample_t *utilization,
				unsigned int *processSamplesCount, int n)
{
	if (!n)
		return NVML_ERROR_NOT_FOUND;
	if (!utilization || *processSamplesCount < (unsigned int)n) {
		*processSamplesCount = (unsigned int)n;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	*processSamplesCount = (unsigned int)n;
	return NVML_SUCCESS;
}

static void sample(nvmlProcessUtilizationSample_t *u, uint32_t pid, uint64_t t_ns, uint64_t busy,
		   uint64_t window)
{
	uint64_t pct = (busy * 100 + window / 2) / window;
	memset(u, 0, sizeof *u);
	u->pid = pid;
	u->timeStamp = t_ns / 1000ULL;
	u->smUtil = (unsigned int)(pct > 100 ? 100 : pct);
	u->memUtil = u->smUtil * 2 / 5;
}

/* Without lastSeenTimeStamp: one sample per process, its busy share of the
 * last second, stamped now. */
static nvmlReturn_t putil_second(int i, nvmlProcessUtilizationSample_t *utilization,
				 unsigned int *processSamplesCount)
{
	uint32_t pids[SIM_MAX_PROCS];
	uint64_t busy[SIM_MAX_PROCS];
	uint64_t now = sim_now_ns(), from = now - SECOND_NS;
	nvmlReturn_t r;
	int n;

	sim_lock();
	n = sim_busy_pids_locked(i, from, now, pids, SIM_MAX_PROCS);
	for (int k = 0; k < n; k++)
		busy[k] = sim_busy_ns_locked(i, from, now, pids[k]);
	sim_unlock();
	if ((r = samples_out(utilization, processSamplesCount, n)))
		return r;
	for (int k = 0; k < n; k++)
		sample(&utilization[k], pids[k], now, busy[k], now - from);
	return NVML_SUCCESS;
}

/* With lastSeenTimeStamp, like the driver: the device is sampled at every
 * multiple of SAMPLE_NS of the clock; at each boundary b in (lastSeen, now],
 * every process busy in (b - SAMPLE_NS, b] gets a sample stamped b with its
 * busy share of that period.  At most SAMPLE_KEEP periods are kept. */
static nvmlReturn_t putil_periods(int i, uint64_t from, nvmlProcessUtilizationSample_t *utilization,
				  unsigned int *processSamplesCount)
{
	struct sim_device *d = &sim_st->dev[i];
	uint32_t pids[SIM_MAX_PROCS];
	uint64_t now = sim_now_ns(), first, last, lo, rn;
	uint64_t *busy;
	nvmlReturn_t r;
	int np, nper, n = 0;

	if (from >= now)
		return NVML_ERROR_NOT_FOUND;
	first = (from / SAMPLE_NS + 1) * SAMPLE_NS;
	last = now / SAMPLE_NS * SAMPLE_NS;
	if (first > last)
		return NVML_ERROR_NOT_FOUND;
	if ((last - first) / SAMPLE_NS >= SAMPLE_KEEP)
		first = last - (SAMPLE_KEEP - 1) * SAMPLE_NS;
	nper = (int)((last - first) / SAMPLE_NS) + 1;
	lo = first - SAMPLE_NS;
	if (!(busy = calloc((size_t)nper * SIM_MAX_PROCS, sizeof *busy)))
		return NVML_ERROR_UNKNOWN;
	sim_lock();
	np = sim_busy_pids_locked(i, lo, last, pids, SIM_MAX_PROCS);
	rn = d->ring_next < SIM_RING ? d->ring_next : SIM_RING;
	for (uint64_t k = 0; k < rn; k++) {
		const struct sim_interval *iv = &d->ring[k];
		uint64_t s = iv->start_ns > lo ? iv->start_ns : lo;
		uint64_t e = iv->end_ns < last ? iv->end_ns : last;
		int p = 0;
		if (e <= s)
			continue;
		while (p < np && pids[p] != iv->pid)
			p++;
		if (p == np)
			continue;
		for (int q = (int)((s - lo) / SAMPLE_NS); q < nper; q++) {
			uint64_t ps = lo + (uint64_t)q * SAMPLE_NS, pe = ps + SAMPLE_NS;
			if (ps >= e)
				break;
			busy[(size_t)q * SIM_MAX_PROCS + (size_t)p] +=
				(e < pe ? e : pe) - (s > ps ? s : ps);
		}
	}
	sim_unlock();
	for (int q = 0; q < nper; q++)
		for (int p = 0; p < np; p++)
			n += busy[(size_t)q * SIM_MAX_PROCS + (size_t)p] > 0;
	if ((r = samples_out(utilization, processSamplesCount, n))) {
		free(busy);
		return r;
	}
	n = 0;
	for (int q = 0; q < nper; q++)
		for (int p = 0; p < np; p++)
			if (busy[(size_t)q * SIM_MAX_PROCS + (size_t)p])
				sample(&utilization[n++], pids[p], first + (uint64_t)q * SAMPLE_NS,
				       busy[(size_t)q * SIM_MAX_PROCS + (size_t)p], SAMPLE_NS);
	free(busy);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
					     nvmlProcessUtilizationSample_t *utilization,
					     unsigned int *processSamplesCount,
					     unsigned long long lastSeenTimeStamp)
{
	int i;
	nvmlReturn_t r = nvml_dev(device, &i);
	if (r)
		return r;
	if (!processSamplesCount)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!lastSeenTimeStamp)
		return putil_second(i, utilization, processSamplesCount);
	return putil_periods(i, lastSeenTimeStamp * 1000ULL, utilization, processSamplesCount);
}
