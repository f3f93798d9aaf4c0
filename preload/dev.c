/*
 * Devices: the CUDA ordinal a program uses, the device's UUID (which keys
 * the shared region, so processes with different CUDA_VISIBLE_DEVICES
 * agree), and its NVML handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

struct devinfo {
	int have_uuid;
	int entry;             /* device entry in the region, -1 unknown */
	int noted;             /* "device attach" logged */
	uint8_t uuid[16];
	nvmlDevice_t nvml;
};

static struct devinfo devs[SM_MAX_DEVICES];
static int devs_ready;

static void devs_init(void)
{
	int i;

	if (devs_ready)
		return;
	for (i = 0; i < SM_MAX_DEVICES; i++)
		devs[i].entry = -1;
	devs_ready = 1;
}

hidden void sm_nvml_reset_after_fork(void)
{
	/* Ordinals and UUIDs stay valid; nothing to reset but the handles,
	 * which NVML hands out again after nvmlInit in the child. */
	int i;

	for (i = 0; i < SM_MAX_DEVICES; i++)
		devs[i].nvml = NULL;
}

hidden int sm_dev_current(CUdevice *dev)
{
	if (!real_cuCtxGetDevice || real_cuCtxGetDevice(dev) != CUDA_SUCCESS)
		return -1;
	return *dev >= 0 && *dev < SM_MAX_DEVICES ? 0 : -1;
}

hidden int sm_uuid_of(CUdevice dev, uint8_t uuid[16])
{
	CUuuid u;
	CUresult r = CUDA_ERROR_NOT_FOUND;

	if (dev < 0 || dev >= SM_MAX_DEVICES)
		return -1;
	devs_init();
	if (!devs[dev].have_uuid) {
		if (real_cuDeviceGetUuid_v2)
			r = real_cuDeviceGetUuid_v2(&u, dev);
		if (r != CUDA_SUCCESS && real_cuDeviceGetUuid)
			r = real_cuDeviceGetUuid(&u, dev);
		if (r != CUDA_SUCCESS)
			return -1;
		memcpy(devs[dev].uuid, u.bytes, 16);
		devs[dev].have_uuid = 1;
	}
	memcpy(uuid, devs[dev].uuid, 16);
	return 0;
}

hidden int sm_dev_entry(CUdevice dev)
{
	uint8_t uuid[16];

	if (dev < 0 || dev >= SM_MAX_DEVICES || !sm_region)
		return -1;
	devs_init();
	if (devs[dev].entry >= 0)
		return devs[dev].entry;
	if (sm_uuid_of(dev, uuid) != 0)
		return -1;
	devs[dev].entry = sm_entries_dev(uuid);
	return devs[dev].entry;
}

hidden int sm_dev_enter(CUdevice dev)
{
	return sm_entries_register() == 0 ? sm_dev_entry(dev) : -1;
}

hidden void sm_dev_note(CUdevice dev)
{
	char us[64];

	if (dev < 0 || dev >= SM_MAX_DEVICES || devs[dev].noted)
		return;
	devs[dev].noted = 1;
	sm_uuid_format(devs[dev].uuid, us, sizeof(us));
	sm_log(SM_EVENT, dev, "device attach", "uuid=%s mem_limit=%llu sm_limit=%d", us,
	       (unsigned long long)sm_limits_mem(dev), sm_config.sm_limit[dev]);
}

hidden int sm_dev_noted(CUdevice dev)
{
	return dev >= 0 && dev < SM_MAX_DEVICES && devs[dev].noted ? devs[dev].entry : -1;
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
	devs_init();
	if (devs[dev].nvml)
		return devs[dev].nvml;
	if (sm_uuid_of(dev, uuid) != 0 || !nvml_ready() || !real_nvmlDeviceGetHandleByUUID)
		return NULL;
	sm_uuid_format(uuid, s, sizeof(s));
	if (real_nvmlDeviceGetHandleByUUID(s, &devs[dev].nvml) != NVML_SUCCESS)
		devs[dev].nvml = NULL;
	return devs[dev].nvml;
}
