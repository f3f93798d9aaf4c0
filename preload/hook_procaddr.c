/*
 * cuGetProcAddress: the CUDA runtime (12 and 13) takes every driver entry
 * point through it.  The driver answers first (honouring cudaVersion and
 * the per-thread-stream flags its own way); a hook is substituted only when
 * the answer is the very function that is hooked.
 */
#include "hooks.h"

static void *substitute(void *p)
{
	if (!p || sm_depth > 0 || !sm_init() || sm_mode == SM_PASSIVE)
		return p;
	return sm_hook_for(p);
}

SOFTMIG_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	CUresult r;

	SM_NEED_REAL(cuGetProcAddress);
	r = real_cuGetProcAddress(symbol, pfn, cudaVersion, flags);
	if (r == CUDA_SUCCESS && pfn)
		*pfn = substitute(*pfn);
	return r;
}

SOFTMIG_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
					    CUdriverProcAddressQueryResult *status)
{
	CUresult r;

	SM_NEED_REAL(cuGetProcAddress_v2);
	r = real_cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, status);
	if (r == CUDA_SUCCESS && pfn)
		*pfn = substitute(*pfn);
	return r;
}

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
