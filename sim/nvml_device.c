/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVML device properties: identity, PCI, clocks, power, modes.  Values are
 * those of an H100 SXM unless the state says otherwise.  What only
 * `softmig-smi -q` would print (BAR1, VBIOS, board part number) is not
 * simulated: its tests take that from their fake node (cmd/softmig-smi/smi/fake.go)
 * and the real nvidia-smi's captures (cmd/softmig-smi/testdata/real).
 */
#include <stdio.h>
#include <string.h>

#include "nvml_sim.h"

#define DEV_OR_RETURN(device, i)                                                                  \
	int i;                                                                                    \
	do {                                                                                      \
		nvmlReturn_t r_ = nvml_dev(device, &i);                                           \
		if (r_)                                                                           \
			return r_;                                                                \
	} while (0)

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
	DEV_OR_RETURN(device, i);
	return nvml_copy(name, length, sim_st->dev[i].name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
	char buf[64];
	DEV_OR_RETURN(device, i);
	sim_uuid_string(i, buf, sizeof buf);
	return nvml_copy(uuid, length, buf);
}

nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)
{
	DEV_OR_RETURN(device, i);
	return nvml_copy(serial, length, sim_st->dev[i].serial);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
	DEV_OR_RETURN(device, i);
	if (!pci)
		return NVML_ERROR_INVALID_ARGUMENT;
	memset(pci, 0, sizeof *pci);
	pci->domain = 0;
	pci->bus = sim_st->dev[i].pci_bus;
	pci->device = 0;
	pci->pciDeviceId = 0x233010de;
	pci->pciSubSystemId = 0x16c110de;
	snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "0000:%02X:00.0", pci->bus);
	snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", pci->bus);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *arch)
{
	DEV_OR_RETURN(device, i);
	(void)i;
	if (!arch)
		return NVML_ERROR_INVALID_ARGUMENT;
	*arch = 9; /* NVML_DEVICE_ARCH_HOPPER */
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
	DEV_OR_RETURN(device, i);
	(void)i;
	if (!major || !minor)
		return NVML_ERROR_INVALID_ARGUMENT;
	*major = 9;
	*minor = 0;
	return NVML_SUCCESS;
}

static nvmlReturn_t put_int(nvmlDevice_t device, int *out, int v)
{
	DEV_OR_RETURN(device, i);
	(void)i;
	if (!out)
		return NVML_ERROR_INVALID_ARGUMENT;
	*out = v;
	return NVML_SUCCESS;
}

static nvmlReturn_t put_uint(nvmlDevice_t device, unsigned int *out, unsigned int v)
{
	return put_int(device, (int *)out, (int)v);
}

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, int *pState)
{
	return put_int(device, pState, 0); /* NVML_PSTATE_0 */
}

nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, int *mode)
{
	return put_int(device, mode, 1); /* NVML_FEATURE_ENABLED */
}

nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, int *mode)
{
	return put_int(device, mode, 0); /* NVML_COMPUTEMODE_DEFAULT */
}

nvmlReturn_t nvmlDeviceGetDisplayMode(nvmlDevice_t device, int *display)
{
	return put_int(device, display, 0);
}

nvmlReturn_t nvmlDeviceGetDisplayActive(nvmlDevice_t device, int *isActive)
{
	return put_int(device, isActive, 0);
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode,
				  unsigned int *pendingMode)
{
	nvmlReturn_t r = put_uint(device, currentMode, 0);
	return r ? r : put_uint(device, pendingMode, 0);
}

nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, int *current, int *pending)
{
	nvmlReturn_t r = put_int(device, current, 1);
	return r ? r : put_int(device, pending, 1);
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, int errorType, int counterType,
					 unsigned long long *eccCounts)
{
	DEV_OR_RETURN(device, i);
	(void)i;
	if (!eccCounts || errorType < 0 || errorType > 1 || counterType < 0 || counterType > 1)
		return NVML_ERROR_INVALID_ARGUMENT;
	*eccCounts = 0;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed)
{
	DEV_OR_RETURN(device, i);
	(void)i;
	(void)speed;
	return NVML_ERROR_NOT_SUPPORTED; /* passively cooled, like an H100 SXM */
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensorType, unsigned int *temp)
{
	DEV_OR_RETURN(device, i);
	if (!temp || sensorType != 0) /* NVML_TEMPERATURE_GPU */
		return NVML_ERROR_INVALID_ARGUMENT;
	*temp = 33 + nvml_gpu_util(i) / 3;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
	DEV_OR_RETURN(device, i);
	if (!power)
		return NVML_ERROR_INVALID_ARGUMENT;
	*power = 72000 + nvml_gpu_util(i) * 6000; /* milliwatts */
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)
{
	return put_uint(device, limit, 700000);
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
{
	return put_uint(device, limit, 700000);
}

static unsigned int clock_mhz(unsigned int type, int busy)
{
	switch (type) {
	case 0: case 1: return busy ? 1980 : 345; /* GRAPHICS, SM */
	case 2: return 2619;                      /* MEM */
	case 3: return busy ? 1755 : 765;         /* VIDEO */
	default: return 0;
	}
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
	DEV_OR_RETURN(device, i);
	(void)i;
	if (!clock || type < 0 || type > 3)
		return NVML_ERROR_INVALID_ARGUMENT;
	*clock = clock_mhz((unsigned int)type, 1);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
	DEV_OR_RETURN(device, i);
	if (!clock || type < 0 || type > 3)
		return NVML_ERROR_INVALID_ARGUMENT;
	*clock = clock_mhz((unsigned int)type, nvml_gpu_util(i) > 0);
	return NVML_SUCCESS;
}
