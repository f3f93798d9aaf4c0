/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver's (and NVML's) functions, resolved by real.c alone: the
 * lists of the hooked ones and of those the library only calls, as
 * X-macros X(name, parameter list), and a typed pointer real_<name> to
 * each.  Every CUDA function returns CUresult, every NVML one
 * nvmlReturn_t; a NULL pointer is one the driver lacks.
 */
#ifndef SOFTMIG_REAL_H
#define SOFTMIG_REAL_H

#include "cuda_abi.h"
#include "softmig.h"

#define SM_CUDA_HOOKS(X) \
	X(cuInit, (unsigned int flags)) \
	X(cuGetProcAddress, (const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)) \
	X(cuGetProcAddress_v2, (const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags, \
				CUdriverProcAddressQueryResult *symbolStatus)) \
	X(cuMemAlloc_v2, (CUdeviceptr *dptr, size_t bytesize)) \
	X(cuMemAlloc, (CUdeviceptr_v1 *dptr, unsigned int bytesize)) \
	X(cuMemAllocPitch_v2, (CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height, \
			       unsigned int elementSize)) \
	X(cuMemAllocPitch, (CUdeviceptr_v1 *dptr, unsigned int *pitch, unsigned int width, \
			    unsigned int height, unsigned int elementSize)) \
	X(cuMemAllocManaged, (CUdeviceptr *dptr, size_t bytesize, unsigned int flags)) \
	X(cuMemAllocAsync, (CUdeviceptr *dptr, size_t bytesize, CUstream stream)) \
	X(cuMemAllocAsync_ptsz, (CUdeviceptr *dptr, size_t bytesize, CUstream stream)) \
	X(cuMemAllocFromPoolAsync, (CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream stream)) \
	X(cuMemAllocFromPoolAsync_ptsz, (CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, \
					 CUstream stream)) \
	X(cuMemFree_v2, (CUdeviceptr dptr)) \
	X(cuMemFree, (CUdeviceptr_v1 dptr)) \
	X(cuMemFreeAsync, (CUdeviceptr dptr, CUstream stream)) \
	X(cuMemFreeAsync_ptsz, (CUdeviceptr dptr, CUstream stream)) \
	X(cuMemCreate, (CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop, \
			unsigned long long flags)) \
	X(cuMemRelease, (CUmemGenericAllocationHandle handle)) \
	X(cuArrayCreate_v2, (CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *desc)) \
	X(cuArrayCreate, (CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *desc)) \
	X(cuArray3DCreate_v2, (CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc)) \
	X(cuArray3DCreate, (CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *desc)) \
	X(cuArrayDestroy, (CUarray hArray)) \
	X(cuMipmappedArrayCreate, (CUmipmappedArray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc, \
				   unsigned int numLevels)) \
	X(cuMipmappedArrayDestroy, (CUmipmappedArray hMipmappedArray)) \
	X(cuGraphAddMemAllocNode, (CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *deps, \
				   size_t numDeps, CUDA_MEM_ALLOC_NODE_PARAMS *params)) \
	X(cuGraphDestroy, (CUgraph hGraph)) \
	X(cuMemGetInfo_v2, (size_t *free, size_t *total)) \
	X(cuMemGetInfo, (unsigned int *free, unsigned int *total)) \
	X(cuDeviceTotalMem_v2, (size_t *bytes, CUdevice dev)) \
	X(cuDeviceTotalMem, (unsigned int *bytes, CUdevice dev)) \
	X(cuDevicePrimaryCtxRetain, (CUcontext *pctx, CUdevice dev)) \
	X(cuDevicePrimaryCtxRelease_v2, (CUdevice dev)) \
	X(cuDevicePrimaryCtxRelease, (CUdevice dev)) \
	X(cuDevicePrimaryCtxReset_v2, (CUdevice dev)) \
	X(cuDevicePrimaryCtxReset, (CUdevice dev)) \
	X(cuCtxCreate_v2, (CUcontext *pctx, unsigned int flags, CUdevice dev)) \
	X(cuCtxCreate, (CUcontext *pctx, unsigned int flags, CUdevice dev)) \
	X(cuCtxCreate_v3, (CUcontext *pctx, CUexecAffinityParam *params, int numParams, \
			   unsigned int flags, CUdevice dev)) \
	X(cuCtxCreate_v4, (CUcontext *pctx, CUctxCreateParams *params, unsigned int flags, CUdevice dev)) \
	X(cuCtxDestroy_v2, (CUcontext ctx)) \
	X(cuCtxDestroy, (CUcontext ctx)) \
	X(cuLaunchKernel, (CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, \
			   unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem, \
			   CUstream stream, void **params, void **extra)) \
	X(cuLaunchKernel_ptsz, (CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, \
				unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem, \
				CUstream stream, void **params, void **extra)) \
	X(cuLaunchKernelEx, (const CUlaunchConfig *config, CUfunction f, void **params, void **extra)) \
	X(cuLaunchKernelEx_ptsz, (const CUlaunchConfig *config, CUfunction f, void **params, void **extra)) \
	X(cuLaunchCooperativeKernel, (CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, \
				      unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem, \
				      CUstream stream, void **params)) \
	X(cuLaunchCooperativeKernel_ptsz, (CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, \
					   unsigned int bx, unsigned int by, unsigned int bz, \
					   unsigned int shmem, CUstream stream, void **params)) \
	X(cuGraphLaunch, (CUgraphExec exec, CUstream stream)) \
	X(cuGraphLaunch_ptsz, (CUgraphExec exec, CUstream stream))

/* Driver functions the library calls but does not hook. */
#define SM_CUDA_REAL(X) \
	X(cuCtxGetDevice, (CUdevice *dev)) \
	X(cuCtxGetCurrent, (CUcontext *pctx)) \
	X(cuDevicePrimaryCtxGetState, (CUdevice dev, unsigned int *flags, int *active)) \
	X(cuDeviceGetUuid, (CUuuid *uuid, CUdevice dev)) \
	X(cuDeviceGetUuid_v2, (CUuuid *uuid, CUdevice dev)) \
	X(cuDeviceGetCount, (int *count)) \
	X(cuStreamSynchronize, (CUstream stream)) \
	X(cuStreamQuery, (CUstream stream)) \
	X(cuStreamIsCapturing, (CUstream stream, int *status)) \
	X(cuCtxSynchronize, (void)) \
	X(cuEventCreate, (CUevent *ev, unsigned int flags)) \
	X(cuEventRecord, (CUevent ev, CUstream stream)) \
	X(cuEventQuery, (CUevent ev)) \
	X(cuEventSynchronize, (CUevent ev)) \
	X(cuEventElapsedTime, (float *ms, CUevent start, CUevent end)) \
	X(cuThreadExchangeStreamCaptureMode, (int *mode))

#define SM_NVML_HOOKS(X) \
	X(nvmlInit_v2, (void)) \
	X(nvmlInit, (void)) \
	X(nvmlInitWithFlags, (unsigned int flags)) \
	X(nvmlDeviceGetMemoryInfo, (nvmlDevice_t device, nvmlMemory_t *memory)) \
	X(nvmlDeviceGetMemoryInfo_v2, (nvmlDevice_t device, nvmlMemory_v2_t *memory)) \
	X(nvmlDeviceGetComputeRunningProcesses, (nvmlDevice_t device, unsigned int *count, \
						 nvmlProcessInfo_v1_t *infos)) \
	X(nvmlDeviceGetComputeRunningProcesses_v2, (nvmlDevice_t device, unsigned int *count, \
						    nvmlProcessInfo_t *infos)) \
	X(nvmlDeviceGetComputeRunningProcesses_v3, (nvmlDevice_t device, unsigned int *count, \
						    nvmlProcessInfo_t *infos)) \
	X(nvmlDeviceGetGraphicsRunningProcesses, (nvmlDevice_t device, unsigned int *count, \
						  nvmlProcessInfo_v1_t *infos)) \
	X(nvmlDeviceGetGraphicsRunningProcesses_v2, (nvmlDevice_t device, unsigned int *count, \
						     nvmlProcessInfo_t *infos)) \
	X(nvmlDeviceGetGraphicsRunningProcesses_v3, (nvmlDevice_t device, unsigned int *count, \
						     nvmlProcessInfo_t *infos))

#define SM_NVML_REAL(X) \
	X(nvmlDeviceGetHandleByUUID, (const char *uuid, nvmlDevice_t *device)) \
	X(nvmlDeviceGetUUID, (nvmlDevice_t device, char *uuid, unsigned int length)) \
	X(nvmlDeviceGetIndex, (nvmlDevice_t device, unsigned int *index))

#define SM_DECLARE_REAL_CUDA(name, params) extern hidden CUresult (*real_##name) params;
#define SM_DECLARE_REAL_NVML(name, params) extern hidden nvmlReturn_t (*real_##name) params;
SM_CUDA_HOOKS(SM_DECLARE_REAL_CUDA)
SM_CUDA_REAL(SM_DECLARE_REAL_CUDA)
SM_NVML_HOOKS(SM_DECLARE_REAL_NVML)
SM_NVML_REAL(SM_DECLARE_REAL_NVML)

/* Resolve the tables (idempotent). load: dlopen the library if it is not
 * loaded yet.  Return 0 when resolved. */
hidden int sm_real_cuda(int load);
hidden int sm_real_nvml(int load);
/* The real dlsym (dlsym.S calls sm_real_dlsym_resolve before the first). */
hidden void *sm_real_dlsym(void *handle, const char *name);
hidden void *sm_real_dlsym_resolve(void);
/* Whether the libc functions the library needs resolve (glibc_compat.h):
 * 0, else -1 and why. */
hidden int sm_real_libs(char *why, size_t len);

#define SM_NEED_REAL(name) \
	do { \
		if (unlikely(real_##name == NULL) && (sm_real_cuda(1) != 0 || real_##name == NULL)) \
			return CUDA_ERROR_NOT_INITIALIZED; \
	} while (0)

#define SM_NEED_NVML(name) \
	do { \
		if (unlikely(real_##name == NULL) && (sm_real_nvml(1) != 0 || real_##name == NULL)) \
			return NVML_ERROR_FUNCTION_NOT_FOUND; \
	} while (0)

#endif
