/*
 * NVML hooks: inside a job, memory info answers with the slice and the
 * job's usage, and process lists hold only the job's processes (so
 * nvidia-smi run under the library shows the slice).  Outside a job and in
 * passive mode every answer is NVML's own.
 */
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

#define NVML_PASS(call) \
	do { \
		if (unlikely(sm_depth > 0) || unlikely(!sm_init()) || sm_mode == SM_PASSIVE) \
			return (call); \
		if (unlikely(sm_mode == SM_FAILCLOSED)) \
			return SM_NVML_DENIED; \
	} while (0)

SOFTMIG_EXPORT nvmlReturn_t nvmlInit_v2(void)
{
	SM_NEED_NVML(nvmlInit_v2);
	NVML_PASS(real_nvmlInit_v2());
	return real_nvmlInit_v2();
}

SOFTMIG_EXPORT nvmlReturn_t nvmlInit(void)
{
	SM_NEED_NVML(nvmlInit);
	NVML_PASS(real_nvmlInit());
	return real_nvmlInit();
}

SOFTMIG_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
	SM_NEED_NVML(nvmlInitWithFlags);
	NVML_PASS(real_nvmlInitWithFlags(flags));
	return real_nvmlInitWithFlags(flags);
}

/* Sum of NVML's per-process memory over the job's processes. */
static uint64_t job_nvml_used(nvmlDevice_t nd)
{
	nvmlProcessInfo_t stack[SM_PROC_STACK], *infos;
	int n, i;
	uint64_t sum = 0;

	if ((n = sm_nvml_processes(nd, stack, &infos)) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (sm_pid_in_job((pid_t)infos[i].pid))
			sum += infos[i].usedGpuMemory;
	if (infos != stack)
		free(infos);
	return sum;
}

/* The slice view of an NVML device: 0 with total/used set, -1 no limit. */
static int slice_of(nvmlDevice_t nd, uint64_t real_total, uint64_t *total, uint64_t *used)
{
	uint8_t uuid[16];
	uint64_t limit, u = 0;
	int ord, d;

	sm_depth++;
	ord = sm_nvml_ordinal(nd, uuid);
	limit = sm_nvml_mem_limit(nd, ord);
	if (!limit) {
		sm_depth--;
		return -1;
	}
	if (sm_region_attach() == 0 && (d = sm_region_find_dev(uuid)) >= 0)
		u = sm_dev_used(d);
	if (sm_cfg.job[0]) {
		uint64_t n = job_nvml_used(nd);
		if (n > u)
			u = n;
	}
	sm_depth--;
	*total = limit < real_total ? limit : real_total;
	*used = u;
	return 0;
}

SOFTMIG_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t nd, nvmlMemory_t *m)
{
	uint64_t total, used;
	nvmlReturn_t r;

	SM_NEED_NVML(nvmlDeviceGetMemoryInfo);
	NVML_PASS(real_nvmlDeviceGetMemoryInfo(nd, m));
	r = real_nvmlDeviceGetMemoryInfo(nd, m);
	if (r != NVML_SUCCESS || !m || slice_of(nd, m->total, &total, &used) != 0)
		return r;
	m->total = total;
	m->used = used < total ? used : total;
	m->free = total - m->used;
	return r;
}

SOFTMIG_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t nd, nvmlMemory_v2_t *m)
{
	uint64_t total, used;
	nvmlReturn_t r;

	SM_NEED_NVML(nvmlDeviceGetMemoryInfo_v2);
	NVML_PASS(real_nvmlDeviceGetMemoryInfo_v2(nd, m));
	r = real_nvmlDeviceGetMemoryInfo_v2(nd, m);
	if (r != NVML_SUCCESS || !m || slice_of(nd, m->total, &total, &used) != 0)
		return r;
	m->total = total;
	m->reserved = 0;
	m->used = used < total ? used : total;
	m->free = total - m->used;
	return r;
}

typedef nvmlReturn_t (*list_fn)(nvmlDevice_t, unsigned int *, void *);

/*
 * Runs a process-list query into a private buffer, keeps the job's
 * processes, and answers with NVML's size protocol.  Every struct version
 * starts with the pid.  On any error nothing is shown (fail closed).
 */
static nvmlReturn_t filtered_list(list_fn fn, size_t elem, nvmlDevice_t nd, unsigned int *count, void *out)
{
	unsigned int cap = 64, n, i, kept = 0;
	unsigned char *buf = NULL, *nb;
	nvmlReturn_t r;

	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (;;) {
		nb = realloc(buf, (size_t)cap * elem);
		if (!nb) {
			free(buf);
			return NVML_ERROR_UNKNOWN;
		}
		buf = nb;
		n = cap;
		sm_depth++;
		r = fn(nd, &n, buf);
		sm_depth--;
		if (r != NVML_ERROR_INSUFFICIENT_SIZE || cap > (1U << 16))
			break;
		cap = n + 16;
	}
	if (r != NVML_SUCCESS) {
		free(buf);
		return r;
	}
	for (i = 0; i < n; i++) {
		unsigned int pid;
		memcpy(&pid, buf + (size_t)i * elem, sizeof(pid));
		if (sm_pid_in_job((pid_t)pid)) {
			if (kept != i)
				memmove(buf + (size_t)kept * elem, buf + (size_t)i * elem, elem);
			kept++;
		}
	}
	if (*count < kept) {
		*count = kept;
		free(buf);
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	if (kept && !out) {
		free(buf);
		return NVML_ERROR_INVALID_ARGUMENT;
	}
	if (kept)
		memcpy(out, buf, (size_t)kept * elem);
	*count = kept;
	free(buf);
	return NVML_SUCCESS;
}

#define PROCESS_LIST_HOOK(name, type) \
	SOFTMIG_EXPORT nvmlReturn_t name(nvmlDevice_t nd, unsigned int *count, type *infos) \
	{ \
		SM_NEED_NVML(name); \
		NVML_PASS(real_##name(nd, count, infos)); \
		if (!sm_cfg.job[0]) \
			return real_##name(nd, count, infos); \
		return filtered_list((list_fn)real_##name, sizeof(type), nd, count, infos); \
	}

PROCESS_LIST_HOOK(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t)
PROCESS_LIST_HOOK(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_t)
PROCESS_LIST_HOOK(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t)
PROCESS_LIST_HOOK(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t)
PROCESS_LIST_HOOK(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_t)
PROCESS_LIST_HOOK(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t)
