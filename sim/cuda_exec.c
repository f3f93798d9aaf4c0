/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Execution: modules and functions, streams, events and kernel launches.
 * A kernel named "busy" runs for *(uint64_t *)kernelParams[0] microseconds,
 * any other for 5 us; devices run one kernel at a time (state_time.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_local.h"

#define DEFAULT_KERNEL_NS 5000ULL
#define QUEUE_DEPTH 1024

uint64_t cu_dev_last_end[SIM_MAX_DEVICES];

struct CUfunc_st {
	uint32_t magic;
	int busy;
	struct CUfunc_st *next;
	char name[];
};

struct CUmod_st {
	uint32_t magic;
	struct CUfunc_st *funcs;
};

struct CUevent_st {
	uint32_t magic;
	unsigned int flags;
	int recorded;
	uint64_t t; /* simulated completion time of the recorded work */
};

/* Ends of this process's outstanding launches, oldest first. */
static uint64_t queue[QUEUE_DEPTH];
static unsigned int q_head, q_count;

/* ---- modules ---- */

static CUresult module_new(CUmodule *module)
{
	struct CUctx_st *c;
	struct CUmod_st *m;
	CUresult r = cu_current_ctx(&c);
	if (r)
		return r;
	m = calloc(1, sizeof *m);
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	m->magic = CU_MAGIC_MOD;
	*module = m;
	return CUDA_SUCCESS;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	return module_new(module);
}

CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
	if (!module || !fname)
		return CUDA_ERROR_INVALID_VALUE;
	if (access(fname, R_OK) != 0)
		return CUDA_ERROR_FILE_NOT_FOUND;
	return module_new(module);
}

CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	struct CUfunc_st *f;
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!hfunc || !name || !hmod)
		return CUDA_ERROR_INVALID_VALUE;
	if (hmod->magic != CU_MAGIC_MOD)
		return CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_lock(&cu_mu);
	for (f = hmod->funcs; f && strcmp(f->name, name); f = f->next)
		;
	if (!f && (f = calloc(1, sizeof *f + strlen(name) + 1))) {
		f->magic = CU_MAGIC_FUNC;
		f->busy = strcmp(name, "busy") == 0;
		strcpy(f->name, name);
		f->next = hmod->funcs;
		hmod->funcs = f;
	}
	pthread_mutex_unlock(&cu_mu);
	if (!f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*hfunc = f;
	return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule hmod)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!hmod || hmod->magic != CU_MAGIC_MOD)
		return CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_lock(&cu_mu);
	hmod->magic = 0;
	for (struct CUfunc_st *f = hmod->funcs, *n; f; f = n) {
		n = f->next;
		f->magic = 0;
		free(f);
	}
	pthread_mutex_unlock(&cu_mu);
	free(hmod);
	return CUDA_SUCCESS;
}

CUresult cu_kernel_duration(CUfunction f, void **params, uint64_t *dur_ns)
{
	if (!f || f->magic != CU_MAGIC_FUNC)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!f->busy) {
		*dur_ns = DEFAULT_KERNEL_NS;
		return CUDA_SUCCESS;
	}
	if (!params || !params[0])
		return CUDA_ERROR_INVALID_VALUE;
	*dur_ns = *(const uint64_t *)params[0] * 1000ULL;
	return CUDA_SUCCESS;
}

/* ---- launches ---- */

CUresult cu_stream_resolve(CUstream s, struct CUctx_st **ctx, struct CUstream_st **obj)
{
	if (!cu_ready())
		return CUDA_ERROR_NOT_INITIALIZED;
	*obj = NULL;
	if (!s || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD)
		return cu_current_ctx(ctx);
	if (s->magic != CU_MAGIC_STREAM)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!cu_ctx_valid(s->ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	*ctx = s->ctx;
	*obj = s;
	return CUDA_SUCCESS;
}

/* A full launch queue blocks the launching thread until the oldest
 * outstanding kernel has finished, like the driver's push buffer. */
static void queue_wait(void)
{
	for (;;) {
		uint64_t now = sim_now_ns(), oldest;
		pthread_mutex_lock(&cu_mu);
		while (q_count && queue[q_head] <= now) {
			q_head = (q_head + 1) % QUEUE_DEPTH;
			q_count--;
		}
		if (q_count < QUEUE_DEPTH) {
			pthread_mutex_unlock(&cu_mu);
			return;
		}
		oldest = queue[q_head];
		pthread_mutex_unlock(&cu_mu);
		sim_sleep_until(oldest);
	}
}

uint64_t cu_launch_one(int phys, struct CUstream_st *obj, uint64_t dur_ns)
{
	uint64_t end;
	queue_wait();
	end = sim_launch(phys, dur_ns);
	pthread_mutex_lock(&cu_mu);
	if (obj && obj->last_end < end)
		obj->last_end = end;
	if (cu_dev_last_end[phys] < end)
		cu_dev_last_end[phys] = end;
	if (q_count == QUEUE_DEPTH) {
		q_head = (q_head + 1) % QUEUE_DEPTH;
		q_count--;
	}
	queue[(q_head + q_count++) % QUEUE_DEPTH] = end;
	pthread_mutex_unlock(&cu_mu);
	return end;
}

static CUresult launch(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
		       unsigned int bx, unsigned int by, unsigned int bz, CUstream s,
		       void **params)
{
	struct CUctx_st *c;
	struct CUstream_st *obj;
	uint64_t dur;
	CUresult r = cu_stream_resolve(s, &c, &obj);
	if (r)
		return r;
	if (!gx || !gy || !gz || !bx || !by || !bz || (uint64_t)bx * by * bz > 1024)
		return CUDA_ERROR_INVALID_VALUE;
	r = cu_kernel_duration(f, params, &dur);
	if (r)
		return r;
	cu_launch_one(c->phys, obj, dur);
	return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
			unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
			unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
			void **kernelParams, void **extra)
{
	(void)sharedMemBytes, (void)extra;
	return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
		      kernelParams);
}

CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
			     unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
			     unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
			     void **kernelParams, void **extra)
{
	(void)sharedMemBytes, (void)extra;
	return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
		      kernelParams);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
			  void **extra)
{
	(void)extra;
	if (!config)
		return CUDA_ERROR_INVALID_VALUE;
	return launch(f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
		      config->blockDimY, config->blockDimZ, config->hStream, kernelParams);
}

CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
			       void **extra)
{
	return cuLaunchKernelEx(config, f, kernelParams, extra);
}

CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
				   unsigned int gridDimZ, unsigned int blockDimX,
				   unsigned int blockDimY, unsigned int blockDimZ,
				   unsigned int sharedMemBytes, CUstream hStream,
				   void **kernelParams)
{
	(void)sharedMemBytes;
	return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
		      kernelParams);
}

CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX,
					unsigned int gridDimY, unsigned int gridDimZ,
					unsigned int blockDimX, unsigned int blockDimY,
					unsigned int blockDimZ, unsigned int sharedMemBytes,
					CUstream hStream, void **kernelParams)
{
	(void)sharedMemBytes;
	return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
		      kernelParams);
}

/* ---- streams ---- */

CUresult cuStreamCreate(CUstream *phStream, unsigned int flags)
{
	struct CUctx_st *c;
	struct CUstream_st *s;
	CUresult r = cu_current_ctx(&c);
	if (r)
		return r;
	if (!phStream || flags > 1) /* CU_STREAM_DEFAULT / CU_STREAM_NON_BLOCKING */
		return CUDA_ERROR_INVALID_VALUE;
	s = calloc(1, sizeof *s);
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	s->magic = CU_MAGIC_STREAM;
	s->ctx = c;
	*phStream = s;
	return CUDA_SUCCESS;
}

CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
	(void)priority;
	return cuStreamCreate(phStream, flags);
}

CUresult cuStreamDestroy_v2(CUstream hStream)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!hStream || hStream->magic != CU_MAGIC_STREAM)
		return CUDA_ERROR_INVALID_HANDLE;
	hStream->magic = 0;
	free(hStream);
	return CUDA_SUCCESS;
}

CUresult cuStreamDestroy(CUstream hStream)
{
	return cuStreamDestroy_v2(hStream);
}

static CUresult stream_end(CUstream s, uint64_t *end)
{
	struct CUctx_st *c;
	struct CUstream_st *obj;
	CUresult r = cu_stream_resolve(s, &c, &obj);
	if (r)
		return r;
	pthread_mutex_lock(&cu_mu);
	*end = obj ? obj->last_end : cu_dev_last_end[c->phys];
	pthread_mutex_unlock(&cu_mu);
	return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream hStream)
{
	uint64_t end;
	CUresult r = stream_end(hStream, &end);
	if (!r)
		sim_sleep_until(end);
	return r;
}

CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
	return cuStreamSynchronize(hStream);
}

CUresult cuStreamQuery(CUstream hStream)
{
	uint64_t end;
	CUresult r = stream_end(hStream, &end);
	if (!r && end > sim_now_ns())
		r = CUDA_ERROR_NOT_READY;
	return r;
}

CUresult cuStreamQuery_ptsz(CUstream hStream)
{
	return cuStreamQuery(hStream);
}

/* ---- events ---- */

#define CU_EVENT_DISABLE_TIMING 0x2

CUresult cuEventCreate(CUevent *phEvent, unsigned int flags)
{
	struct CUctx_st *c;
	struct CUevent_st *e;
	CUresult r = cu_current_ctx(&c);
	if (r)
		return r;
	if (!phEvent || flags > 0xf)
		return CUDA_ERROR_INVALID_VALUE;
	e = calloc(1, sizeof *e);
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	e->magic = CU_MAGIC_EVENT;
	e->flags = flags;
	*phEvent = e;
	return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
	uint64_t end, now = sim_now_ns();
	CUresult r;
	if (!hEvent || hEvent->magic != CU_MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	r = stream_end(hStream, &end);
	if (r)
		return r;
	hEvent->t = end > now ? end : now;
	hEvent->recorded = 1;
	return CUDA_SUCCESS;
}

CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
	return cuEventRecord(hEvent, hStream);
}

CUresult cuEventQuery(CUevent hEvent)
{
	if (!hEvent || hEvent->magic != CU_MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	return hEvent->recorded && hEvent->t > sim_now_ns() ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

CUresult cuEventSynchronize(CUevent hEvent)
{
	if (!hEvent || hEvent->magic != CU_MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	if (hEvent->recorded)
		sim_sleep_until(hEvent->t);
	return CUDA_SUCCESS;
}

CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
	uint64_t now = sim_now_ns();
	if (!pMilliseconds)
		return CUDA_ERROR_INVALID_VALUE;
	if (!hStart || hStart->magic != CU_MAGIC_EVENT || !hEnd || hEnd->magic != CU_MAGIC_EVENT ||
	    ((hStart->flags | hEnd->flags) & CU_EVENT_DISABLE_TIMING) || !hStart->recorded ||
	    !hEnd->recorded)
		return CUDA_ERROR_INVALID_HANDLE;
	if (hStart->t > now || hEnd->t > now)
		return CUDA_ERROR_NOT_READY;
	*pMilliseconds = (float)(((double)hEnd->t - (double)hStart->t) / 1e6);
	return CUDA_SUCCESS;
}

CUresult cuEventDestroy_v2(CUevent hEvent)
{
	if (!hEvent || hEvent->magic != CU_MAGIC_EVENT)
		return CUDA_ERROR_INVALID_HANDLE;
	hEvent->magic = 0;
	free(hEvent);
	return CUDA_SUCCESS;
}

CUresult cuEventDestroy(CUevent hEvent)
{
	return cuEventDestroy_v2(hEvent);
}
