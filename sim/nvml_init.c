/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVML initialisation, system queries, device handles and error strings.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nvml_sim.h"

struct nvmlDevice_st {
	int index;
};

static struct nvmlDevice_st handles[SIM_MAX_DEVICES];
static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static int init_count;

int nvml_ready(void)
{
	return __atomic_load_n(&init_count, __ATOMIC_ACQUIRE) > 0;
}

nvmlReturn_t nvml_dev(nvmlDevice_t dev, int *index)
{
	if (!nvml_ready())
		return NVML_ERROR_UNINITIALIZED;
	if (!dev || dev < handles || dev >= handles + sim_st->ndev)
		return NVML_ERROR_INVALID_ARGUMENT;
	*index = (int)(dev - handles);
	return NVML_SUCCESS;
}

nvmlReturn_t nvml_copy(char *buf, unsigned int len, const char *s)
{
	if (!buf)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (strlen(s) + 1 > len)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(buf, s, strlen(s) + 1);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
	(void)flags;
	if (sim_attach() < 0)
		return NVML_ERROR_DRIVER_NOT_LOADED;
	pthread_mutex_lock(&init_mu);
	for (int i = 0; i < SIM_MAX_DEVICES; i++)
		handles[i].index = i;
	__atomic_add_fetch(&init_count, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&init_mu);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void)
{
	return nvmlInitWithFlags(0);
}

nvmlReturn_t nvmlInit(void)
{
	return nvmlInitWithFlags(0);
}

nvmlReturn_t nvmlShutdown(void)
{
	nvmlReturn_t r = NVML_SUCCESS;
	pthread_mutex_lock(&init_mu);
	if (init_count > 0)
		__atomic_sub_fetch(&init_count, 1, __ATOMIC_RELEASE);
	else
		r = NVML_ERROR_UNINITIALIZED;
	pthread_mutex_unlock(&init_mu);
	return r;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
	switch (result) {
	case NVML_SUCCESS: return "Success";
	case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
	case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
	case NVML_ERROR_NOT_FOUND: return "Not Found";
	case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
	case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
	case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
	case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument Version Mismatch";
	default: return "Unknown Error";
	}
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	if (!nvml_ready())
		return NVML_ERROR_UNINITIALIZED;
	return nvml_copy(version, length, sim_st->driver_string);
}

nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
	char buf[64];
	if (!nvml_ready())
		return NVML_ERROR_UNINITIALIZED;
	snprintf(buf, sizeof buf, "%d.%s", sim_st->cuda_driver_version / 1000,
		 sim_st->driver_string);
	return nvml_copy(version, length, buf);
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
	if (!nvml_ready())
		return NVML_ERROR_UNINITIALIZED;
	if (!cudaDriverVersion)
		return NVML_ERROR_INVALID_ARGUMENT;
	*cudaDriverVersion = sim_st->cuda_driver_version;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
	return nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
	if (!nvml_ready())
		return NVML_ERROR_UNINITIALIZED;
	if (!deviceCount)
		return NVML_ERROR_INVALID_ARGUMENT;
	*deviceCount = sim_st->ndev;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
	return nvmlDeviceGetCount_v2(deviceCount);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
	if (!nvml_ready())
		return NVML_ERROR_UNINITIALIZED;
	if (!device || index >= sim_st->ndev)
		return NVML_ERROR_INVALID_ARGUMENT;
	*device = &handles[index];
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
	return nvmlDeviceGetHandleByIndex_v2(index, device);
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
	char buf[64];
	if (!nvml_ready())
		return NVML_ERROR_UNINITIALIZED;
	if (!uuid || !device)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (uint32_t i = 0; i < sim_st->ndev; i++) {
		sim_uuid_string((int)i, buf, sizeof buf);
		if (strcasecmp(buf, uuid) == 0) {
			*device = &handles[i];
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device)
{
	unsigned int dom, bus, d, fn;
	if (!nvml_ready())
		return NVML_ERROR_UNINITIALIZED;
	if (!pciBusId || !device)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (sscanf(pciBusId, "%x:%x:%x.%x", &dom, &bus, &d, &fn) != 4)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (uint32_t i = 0; i < sim_st->ndev; i++) {
		if (!dom && !d && !fn && sim_st->dev[i].pci_bus == bus) {
			*device = &handles[i];
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device)
{
	return nvmlDeviceGetHandleByPciBusId_v2(pciBusId, device);
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
	int i;
	nvmlReturn_t r = nvml_dev(device, &i);
	if (r)
		return r;
	if (!index)
		return NVML_ERROR_INVALID_ARGUMENT;
	*index = (unsigned int)i;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber)
{
	return nvmlDeviceGetIndex(device, minorNumber);
}
