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

SOFTMIG_EXPORT CUresult cuMemGetInfo_v2(size_t *freep, size_t *totalp)
{
	CUdevice dev;
	uint64_t f, t;
	CUresult r;

	SM_NEED_REAL(cuMemGetInfo_v2);
	SM_PASS(real_cuMemGetInfo_v2(freep, totalp));
	r = real_cuMemGetInfo_v2(freep, totalp);
	if (r != CUDA_SUCCESS || !freep || !totalp || sm_dev_current(&dev) != 0)
		return r;
	f = *freep;
	t = *totalp;
	slice_view(dev, &f, &t);
	*freep = (size_t)f;
	*totalp = (size_t)t;
	return r;
}

SOFTMIG_EXPORT CUresult cuMemGetInfo(unsigned int *freep, unsigned int *totalp)
{
	CUdevice dev;
	uint64_t f, t;
	CUresult r;

	SM_NEED_REAL(cuMemGetInfo);
	SM_PASS(real_cuMemGetInfo(freep, totalp));
	r = real_cuMemGetInfo(freep, totalp);
	if (r != CUDA_SUCCESS || !freep || !totalp || sm_dev_current(&dev) != 0)
		return r;
	f = *freep;
	t = *totalp;
	slice_view(dev, &f, &t);
	*freep = (unsigned int)f;
	*totalp = (unsigned int)t;
	return r;
}

SOFTMIG_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	CUresult r;
	uint64_t limit;

	SM_NEED_REAL(cuDeviceTotalMem_v2);
	SM_PASS(real_cuDeviceTotalMem_v2(bytes, dev));
	r = real_cuDeviceTotalMem_v2(bytes, dev);
	limit = sm_mem_limit(dev);
	if (r == CUDA_SUCCESS && bytes && limit && limit < *bytes)
		*bytes = (size_t)limit;
	return r;
}

SOFTMIG_EXPORT CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
	CUresult r;
	uint64_t limit;

	SM_NEED_REAL(cuDeviceTotalMem);
	SM_PASS(real_cuDeviceTotalMem(bytes, dev));
	r = real_cuDeviceTotalMem(bytes, dev);
	limit = sm_mem_limit(dev);
	if (r == CUDA_SUCCESS && bytes && limit && limit < *bytes)
		*bytes = (unsigned int)limit;
	return r;
}
