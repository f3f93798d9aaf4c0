/*
 * A scriptable CUDA driver client for the tests: each argv word is a
 * command, run in order, one result line each on stdout.  cuclient.c binds
 * the functions by linking -lcuda; dl_client.c takes them all through
 * cuGetProcAddress_v2 as the CUDA 12/13 runtime does.
 *
 *   dev N            retain device N's primary context and make it current
 *   info             total=<bytes> free=<bytes>        (cuMemGetInfo_v2)
 *   devtotal         devtotal=<bytes>                  (cuDeviceTotalMem_v2)
 *   alloc SIZE       alloc=OK | alloc=ERR <code>       (cuMemAlloc_v2; kept on a stack)
 *   v1alloc SIZE     cuMemAlloc (v1, 32-bit)
 *   pitch W H        cuMemAllocPitch_v2 (element size 4)
 *   managed SIZE     cuMemAllocManaged
 *   async SIZE       cuMemAllocAsync on the default stream
 *   pool SIZE        cuMemAllocFromPoolAsync from the device's default pool
 *   vmm SIZE         cuMemCreate on the current device
 *   array W H        cuArrayCreate_v2 (float, 1 channel)
 *   array3d W H D    cuArray3DCreate_v2 (float, 1 channel)
 *   mipmap W H L     cuMipmappedArrayCreate (float, 1 channel, L levels)
 *   graphmem SIZE    a graph with one memory alloc node of SIZE (kept)
 *   free             frees the newest allocation of any kind
 *   freeall          frees everything, newest first
 *   badfree          cuMemFree_v2 of a pointer nobody allocated: badfree=<code>
 *   ctxcreate / ctxdestroy    a created context on the current device
 *   sleep MS         sleeps
 *   fork             forks a child that exits at once (fork=OK)
 *   gate PATH        waits until PATH exists (processes that start together)
 *   ready            prints "ready" and flushes (for tests that wait)
 *   hold             waits until stdin reaches EOF
 * SIZE takes k/m/g suffixes (binary).
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/wait.h>

#include "cuda_abi.h"

struct cu {
	CUresult (*Init)(unsigned int);
	CUresult (*DeviceGet)(CUdevice *, int);
	CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
	CUresult (*CtxSetCurrent)(CUcontext);
	CUresult (*CtxCreate)(CUcontext *, unsigned int, CUdevice);
	CUresult (*CtxDestroy)(CUcontext);
	CUresult (*MemGetInfo)(size_t *, size_t *);
	CUresult (*DeviceTotalMem)(size_t *, CUdevice);
	CUresult (*MemAlloc)(CUdeviceptr *, size_t);
	CUresult (*MemAllocV1)(CUdeviceptr_v1 *, unsigned int);
	CUresult (*MemFreeV1)(CUdeviceptr_v1);
	CUresult (*MemAllocPitch)(CUdeviceptr *, size_t *, size_t, size_t, unsigned int);
	CUresult (*MemAllocManaged)(CUdeviceptr *, size_t, unsigned int);
	CUresult (*MemAllocAsync)(CUdeviceptr *, size_t, CUstream);
	CUresult (*MemFreeAsync)(CUdeviceptr, CUstream);
	CUresult (*DeviceGetDefaultMemPool)(CUmemoryPool *, CUdevice);
	CUresult (*MemAllocFromPoolAsync)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
	CUresult (*StreamSynchronize)(CUstream);
	CUresult (*MemFree)(CUdeviceptr);
	CUresult (*MemCreate)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *,
			      unsigned long long);
	CUresult (*MemRelease)(CUmemGenericAllocationHandle);
	CUresult (*ArrayCreate)(CUarray *, const CUDA_ARRAY_DESCRIPTOR *);
	CUresult (*Array3DCreate)(CUarray *, const CUDA_ARRAY3D_DESCRIPTOR *);
	CUresult (*ArrayDestroy)(CUarray);
	CUresult (*MipmappedArrayCreate)(CUmipmappedArray *, const CUDA_ARRAY3D_DESCRIPTOR *, unsigned int);
	CUresult (*MipmappedArrayDestroy)(CUmipmappedArray);
	CUresult (*GraphCreate)(CUgraph *, unsigned int);
	CUresult (*GraphAddMemAllocNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
					 CUDA_MEM_ALLOC_NODE_PARAMS *);
	CUresult (*GraphDestroy)(CUgraph);
};

enum { A_MEM, A_V1, A_ASYNC, A_VMM, A_ARRAY, A_MIPMAP, A_GRAPH };
struct held {
	int kind;
	uint64_t h;
};

static struct held held[4096];
static int nheld;
static CUdevice cur_dev;
static CUcontext created_ctx;

static unsigned long long parse_size(const char *s)
{
	char *e;
	unsigned long long v = strtoull(s, &e, 10);

	switch (*e) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	}
	return v;
}

static void result(const char *what, CUresult r)
{
	if (r == CUDA_SUCCESS)
		printf("%s=OK\n", what);
	else
		printf("%s=ERR %d\n", what, r);
}

static void keep(int kind, uint64_t h)
{
	if (nheld < (int)(sizeof(held) / sizeof(held[0])))
		held[nheld++] = (struct held){ kind, h };
}

static CUresult release(const struct cu *cu, struct held *x)
{
	switch (x->kind) {
	case A_MEM: return cu->MemFree((CUdeviceptr)x->h);
	case A_V1: return cu->MemFreeV1((CUdeviceptr_v1)x->h);
	case A_ASYNC: {
		CUresult r = cu->MemFreeAsync((CUdeviceptr)x->h, NULL);
		if (r == CUDA_SUCCESS && cu->StreamSynchronize)
			r = cu->StreamSynchronize(NULL);
		return r;
	}
	case A_VMM: return cu->MemRelease(x->h);
	case A_ARRAY: return cu->ArrayDestroy((CUarray)(uintptr_t)x->h);
	case A_MIPMAP: return cu->MipmappedArrayDestroy((CUmipmappedArray)(uintptr_t)x->h);
	case A_GRAPH: return cu->GraphDestroy((CUgraph)(uintptr_t)x->h);
	}
	return CUDA_ERROR_INVALID_VALUE;
}

static int run_commands(const struct cu *cu, int argc, char **argv)
{
	int i;
	CUresult r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	r = cu->Init(0);
	if (r != CUDA_SUCCESS) {
		printf("init=ERR %d\n", r);
		return 3;
	}
	for (i = 1; i < argc; i++) {
		const char *c = argv[i];
		const char *a1 = i + 1 < argc ? argv[i + 1] : "0";
		const char *a2 = i + 2 < argc ? argv[i + 2] : "0";
		const char *a3 = i + 3 < argc ? argv[i + 3] : "0";
		if (!strcmp(c, "dev")) {
			CUcontext ctx;
			i++;
			r = cu->DeviceGet(&cur_dev, atoi(a1));
			if (r == CUDA_SUCCESS)
				r = cu->DevicePrimaryCtxRetain(&ctx, cur_dev);
			if (r == CUDA_SUCCESS)
				r = cu->CtxSetCurrent(ctx);
			result("dev", r);
		} else if (!strcmp(c, "info")) {
			size_t f = 0, t = 0;
			r = cu->MemGetInfo(&f, &t);
			if (r == CUDA_SUCCESS)
				printf("total=%zu free=%zu\n", t, f);
			else
				result("info", r);
		} else if (!strcmp(c, "devtotal")) {
			size_t t = 0;
			r = cu->DeviceTotalMem(&t, cur_dev);
			if (r == CUDA_SUCCESS)
				printf("devtotal=%zu\n", t);
			else
				result("devtotal", r);
		} else if (!strcmp(c, "alloc")) {
			CUdeviceptr p;
			i++;
			r = cu->MemAlloc(&p, parse_size(a1));
			if (r == CUDA_SUCCESS)
				keep(A_MEM, p);
			result("alloc", r);
		} else if (!strcmp(c, "v1alloc")) {
			CUdeviceptr_v1 p;
			i++;
			r = cu->MemAllocV1(&p, (unsigned int)parse_size(a1));
			if (r == CUDA_SUCCESS)
				keep(A_V1, p);
			result("alloc", r);
		} else if (!strcmp(c, "pitch")) {
			CUdeviceptr p;
			size_t pitch;
			i += 2;
			r = cu->MemAllocPitch(&p, &pitch, parse_size(a1), parse_size(a2), 4);
			if (r == CUDA_SUCCESS)
				keep(A_MEM, p);
			result("alloc", r);
		} else if (!strcmp(c, "managed")) {
			CUdeviceptr p;
			i++;
			r = cu->MemAllocManaged(&p, parse_size(a1), 1);
			if (r == CUDA_SUCCESS)
				keep(A_MEM, p);
			result("alloc", r);
		} else if (!strcmp(c, "async")) {
			CUdeviceptr p;
			i++;
			r = cu->MemAllocAsync(&p, parse_size(a1), NULL);
			if (r == CUDA_SUCCESS)
				keep(A_ASYNC, p);
			result("alloc", r);
		} else if (!strcmp(c, "pool")) {
			CUdeviceptr p;
			CUmemoryPool pool;
			i++;
			r = cu->DeviceGetDefaultMemPool(&pool, cur_dev);
			if (r == CUDA_SUCCESS)
				r = cu->MemAllocFromPoolAsync(&p, parse_size(a1), pool, NULL);
			if (r == CUDA_SUCCESS)
				keep(A_ASYNC, p);
			result("alloc", r);
		} else if (!strcmp(c, "vmm")) {
			CUmemGenericAllocationHandle h;
			CUmemAllocationProp prop;
			i++;
			memset(&prop, 0, sizeof(prop));
			prop.type = 1; /* CU_MEM_ALLOCATION_TYPE_PINNED */
			prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
			prop.location.id = cur_dev;
			r = cu->MemCreate(&h, parse_size(a1), &prop, 0);
			if (r == CUDA_SUCCESS)
				keep(A_VMM, h);
			result("alloc", r);
		} else if (!strcmp(c, "array")) {
			CUarray a;
			CUDA_ARRAY_DESCRIPTOR d = { parse_size(a1), parse_size(a2), CU_AD_FORMAT_FLOAT, 1 };
			i += 2;
			r = cu->ArrayCreate(&a, &d);
			if (r == CUDA_SUCCESS)
				keep(A_ARRAY, (uint64_t)(uintptr_t)a);
			result("alloc", r);
		} else if (!strcmp(c, "array3d")) {
			CUarray a;
			CUDA_ARRAY3D_DESCRIPTOR d = { parse_size(a1), parse_size(a2), parse_size(a3),
						      CU_AD_FORMAT_FLOAT, 1, 0 };
			i += 3;
			r = cu->Array3DCreate(&a, &d);
			if (r == CUDA_SUCCESS)
				keep(A_ARRAY, (uint64_t)(uintptr_t)a);
			result("alloc", r);
		} else if (!strcmp(c, "mipmap")) {
			CUmipmappedArray a;
			CUDA_ARRAY3D_DESCRIPTOR d = { parse_size(a1), parse_size(a2), 0, CU_AD_FORMAT_FLOAT, 1, 0 };
			i += 3;
			r = cu->MipmappedArrayCreate(&a, &d, (unsigned int)atoi(a3));
			if (r == CUDA_SUCCESS)
				keep(A_MIPMAP, (uint64_t)(uintptr_t)a);
			result("alloc", r);
		} else if (!strcmp(c, "graphmem")) {
			CUgraph g;
			CUgraphNode n;
			CUDA_MEM_ALLOC_NODE_PARAMS p;
			i++;
			memset(&p, 0, sizeof(p));
			p.poolProps.allocType = 1;
			p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
			p.poolProps.location.id = cur_dev;
			p.bytesize = parse_size(a1);
			r = cu->GraphCreate(&g, 0);
			if (r == CUDA_SUCCESS) {
				r = cu->GraphAddMemAllocNode(&n, g, NULL, 0, &p);
				if (r == CUDA_SUCCESS)
					keep(A_GRAPH, (uint64_t)(uintptr_t)g);
				else
					cu->GraphDestroy(g);
			}
			result("alloc", r);
		} else if (!strcmp(c, "free")) {
			r = nheld ? release(cu, &held[--nheld]) : CUDA_ERROR_INVALID_VALUE;
			result("free", r);
		} else if (!strcmp(c, "freeall")) {
			r = CUDA_SUCCESS;
			while (nheld && r == CUDA_SUCCESS)
				r = release(cu, &held[--nheld]);
			result("freeall", r);
		} else if (!strcmp(c, "badfree")) {
			printf("badfree=%d\n", cu->MemFree((CUdeviceptr)0x1234567800ULL));
		} else if (!strcmp(c, "ctxcreate")) {
			result("ctxcreate", cu->CtxCreate(&created_ctx, 0, cur_dev));
		} else if (!strcmp(c, "ctxdestroy")) {
			result("ctxdestroy", cu->CtxDestroy(created_ctx));
		} else if (!strcmp(c, "sleep")) {
			struct timespec ts = { atoi(a1) / 1000, (long)(atoi(a1) % 1000) * 1000000L };
			i++;
			nanosleep(&ts, NULL);
		} else if (!strcmp(c, "fork")) {
			/* The child exits through exit(), running atexit handlers:
			 * it must not give back what the parent holds. */
			pid_t pid = fork();
			int st = 0;
			if (pid == 0)
				exit(0);
			if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
				printf("fork=ERR\n");
			else
				printf("fork=OK\n");
		} else if (!strcmp(c, "gate")) {
			struct timespec ts = { 0, 200000 };
			i++;
			while (access(a1, F_OK) != 0)
				nanosleep(&ts, NULL);
		} else if (!strcmp(c, "ready")) {
			printf("ready\n");
			fflush(stdout);
		} else if (!strcmp(c, "hold")) {
			char buf[64];
			while (read(0, buf, sizeof(buf)) > 0)
				;
		} else {
			fprintf(stderr, "client: unknown command %s\n", c);
			return 2;
		}
	}
	return 0;
}

#endif
