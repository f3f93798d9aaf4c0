/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVML, as the library asks it: the handle of a CUDA ordinal's device,
 * the processes on a device, this process's own usage there, whether one
 * of NVML's pids (the host's) is the job's, and the CUDA ordinal an NVML
 * device has here.
 */
#include <stdlib.h>
#include <string.h>

#include "nvml.h"

#include "config.h"
#include "entries.h"
#include "job.h"
#include "parse.h"
#include "pidns.h"
#include "real.h"
#include "strlcpy.h"
#include "uuid.h"

/* NVML's handle of each CUDA ordinal, found by its UUID. */
static nvmlDevice_t handles[SM_MAX_DEVICES];

/* Ordinals and UUIDs stay valid in a fork child; the handles do not: NVML
 * hands them out again after nvmlInit in the child. */
hidden void sm_nvml_reset_after_fork(void)
{
	memset(handles, 0, sizeof(handles));
}

static int nvml_ready(void)
{
	static int state; /* 0 untried, 1 ok, -1 unavailable */

	if (state == 0) {
		if (sm_real_nvml(1) != 0 || !real_nvmlInit_v2 || real_nvmlInit_v2() != NVML_SUCCESS)
			state = -1;
		else
			state = 1;
	}
	return state == 1;
}

hidden nvmlDevice_t sm_nvml_handle(CUdevice dev)
{
	uint8_t uuid[16];
	char s[NVML_DEVICE_UUID_V2_BUFFER_SIZE];

	if (dev < 0 || dev >= SM_MAX_DEVICES)
		return NULL;
	if (handles[dev])
		return handles[dev];
	if (sm_uuid_of(dev, uuid) != 0 || !nvml_ready() || !real_nvmlDeviceGetHandleByUUID)
		return NULL;
	sm_uuid_format(uuid, s, sizeof(s));
	if (real_nvmlDeviceGetHandleByUUID(s, &handles[dev]) != NVML_SUCCESS)
		handles[dev] = NULL;
	return handles[dev];
}

hidden int sm_nvml_processes(nvmlDevice_t nd, nvmlProcessInfo_t *stack, nvmlProcessInfo_t **infos)
{
	unsigned int n = SM_PROC_STACK;
	nvmlReturn_t r;
	nvmlReturn_t (*fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *) =
		real_nvmlDeviceGetComputeRunningProcesses_v3 ? real_nvmlDeviceGetComputeRunningProcesses_v3
							     : real_nvmlDeviceGetComputeRunningProcesses_v2;

	if (!fn)
		return -1;
	*infos = stack;
	r = fn(nd, &n, stack);
	if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
		n += 16;
		*infos = calloc(n, sizeof(**infos));
		if (!*infos)
			return -1;
		r = fn(nd, &n, *infos);
	}
	if (r != NVML_SUCCESS) {
		if (*infos != stack)
			free(*infos);
		return -1;
	}
	return (int)n;
}

hidden int sm_nvml_pid_in_job(pid_t pid)
{
	char job[SM_JOB_MAX];

	if (sm_entries_has_pid(pid))
		return 1;
	/* NVML's pids are the host's: another namespace's /proc does not
	 * know them, or shows another process under that number. */
	if (!sm_config->job_from_cgroup || !sm_pidns_proc_is_host())
		return 0;
	return sm_job_from_cgroup(pid, job, sizeof(job)) == 1 && strcmp(job, sm_config->job) == 0;
}

hidden int64_t sm_nvml_self_used(int ordinal)
{
	nvmlProcessInfo_t stack[SM_PROC_STACK], *infos;
	nvmlDevice_t nd = sm_nvml_handle(ordinal);
	int n, i;
	int64_t used = 0;
	pid_t me = sm_pidns_host_pid(); /* NVML's pids are the host's */

	if (!me || !nd || (n = sm_nvml_processes(nd, stack, &infos)) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if ((pid_t)infos[i].pid == me)
			used += (int64_t)infos[i].usedGpuMemory;
	if (infos != stack)
		free(infos);
	return used;
}

/*
 * The CUDA ordinal an NVML device has for this program: its position in
 * CUDA_VISIBLE_DEVICES (indices or GPU- UUID prefixes; CUDA stops at the
 * first invalid entry), or its NVML index when the variable is unset.
 * Without the variable CUDA orders devices fastest first, which on nodes
 * with one GPU model is PCI order, as NVML's.
 */
hidden int sm_nvml_ordinal(nvmlDevice_t nd, uint8_t uuid[16])
{
	char us[NVML_DEVICE_UUID_V2_BUFFER_SIZE], list[1024], *save = NULL, *tok;
	const char *cvd;
	unsigned int index = 0;
	int pos = 0;

	if (!real_nvmlDeviceGetUUID || real_nvmlDeviceGetUUID(nd, us, sizeof(us)) != NVML_SUCCESS ||
	    sm_uuid_parse(us, uuid) != 0)
		return -1;
	if (!real_nvmlDeviceGetIndex || real_nvmlDeviceGetIndex(nd, &index) != NVML_SUCCESS)
		return -1;
	/* getenv, not secure_getenv: the driver reads it so, and this must
	 * agree with the ordinals the driver gives the program. */
	cvd = getenv("CUDA_VISIBLE_DEVICES");
	if (!cvd)
		return index < SM_MAX_DEVICES ? (int)index : -1;
	sm_strlcpy(list, cvd, sizeof(list));
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save), pos++) {
		uint64_t v;
		while (*tok == ' ')
			tok++;
		if (strncmp(tok, "GPU-", 4) == 0) {
			if (strncmp(us, tok, strlen(tok)) == 0)
				return pos < SM_MAX_DEVICES ? pos : -1;
		} else if (sm_parse_uint(tok, 1U << 20, &v) == 0) {
			if (v == index)
				return pos < SM_MAX_DEVICES ? pos : -1;
		} else {
			break;
		}
	}
	return -1;
}
