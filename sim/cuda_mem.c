/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device memory: the per-process allocation map and every allocating entry
 * point (linear, pitched, managed, async/pools, virtual memory, arrays).
 * Addresses are fake and never dereferenced.
 */
#include <stdlib.h>
#include <unistd.h>

#include "cuda_local.h"

#define BUCKETS 4096
#define DEV_BASE 0x7f0000000000ULL
#define DEV_SPAN (1ULL << 40)
#define LOW_BASE 0x10000000ULL
#define LOW_SPAN 0xe0000000ULL
#define VA_BASE 0x600000000000ULL
#define GRANULARITY (2ULL << 20)

struct mem_ent {
	uint64_t key;
	uint64_t size;
	int phys;
	int kind;
	struct CUctx_st *ctx;
	struct mem_ent *next;
};

static struct mem_ent *buckets[BUCKETS];
static uint64_t dev_next[SIM_MAX_DEVICES];
static uint64_t low_next, va_next, handle_next;

static unsigned int hash(uint64_t key)
{
	return (unsigned int)((key * 0x9e3779b97f4a7c15ULL) >> 52) % BUCKETS;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

uint64_t cu_dev_address(int phys, uint64_t size)
{
	uint64_t a;
	pthread_mutex_lock(&cu_mu);
	size = round_up(size ? size : 1, 512);
	if (dev_next[phys] + size > DEV_SPAN)
		dev_next[phys] = 0;
	a = DEV_BASE + ((uint64_t)phys << 40) + dev_next[phys];
	dev_next[phys] += size;
	pthread_mutex_unlock(&cu_mu);
	return a;
}

static uint64_t new_key(int phys, uint64_t size, int kind, int low32)
{
	if (kind == CU_MEM_DEVICE && low32) {
		uint64_t a;
		size = round_up(size, 512);
		if (low_next + size > LOW_SPAN)
			low_next = 0;
		a = LOW_BASE + low_next;
		low_next += size;
		return a;
	}
	if (kind == CU_MEM_DEVICE)
		return cu_dev_address(phys, size);
	handle_next += 0x100;
	return (kind == CU_MEM_HANDLE ? 0x6a0000000000ULL : 0x5a0000000000ULL) + handle_next;
}

CUresult cu_mem_alloc(struct CUctx_st *ctx, int phys, uint64_t size, int kind, int low32,
		      uint64_t *key)
{
	struct mem_ent *e = malloc(sizeof *e);
	unsigned int h;
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (sim_charge(phys, size, 0) < 0) {
		free(e);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	pthread_mutex_lock(&cu_mu);
	e->key = new_key(phys, size, kind, low32);
	e->size = size;
	e->phys = phys;
	e->kind = kind;
	e->ctx = ctx;
	h = hash(e->key);
	e->next = buckets[h];
	buckets[h] = e;
	pthread_mutex_unlock(&cu_mu);
	*key = e->key;
	return CUDA_SUCCESS;
}

CUresult cu_mem_free(uint64_t key, int kind)
{
	struct mem_ent **pp, *e = NULL;
	pthread_mutex_lock(&cu_mu);
	for (pp = &buckets[hash(key)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->key == key && (*pp)->kind == kind) {
			e = *pp;
			*pp = e->next;
			break;
		}
	}
	pthread_mutex_unlock(&cu_mu);
	if (!e)
		return CUDA_ERROR_INVALID_VALUE;
	sim_uncharge(e->phys, e->size, 0);
	free(e);
	return CUDA_SUCCESS;
}

int cu_mem_lookup(uint64_t key, int kind, int *phys, uint64_t *size)
{
	int found = 0;
	pthread_mutex_lock(&cu_mu);
	for (struct mem_ent *e = buckets[hash(key)]; e && !found; e = e->next) {
		if (e->key == key && e->kind == kind) {
			found = 1;
			if (phys)
				*phys = e->phys;
			if (size)
				*size = e->size;
		}
	}
	pthread_mutex_unlock(&cu_mu);
	return found;
}

void cu_mem_free_ctx(struct CUctx_st *ctx)
{
	pthread_mutex_lock(&cu_mu);
	for (int h = 0; h < BUCKETS; h++) {
		struct mem_ent **pp = &buckets[h];
		while (*pp) {
			struct mem_ent *e = *pp;
			if (e->ctx != ctx) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			sim_uncharge(e->phys, e->size, 0);
			free(e);
		}
	}
	pthread_mutex_unlock(&cu_mu);
}

/* ---- linear memory ---- */

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
	struct CUctx_st *c;
	uint64_t used, tot;
	CUresult r = cu_current_ctx(&c);
	if (r)
		return r;
	if (!free_bytes || !total)
		return CUDA_ERROR_INVALID_VALUE;
	tot = sim_st->dev[c->phys].total;
	sim_lock();
	sim_reap_locked();
	used = sim_dev_used_locked(c->phys);
	sim_unlock();
	*free_bytes = used < tot ? tot - used : 0;
	*total = tot;
	return CUDA_SUCCESS;
}

CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total)
{
	size_t f, t;
	CUresult r;
	if (!free_bytes || !total)
		return CUDA_ERROR_INVALID_VALUE;
	r = cuMemGetInfo_v2(&f, &t);
	if (!r) {
		*free_bytes = f > 0xffffffffu ? 0xffffffffu : (unsigned int)f;
		*total = t > 0xffffffffu ? 0xffffffffu : (unsigned int)t;
	}
	return r;
}

/* SOFTMIG_SIM_SLOW_ALLOC=<bytes>:<ms>: an allocation of at least that many
 * bytes takes that long before its memory is the process's, as a large one
 * takes milliseconds on a real GPU, so that a test can hold one in flight. */
static void slow_alloc(uint64_t size)
{
	const char *s = getenv("SOFTMIG_SIM_SLOW_ALLOC");
	char *end;
	unsigned long long min, ms;

	if (!s)
		return;
	min = strtoull(s, &end, 10);
	if (*end != ':')
		return;
	ms = strtoull(end + 1, NULL, 10);
	if (size >= min && ms > 0 && ms <= 60000)
		usleep((useconds_t)(ms * 1000));
}

static CUresult alloc_current(uint64_t *dptr, uint64_t size, int low32)
{
	struct CUctx_st *c;
	CUresult r = cu_current_ctx(&c);
	if (r)
		return r;
	if (!dptr || !size)
		return CUDA_ERROR_INVALID_VALUE;
	slow_alloc(size);
	return cu_mem_alloc(c, c->phys, size, CU_MEM_DEVICE, low32, dptr);
}

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	uint64_t p;
	CUresult r;
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	r = alloc_current(&p, bytesize, 0);
	if (!r)
		*dptr = p;
	return r;
}

CUresult cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytesize)
{
	uint64_t p;
	CUresult r;
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	r = alloc_current(&p, bytesize, 1);
	if (!r)
		*dptr = (CUdeviceptr_v1)p;
	return r;
}

/* The row alignment of pitched allocations: 512 bytes, as on current
 * GPUs, unless SOFTMIG_SIM_PITCH_ALIGN (a power of two) says otherwise,
 * so that tests can give a pitch wider than the library's estimate. */
static uint64_t pitch_align(void)
{
	const char *s = getenv("SOFTMIG_SIM_PITCH_ALIGN");
	unsigned long long v = s ? strtoull(s, NULL, 10) : 0;

	return v >= 512 && v <= (1ULL << 20) && !(v & (v - 1)) ? v : 512;
}

CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
			    unsigned int ElementSizeBytes)
{
	uint64_t p, pitch = round_up(WidthInBytes, pitch_align());
	CUresult r;
	if (!dptr || !pPitch || !WidthInBytes || !Height ||
	    (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
		return CUDA_ERROR_INVALID_VALUE;
	r = alloc_current(&p, pitch * Height, 0);
	if (!r) {
		*dptr = p;
		*pPitch = pitch;
	}
	return r;
}

CUresult cuMemAllocPitch(CUdeviceptr_v1 *dptr, unsigned int *pPitch, unsigned int WidthInBytes,
			 unsigned int Height, unsigned int ElementSizeBytes)
{
	uint64_t p, pitch = round_up(WidthInBytes, pitch_align());
	CUresult r;
	if (!dptr || !pPitch || !WidthInBytes || !Height ||
	    (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
		return CUDA_ERROR_INVALID_VALUE;
	r = alloc_current(&p, pitch * Height, 1);
	if (!r) {
		*dptr = (CUdeviceptr_v1)p;
		*pPitch = (unsigned int)pitch;
	}
	return r;
}

CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	uint64_t p;
	CUresult r;
	if (!dptr || (flags != 1 && flags != 2)) /* CU_MEM_ATTACH_GLOBAL / _HOST */
		return CUDA_ERROR_INVALID_VALUE;
	r = alloc_current(&p, bytesize, 0);
	if (!r)
		*dptr = p;
	return r;
}

CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	CUresult r = cu_check_init();
	if (r || !dptr)
		return r;
	return cu_mem_free(dptr, CU_MEM_DEVICE);
}

CUresult cuMemFree(CUdeviceptr_v1 dptr)
{
	return cuMemFree_v2(dptr);
}

CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	pthread_mutex_lock(&cu_mu);
	r = CUDA_ERROR_NOT_FOUND;
	for (int h = 0; h < BUCKETS && r; h++) {
		for (struct mem_ent *e = buckets[h]; e; e = e->next) {
			if (e->kind == CU_MEM_DEVICE && dptr >= e->key && dptr - e->key < e->size) {
				if (pbase)
					*pbase = e->key;
				if (psize)
					*psize = e->size;
				r = CUDA_SUCCESS;
				break;
			}
		}
	}
	pthread_mutex_unlock(&cu_mu);
	return r;
}

/* ---- stream-ordered allocator ---- */

struct CUmemPoolHandle_st {
	uint32_t magic;
	int ordinal;
};

static struct CUmemPoolHandle_st default_pool[SIM_MAX_DEVICES];

static CUresult alloc_async(CUdeviceptr *dptr, size_t size, CUmemoryPool pool, CUstream s)
{
	struct CUctx_st *c;
	struct CUstream_st *obj;
	int phys;
	uint64_t p;
	CUresult r = cu_stream_resolve(s, &c, &obj);
	if (r)
		return r;
	if (!dptr || !size)
		return CUDA_ERROR_INVALID_VALUE;
	phys = c->phys;
	if (pool) {
		if (pool->magic != CU_MAGIC_POOL)
			return CUDA_ERROR_INVALID_VALUE;
		phys = cu_vis[pool->ordinal];
	}
	r = cu_mem_alloc(c, phys, size, CU_MEM_DEVICE, 0, &p);
	if (!r)
		*dptr = p;
	return r;
}

CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	return alloc_async(dptr, bytesize, NULL, hStream);
}

CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	return alloc_async(dptr, bytesize, NULL, hStream);
}

CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
				 CUstream hStream)
{
	if (!pool)
		return CUDA_ERROR_INVALID_VALUE;
	return alloc_async(dptr, bytesize, pool, hStream);
}

CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
				      CUstream hStream)
{
	return cuMemAllocFromPoolAsync(dptr, bytesize, pool, hStream);
}

CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	struct CUctx_st *c;
	struct CUstream_st *obj;
	CUresult r = cu_stream_resolve(hStream, &c, &obj);
	if (r)
		return r;
	return cu_mem_free(dptr, CU_MEM_DEVICE);
}

CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
	return cuMemFreeAsync(dptr, hStream);
}

CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
	struct CUmemPoolHandle_st *p;
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!pool || !props || props->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (props->location.id < 0 || props->location.id >= cu_nvis)
		return CUDA_ERROR_INVALID_DEVICE;
	p = calloc(1, sizeof *p);
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	p->magic = CU_MAGIC_POOL;
	p->ordinal = props->location.id;
	*pool = p;
	return CUDA_SUCCESS;
}

CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
	if (!pool || pool->magic != CU_MAGIC_POOL)
		return CUDA_ERROR_INVALID_VALUE;
	if (pool >= default_pool && pool < default_pool + SIM_MAX_DEVICES)
		return CUDA_ERROR_INVALID_VALUE;
	pool->magic = 0;
	free(pool);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev)
{
	CUresult r = cu_check_dev(dev);
	if (r)
		return r;
	if (!pool)
		return CUDA_ERROR_INVALID_VALUE;
	default_pool[dev].magic = CU_MAGIC_POOL;
	default_pool[dev].ordinal = dev;
	*pool = &default_pool[dev];
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
	return cuDeviceGetDefaultMemPool(pool, dev);
}

CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
	(void)minBytesToKeep;
	return pool && pool->magic == CU_MAGIC_POOL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- virtual memory management ---- */

CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
		     const CUmemAllocationProp *prop, unsigned long long flags)
{
	uint64_t key;
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!handle || !prop || flags || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
	    !size || size % GRANULARITY)
		return CUDA_ERROR_INVALID_VALUE;
	if (prop->location.id < 0 || prop->location.id >= cu_nvis)
		return CUDA_ERROR_INVALID_DEVICE;
	r = cu_mem_alloc(NULL, cu_vis[prop->location.id], size, CU_MEM_HANDLE, 0, &key);
	if (!r)
		*handle = key;
	return r;
}

CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	CUresult r = cu_check_init();
	return r ? r : cu_mem_free(handle, CU_MEM_HANDLE);
}

CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
				       int option)
{
	CUresult r = cu_check_init();
	(void)option;
	if (r)
		return r;
	if (!granularity || !prop)
		return CUDA_ERROR_INVALID_VALUE;
	*granularity = GRANULARITY;
	return CUDA_SUCCESS;
}

CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
			     unsigned long long flags)
{
	uint64_t a = alignment > GRANULARITY ? alignment : GRANULARITY;
	CUresult r = cu_check_init();
	(void)addr;
	(void)flags;
	if (r)
		return r;
	if (!ptr || !size || size % GRANULARITY || (alignment & (alignment - 1)))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cu_mu);
	va_next = round_up(va_next, a);
	*ptr = VA_BASE + va_next;
	va_next += size;
	pthread_mutex_unlock(&cu_mu);
	return CUDA_SUCCESS;
}

CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	return ptr && size ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
		  unsigned long long flags)
{
	uint64_t hsize;
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!ptr || !size || flags || !cu_mem_lookup(handle, CU_MEM_HANDLE, NULL, &hsize) ||
	    offset + size > hsize)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	return ptr && size ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	return ptr && size && desc && count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- arrays ---- */

static uint64_t format_bytes(CUarray_format f)
{
	switch (f) {
	case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return 1;
	case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16:
	case CU_AD_FORMAT_HALF: return 2;
	default: return 4;
	}
}

static CUresult array_create(uint64_t *key, int kind, uint64_t w, uint64_t h, uint64_t d,
			     CUarray_format f, unsigned int ch, unsigned int levels)
{
	struct CUctx_st *c;
	uint64_t size = 0;
	CUresult r = cu_current_ctx(&c);
	if (r)
		return r;
	if (!key || !w || (ch != 1 && ch != 2 && ch != 4) || !levels)
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned int l = 0; l < levels; l++) {
		uint64_t lw = w >> l ? w >> l : 1, lh = h >> l ? h >> l : 1, ld = d >> l ? d >> l : 1;
		size += lw * lh * ld * format_bytes(f) * ch;
	}
	return cu_mem_alloc(c, c->phys, round_up(size, 512), kind, 0, key);
}

CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *d)
{
	uint64_t key;
	CUresult r;
	if (!pHandle || !d)
		return CUDA_ERROR_INVALID_VALUE;
	r = array_create(&key, CU_MEM_ARRAY, d->Width, d->Height, 1, d->Format, d->NumChannels, 1);
	if (!r)
		*pHandle = (CUarray)(uintptr_t)key;
	return r;
}

CUresult cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *d)
{
	CUDA_ARRAY_DESCRIPTOR d2;
	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	d2.Width = d->Width;
	d2.Height = d->Height;
	d2.Format = d->Format;
	d2.NumChannels = d->NumChannels;
	return cuArrayCreate_v2(pHandle, &d2);
}

CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
	uint64_t key;
	CUresult r;
	if (!pHandle || !d)
		return CUDA_ERROR_INVALID_VALUE;
	r = array_create(&key, CU_MEM_ARRAY, d->Width, d->Height, d->Depth, d->Format,
			 d->NumChannels, 1);
	if (!r)
		*pHandle = (CUarray)(uintptr_t)key;
	return r;
}

CUresult cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *d)
{
	CUDA_ARRAY3D_DESCRIPTOR d2;
	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	d2.Width = d->Width;
	d2.Height = d->Height;
	d2.Depth = d->Depth;
	d2.Format = d->Format;
	d2.NumChannels = d->NumChannels;
	d2.Flags = d->Flags;
	return cuArray3DCreate_v2(pHandle, &d2);
}

CUresult cuArrayDestroy(CUarray hArray)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	return cu_mem_free((uint64_t)(uintptr_t)hArray, CU_MEM_ARRAY) ? CUDA_ERROR_INVALID_HANDLE
								       : CUDA_SUCCESS;
}

CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *d,
				unsigned int numMipmapLevels)
{
	uint64_t key;
	CUresult r;
	if (!pHandle || !d)
		return CUDA_ERROR_INVALID_VALUE;
	r = array_create(&key, CU_MEM_MIPMAP, d->Width, d->Height, d->Depth, d->Format,
			 d->NumChannels, numMipmapLevels);
	if (!r)
		*pHandle = (CUmipmappedArray)(uintptr_t)key;
	return r;
}

CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
	CUresult r = cu_check_init();
	if (r)
		return r;
	return cu_mem_free((uint64_t)(uintptr_t)hMipmappedArray, CU_MEM_MIPMAP)
		       ? CUDA_ERROR_INVALID_HANDLE
		       : CUDA_SUCCESS;
}

/* ---- copies (nothing to copy: success) ---- */

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
	(void)dst, (void)src, (void)n;
	return cu_check_init();
}

CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void *src, size_t n)
{
	return cuMemcpyHtoD_v2(dst, src, n);
}

CUresult cuMemcpyHtoD(CUdeviceptr_v1 dst, const void *src, unsigned int n)
{
	return cuMemcpyHtoD_v2(dst, src, n);
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
	(void)dst, (void)src, (void)n;
	return cu_check_init();
}

CUresult cuMemcpyDtoH_v2_ptds(void *dst, CUdeviceptr src, size_t n)
{
	return cuMemcpyDtoH_v2(dst, src, n);
}

CUresult cuMemcpyDtoH(void *dst, CUdeviceptr_v1 src, unsigned int n)
{
	return cuMemcpyDtoH_v2(dst, src, n);
}
