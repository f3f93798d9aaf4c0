/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cuclient: the test client (client/client.h) with the driver linked
 * directly (-lcuda): calls go through the exported symbols, so they land
 * in libsoftmig.so's hooks when it is preloaded.
 *
 *   cuclient init dev:0 alloc:1g meminfo nvml-procs:0 hold
 */
#include "../../sim/cuda_api.h"
#include "client/client.h"

int main(int argc, char **argv)
{
	static struct client_driver drv = {
		.api = {
			cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
			cuDeviceGetUuid_v2, cuDeviceTotalMem_v2, cuDeviceGetAttribute,
			cuDeviceGetPCIBusId, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease_v2,
			cuDevicePrimaryCtxReset_v2, cuDevicePrimaryCtxGetState, cuCtxCreate_v2,
			cuCtxDestroy_v2, cuCtxSetCurrent, cuCtxSynchronize, cuMemGetInfo_v2,
			cuMemAlloc_v2, cuMemFree_v2, cuMemAlloc, cuMemFree, cuMemAllocPitch_v2,
			cuMemAllocManaged, cuMemAllocAsync, cuMemAllocFromPoolAsync, cuMemFreeAsync,
			cuDeviceGetDefaultMemPool, cuMemPoolCreate, cuMemCreate, cuMemRelease,
			cuMemAddressReserve, cuMemAddressFree, cuMemMap, cuMemUnmap, cuMemSetAccess,
			cuArrayCreate_v2, cuArray3DCreate_v2, cuArrayDestroy, cuMipmappedArrayCreate,
			cuMipmappedArrayDestroy, cuModuleLoadData, cuModuleGetFunction, cuLaunchKernel,
			cuLaunchKernelEx, cuLaunchCooperativeKernel, cuStreamCreate, cuStreamSynchronize,
			cuStreamQuery, cuEventCreate, cuEventRecord, cuEventSynchronize,
			cuEventElapsedTime, cuEventDestroy_v2, cuGraphCreate, cuGraphAddKernelNode_v2,
			cuGraphAddMemAllocNode, cuGraphAddMemFreeNode, cuGraphInstantiateWithFlags,
			cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy, cuGetErrorName,
		},
		.getproc = cuGetProcAddress_v2,
	};

	return client_main(&drv, argc, argv);
}
