/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVML hooks: inside a job, memory info answers with the slice and the
 * job's usage, and process lists hold only the job's processes (so
 * nvidia-smi run under the library shows the slice).  Outside a job and in
 * passive mode every answer is NVML's own.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hooks.h"
#include "slice.h"

SOFTMIG_EXPORT nvmlReturn_t nvmlInit_v2(void)
{
	SM_NEED_NVML(nvmlInit_v2);
	SM_NVML_PASS(real_nvmlInit_v2());
	return real_nvmlInit_v2();
}

SOFTMIG_EXPORT nvmlReturn_t nvmlInit(void)
{
	SM_NEED_NVML(nvmlInit);
	SM_NVML_PASS(real_nvmlInit());
	return real_nvmlInit();
}

SOFTMIG_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
	SM_NEED_NVML(nvmlInitWithFlags);
	SM_NVML_PASS(real_nvmlInitWithFlags(flags));
	return real_nvmlInitWithFlags(flags);
}

SOFTMIG_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t nd, nvmlMemory_t *m)
{
	uint64_t total, used;
	nvmlReturn_t r;

	SM_NEED_NVML(nvmlDeviceGetMemoryInfo);
	SM_NVML_PASS(real_nvmlDeviceGetMemoryInfo(nd, m));
	r = real_nvmlDeviceGetMemoryInfo(nd, m);
	if (r != NVML_SUCCESS || !m || sm_slice_view_nvml(nd, m->total, &total, &used) != 0)
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
	SM_NVML_PASS(real_nvmlDeviceGetMemoryInfo_v2(nd, m));
	r = real_nvmlDeviceGetMemoryInfo_v2(nd, m);
	if (r != NVML_SUCCESS || !m || sm_slice_view_nvml(nd, m->total, &total, &used) != 0)
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
		if (sm_slice_view_shows((pid_t)pid)) {
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
		SM_NVML_PASS(real_##name(nd, count, infos)); \
		if (!sm_config->job[0]) \
			return real_##name(nd, count, infos); \
		return filtered_list((list_fn)real_##name, sizeof(type), nd, count, infos); \
	}

PROCESS_LIST_HOOK(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t)
PROCESS_LIST_HOOK(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_t)
PROCESS_LIST_HOOK(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t)
PROCESS_LIST_HOOK(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t)
PROCESS_LIST_HOOK(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_t)
PROCESS_LIST_HOOK(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t)
