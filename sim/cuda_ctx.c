/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Contexts: primary contexts (refcounted per device) and created ones, the
 * per-thread current-context stack, and the memory a context costs.
 */
#include <stdlib.h>

#include "cuda_local.h"

#define CTX_STACK 32

static __thread struct CUctx_st *ctx_stack[CTX_STACK];
static __thread int ctx_depth;
static struct CUctx_st prim[SIM_MAX_DEVICES]; /* by ordinal */
static unsigned int prim_refs[SIM_MAX_DEVICES];

struct CUctx_st *cu_current(void)
{
	return ctx_depth ? ctx_stack[ctx_depth - 1] : NULL;
}

int cu_ctx_valid(CUcontext c)
{
	return c && c->magic == CU_MAGIC_CTX && c->alive;
}

CUresult cu_current_ctx(struct CUctx_st **out)
{
	struct CUctx_st *c;
	if (!cu_ready())
		return CUDA_ERROR_NOT_INITIALIZED;
	c = cu_current();
	if (!cu_ctx_valid(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	*out = c;
	return CUDA_SUCCESS;
}

/* Destroys c's resources: its allocations and the memory it costs. */
static void ctx_teardown(struct CUctx_st *c)
{
	cu_mem_free_ctx(c);
	sim_uncharge(c->phys, sim_st->ctx_memory, 1);
	c->alive = 0;
}

/* Drops c from this thread's stack (other threads keep a dead handle). */
static void unstack(struct CUctx_st *c)
{
	int j = 0;
	for (int i = 0; i < ctx_depth; i++)
		if (ctx_stack[i] != c)
			ctx_stack[j++] = ctx_stack[i];
	ctx_depth = j;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cu_mu);
	if (!prim_refs[dev]) {
		prim[dev].magic = CU_MAGIC_CTX;
		prim[dev].ordinal = dev;
		prim[dev].phys = cu_vis[dev];
		prim[dev].primary = 1;
		if (sim_charge(cu_vis[dev], sim_st->ctx_memory, 1) < 0)
			r = CUDA_ERROR_OUT_OF_MEMORY;
		else
			prim[dev].alive = 1;
	}
	if (!r) {
		prim_refs[dev]++;
		*pctx = &prim[dev];
	}
	pthread_mutex_unlock(&cu_mu);
	return r;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	pthread_mutex_lock(&cu_mu);
	if (!prim_refs[dev])
		r = CUDA_ERROR_INVALID_CONTEXT;
	else if (--prim_refs[dev] == 0 && prim[dev].alive)
		ctx_teardown(&prim[dev]);
	pthread_mutex_unlock(&cu_mu);
	return r;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
	return cuDevicePrimaryCtxRelease_v2(dev);
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	pthread_mutex_lock(&cu_mu);
	if (prim[dev].alive)
		ctx_teardown(&prim[dev]);
	prim_refs[dev] = 0;
	prim[dev].flags = 0;
	pthread_mutex_unlock(&cu_mu);
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
	return cuDevicePrimaryCtxReset_v2(dev);
}

CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!flags || !active)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cu_mu);
	*flags = prim[dev].flags;
	*active = prim[dev].alive;
	pthread_mutex_unlock(&cu_mu);
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	prim[dev].flags = flags;
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
	return cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}

CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	struct CUctx_st *c;
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	if (ctx_depth == CTX_STACK)
		return CUDA_ERROR_UNKNOWN;
	c = calloc(1, sizeof *c);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	c->magic = CU_MAGIC_CTX;
	c->ordinal = dev;
	c->phys = cu_vis[dev];
	c->flags = flags;
	if (sim_charge(c->phys, sim_st->ctx_memory, 1) < 0) {
		free(c);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	c->alive = 1;
	ctx_stack[ctx_depth++] = c; /* the new context becomes current */
	*pctx = c;
	return CUDA_SUCCESS;
}

CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	return cuCtxCreate_v2(pctx, flags, dev);
}

CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
			unsigned int flags, CUdevice dev)
{
	if (numParams < 0 || (numParams && !paramsArray))
		return CUDA_ERROR_INVALID_VALUE;
	return cuCtxCreate_v2(pctx, flags, dev);
}

CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags,
			CUdevice dev)
{
	(void)ctxCreateParams;
	return cuCtxCreate_v2(pctx, flags, dev);
}

CUresult cuCtxDestroy_v2(CUcontext ctx)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!cu_ctx_valid(ctx) || ctx->primary)
		return CUDA_ERROR_INVALID_CONTEXT;
	pthread_mutex_lock(&cu_mu);
	ctx_teardown(ctx); /* the handle stays readable (dead) for other threads */
	pthread_mutex_unlock(&cu_mu);
	unstack(ctx);
	return CUDA_SUCCESS;
}

CUresult cuCtxDestroy(CUcontext ctx)
{
	return cuCtxDestroy_v2(ctx);
}

CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!ctx) {
		if (ctx_depth)
			ctx_depth--;
		return CUDA_SUCCESS;
	}
	if (!cu_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (ctx_depth)
		ctx_stack[ctx_depth - 1] = ctx;
	else
		ctx_stack[ctx_depth++] = ctx;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = cu_current();
	return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *device)
{
	struct CUctx_st *c;
	CUresult r = cu_current_ctx(&c);
	if (r)
		return r;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	*device = c->ordinal;
	return CUDA_SUCCESS;
}

CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!cu_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (ctx_depth == CTX_STACK)
		return CUDA_ERROR_UNKNOWN;
	ctx_stack[ctx_depth++] = ctx;
	return CUDA_SUCCESS;
}

CUresult cuCtxPushCurrent(CUcontext ctx)
{
	return cuCtxPushCurrent_v2(ctx);
}

CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!ctx_depth)
		return CUDA_ERROR_INVALID_CONTEXT;
	ctx_depth--;
	if (pctx)
		*pctx = ctx_stack[ctx_depth];
	return CUDA_SUCCESS;
}

CUresult cuCtxPopCurrent(CUcontext *pctx)
{
	return cuCtxPopCurrent_v2(pctx);
}

CUresult cuCtxSynchronize(void)
{
	struct CUctx_st *c;
	uint64_t end;
	CUresult r = cu_current_ctx(&c);
	if (r)
		return r;
	pthread_mutex_lock(&cu_mu);
	end = cu_dev_last_end[c->phys];
	pthread_mutex_unlock(&cu_mu);
	sim_sleep_until(end);
	return CUDA_SUCCESS;
}
