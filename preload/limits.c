/*
 * The limits of each CUDA ordinal of this process.
 */
#include <string.h>

#include "hooks.h"

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
		if (sm_config.gpu_index[i])
			return 1;
	return 0;
}

/* Keeps the limits as the config gave them, before any move. */
static void save_conf_limits(void)
{
	int i;

	if (conf_limits.saved)
		return;
	memcpy(conf_limits.mem, sm_config.mem_limit, sizeof(conf_limits.mem));
	memcpy(conf_limits.sm, sm_config.sm_limit, sizeof(conf_limits.sm));
	memcpy(conf_limits.slot, sm_config.sm_slot, sizeof(conf_limits.slot));
	for (i = 0; i < SM_MAX_DEVICES; i++) {
		if (!sm_config.gpu_index[i])
			continue;
		if (sm_config.mem_limit[i] && (!conf_limits.tight_mem || sm_config.mem_limit[i] < conf_limits.tight_mem))
			conf_limits.tight_mem = sm_config.mem_limit[i];
		if (sm_config.sm_limit[i] && (!conf_limits.tight_sm || sm_config.sm_limit[i] < conf_limits.tight_sm))
			conf_limits.tight_sm = sm_config.sm_limit[i];
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
		if (sm_config.gpu_index[i] && (unsigned int)(sm_config.gpu_index[i] - 1) == index)
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
		int i = conf_ordinal(sm_nvml_handle(ord));
		sm_config.mem_limit[ord] = i >= 0 ? conf_limits.mem[i] : conf_limits.tight_mem;
		sm_config.sm_limit[ord] = i >= 0 ? conf_limits.sm[i] : conf_limits.tight_sm;
		sm_config.sm_slot[ord][0] = i >= 0 ? conf_limits.slot[i][0] : 0;
		sm_config.sm_slot[ord][1] = i >= 0 ? conf_limits.slot[i][1] : 0;
	}
	sm_depth--;
}

/* The memory limit of the GPU NVML shows as nd, for NVML's views (which a
 * process may use without CUDA); ord is its CUDA ordinal, -1 unknown. */
hidden uint64_t sm_limits_nvml_mem(nvmlDevice_t nd, int ord)
{
	int i;

	if (!has_gpu_map())
		return sm_limits_mem(ord);
	save_conf_limits();
	i = conf_ordinal(nd);
	return i >= 0 ? conf_limits.mem[i] : conf_limits.tight_mem;
}
