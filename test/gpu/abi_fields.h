/* SPDX-License-Identifier: Apache-2.0 */
/* Sizes and offsets of every struct libsoftmig.so shares with the driver;
 * abi_check.c prints them once with the real cuda.h/nvml.h and once with
 * preload/cuda_abi.h, and gpu-test.sh compares the two outputs. */
#define ABI_FIELDS(S, F) \
	S(CUuuid) \
	S(CUDA_ARRAY_DESCRIPTOR) F(CUDA_ARRAY_DESCRIPTOR, Format) F(CUDA_ARRAY_DESCRIPTOR, NumChannels) \
	S(CUDA_ARRAY3D_DESCRIPTOR) F(CUDA_ARRAY3D_DESCRIPTOR, Depth) F(CUDA_ARRAY3D_DESCRIPTOR, Format) \
	F(CUDA_ARRAY3D_DESCRIPTOR, Flags) \
	S(CUmemLocation) S(CUmemAllocationProp) F(CUmemAllocationProp, location) \
	F(CUmemAllocationProp, allocFlags) \
	S(CUmemPoolProps) F(CUmemPoolProps, location) F(CUmemPoolProps, maxSize) F(CUmemPoolProps, usage) \
	S(CUDA_MEM_ALLOC_NODE_PARAMS) F(CUDA_MEM_ALLOC_NODE_PARAMS, bytesize) F(CUDA_MEM_ALLOC_NODE_PARAMS, dptr) \
	S(CUDA_KERNEL_NODE_PARAMS) F(CUDA_KERNEL_NODE_PARAMS, kernelParams) \
	S(CUlaunchConfig) F(CUlaunchConfig, hStream) F(CUlaunchConfig, attrs) F(CUlaunchConfig, numAttrs) \
	S(CUlaunchAttribute) \
	S(nvmlMemory_t) S(nvmlMemory_v2_t) F(nvmlMemory_v2_t, used) \
	S(nvmlProcessInfo_v1_t) S(nvmlProcessInfo_t) F(nvmlProcessInfo_t, computeInstanceId) \
	S(nvmlUtilization_t) S(nvmlProcessUtilizationSample_t) F(nvmlProcessUtilizationSample_t, smUtil)
