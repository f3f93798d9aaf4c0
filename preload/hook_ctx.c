/*
 * Context hooks.  A context costs device memory the program never asked
 * for (hundreds of MiB on a big GPU); the library measures it through
 * NVML around the driver call and charges it to the process.  A new
 * context is refused when the slice cannot hold another one of the size
 * last seen on the device.  Destroying a context frees what was allocated
 * in it, so those allocations are credited back too.
 */
#include "hooks.h"

static uint64_t primary[SM_MAX_DEVICES]; /* primary context of each ordinal */

/* Admission before the driver creates a context on dev. */
static CUresult ctx_admit(CUdevice dev, const char *api, int *d)
{
	uint64_t limit = sm_mem_limit(dev), est, used;

	*d = -1;
	if (!limit)
		return CUDA_SUCCESS;
	sm_depth++;
	if (sm_region_register() != 0 || (*d = sm_dev_slot(dev)) < 0) {
		sm_depth--;
		*d = -1;
		return CUDA_SUCCESS; /* no device slot: the allocations will fail closed */
	}
	sm_note_device(dev, *d);
	est = sm_region->devs[*d].ctx_estimate;
	used = sm_dev_used(*d);
	if (est && (est > limit || used > limit - est)) {
		/* A process of the job that was killed must not lock the job out:
		 * its place is reclaimed before a context is refused. */
		sm_reclaim(*d, dev);
		used = sm_dev_used(*d);
	}
	sm_depth--;
	if (est && (est > limit || used > limit - est)) {
		sm_log_refusal(dev, api, est, used, limit);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

/* Context memory of this process on dev = what NVML shows for it minus
 * the allocations the library tracks there. */
static void ctx_measure(CUdevice dev, int d)
{
	int64_t self;
	uint64_t mine;

	if (d < 0 || sm_slot < 0)
		return;
	sm_depth++;
	self = sm_nvml_self_used(dev);
	sm_depth--;
	if (self < 0)
		return;
	mine = sm_region->procs[sm_slot].used[d];
	sm_ctx_account(d, (uint64_t)self > mine ? self - (int64_t)mine : 0);
}

/* Credits back everything allocated in a context that is gone. */
static void ctx_gone(uint64_t ctx)
{
	struct sm_alloc a;

	if (!ctx)
		return;
	while (sm_ptr_take_owned(ctx, &a))
		sm_release(a.dev, a.size);
}

static int device_slot_known(CUdevice dev)
{
	return sm_mem_limit(dev) && sm_region && sm_slot >= 0 ? sm_dev_slot(dev) : -1;
}

#define CTX_CREATE(api, realcall, pctx, dev) \
	do { \
		int d_; \
		CUresult r_ = ctx_admit((dev), (api), &d_); \
		if (r_ != CUDA_SUCCESS) \
			return r_; \
		r_ = (realcall); \
		if (r_ == CUDA_SUCCESS) \
			ctx_measure((dev), d_); \
		return r_; \
	} while (0)

SOFTMIG_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	int d;
	CUresult r;

	SM_NEED_REAL(cuDevicePrimaryCtxRetain);
	SM_PASS(real_cuDevicePrimaryCtxRetain(pctx, dev));
	if ((r = ctx_admit(dev, "cuDevicePrimaryCtxRetain", &d)) != CUDA_SUCCESS)
		return r;
	r = real_cuDevicePrimaryCtxRetain(pctx, dev);
	if (r == CUDA_SUCCESS) {
		if (dev >= 0 && dev < SM_MAX_DEVICES)
			primary[dev] = (uint64_t)(uintptr_t)*pctx;
		ctx_measure(dev, d);
	}
	return r;
}

SOFTMIG_EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	SM_NEED_REAL(cuCtxCreate_v2);
	SM_PASS(real_cuCtxCreate_v2(pctx, flags, dev));
	CTX_CREATE("cuCtxCreate_v2", real_cuCtxCreate_v2(pctx, flags, dev), pctx, dev);
}

SOFTMIG_EXPORT CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	SM_NEED_REAL(cuCtxCreate);
	SM_PASS(real_cuCtxCreate(pctx, flags, dev));
	CTX_CREATE("cuCtxCreate", real_cuCtxCreate(pctx, flags, dev), pctx, dev);
}

SOFTMIG_EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int n, unsigned int flags,
				       CUdevice dev)
{
	SM_NEED_REAL(cuCtxCreate_v3);
	SM_PASS(real_cuCtxCreate_v3(pctx, params, n, flags, dev));
	CTX_CREATE("cuCtxCreate_v3", real_cuCtxCreate_v3(pctx, params, n, flags, dev), pctx, dev);
}

SOFTMIG_EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
				       CUdevice dev)
{
	SM_NEED_REAL(cuCtxCreate_v4);
	SM_PASS(real_cuCtxCreate_v4(pctx, params, flags, dev));
	CTX_CREATE("cuCtxCreate_v4", real_cuCtxCreate_v4(pctx, params, flags, dev), pctx, dev);
}

/* After a context went away on some device: credit its allocations and
 * re-measure the context memory of every device this process uses. */
static void after_teardown(uint64_t ctx)
{
	int dev;

	ctx_gone(ctx);
	for (dev = 0; dev < SM_MAX_DEVICES; dev++) {
		int d = device_slot_known(dev);
		if (d >= 0 && sm_region->procs[sm_slot].ctx[d])
			ctx_measure(dev, d);
	}
}

#define CTX_DESTROY(name) \
	SOFTMIG_EXPORT CUresult name(CUcontext ctx) \
	{ \
		CUresult r; \
		SM_NEED_REAL(name); \
		SM_PASS(real_##name(ctx)); \
		if ((r = real_##name(ctx)) == CUDA_SUCCESS) \
			after_teardown((uint64_t)(uintptr_t)ctx); \
		return r; \
	}

CTX_DESTROY(cuCtxDestroy_v2)
CTX_DESTROY(cuCtxDestroy)

/* The primary context survives a release while others hold it. */
static void primary_released(CUdevice dev, int reset)
{
	unsigned int flags = 0;
	int active = 0;

	if (dev < 0 || dev >= SM_MAX_DEVICES)
		return;
	if (!reset && real_cuDevicePrimaryCtxGetState &&
	    real_cuDevicePrimaryCtxGetState(dev, &flags, &active) == CUDA_SUCCESS && active)
		return;
	after_teardown(primary[dev]);
}

#define PRIMARY_TEARDOWN(name, reset) \
	SOFTMIG_EXPORT CUresult name(CUdevice dev) \
	{ \
		CUresult r; \
		SM_NEED_REAL(name); \
		SM_PASS(real_##name(dev)); \
		if ((r = real_##name(dev)) == CUDA_SUCCESS) \
			primary_released(dev, (reset)); \
		return r; \
	}

PRIMARY_TEARDOWN(cuDevicePrimaryCtxRelease_v2, 0)
PRIMARY_TEARDOWN(cuDevicePrimaryCtxRelease, 0)
PRIMARY_TEARDOWN(cuDevicePrimaryCtxReset_v2, 1)
PRIMARY_TEARDOWN(cuDevicePrimaryCtxReset, 1)
