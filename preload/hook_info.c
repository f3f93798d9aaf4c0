/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a program asks about memory, through the driver, answers with the
 * slice (slice_view.c).
 */
#include "dev.h"
#include "hooks.h"
#include "slice.h"

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
		sm_slice_view(dev, &f, &t); \
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
		SM_NEED_REAL(name); \
		SM_PASS(real_##name(bytes, dev)); \
		r = real_##name(bytes, dev); \
		if (r == CUDA_SUCCESS && bytes) \
			*bytes = (type)sm_slice_view_total(dev, *bytes); \
		return r; \
	}

DEVICE_TOTAL_MEM(cuDeviceTotalMem_v2, size_t)
DEVICE_TOTAL_MEM(cuDeviceTotalMem, unsigned int)
