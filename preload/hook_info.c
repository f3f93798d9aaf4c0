/*
 * What a program asks about memory, through the driver, answers with the
 * slice: total = the limit, free = what the job has left of it (never
 * more than the device really has free, never an underflow).
 */
#include "hooks.h"

static void slice_view(CUdevice dev, uint64_t *freep, uint64_t *totalp)
{
	uint64_t limit = sm_mem_limit(dev), used = 0, left;
	int d;

	if (!limit)
		return;
	if (limit < *totalp)
		*totalp = limit;
	sm_depth++;
	if (sm_region_register() == 0 && (d = sm_dev_slot(dev)) >= 0) {
		sm_check_maybe(d, dev);
		used = sm_dev_used(d);
	}
	sm_depth--;
	left = used < *totalp ? *totalp - used : 0;
	if (left < *freep)
		*freep = left;
}

/* cuMemGetInfo in its 64-bit (_v2) and 32-bit (v1) forms. */
#define MEM_GET_INFO(name, type) \
	SOFTMIG_EXPORT CUresult name(type *freep, type *totalp) \
	{ \
		CUdevice dev; \
		uint64_t f, t; \
		CUresult r; \
		SM_NEED_REAL(name); \
		SM_PASS(real_##name(freep, totalp)); \
		r = real_##name(freep, totalp); \
		if (r != CUDA_SUCCESS || !freep || !totalp || sm_dev_current(&dev) != 0) \
			return r; \
		f = *freep; \
		t = *totalp; \
		slice_view(dev, &f, &t); \
		*freep = (type)f; \
		*totalp = (type)t; \
		return r; \
	}

MEM_GET_INFO(cuMemGetInfo_v2, size_t)
MEM_GET_INFO(cuMemGetInfo, unsigned int)

/* cuDeviceTotalMem in both forms: the slice where it is smaller. */
#define DEVICE_TOTAL_MEM(name, type) \
	SOFTMIG_EXPORT CUresult name(type *bytes, CUdevice dev) \
	{ \
		CUresult r; \
		uint64_t limit; \
		SM_NEED_REAL(name); \
		SM_PASS(real_##name(bytes, dev)); \
		r = real_##name(bytes, dev); \
		limit = sm_mem_limit(dev); \
		if (r == CUDA_SUCCESS && bytes && limit && limit < *bytes) \
			*bytes = (type)limit; \
		return r; \
	}

DEVICE_TOTAL_MEM(cuDeviceTotalMem_v2, size_t)
DEVICE_TOTAL_MEM(cuDeviceTotalMem, unsigned int)
