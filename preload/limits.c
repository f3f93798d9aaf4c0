/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What is enforced on each CUDA ordinal of this process, apart from what
 * the config said (config.c, read-only once parsed).
 *
 * Limits key on the physical GPU.  The config gives the limits of CUDA
 * ordinal i as the prolog saw it, and SOFTMIG_GPU_<i> the Slurm index of
 * that GPU (NVML's index: Slurm orders GPUs by PCI bus as NVML does).  A
 * program that reorders CUDA_VISIBLE_DEVICES must not swap the limits, so
 * once CUDA is up (cuInit) each ordinal takes the limits of the GPU it
 * really is (cuDeviceGetUuid -> NVML -> index) in this file's own table; a
 * GPU the config does not name gets the tightest limits of the job's GPUs.
 * Until then, and without SOFTMIG_GPU_<i>, the config's limits hold.
 */
#include "limits.h"

#include "config.h"
#include "depth.h"
#include "mode.h"
#include "nvml.h"
#include "real.h"

static struct {
	uint64_t mem[SM_MAX_DEVICES];
	int sm[SM_MAX_DEVICES];
	uint64_t slot[SM_MAX_DEVICES][2];
} by_gpu;
static int moved; /* by_gpu holds the limits: set once it is filled */

hidden uint64_t sm_limits_mem(int ordinal)
{
	if (ordinal < 0 || ordinal >= SM_MAX_DEVICES)
		return 0;
	return __atomic_load_n(&moved, __ATOMIC_ACQUIRE) ? by_gpu.mem[ordinal] : sm_config->mem_limit[ordinal];
}

hidden int sm_limits_sm(int ordinal)
{
	if (ordinal < 0 || ordinal >= SM_MAX_DEVICES)
		return 0;
	return __atomic_load_n(&moved, __ATOMIC_ACQUIRE) ? by_gpu.sm[ordinal] : sm_config->sm_limit[ordinal];
}

hidden const uint64_t *sm_limits_slot(int ordinal)
{
	static const uint64_t none[2];

	if (ordinal < 0 || ordinal >= SM_MAX_DEVICES)
		return none;
	return __atomic_load_n(&moved, __ATOMIC_ACQUIRE) ? by_gpu.slot[ordinal] : sm_config->sm_slot[ordinal];
}

static int has_gpu_map(void)
{
	int i;

	for (i = 0; i < SM_MAX_DEVICES; i++)
		if (sm_config->gpu_index[i])
			return 1;
	return 0;
}

/* The tightest limits of the GPUs the config names. */
static void tightest(uint64_t *mem, int *sm)
{
	const struct sm_config *c = sm_config;
	int i;

	*mem = 0;
	*sm = 0;
	for (i = 0; i < SM_MAX_DEVICES; i++) {
		if (!c->gpu_index[i])
			continue;
		if (c->mem_limit[i] && (!*mem || c->mem_limit[i] < *mem))
			*mem = c->mem_limit[i];
		if (c->sm_limit[i] && (!*sm || c->sm_limit[i] < *sm))
			*sm = c->sm_limit[i];
	}
}

/* The config's ordinal for the GPU NVML shows as nd, -1 none. */
static int conf_ordinal(nvmlDevice_t nd)
{
	unsigned int index;
	int i;

	if (!nd || !real_nvmlDeviceGetIndex || real_nvmlDeviceGetIndex(nd, &index) != NVML_SUCCESS)
		return -1;
	for (i = 0; i < SM_MAX_DEVICES; i++)
		if (sm_config->gpu_index[i] && (unsigned int)(sm_config->gpu_index[i] - 1) == index)
			return i;
	return -1;
}

hidden void sm_limits_by_gpu(void)
{
	const struct sm_config *c = sm_config;
	static int done;
	uint64_t tight_mem;
	int tight_sm, ord;

	if (sm_mode != SM_ACTIVE || !has_gpu_map() || __atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
		return;
	sm_depth++;
	tightest(&tight_mem, &tight_sm);
	for (ord = 0; ord < SM_MAX_DEVICES; ord++) {
		int i = conf_ordinal(sm_nvml_handle(ord));
		by_gpu.mem[ord] = i >= 0 ? c->mem_limit[i] : tight_mem;
		by_gpu.sm[ord] = i >= 0 ? c->sm_limit[i] : tight_sm;
		by_gpu.slot[ord][0] = i >= 0 ? c->sm_slot[i][0] : 0;
		by_gpu.slot[ord][1] = i >= 0 ? c->sm_slot[i][1] : 0;
	}
	__atomic_store_n(&moved, 1, __ATOMIC_RELEASE);
	sm_depth--;
}

/* The memory limit of the GPU NVML shows as nd, for NVML's views (which a
 * process may use without CUDA); ord is its CUDA ordinal, -1 unknown. */
hidden uint64_t sm_limits_nvml_mem(nvmlDevice_t nd, int ord)
{
	uint64_t tight_mem;
	int tight_sm, i;

	if (!has_gpu_map())
		return sm_limits_mem(ord);
	if ((i = conf_ordinal(nd)) >= 0)
		return sm_config->mem_limit[i];
	tightest(&tight_mem, &tight_sm);
	return tight_mem;
}
