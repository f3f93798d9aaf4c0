/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A "null driver": a libcuda.so.1 whose calls do nothing but succeed, so
 * that a benchmark run against it measures libsoftmig.so's own cost per
 * call, free of a driver's (and of the simulator's) noise.  Only the entry
 * points the benchmarks and the library use exist.
 */
#include <stdint.h>
#include <string.h>

#include "cuda_abi.h"

#define EXPORT __attribute__((visibility("default")))

static CUdeviceptr next_ptr = 0x7f0000000000ULL;
static int ctx_token;

EXPORT CUresult cuInit(unsigned int flags) { (void)flags; return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGet(CUdevice *d, int i) { *d = i; return CUDA_SUCCESS; }
EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) { (void)d; *c = (CUcontext)&ctx_token; return CUDA_SUCCESS; }
EXPORT CUresult cuCtxSetCurrent(CUcontext c) { (void)c; return CUDA_SUCCESS; }
EXPORT CUresult cuCtxCreate_v2(CUcontext *c, unsigned int f, CUdevice d) { (void)f; (void)d; *c = (CUcontext)&ctx_token; return CUDA_SUCCESS; }
EXPORT CUresult cuCtxDestroy_v2(CUcontext c) { (void)c; return CUDA_SUCCESS; }
EXPORT CUresult cuCtxGetCurrent(CUcontext *c) { *c = (CUcontext)&ctx_token; return CUDA_SUCCESS; }
EXPORT CUresult cuCtxGetDevice(CUdevice *d) { *d = 0; return CUDA_SUCCESS; }
EXPORT CUresult cuCtxSynchronize(void) { return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGetUuid(CUuuid *u, CUdevice d) { memset(u->bytes, 0x5a, 16); u->bytes[0] = (char)d; return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *u, CUdevice d) { return cuDeviceGetUuid(u, d); }
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) { *p = __atomic_fetch_add(&next_ptr, (n + 4095) & ~(size_t)4095, __ATOMIC_RELAXED); return CUDA_SUCCESS; }
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) { (void)p; return CUDA_SUCCESS; }
EXPORT CUresult cuModuleLoad(CUmodule *m, const char *f) { (void)f; *m = (CUmodule)&ctx_token; return CUDA_SUCCESS; }
EXPORT CUresult cuModuleGetFunction(CUfunction *fn, CUmodule m, const char *n) { (void)m; (void)n; *fn = (CUfunction)&ctx_token; return CUDA_SUCCESS; }
EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
			       unsigned int by, unsigned int bz, unsigned int shmem, CUstream s, void **params,
			       void **extra)
{
	(void)f; (void)gx; (void)gy; (void)gz; (void)bx; (void)by; (void)bz; (void)shmem; (void)s; (void)params; (void)extra;
	return CUDA_SUCCESS;
}
