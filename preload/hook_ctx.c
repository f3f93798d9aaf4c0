/*
 * Context hooks.  A context costs device memory the program never asked
 * for (hundreds of MiB on a big GPU); the library measures it through
 * NVML around the driver call and charges it to the process.  A new
 * context reserves the largest context size seen on the device (or a
 * default) before the driver creates it, and is refused when the slice
 * cannot hold that; the reservation is settled to the measured size.  Destroying a context frees what was allocated
 * in it, so those allocations are credited back too.
 */
#include <unistd.h>

#include "hooks.h"

static uint64_t primary[SM_MAX_DEVICES]; /* primary context of each ordinal */

/* What a context is assumed to cost before one was measured on the
 * device: about what CUDA 12/13 take on a large GPU. */
#define CTX_DEFAULT_RESERVE (512ULL << 20)

/* Replaces the reservation by what the context really cost (measured
 * bytes of context memory of this process on d), or gives it back when
 * the driver created nothing; measured < 0 (NVML silent) keeps it. */
static void ctx_settle(int d, uint64_t reserved, int64_t measured, int created)
{
	struct sm_dev *dv = &sm_region->devs[d];
	struct sm_proc *me;
	uint64_t old, base, nv;

	if (sm_region_lock() != 0)
		return;
	me = &sm_region->procs[sm_slot];
	old = me->ctx[d];
	base = old > reserved ? old - reserved : 0;
	nv = !created ? base : measured < 0 ? old : (uint64_t)measured;
	me->ctx[d] = nv;
	dv->tracked = (dv->tracked > old ? dv->tracked - old : 0) + nv;
	if (created && measured >= 0 && nv > base && nv - base > dv->ctx_estimate)
		dv->ctx_estimate = nv - base;
	if (dv->tracked + dv->excess > dv->peak)
		dv->peak = dv->tracked + dv->excess;
	sm_region_unlock();
}

/* A sliced job whose memory NVML cannot count fails closed: one line on
 * stderr, once. */
static CUresult nvml_missing(CUdevice dev, const char *api)
{
	static int told;
	static const char line[] = "softmig: GPU disabled for this process: NVML (libnvidia-ml.so.1 beside the "
				   "driver's libcuda.so.1) does not work, so the job's GPU memory cannot be "
				   "counted; contact your cluster administrators\n";

	if (!__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED)) {
		if (write(STDERR_FILENO, line, sizeof(line) - 1) < 0) {
			/* stderr closed: the log has it */
		}
		sm_log(SM_ERROR, dev, "nvml unavailable", "api=%s", api);
	}
	return SM_CU_DENIED;
}

/* Admission before the driver creates a context on dev: reserves the
 * largest context seen on the device (or the default) in *reserved. */
static CUresult ctx_admit(CUdevice dev, const char *api, int *d, uint64_t *reserved)
{
	uint64_t limit = sm_mem_limit(dev), est, used = 0;

	*d = -1;
	*reserved = 0;
	if (!limit)
		return CUDA_SUCCESS;
	sm_depth++;
	if (!sm_dev_nvml(dev)) {
		sm_depth--;
		return nvml_missing(dev, api);
	}
	if (sm_region_register() != 0 || (*d = sm_dev_slot(dev)) < 0) {
		sm_depth--;
		*d = -1;
		return CUDA_SUCCESS; /* no device slot: the allocations will fail closed */
	}
	sm_note_device(dev, *d);
	est = __atomic_load_n(&sm_region->devs[*d].ctx_estimate, __ATOMIC_RELAXED);
	if (!est)
		est = CTX_DEFAULT_RESERVE;
	/* What this process itself last saw from NVML must leave room too.  A
	 * process of the job that was killed must not lock the job out: its
	 * place is reclaimed, and NVML re-read, before a context is refused. */
	if ((!sm_check_fits(*d, est, limit, &used) || sm_reserve_ctx(*d, est, limit, &used) != 0) &&
	    (sm_reclaim(*d, dev), !sm_check_fits(*d, est, limit, &used) ||
				    sm_reserve_ctx(*d, est, limit, &used) != 0)) {
		sm_depth--;
		sm_log_refusal(dev, api, est, used, limit);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	sm_depth--;
	*reserved = est;
	return CUDA_SUCCESS;
}

/* After the driver call: the context's real cost replaces the reservation. */
static void ctx_created(CUdevice dev, int d, uint64_t reserved, int created)
{
	int64_t self = -1, measured = -1;

	if (d < 0 || sm_slot < 0)
		return;
	if (created) {
		sm_depth++;
		self = sm_nvml_self_used(dev);
		sm_depth--;
	}
	if (self >= 0) {
		uint64_t mine = sm_region->procs[sm_slot].used[d];
		measured = (uint64_t)self > mine ? self - (int64_t)mine : 0;
	}
	ctx_settle(d, reserved, measured, created);
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
		uint64_t res_; \
		CUresult r_ = ctx_admit((dev), (api), &d_, &res_); \
		if (r_ != CUDA_SUCCESS) \
			return r_; \
		r_ = (realcall); \
		ctx_created((dev), d_, res_, r_ == CUDA_SUCCESS); \
		return r_; \
	} while (0)

SOFTMIG_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	int d;
	uint64_t reserved;
	CUresult r;

	SM_NEED_REAL(cuDevicePrimaryCtxRetain);
	SM_PASS(real_cuDevicePrimaryCtxRetain(pctx, dev));
	if ((r = ctx_admit(dev, "cuDevicePrimaryCtxRetain", &d, &reserved)) != CUDA_SUCCESS)
		return r;
	r = real_cuDevicePrimaryCtxRetain(pctx, dev);
	if (r == CUDA_SUCCESS && dev >= 0 && dev < SM_MAX_DEVICES)
		primary[dev] = (uint64_t)(uintptr_t)*pctx;
	ctx_created(dev, d, reserved, r == CUDA_SUCCESS);
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
