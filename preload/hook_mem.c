/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Memory allocation hooks: every path that takes device memory is admitted
 * by the slice (slice.h) before the driver is asked (so concurrent
 * processes can never overshoot together), settled after it (given back if
 * the driver failed), and credited back when freed.
 */
#include <string.h>

#include "hooks.h"
#include "slice.h"

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	if (a && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

static uint64_t current_ctx(void)
{
	CUcontext c = NULL;

	if (real_cuCtxGetCurrent && real_cuCtxGetCurrent(&c) != CUDA_SUCCESS)
		c = NULL;
	return (uint64_t)(uintptr_t)c;
}

/* Reserve on the current device, call the driver, settle: the object the
 * call creates is found afterwards through keyexpr. */
#define TRACK_CURRENT(realcall, bytes, api, kind, keyexpr) \
	do { \
		struct sm_take t_; \
		CUresult r_ = sm_slice_admit_current((bytes), (api), &t_); \
		if (r_ != CUDA_SUCCESS) \
			return r_; \
		r_ = (realcall); \
		sm_slice_settle(r_, &t_, (kind), r_ == CUDA_SUCCESS ? (uint64_t)(keyexpr) : 0, current_ctx()); \
		return r_; \
	} while (0)

#define ALLOC_CURRENT(realcall, bytes, api, dptr) TRACK_CURRENT(realcall, bytes, api, SM_K_MEM, *(dptr))

#define FREE_KEY(kind, key, realcall) \
	do { \
		struct sm_alloc a_; \
		if (!sm_slice_forget((kind), (key), &a_)) \
			return (realcall); \
		return sm_slice_credit((realcall), (kind), (key), &a_); \
	} while (0)

SOFTMIG_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	SM_NEED_REAL(cuMemAlloc_v2);
	SM_PASS(real_cuMemAlloc_v2(dptr, bytesize));
	ALLOC_CURRENT(real_cuMemAlloc_v2(dptr, bytesize), bytesize, "cuMemAlloc_v2", dptr);
}

SOFTMIG_EXPORT CUresult cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytesize)
{
	SM_NEED_REAL(cuMemAlloc);
	SM_PASS(real_cuMemAlloc(dptr, bytesize));
	ALLOC_CURRENT(real_cuMemAlloc(dptr, bytesize), bytesize, "cuMemAlloc", dptr);
}

SOFTMIG_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	SM_NEED_REAL(cuMemAllocManaged);
	SM_PASS(real_cuMemAllocManaged(dptr, bytesize, flags));
	ALLOC_CURRENT(real_cuMemAllocManaged(dptr, bytesize, flags), bytesize, "cuMemAllocManaged", dptr);
}

SOFTMIG_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream s)
{
	SM_NEED_REAL(cuMemAllocAsync);
	SM_PASS(real_cuMemAllocAsync(dptr, bytesize, s));
	ALLOC_CURRENT(real_cuMemAllocAsync(dptr, bytesize, s), bytesize, "cuMemAllocAsync", dptr);
}

SOFTMIG_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream s)
{
	SM_NEED_REAL(cuMemAllocAsync_ptsz);
	SM_PASS(real_cuMemAllocAsync_ptsz(dptr, bytesize, s));
	ALLOC_CURRENT(real_cuMemAllocAsync_ptsz(dptr, bytesize, s), bytesize, "cuMemAllocAsync_ptsz", dptr);
}

SOFTMIG_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
						CUstream s)
{
	SM_NEED_REAL(cuMemAllocFromPoolAsync);
	SM_PASS(real_cuMemAllocFromPoolAsync(dptr, bytesize, pool, s));
	ALLOC_CURRENT(real_cuMemAllocFromPoolAsync(dptr, bytesize, pool, s), bytesize,
		      "cuMemAllocFromPoolAsync", dptr);
}

SOFTMIG_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
						     CUstream s)
{
	SM_NEED_REAL(cuMemAllocFromPoolAsync_ptsz);
	SM_PASS(real_cuMemAllocFromPoolAsync_ptsz(dptr, bytesize, pool, s));
	ALLOC_CURRENT(real_cuMemAllocFromPoolAsync_ptsz(dptr, bytesize, pool, s), bytesize,
		      "cuMemAllocFromPoolAsync_ptsz", dptr);
}

/*
 * Pitched allocations: the driver picks the pitch, so reserve the width
 * rounded up to 512 bytes per row, then settle on pitch x height once it
 * is known (admitting any difference, or giving the memory back).  A
 * pitch the slice cannot hold is freed and refused like any allocation.
 */
#define ALLOC_PITCH(realcall, freecall, api, dptr, pitch, width, height) \
	do { \
		struct sm_take t_; \
		CUresult r_ = sm_slice_admit_current(mul_sat(((uint64_t)(width) + 511) & ~(uint64_t)511, (height)), \
						     (api), &t_); \
		if (r_ != CUDA_SUCCESS) \
			return r_; \
		r_ = (realcall); \
		if (r_ == CUDA_SUCCESS) { \
			CUresult over_ = sm_slice_resize(&t_, mul_sat(*(pitch), (height)), (api)); \
			if (over_ != CUDA_SUCCESS) { \
				freecall; \
				return over_; \
			} \
		} \
		sm_slice_settle(r_, &t_, SM_K_MEM, r_ == CUDA_SUCCESS ? (uint64_t)*(dptr) : 0, current_ctx()); \
		return r_; \
	} while (0)

#define FREE_IF(fn, p) \
	do { \
		if (fn) \
			fn(p); \
	} while (0)

SOFTMIG_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
					   unsigned int elementSize)
{
	SM_NEED_REAL(cuMemAllocPitch_v2);
	SM_PASS(real_cuMemAllocPitch_v2(dptr, pitch, width, height, elementSize));
	ALLOC_PITCH(real_cuMemAllocPitch_v2(dptr, pitch, width, height, elementSize),
		    FREE_IF(real_cuMemFree_v2, *dptr), "cuMemAllocPitch_v2", dptr, pitch, width, height);
}

SOFTMIG_EXPORT CUresult cuMemAllocPitch(CUdeviceptr_v1 *dptr, unsigned int *pitch, unsigned int width,
					unsigned int height, unsigned int elementSize)
{
	SM_NEED_REAL(cuMemAllocPitch);
	SM_PASS(real_cuMemAllocPitch(dptr, pitch, width, height, elementSize));
	ALLOC_PITCH(real_cuMemAllocPitch(dptr, pitch, width, height, elementSize),
		    FREE_IF(real_cuMemFree, *dptr), "cuMemAllocPitch", dptr, pitch, width, height);
}

SOFTMIG_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	SM_NEED_REAL(cuMemFree_v2);
	SM_PASS(real_cuMemFree_v2(dptr));
	FREE_KEY(SM_K_MEM, dptr, real_cuMemFree_v2(dptr));
}

SOFTMIG_EXPORT CUresult cuMemFree(CUdeviceptr_v1 dptr)
{
	SM_NEED_REAL(cuMemFree);
	SM_PASS(real_cuMemFree(dptr));
	FREE_KEY(SM_K_MEM, dptr, real_cuMemFree(dptr));
}

SOFTMIG_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream s)
{
	SM_NEED_REAL(cuMemFreeAsync);
	SM_PASS(real_cuMemFreeAsync(dptr, s));
	FREE_KEY(SM_K_MEM, dptr, real_cuMemFreeAsync(dptr, s));
}

SOFTMIG_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream s)
{
	SM_NEED_REAL(cuMemFreeAsync_ptsz);
	SM_PASS(real_cuMemFreeAsync_ptsz(dptr, s));
	FREE_KEY(SM_K_MEM, dptr, real_cuMemFreeAsync_ptsz(dptr, s));
}

/* Virtual memory management: physical memory is taken by cuMemCreate on
 * the device the properties name; mapping it takes nothing more. */
SOFTMIG_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
				    const CUmemAllocationProp *prop, unsigned long long flags)
{
	struct sm_take t = { .dev = -1, .ordinal = -1 };
	CUresult r;

	SM_NEED_REAL(cuMemCreate);
	SM_PASS(real_cuMemCreate(handle, size, prop, flags));
	if (prop && prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE &&
	    (r = sm_slice_admit(prop->location.id, size, "cuMemCreate", &t)) != CUDA_SUCCESS)
		return r;
	r = real_cuMemCreate(handle, size, prop, flags);
	sm_slice_settle(r, &t, SM_K_HANDLE, r == CUDA_SUCCESS ? *handle : 0, 0);
	return r;
}

SOFTMIG_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	SM_NEED_REAL(cuMemRelease);
	SM_PASS(real_cuMemRelease(handle));
	FREE_KEY(SM_K_HANDLE, handle, real_cuMemRelease(handle));
}

/* Arrays: the driver's footprint includes tiling we cannot see; the
 * NVML check adds what this estimate misses. */
static uint64_t format_bytes(CUarray_format f)
{
	switch (f) {
	case CU_AD_FORMAT_UNSIGNED_INT8:
	case CU_AD_FORMAT_SIGNED_INT8:
		return 1;
	case CU_AD_FORMAT_UNSIGNED_INT16:
	case CU_AD_FORMAT_SIGNED_INT16:
	case CU_AD_FORMAT_HALF:
		return 2;
	default:
		return 4;
	}
}

static uint64_t array_bytes(uint64_t w, uint64_t h, uint64_t depth, CUarray_format f, unsigned int ch)
{
	uint64_t n = mul_sat(w ? w : 1, h ? h : 1);

	n = mul_sat(n, depth ? depth : 1);
	return mul_sat(n, mul_sat(format_bytes(f), ch ? ch : 1));
}

/* The four array creators differ only in their descriptor's type and depth. */
#define ARRAY_CREATE(name, desc_type, depth) \
	SOFTMIG_EXPORT CUresult name(CUarray *pHandle, const desc_type *desc) \
	{ \
		uint64_t bytes; \
		SM_NEED_REAL(name); \
		SM_PASS(real_##name(pHandle, desc)); \
		if (!desc) \
			return real_##name(pHandle, desc); \
		bytes = array_bytes(desc->Width, desc->Height, (depth), desc->Format, desc->NumChannels); \
		TRACK_CURRENT(real_##name(pHandle, desc), bytes, #name, SM_K_ARRAY, (uintptr_t)*pHandle); \
	}

ARRAY_CREATE(cuArrayCreate_v2, CUDA_ARRAY_DESCRIPTOR, 1)
ARRAY_CREATE(cuArrayCreate, CUDA_ARRAY_DESCRIPTOR_v1, 1)
ARRAY_CREATE(cuArray3DCreate_v2, CUDA_ARRAY3D_DESCRIPTOR, desc->Depth)
ARRAY_CREATE(cuArray3DCreate, CUDA_ARRAY3D_DESCRIPTOR_v1, desc->Depth)

SOFTMIG_EXPORT CUresult cuArrayDestroy(CUarray hArray)
{
	SM_NEED_REAL(cuArrayDestroy);
	SM_PASS(real_cuArrayDestroy(hArray));
	FREE_KEY(SM_K_ARRAY, (uint64_t)(uintptr_t)hArray, real_cuArrayDestroy(hArray));
}

SOFTMIG_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc,
					       unsigned int numLevels)
{
	uint64_t bytes = 0;
	unsigned int l;

	SM_NEED_REAL(cuMipmappedArrayCreate);
	SM_PASS(real_cuMipmappedArrayCreate(pHandle, desc, numLevels));
	if (!desc)
		return real_cuMipmappedArrayCreate(pHandle, desc, numLevels);
	/* Layered and cube maps keep their layer count (Depth) at every level. */
	for (l = 0; l < numLevels && l < 64; l++) {
		uint64_t w = desc->Width >> l, h = desc->Height >> l, dp = desc->Depth;
		if (!(desc->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)))
			dp >>= l;
		bytes += array_bytes(w ? w : 1, h ? h : 1, dp ? dp : 1, desc->Format, desc->NumChannels);
	}
	TRACK_CURRENT(real_cuMipmappedArrayCreate(pHandle, desc, numLevels), bytes, "cuMipmappedArrayCreate",
		      SM_K_MIPMAP, (uintptr_t)*pHandle);
}

SOFTMIG_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray h)
{
	SM_NEED_REAL(cuMipmappedArrayDestroy);
	SM_PASS(real_cuMipmappedArrayDestroy(h));
	FREE_KEY(SM_K_MIPMAP, (uint64_t)(uintptr_t)h, real_cuMipmappedArrayDestroy(h));
}

/*
 * Graph memory nodes: the graph owns the memory from the node's creation
 * until the graph is destroyed (the driver keeps it for reuse by later
 * launches), so that is the span it is counted for.
 */
SOFTMIG_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps,
					       size_t ndeps, CUDA_MEM_ALLOC_NODE_PARAMS *params)
{
	struct sm_take t = { .dev = -1, .ordinal = -1 };
	CUresult r;

	SM_NEED_REAL(cuGraphAddMemAllocNode);
	SM_PASS(real_cuGraphAddMemAllocNode(node, graph, deps, ndeps, params));
	if (params && params->poolProps.location.type == CU_MEM_LOCATION_TYPE_DEVICE &&
	    (r = sm_slice_admit(params->poolProps.location.id, params->bytesize, "cuGraphAddMemAllocNode", &t)) !=
		    CUDA_SUCCESS)
		return r;
	r = real_cuGraphAddMemAllocNode(node, graph, deps, ndeps, params);
	sm_slice_settle(r, &t, SM_K_GRAPHNODE, r == CUDA_SUCCESS ? (uint64_t)(uintptr_t)*node : 0,
			(uint64_t)(uintptr_t)graph);
	return r;
}

SOFTMIG_EXPORT CUresult cuGraphDestroy(CUgraph graph)
{
	CUresult r;

	SM_NEED_REAL(cuGraphDestroy);
	SM_PASS(real_cuGraphDestroy(graph));
	sm_slice_teardown_begin();
	r = real_cuGraphDestroy(graph);
	if (r == CUDA_SUCCESS)
		sm_slice_credit_owned((uint64_t)(uintptr_t)graph);
	sm_slice_teardown_end();
	return r;
}
