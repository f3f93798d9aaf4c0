/* SPDX-License-Identifier: Apache-2.0 */
/* What is enforced on each CUDA ordinal (limits.c). */
#ifndef SOFTMIG_LIMITS_H
#define SOFTMIG_LIMITS_H

#include "cuda_abi.h"
#include "softmig.h"

hidden uint64_t sm_limits_mem(int ordinal);         /* bytes, 0 no limit */
hidden int sm_limits_sm(int ordinal);               /* percent, 0 no limit */
hidden const uint64_t *sm_limits_slot(int ordinal); /* [2]: percent mask, 0 none */
/* Moves the per-ordinal limits to the ordinals the job's GPUs have in this
 * process (SOFTMIG_GPU_<i>), once, after cuInit. */
hidden void sm_limits_by_gpu(void);
/* The memory limit of the GPU NVML shows as nd (CUDA ordinal ord, -1). */
hidden uint64_t sm_limits_nvml_mem(nvmlDevice_t nd, int ord);

#endif
