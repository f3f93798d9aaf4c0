/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cuGetProcAddress: the driver's symbol query.  The table maps a base name
 * to its implementations, each with the CUDA version (cuda.h's 1000 * major
 * + 10 * minor) that introduced it and, where one exists, the per-thread
 * default stream variant.  Every pointer is the exported symbol itself.
 */
#include <string.h>

#include "cuda_local.h"

struct proc {
	const char *name;
	int version;
	void *fn;
	void *ptsz;
};

#define E(name, ver, fn) {name, ver, (void *)fn, NULL}
#define P(name, ver, fn, ptsz) {name, ver, (void *)fn, (void *)ptsz}

/* Grouped by name, versions ascending within a name. */
static const struct proc procs[] = {
	E("cuInit", 2000, cuInit),
	E("cuDriverGetVersion", 2020, cuDriverGetVersion),
	E("cuDeviceGet", 2000, cuDeviceGet),
	E("cuDeviceGetCount", 2000, cuDeviceGetCount),
	E("cuDeviceGetName", 2000, cuDeviceGetName),
	E("cuDeviceGetUuid", 9020, cuDeviceGetUuid),
	E("cuDeviceGetUuid", 11040, cuDeviceGetUuid_v2),
	E("cuDeviceTotalMem", 2000, cuDeviceTotalMem),
	E("cuDeviceTotalMem", 3020, cuDeviceTotalMem_v2),
	E("cuDeviceGetAttribute", 2000, cuDeviceGetAttribute),
	E("cuDeviceGetPCIBusId", 4010, cuDeviceGetPCIBusId),
	E("cuDeviceGetByPCIBusId", 4010, cuDeviceGetByPCIBusId),
	E("cuDevicePrimaryCtxRetain", 7000, cuDevicePrimaryCtxRetain),
	E("cuDevicePrimaryCtxRelease", 7000, cuDevicePrimaryCtxRelease),
	E("cuDevicePrimaryCtxRelease", 11000, cuDevicePrimaryCtxRelease_v2),
	E("cuDevicePrimaryCtxReset", 7000, cuDevicePrimaryCtxReset),
	E("cuDevicePrimaryCtxReset", 11000, cuDevicePrimaryCtxReset_v2),
	E("cuDevicePrimaryCtxSetFlags", 7000, cuDevicePrimaryCtxSetFlags),
	E("cuDevicePrimaryCtxSetFlags", 11000, cuDevicePrimaryCtxSetFlags_v2),
	E("cuDevicePrimaryCtxGetState", 7000, cuDevicePrimaryCtxGetState),
	E("cuCtxCreate", 2000, cuCtxCreate),
	E("cuCtxCreate", 3020, cuCtxCreate_v2),
	E("cuCtxCreate", 11040, cuCtxCreate_v3),
	E("cuCtxCreate", 12050, cuCtxCreate_v4),
	E("cuCtxDestroy", 2000, cuCtxDestroy),
	E("cuCtxDestroy", 4000, cuCtxDestroy_v2),
	E("cuCtxSetCurrent", 4000, cuCtxSetCurrent),
	E("cuCtxGetCurrent", 4000, cuCtxGetCurrent),
	E("cuCtxGetDevice", 2000, cuCtxGetDevice),
	E("cuCtxPushCurrent", 2000, cuCtxPushCurrent),
	E("cuCtxPushCurrent", 4000, cuCtxPushCurrent_v2),
	E("cuCtxPopCurrent", 2000, cuCtxPopCurrent),
	E("cuCtxPopCurrent", 4000, cuCtxPopCurrent_v2),
	E("cuCtxSynchronize", 2000, cuCtxSynchronize),
	E("cuMemGetInfo", 2000, cuMemGetInfo),
	E("cuMemGetInfo", 3020, cuMemGetInfo_v2),
	E("cuMemAlloc", 2000, cuMemAlloc),
	E("cuMemAlloc", 3020, cuMemAlloc_v2),
	E("cuMemAllocPitch", 2000, cuMemAllocPitch),
	E("cuMemAllocPitch", 3020, cuMemAllocPitch_v2),
	E("cuMemAllocManaged", 6000, cuMemAllocManaged),
	E("cuMemFree", 2000, cuMemFree),
	E("cuMemFree", 3020, cuMemFree_v2),
	E("cuMemGetAddressRange", 3020, cuMemGetAddressRange_v2),
	P("cuMemAllocAsync", 11020, cuMemAllocAsync, cuMemAllocAsync_ptsz),
	P("cuMemAllocFromPoolAsync", 11020, cuMemAllocFromPoolAsync, cuMemAllocFromPoolAsync_ptsz),
	P("cuMemFreeAsync", 11020, cuMemFreeAsync, cuMemFreeAsync_ptsz),
	E("cuMemPoolCreate", 11020, cuMemPoolCreate),
	E("cuMemPoolDestroy", 11020, cuMemPoolDestroy),
	E("cuMemPoolTrimTo", 11020, cuMemPoolTrimTo),
	E("cuDeviceGetDefaultMemPool", 11020, cuDeviceGetDefaultMemPool),
	E("cuDeviceGetMemPool", 11020, cuDeviceGetMemPool),
	E("cuMemCreate", 10020, cuMemCreate),
	E("cuMemRelease", 10020, cuMemRelease),
	E("cuMemGetAllocationGranularity", 10020, cuMemGetAllocationGranularity),
	E("cuMemAddressReserve", 10020, cuMemAddressReserve),
	E("cuMemAddressFree", 10020, cuMemAddressFree),
	E("cuMemMap", 10020, cuMemMap),
	E("cuMemUnmap", 10020, cuMemUnmap),
	E("cuMemSetAccess", 10020, cuMemSetAccess),
	E("cuArrayCreate", 2000, cuArrayCreate),
	E("cuArrayCreate", 3020, cuArrayCreate_v2),
	E("cuArray3DCreate", 2000, cuArray3DCreate),
	E("cuArray3DCreate", 3020, cuArray3DCreate_v2),
	E("cuArrayDestroy", 2000, cuArrayDestroy),
	E("cuMipmappedArrayCreate", 5000, cuMipmappedArrayCreate),
	E("cuMipmappedArrayDestroy", 5000, cuMipmappedArrayDestroy),
	E("cuMemcpyHtoD", 2000, cuMemcpyHtoD),
	P("cuMemcpyHtoD", 3020, cuMemcpyHtoD_v2, cuMemcpyHtoD_v2_ptds),
	E("cuMemcpyDtoH", 2000, cuMemcpyDtoH),
	P("cuMemcpyDtoH", 3020, cuMemcpyDtoH_v2, cuMemcpyDtoH_v2_ptds),
	E("cuModuleLoad", 2000, cuModuleLoad),
	E("cuModuleLoadData", 2000, cuModuleLoadData),
	E("cuModuleGetFunction", 2000, cuModuleGetFunction),
	E("cuModuleUnload", 2000, cuModuleUnload),
	P("cuLaunchKernel", 4000, cuLaunchKernel, cuLaunchKernel_ptsz),
	P("cuLaunchKernelEx", 11060, cuLaunchKernelEx, cuLaunchKernelEx_ptsz),
	P("cuLaunchCooperativeKernel", 9000, cuLaunchCooperativeKernel,
	  cuLaunchCooperativeKernel_ptsz),
	E("cuStreamCreate", 2000, cuStreamCreate),
	E("cuStreamCreateWithPriority", 5050, cuStreamCreateWithPriority),
	E("cuStreamDestroy", 2000, cuStreamDestroy),
	E("cuStreamDestroy", 4000, cuStreamDestroy_v2),
	P("cuStreamSynchronize", 2000, cuStreamSynchronize, cuStreamSynchronize_ptsz),
	P("cuStreamQuery", 2000, cuStreamQuery, cuStreamQuery_ptsz),
	E("cuEventCreate", 2000, cuEventCreate),
	P("cuEventRecord", 2000, cuEventRecord, cuEventRecord_ptsz),
	E("cuEventQuery", 2000, cuEventQuery),
	E("cuEventSynchronize", 2000, cuEventSynchronize),
	E("cuEventElapsedTime", 2000, cuEventElapsedTime),
	E("cuEventDestroy", 2000, cuEventDestroy),
	E("cuEventDestroy", 4000, cuEventDestroy_v2),
	E("cuGraphCreate", 10000, cuGraphCreate),
	E("cuGraphAddKernelNode", 10000, cuGraphAddKernelNode),
	E("cuGraphAddKernelNode", 12000, cuGraphAddKernelNode_v2),
	E("cuGraphAddMemAllocNode", 11040, cuGraphAddMemAllocNode),
	E("cuGraphAddMemFreeNode", 11040, cuGraphAddMemFreeNode),
	E("cuGraphInstantiate", 10000, cuGraphInstantiate),
	E("cuGraphInstantiate", 11000, cuGraphInstantiate_v2),
	E("cuGraphInstantiate", 12000, cuGraphInstantiateWithFlags),
	E("cuGraphInstantiateWithFlags", 11040, cuGraphInstantiateWithFlags),
	P("cuGraphLaunch", 10000, cuGraphLaunch, cuGraphLaunch_ptsz),
	E("cuGraphExecDestroy", 10000, cuGraphExecDestroy),
	E("cuGraphDestroy", 10000, cuGraphDestroy),
	E("cuGetErrorString", 6000, cuGetErrorString),
	E("cuGetErrorName", 6000, cuGetErrorName),
	E("cuGetProcAddress", 11030, cuGetProcAddress),
	E("cuGetProcAddress", 12000, cuGetProcAddress_v2),
};

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
			     CUdriverProcAddressQueryResult *symbolStatus)
{
	const struct proc *best = NULL;
	int known = 0;

	if (!symbol || !pfn || flags > CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++) {
		if (strcmp(procs[i].name, symbol))
			continue;
		known = 1;
		if (procs[i].version <= cudaVersion)
			best = &procs[i];
	}
	if (!best) {
		if (symbolStatus)
			*symbolStatus = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
					      : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
		return CUDA_ERROR_NOT_FOUND;
	}
	*pfn = flags == CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM && best->ptsz ? best->ptsz
										       : best->fn;
	if (symbolStatus)
		*symbolStatus = CU_GET_PROC_ADDRESS_SUCCESS;
	return CUDA_SUCCESS;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, NULL);
}
