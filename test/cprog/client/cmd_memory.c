/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation commands, one per driver path the library must hold to the
 * slice, and the stack of what they hold:
 *   alloc, v1alloc, managed, async, pool, ownpool :SIZE[:N]   N allocations
 *   pitch:W:H  vmm:SIZE  array:W:H  array3d:W:H:D  mipmap:W:H[:LEVELS]
 *   graphmem:SIZE   free[:N]  freeall  badfree
 * Every object made (graphs of the launch commands too) is pushed; free
 * releases the newest N, freeall all of them.
 */
#include <string.h>

#include "client.h"

struct client_obj *obj_push(struct client *c, enum obj_kind kind)
{
	struct client_obj *o;

	if (c->nobj == (int)(sizeof c->obj / sizeof c->obj[0]))
		return NULL;
	o = &c->obj[c->nobj++];
	memset(o, 0, sizeof *o);
	o->kind = kind;
	return o;
}

static CUresult release(struct client *c, struct client_obj *o)
{
	const struct cuda_api *a = c->a;
	CUresult r;

	switch (o->kind) {
	case OBJ_PTR: return a->free(o->ptr);
	case OBJ_PTR_V1: return a->free_v1((CUdeviceptr_v1)o->ptr);
	case OBJ_ASYNC:
		/* Synchronised, so that the memory is back when free answers. */
		r = a->freeasync(o->ptr, c->stream);
		return r ? r : a->streamsync(c->stream);
	case OBJ_VMM:
		a->unmap(o->ptr, o->size);
		a->addrfree(o->ptr, o->size);
		return a->memrelease(o->handle);
	case OBJ_ARRAY: return a->arraydestroy((CUarray)o->h);
	case OBJ_MIPMAP: return a->mipmapdestroy((CUmipmappedArray)o->h);
	case OBJ_GRAPH:
		r = o->exec ? a->graphexecdestroy(o->exec) : CUDA_SUCCESS;
		return r ? r : a->graphdestroy((CUgraph)o->h);
	}
	return CUDA_ERROR_INVALID_VALUE;
}

static void keep(struct client *c, enum obj_kind kind, CUdeviceptr ptr, void *h)
{
	struct client_obj *o = obj_push(c, kind);

	if (o) {
		o->ptr = ptr;
		o->h = h;
	}
}

/* How one allocation of SIZE is made on each path. */
typedef CUresult (*alloc_fn)(struct client *c, CUdeviceptr *d, size_t size);

static CUresult by_alloc(struct client *c, CUdeviceptr *d, size_t size)
{
	return c->a->alloc(d, size);
}

static CUresult by_v1(struct client *c, CUdeviceptr *d, size_t size)
{
	CUdeviceptr_v1 p = 0;
	CUresult r = c->a->alloc_v1(&p, (unsigned int)size);

	*d = p;
	return r;
}

static CUresult by_managed(struct client *c, CUdeviceptr *d, size_t size)
{
	return c->a->managed(d, size, 1); /* CU_MEM_ATTACH_GLOBAL */
}

static CUresult by_async(struct client *c, CUdeviceptr *d, size_t size)
{
	return c->a->allocasync(d, size, c->stream);
}

static CUresult by_default_pool(struct client *c, CUdeviceptr *d, size_t size)
{
	CUmemoryPool pool;
	CUresult r = c->a->defaultpool(&pool, c->dev);

	return r ? r : c->a->allocpool(d, size, pool, c->stream);
}

static CUresult by_own_pool(struct client *c, CUdeviceptr *d, size_t size)
{
	CUresult r = CUDA_SUCCESS;

	if (!c->pool) {
		CUmemPoolProps props;
		memset(&props, 0, sizeof props);
		props.allocType = 1; /* CU_MEM_ALLOCATION_TYPE_PINNED */
		props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
		props.location.id = c->dev;
		r = c->a->poolcreate(&c->pool, &props);
	}
	return r ? r : c->a->allocpool(d, size, c->pool, c->stream);
}

static int allocate(struct client *c, char **args, alloc_fn fn, enum obj_kind kind)
{
	CUdeviceptr d = 0;
	size_t size = arg_size(args, 0, 0);
	long long count = arg_int(args, 1, 1), done = 0;
	CUresult r = CUDA_SUCCESS;

	for (long long i = 0; i < count && !r; i++) {
		r = fn(c, &d, size);
		if (!r) {
			keep(c, kind, d, NULL);
			done++;
		}
	}
	kv(c, "ptr=0x%llx done=%lld", (unsigned long long)d, done);
	return r;
}

static int alloc(struct client *c, char **args) { return allocate(c, args, by_alloc, OBJ_PTR); }
static int v1alloc(struct client *c, char **args) { return allocate(c, args, by_v1, OBJ_PTR_V1); }
static int managed(struct client *c, char **args) { return allocate(c, args, by_managed, OBJ_PTR); }
static int async(struct client *c, char **args) { return allocate(c, args, by_async, OBJ_ASYNC); }
static int pool(struct client *c, char **args) { return allocate(c, args, by_default_pool, OBJ_ASYNC); }
static int ownpool(struct client *c, char **args) { return allocate(c, args, by_own_pool, OBJ_ASYNC); }

static int pitch(struct client *c, char **args)
{
	CUdeviceptr d = 0;
	size_t p = 0;
	CUresult r = c->a->pitch(&d, &p, arg_size(args, 0, 0), arg_size(args, 1, 0), 4);

	if (!r)
		keep(c, OBJ_PTR, d, NULL);
	kv(c, "ptr=0x%llx pitch=%zu", (unsigned long long)d, p);
	return r;
}

/* cuMemCreate, then reserved, mapped and made accessible, as applications
 * use it (SIZE a multiple of the 2 MiB granularity). */
static int vmm(struct client *c, char **args)
{
	const struct cuda_api *a = c->a;
	CUmemAllocationProp prop;
	CUmemAccessDesc acc;
	CUmemGenericAllocationHandle h = 0;
	CUdeviceptr va = 0;
	size_t size = arg_size(args, 0, 0);
	struct client_obj *o;
	CUresult r;

	memset(&prop, 0, sizeof prop);
	prop.type = 1; /* CU_MEM_ALLOCATION_TYPE_PINNED */
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = c->dev;
	acc.location = prop.location;
	acc.flags = 3; /* CU_MEM_ACCESS_FLAGS_PROT_READWRITE */
	r = a->memcreate(&h, size, &prop, 0);
	if (!r)
		r = a->reserve(&va, size, 0, 0, 0);
	if (!r)
		r = a->map(va, size, 0, h, 0);
	if (!r)
		r = a->setaccess(va, size, &acc, 1);
	if (!r && (o = obj_push(c, OBJ_VMM))) {
		o->ptr = va;
		o->size = size;
		o->handle = h;
	}
	kv(c, "ptr=0x%llx", (unsigned long long)va);
	return r;
}

/* Float arrays, one channel. */
static CUDA_ARRAY3D_DESCRIPTOR descriptor(char **args, int depth)
{
	CUDA_ARRAY3D_DESCRIPTOR d;

	memset(&d, 0, sizeof d);
	d.Width = arg_size(args, 0, 0);
	d.Height = arg_size(args, 1, 0);
	d.Depth = depth ? arg_size(args, 2, 0) : 0;
	d.Format = CU_AD_FORMAT_FLOAT;
	d.NumChannels = 1;
	return d;
}

static int array(struct client *c, char **args)
{
	CUDA_ARRAY3D_DESCRIPTOR d3 = descriptor(args, 0);
	CUDA_ARRAY_DESCRIPTOR d2 = {d3.Width, d3.Height, d3.Format, d3.NumChannels};
	CUarray h = NULL;
	CUresult r = c->a->array(&h, &d2);

	if (!r)
		keep(c, OBJ_ARRAY, 0, h);
	return r;
}

static int array3d(struct client *c, char **args)
{
	CUDA_ARRAY3D_DESCRIPTOR d = descriptor(args, 1);
	CUarray h = NULL;
	CUresult r = c->a->array3d(&h, &d);

	if (!r)
		keep(c, OBJ_ARRAY, 0, h);
	return r;
}

static int mipmap(struct client *c, char **args)
{
	CUDA_ARRAY3D_DESCRIPTOR d = descriptor(args, 0);
	CUmipmappedArray h = NULL;
	CUresult r = c->a->mipmap(&h, &d, (unsigned int)arg_int(args, 2, 1));

	if (!r)
		keep(c, OBJ_MIPMAP, 0, h);
	return r;
}

/* A graph holding one memory allocation node of SIZE, never launched. */
static int graphmem(struct client *c, char **args)
{
	CUgraph g;
	CUgraphNode n;
	CUDA_MEM_ALLOC_NODE_PARAMS p;
	CUresult r;

	memset(&p, 0, sizeof p);
	p.poolProps.allocType = 1;
	p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.poolProps.location.id = c->dev;
	p.bytesize = arg_size(args, 0, 0);
	r = c->a->graphcreate(&g, 0);
	if (r)
		return r;
	r = c->a->graphalloc(&n, g, NULL, 0, &p);
	if (r)
		c->a->graphdestroy(g);
	else
		keep(c, OBJ_GRAPH, 0, g);
	return r;
}

/* Nothing left to free is CUDA_ERROR_INVALID_VALUE, a driver's answer to
 * a free of nothing. */
static int free_newest(struct client *c, char **args)
{
	long long n = arg_int(args, 0, 1);
	CUresult r = CUDA_SUCCESS;

	for (long long i = 0; i < n && !r; i++)
		r = c->nobj ? release(c, &c->obj[--c->nobj]) : CUDA_ERROR_INVALID_VALUE;
	return r;
}

static int freeall(struct client *c, char **args)
{
	CUresult r = CUDA_SUCCESS;

	(void)args;
	while (c->nobj && !r)
		r = release(c, &c->obj[--c->nobj]);
	return r;
}

/* cuMemFree_v2 of a pointer nobody allocated: what the driver says. */
static int badfree(struct client *c, char **args)
{
	(void)args;
	return c->a->free((CUdeviceptr)0x1234567800ULL);
}

const struct command memory_commands[] = {
	{"alloc", 2, alloc, 0},
	{"v1alloc", 2, v1alloc, 0},
	{"managed", 2, managed, 0},
	{"async", 2, async, 0},
	{"pool", 2, pool, 0},
	{"ownpool", 2, ownpool, 0},
	{"pitch", 2, pitch, 0},
	{"vmm", 1, vmm, 0},
	{"array", 2, array, 0},
	{"array3d", 3, array3d, 0},
	{"mipmap", 3, mipmap, 0},
	{"graphmem", 1, graphmem, 0},
	{"free", 1, free_newest, 0},
	{"freeall", 0, freeall, 0},
	{"badfree", 0, badfree, 0},
	{0},
};
