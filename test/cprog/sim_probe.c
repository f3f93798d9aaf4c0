/*
 * sim_probe: runs probe.h commands against libcuda.so.1 linked directly
 * (the path an LD_PRELOAD hook of an exported symbol sees).
 *
 *   sim_probe init retain alloc:1g meminfo nvml-procs:0 hold
 */
#include "../../sim/cuda_api.h"
#include "probe.h"

int main(int argc, char **argv)
{
	static const struct probe_api api = {
		cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
		cuDeviceGetUuid_v2, cuDeviceTotalMem_v2, cuDeviceGetAttribute, cuDeviceGetPCIBusId,
		cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease_v2, cuDevicePrimaryCtxReset_v2,
		cuDevicePrimaryCtxGetState, cuCtxCreate_v2, cuCtxDestroy_v2, cuCtxSetCurrent,
		cuCtxSynchronize, cuMemGetInfo_v2, cuMemAlloc_v2, cuMemFree_v2, cuMemAllocPitch_v2,
		cuMemAllocManaged, cuMemAllocAsync, cuMemAllocFromPoolAsync, cuMemFreeAsync,
		cuMemPoolCreate, cuMemCreate, cuMemRelease, cuMemAddressReserve, cuMemAddressFree,
		cuMemMap, cuMemUnmap, cuMemSetAccess, cuArrayCreate_v2, cuArray3DCreate_v2,
		cuArrayDestroy, cuMipmappedArrayCreate, cuMipmappedArrayDestroy, cuModuleLoadData,
		cuModuleGetFunction, cuLaunchKernel, cuLaunchKernelEx, cuLaunchCooperativeKernel,
		cuStreamCreate, cuStreamSynchronize, cuStreamQuery, cuEventCreate, cuEventRecord,
		cuEventSynchronize, cuEventElapsedTime, cuEventDestroy_v2, cuGraphCreate,
		cuGraphAddKernelNode_v2, cuGraphAddMemAllocNode, cuGraphAddMemFreeNode,
		cuGraphInstantiateWithFlags, cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy,
		cuGetErrorName,
	};
	if (argc < 2) {
		fprintf(stderr, "usage: sim_probe COMMAND... (see sim/README.md)\n");
		return 2;
	}
	return probe_main(&api, argc, argv, 1);
}
