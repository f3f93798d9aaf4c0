/*
 * The hooked entry points, as X-macros: X(name, parameter list).  real.c
 * turns each list into a typed pointer real_<name> to the driver's function
 * and an identity table (driver pointer -> hook) that dlsym and
 * cuGetProcAddress use to substitute hooks.  Every CUDA hook returns
 * CUresult, every NVML hook nvmlReturn_t.
 */
#ifndef SOFTMIG_HOOKS_H
#define SOFTMIG_HOOKS_H

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
	X(cuCtxSynchronize, (void))

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

#define SM_DECLARE_CUDA(name, params) \
	extern hidden CUresult (*real_##name) params; \
	SOFTMIG_EXPORT CUresult name params;
#define SM_DECLARE_CUDA_REAL(name, params) extern hidden CUresult (*real_##name) params;
#define SM_DECLARE_NVML(name, params) \
	extern hidden nvmlReturn_t (*real_##name) params; \
	SOFTMIG_EXPORT nvmlReturn_t name params;
#define SM_DECLARE_NVML_REAL(name, params) extern hidden nvmlReturn_t (*real_##name) params;

SM_CUDA_HOOKS(SM_DECLARE_CUDA)
SM_CUDA_REAL(SM_DECLARE_CUDA_REAL)
SM_NVML_HOOKS(SM_DECLARE_NVML)
SM_NVML_REAL(SM_DECLARE_NVML_REAL)

/* Resolve the tables (idempotent). load: dlopen the library if it is not
 * loaded yet.  Return 0 when resolved. */
hidden int sm_real_cuda(int load);
hidden int sm_real_nvml(int load);
hidden void *sm_real_dlsym(void *handle, const char *name);
/* Whether the libc functions the library needs resolve (glibc_compat.h):
 * 0, else -1 and why. */
hidden int sm_real_libs(char *why, size_t len);

/*
 * The prologues of the hooks: what a hook does in each mode, in one place.
 * Passive, re-entered (the library's own calls) or not initialised (a call
 * during the initialisation itself): the driver's answer.  Fail-closed: the
 * error below, for CUDA, NVML and launches alike.
 */
#define SM_CU_DENIED CUDA_ERROR_NOT_PERMITTED
#define SM_NVML_DENIED NVML_ERROR_NO_PERMISSION

#define SM_PASS_OR(call, denied) \
	do { \
		if (unlikely(sm_depth > 0) || unlikely(!sm_init()) || sm_mode == SM_PASSIVE) \
			return (call); \
		if (unlikely(sm_mode == SM_FAILCLOSED)) \
			return (denied); \
	} while (0)
#define SM_PASS(call) SM_PASS_OR(call, SM_CU_DENIED)
#define SM_NVML_PASS(call) SM_PASS_OR(call, SM_NVML_DENIED)

/* A launch's fast path reads sm_mode alone: once active, the compute gate
 * (throttle.h) is the only work; the launch itself is realcall. */
#define SM_LAUNCH_PASS(realcall) \
	do { \
		if (unlikely(sm_mode != SM_ACTIVE)) { \
			if (sm_init() && sm_mode == SM_FAILCLOSED) \
				return SM_CU_DENIED; \
			return (realcall); \
		} \
	} while (0)

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
