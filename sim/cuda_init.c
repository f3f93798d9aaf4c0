/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cuInit, CUDA_VISIBLE_DEVICES, device queries, versions and error strings.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cuda_local.h"

pthread_mutex_t cu_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
int cu_nvis;
int cu_vis[SIM_MAX_DEVICES];
static int cu_inited; /* 1 after a successful cuInit */

int cu_ready(void)
{
	return __atomic_load_n(&cu_inited, __ATOMIC_ACQUIRE);
}

CUresult cu_check_init(void)
{
	return cu_ready() ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

CUresult cu_check_dev(CUdevice dev)
{
	if (!cu_ready())
		return CUDA_ERROR_NOT_INITIALIZED;
	return dev >= 0 && dev < cu_nvis ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

/* One CUDA_VISIBLE_DEVICES entry: an index or a "GPU-" UUID (unique
 * prefix); -1 when invalid. */
static int parse_entry(const char *s, size_t len)
{
	char uuid[64];
	int found = -1;
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (!len)
		return -1;
	if (len > 4 && strncasecmp(s, "GPU-", 4) == 0) {
		for (uint32_t i = 0; i < sim_st->ndev; i++) {
			sim_uuid_string((int)i, uuid, sizeof uuid);
			if (len <= strlen(uuid) && strncasecmp(uuid, s, len) == 0) {
				if (found >= 0)
					return -1; /* ambiguous prefix */
				found = (int)i;
			}
		}
		return found;
	}
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]) || v > 1000)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v < (int)sim_st->ndev ? v : -1;
}

static void parse_visible(void)
{
	const char *env = getenv("CUDA_VISIBLE_DEVICES");
	cu_nvis = 0;
	if (!env) {
		for (uint32_t i = 0; i < sim_st->ndev; i++)
			cu_vis[cu_nvis++] = (int)i;
		return;
	}
	/* Like the driver: the list stops at the first invalid entry. */
	for (const char *p = env; *p && cu_nvis < SIM_MAX_DEVICES;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int idx = parse_entry(p, len), dup = 0;
		for (int i = 0; i < cu_nvis; i++)
			dup |= cu_vis[i] == idx;
		if (idx < 0 || dup)
			break;
		cu_vis[cu_nvis++] = idx;
		if (!comma)
			break;
		p = comma + 1;
	}
}

CUresult cuInit(unsigned int flags)
{
	CUresult r = CUDA_SUCCESS;
	if (flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (cu_ready())
		return CUDA_SUCCESS;
	pthread_mutex_lock(&cu_mu);
	if (!cu_inited) {
		if (sim_attach() < 0) {
			r = CUDA_ERROR_NOT_INITIALIZED;
		} else {
			parse_visible();
			if (!cu_nvis)
				r = CUDA_ERROR_NO_DEVICE;
			else
				__atomic_store_n(&cu_inited, 1, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&cu_mu);
	return r;
}

CUresult cuDriverGetVersion(int *version)
{
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	/* Works before cuInit, like the real driver. */
	if (sim_attach() < 0)
		*version = 13000;
	else
		*version = sim_st->cuda_driver_version;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *dev, int ordinal)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	if (ordinal < 0 || ordinal >= cu_nvis)
		return CUDA_ERROR_INVALID_DEVICE;
	*dev = ordinal;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	*count = cu_nvis;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(name, (size_t)len, "%s", sim_st->dev[cu_vis[dev]].name);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(uuid->bytes, sim_st->dev[cu_vis[dev]].uuid, 16);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
	return cuDeviceGetUuid(uuid, dev);
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	*bytes = sim_st->dev[cu_vis[dev]].total;
	return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
	size_t b;
	CUresult r;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	r = cuDeviceTotalMem_v2(&b, dev);
	if (!r)
		*bytes = b > 0xffffffffu ? 0xffffffffu : (unsigned int)b;
	return r;
}

static int attribute(int attrib, int phys)
{
	switch (attrib) {
	case 1: return 1024;          /* MAX_THREADS_PER_BLOCK */
	case 2: case 3: return 1024;  /* MAX_BLOCK_DIM_X/Y */
	case 4: return 64;
	case 5: return 2147483647;    /* MAX_GRID_DIM_X */
	case 6: case 7: return 65535;
	case 8: return 49152;         /* MAX_SHARED_MEMORY_PER_BLOCK */
	case 9: return 65536;         /* TOTAL_CONSTANT_MEMORY */
	case 10: return 32;           /* WARP_SIZE */
	case 11: return 2147483647;   /* MAX_PITCH */
	case 12: return 65536;        /* MAX_REGISTERS_PER_BLOCK */
	case 13: return 1980000;      /* CLOCK_RATE, kHz */
	case 14: return 512;          /* TEXTURE_ALIGNMENT */
	case 15: return 1;            /* GPU_OVERLAP */
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return (int)sim_st->dev[phys].sms;
	case 19: return 1;            /* CAN_MAP_HOST_MEMORY */
	case 31: return 1;            /* CONCURRENT_KERNELS */
	case 32: return 1;            /* ECC_ENABLED */
	case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return (int)sim_st->dev[phys].pci_bus;
	case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: return 0;
	case 36: return 2619000;      /* MEMORY_CLOCK_RATE */
	case 37: return 5120;         /* GLOBAL_MEMORY_BUS_WIDTH */
	case 38: return 52428800;     /* L2_CACHE_SIZE */
	case 39: return 2048;         /* MAX_THREADS_PER_MULTIPROCESSOR */
	case 40: return 3;            /* ASYNC_ENGINE_COUNT */
	case 41: return 1;            /* UNIFIED_ADDRESSING */
	case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: return 0;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return 9;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return 0;
	case 81: return 233472;       /* MAX_SHARED_MEMORY_PER_MULTIPROCESSOR */
	case 82: return 65536;        /* MAX_REGISTERS_PER_MULTIPROCESSOR */
	case 83: return 1;            /* MANAGED_MEMORY */
	case 88: return 1;            /* CONCURRENT_MANAGED_ACCESS */
	case 95: return 1;            /* COOPERATIVE_LAUNCH */
	case 97: return 232448;       /* MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
	case 102: return 1;           /* VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED */
	case 106: return 32;          /* MAX_BLOCKS_PER_MULTIPROCESSOR */
	case 115: return 1;           /* MEMORY_POOLS_SUPPORTED */
	default: return 0;
	}
}

CUresult cuDeviceGetAttribute(int *pi, int attrib, CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!pi || attrib < 1 || attrib > 200)
		return CUDA_ERROR_INVALID_VALUE;
	*pi = attribute(attrib, cu_vis[dev]);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!pciBusId || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(pciBusId, (size_t)len, "0000:%02x:00.0", sim_st->dev[cu_vis[dev]].pci_bus);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
	unsigned int dom, bus, d, fn;
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!dev || !pciBusId)
		return CUDA_ERROR_INVALID_VALUE;
	if (sscanf(pciBusId, "%x:%x:%x.%x", &dom, &bus, &d, &fn) != 4)
		return CUDA_ERROR_INVALID_VALUE;
	for (int i = 0; i < cu_nvis; i++) {
		if (!dom && !d && !fn && sim_st->dev[cu_vis[i]].pci_bus == bus) {
			*dev = i;
			return CUDA_SUCCESS;
		}
	}
	return CUDA_ERROR_INVALID_DEVICE;
}

static const struct {
	CUresult code;
	const char *name, *text;
} errors[] = {
	{0, "CUDA_SUCCESS", "no error"},
	{1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
	{2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
	{3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
	{4, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
	{100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
	{101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
	{200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
	{201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
	{202, "CUDA_ERROR_CONTEXT_ALREADY_CURRENT", "context already current"},
	{211, "CUDA_ERROR_NOT_MAPPED", "resource not mapped"},
	{300, "CUDA_ERROR_INVALID_SOURCE", "device kernel image is invalid"},
	{301, "CUDA_ERROR_FILE_NOT_FOUND", "file not found"},
	{400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
	{500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
	{600, "CUDA_ERROR_NOT_READY", "device not ready"},
	{709, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
	{800, "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
	{801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
	{999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static CUresult error_lookup(CUresult error, const char **pStr, int name)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
		if (errors[i].code == error) {
			*pStr = name ? errors[i].name : errors[i].text;
			return CUDA_SUCCESS;
		}
	}
	*pStr = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **pStr)
{
	return error_lookup(error, pStr, 0);
}

CUresult cuGetErrorName(CUresult error, const char **pStr)
{
	return error_lookup(error, pStr, 1);
}
