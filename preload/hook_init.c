/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cuInit: the limits of each ordinal are moved to the GPU it is in this
 * process (SOFTMIG_GPU_<i>) once the driver knows its devices.
 */
#include "hooks.h"
#include "limits.h"

/* cuInit is where a process learns it has no GPU when its config is
 * unsafe: every later call would fail the same way. */
SOFTMIG_EXPORT CUresult cuInit(unsigned int flags)
{
	CUresult r;

	SM_NEED_REAL(cuInit);
	SM_PASS(real_cuInit(flags));
	r = real_cuInit(flags);
	if (r == CUDA_SUCCESS)
		sm_limits_by_gpu();
	return r;
}
