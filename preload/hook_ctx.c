/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Context hooks.  A context costs device memory the program never asked
 * for: the slice reserves it before the driver creates one and measures it
 * after (slice_ctx.c).  Destroying a context, or releasing the last hold
 * on a primary context, credits what was allocated in it.
 */
#include "hooks.h"
#include "region_abi.h"
#include "slice.h"

static uint64_t primary[SM_MAX_DEVICES]; /* primary context of each ordinal */

/* A retain of a primary context this process already holds creates
 * nothing: the driver only counts one more hold. */
static int primary_active(CUdevice dev)
{
	unsigned int flags = 0;
	int active = 0;

	return real_cuDevicePrimaryCtxGetState &&
	       real_cuDevicePrimaryCtxGetState(dev, &flags, &active) == CUDA_SUCCESS && active;
}

#define CTX_CREATE(api, realcall, dev) \
	do { \
		struct sm_take t_; \
		CUresult r_ = sm_slice_ctx_admit((dev), (api), &t_); \
		if (r_ != CUDA_SUCCESS) \
			return r_; \
		r_ = (realcall); \
		sm_slice_ctx_settle(&t_, r_ == CUDA_SUCCESS); \
		return r_; \
	} while (0)

SOFTMIG_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	struct sm_take t;
	CUresult r;

	SM_NEED_REAL(cuDevicePrimaryCtxRetain);
	SM_PASS(real_cuDevicePrimaryCtxRetain(pctx, dev));
	if (primary_active(dev))
		return real_cuDevicePrimaryCtxRetain(pctx, dev);
	if ((r = sm_slice_ctx_admit(dev, "cuDevicePrimaryCtxRetain", &t)) != CUDA_SUCCESS)
		return r;
	r = real_cuDevicePrimaryCtxRetain(pctx, dev);
	if (r == CUDA_SUCCESS && dev >= 0 && dev < SM_MAX_DEVICES)
		primary[dev] = (uint64_t)(uintptr_t)*pctx;
	sm_slice_ctx_settle(&t, r == CUDA_SUCCESS);
	return r;
}

SOFTMIG_EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	SM_NEED_REAL(cuCtxCreate_v2);
	SM_PASS(real_cuCtxCreate_v2(pctx, flags, dev));
	CTX_CREATE("cuCtxCreate_v2", real_cuCtxCreate_v2(pctx, flags, dev), dev);
}

SOFTMIG_EXPORT CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	SM_NEED_REAL(cuCtxCreate);
	SM_PASS(real_cuCtxCreate(pctx, flags, dev));
	CTX_CREATE("cuCtxCreate", real_cuCtxCreate(pctx, flags, dev), dev);
}

SOFTMIG_EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int n, unsigned int flags,
				       CUdevice dev)
{
	SM_NEED_REAL(cuCtxCreate_v3);
	SM_PASS(real_cuCtxCreate_v3(pctx, params, n, flags, dev));
	CTX_CREATE("cuCtxCreate_v3", real_cuCtxCreate_v3(pctx, params, n, flags, dev), dev);
}

SOFTMIG_EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
				       CUdevice dev)
{
	SM_NEED_REAL(cuCtxCreate_v4);
	SM_PASS(real_cuCtxCreate_v4(pctx, params, flags, dev));
	CTX_CREATE("cuCtxCreate_v4", real_cuCtxCreate_v4(pctx, params, flags, dev), dev);
}

#define CTX_DESTROY(name) \
	SOFTMIG_EXPORT CUresult name(CUcontext ctx) \
	{ \
		CUresult r; \
		SM_NEED_REAL(name); \
		SM_PASS(real_##name(ctx)); \
		sm_slice_teardown_begin(); \
		if ((r = real_##name(ctx)) == CUDA_SUCCESS) \
			sm_slice_ctx_gone((uint64_t)(uintptr_t)ctx); \
		sm_slice_teardown_end(); \
		return r; \
	}

CTX_DESTROY(cuCtxDestroy_v2)
CTX_DESTROY(cuCtxDestroy)

/* The primary context survives a release while others hold it. */
static void primary_released(CUdevice dev, int reset)
{
	if (dev < 0 || dev >= SM_MAX_DEVICES)
		return;
	if (!reset && primary_active(dev))
		return;
	sm_slice_ctx_gone(primary[dev]);
}

#define PRIMARY_TEARDOWN(name, reset) \
	SOFTMIG_EXPORT CUresult name(CUdevice dev) \
	{ \
		CUresult r; \
		SM_NEED_REAL(name); \
		SM_PASS(real_##name(dev)); \
		sm_slice_teardown_begin(); \
		if ((r = real_##name(dev)) == CUDA_SUCCESS) \
			primary_released(dev, (reset)); \
		sm_slice_teardown_end(); \
		return r; \
	}

PRIMARY_TEARDOWN(cuDevicePrimaryCtxRelease_v2, 0)
PRIMARY_TEARDOWN(cuDevicePrimaryCtxRelease, 0)
PRIMARY_TEARDOWN(cuDevicePrimaryCtxReset_v2, 1)
PRIMARY_TEARDOWN(cuDevicePrimaryCtxReset, 1)
