/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A "null NVML" beside the null driver (nulldriver.c): the library trusts
 * the libnvidia-ml.so.1 in the directory of the libcuda.so.1 it finds, and
 * a sliced process without a working NVML gets no GPU.  Every process that
 * asks holds one context of NULL_CTX_BYTES and nothing else, so the
 * benchmarks see contexts of a known size and NVML calls that cost nothing.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cuda_abi.h"

#define EXPORT __attribute__((visibility("default")))
#define NULL_CTX_BYTES (300ULL << 20)

static int device_token;

EXPORT nvmlReturn_t nvmlInit_v2(void) { return NVML_SUCCESS; }
EXPORT nvmlReturn_t nvmlShutdown(void) { return NVML_SUCCESS; }

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
	(void)uuid;
	*device = (nvmlDevice_t)&device_token;
	return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
	(void)device;
	*index = 0;
	return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
							      nvmlProcessInfo_t *infos)
{
	(void)device;
	if (*count < 1) {
		*count = 1;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	*count = 1;
	memset(infos, 0, sizeof(*infos));
	infos->pid = (unsigned int)getpid();
	infos->usedGpuMemory = NULL_CTX_BYTES;
	return NVML_SUCCESS;
}
