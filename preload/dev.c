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

hidden void sm_devmap_reset_after_fork(void)
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

hidden int sm_dev_uuid(CUdevice dev, uint8_t uuid[16])
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
	if (sm_dev_uuid(dev, uuid) != 0)
		return -1;
	devs[dev].entry = sm_region_dev(uuid);
	return devs[dev].entry;
}

hidden int sm_dev_enter(CUdevice dev)
{
	return sm_region_register() == 0 ? sm_dev_entry(dev) : -1;
}

hidden void sm_dev_note(CUdevice dev)
{
	char us[64];

	if (dev < 0 || dev >= SM_MAX_DEVICES || devs[dev].noted)
		return;
	devs[dev].noted = 1;
	sm_uuid_format(devs[dev].uuid, us, sizeof(us));
	sm_log(SM_EVENT, dev, "device attach", "uuid=%s mem_limit=%llu sm_limit=%d", us,
	       (unsigned long long)sm_mem_limit(dev), sm_cfg.sm_limit[dev]);
}

hidden int sm_dev_noted(CUdevice dev)
{
	return dev >= 0 && dev < SM_MAX_DEVICES && devs[dev].noted ? devs[dev].entry : -1;
}

hidden void sm_uuid_format(const uint8_t u[16], char *out, size_t len)
{
	snprintf(out, len,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" -> 16 bytes. */
hidden int sm_uuid_parse(const char *s, uint8_t uuid[16])
{
	int n = 0;

	if (strncmp(s, "GPU-", 4) != 0)
		return -1;
	for (s += 4; *s && n < 32; s++) {
		int v;
		if (*s == '-')
			continue;
		if ((v = hexval(*s)) < 0)
			return -1;
		if (n % 2 == 0)
			uuid[n / 2] = (uint8_t)(v << 4);
		else
			uuid[n / 2] |= (uint8_t)v;
		n++;
	}
	return n == 32 && *s == 0 ? 0 : -1;
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

hidden nvmlDevice_t sm_dev_nvml(CUdevice dev)
{
	uint8_t uuid[16];
	char s[NVML_DEVICE_UUID_V2_BUFFER_SIZE];

	if (dev < 0 || dev >= SM_MAX_DEVICES)
		return NULL;
	devs_init();
	if (devs[dev].nvml)
		return devs[dev].nvml;
	if (sm_dev_uuid(dev, uuid) != 0 || !nvml_ready() || !real_nvmlDeviceGetHandleByUUID)
		return NULL;
	sm_uuid_format(uuid, s, sizeof(s));
	if (real_nvmlDeviceGetHandleByUUID(s, &devs[dev].nvml) != NVML_SUCCESS)
		devs[dev].nvml = NULL;
	return devs[dev].nvml;
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

/*
 * Limits key on the physical GPU.  The config gives the limits of CUDA
 * ordinal i as the prolog saw it, and SOFTMIG_GPU_<i> the Slurm index of
 * that GPU (NVML's index: Slurm orders GPUs by PCI bus as NVML does).  A
 * program that reorders CUDA_VISIBLE_DEVICES must not swap the limits, so
 * once CUDA is up each ordinal takes the limits of the GPU it really is
 * (cuDeviceGetUuid -> NVML -> index); a GPU the config does not name gets
 * the tightest limits of the job's GPUs.
 */
static struct {
	int saved;
	uint64_t mem[SM_MAX_DEVICES];
	int sm[SM_MAX_DEVICES];
	uint64_t slot[SM_MAX_DEVICES][2];
	uint64_t tight_mem;
	int tight_sm;
} conf_limits;

static int has_gpu_map(void)
{
	int i;

	for (i = 0; i < SM_MAX_DEVICES; i++)
		if (sm_cfg.gpu_index[i])
			return 1;
	return 0;
}

/* Keeps the limits as the config gave them, before any move. */
static void save_conf_limits(void)
{
	int i;

	if (conf_limits.saved)
		return;
	memcpy(conf_limits.mem, sm_cfg.mem_limit, sizeof(conf_limits.mem));
	memcpy(conf_limits.sm, sm_cfg.sm_limit, sizeof(conf_limits.sm));
	memcpy(conf_limits.slot, sm_cfg.sm_slot, sizeof(conf_limits.slot));
	for (i = 0; i < SM_MAX_DEVICES; i++) {
		if (!sm_cfg.gpu_index[i])
			continue;
		if (sm_cfg.mem_limit[i] && (!conf_limits.tight_mem || sm_cfg.mem_limit[i] < conf_limits.tight_mem))
			conf_limits.tight_mem = sm_cfg.mem_limit[i];
		if (sm_cfg.sm_limit[i] && (!conf_limits.tight_sm || sm_cfg.sm_limit[i] < conf_limits.tight_sm))
			conf_limits.tight_sm = sm_cfg.sm_limit[i];
	}
	conf_limits.saved = 1;
}

/* The config's ordinal for the GPU NVML shows as nd, -1 none. */
static int conf_ordinal(nvmlDevice_t nd)
{
	unsigned int index;
	int i;

	if (!nd || !real_nvmlDeviceGetIndex || real_nvmlDeviceGetIndex(nd, &index) != NVML_SUCCESS)
		return -1;
	for (i = 0; i < SM_MAX_DEVICES; i++)
		if (sm_cfg.gpu_index[i] && (unsigned int)(sm_cfg.gpu_index[i] - 1) == index)
			return i;
	return -1;
}

hidden void sm_limits_by_gpu(void)
{
	static int done;
	int ord;

	if (sm_mode != SM_ACTIVE || !has_gpu_map() || __atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
		return;
	sm_depth++;
	save_conf_limits();
	for (ord = 0; ord < SM_MAX_DEVICES; ord++) {
		int i = conf_ordinal(sm_dev_nvml(ord));
		sm_cfg.mem_limit[ord] = i >= 0 ? conf_limits.mem[i] : conf_limits.tight_mem;
		sm_cfg.sm_limit[ord] = i >= 0 ? conf_limits.sm[i] : conf_limits.tight_sm;
		sm_cfg.sm_slot[ord][0] = i >= 0 ? conf_limits.slot[i][0] : 0;
		sm_cfg.sm_slot[ord][1] = i >= 0 ? conf_limits.slot[i][1] : 0;
	}
	sm_depth--;
}

/* The memory limit of the GPU NVML shows as nd, for NVML's views (which a
 * process may use without CUDA); ord is its CUDA ordinal, -1 unknown. */
hidden uint64_t sm_nvml_mem_limit(nvmlDevice_t nd, int ord)
{
	int i;

	if (!has_gpu_map())
		return sm_mem_limit(ord);
	save_conf_limits();
	i = conf_ordinal(nd);
	return i >= 0 ? conf_limits.mem[i] : conf_limits.tight_mem;
}
