/* SPDX-License-Identifier: Apache-2.0 */
/* NVML, as the library asks it (nvml.c). */
#ifndef SOFTMIG_NVML_H
#define SOFTMIG_NVML_H

#include "cuda_abi.h"
#include "softmig.h"

hidden nvmlDevice_t sm_nvml_handle(CUdevice dev); /* NULL if unavailable */
hidden void sm_nvml_reset_after_fork(void);
/* CUDA ordinal that the NVML device has in this process, -1 not visible. */
hidden int sm_nvml_ordinal(nvmlDevice_t nd, uint8_t uuid[16]);
/* The device's compute processes (NVML _v3, else _v2): a caller's array of
 * SM_PROC_STACK entries, or a larger one in *infos that the caller frees
 * when it is not stack.  Returns the count, -1 on failure. */
#define SM_PROC_STACK 128
hidden int sm_nvml_processes(nvmlDevice_t nd, nvmlProcessInfo_t *stack, nvmlProcessInfo_t **infos);
/* Whether NVML's pid (the host's) is one of the job's processes. */
hidden int sm_nvml_pid_in_job(pid_t pid);
/* Bytes NVML reports for our own pid on the device of this ordinal. */
hidden int64_t sm_nvml_self_used(int ordinal);

/* What a process list sorted by pid shows pid holding (a pid may be listed
 * more than once); *listed whether it is there at all.  A lookup costs
 * log n, so that a check of N processes costs N log N, not N * N (and the
 * part under the lock with it). */
static inline uint64_t sm_nvml_listed_bytes(const nvmlProcessInfo_t *sorted, int n, int32_t pid, int *listed)
{
	int lo = 0, hi = n;
	uint64_t sum = 0;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if ((int32_t)sorted[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*listed = lo < n && (int32_t)sorted[lo].pid == pid;
	for (; lo < n && (int32_t)sorted[lo].pid == pid; lo++)
		sum += sorted[lo].usedGpuMemory;
	return sum;
}

#endif
