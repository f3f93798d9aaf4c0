/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Devices: the CUDA ordinal a program uses (of the current context), its
 * device entry in the region (found by its UUID, uuid.c), and the "device
 * attach" record that says which limits hold on it (limits.c).
 */

#include "dev.h"

#include "entries.h"
#include "limits.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "uuid.h"

struct devinfo {
	int entry;             /* device entry in the region, -1 unknown */
	int noted;             /* "device attach" logged */
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

hidden int sm_dev_current(CUdevice *dev)
{
	if (!real_cuCtxGetDevice || real_cuCtxGetDevice(dev) != CUDA_SUCCESS)
		return -1;
	return *dev >= 0 && *dev < SM_MAX_DEVICES ? 0 : -1;
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
	uint8_t uuid[16] = { 0 };
	char us[64];

	if (dev < 0 || dev >= SM_MAX_DEVICES || devs[dev].noted)
		return;
	devs[dev].noted = 1;
	sm_uuid_of(dev, uuid); /* known: the device has an entry */
	sm_uuid_format(uuid, us, sizeof(us));
	sm_log(SM_EVENT, dev, "device attach", "uuid=%s mem_limit=%llu sm_limit=%d", us,
	       (unsigned long long)sm_limits_mem(dev), sm_limits_sm(dev));
}

hidden int sm_dev_noted(CUdevice dev)
{
	return dev >= 0 && dev < SM_MAX_DEVICES && devs[dev].noted ? devs[dev].entry : -1;
}
