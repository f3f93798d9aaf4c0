/*
 * The command interpreter shared by sim_probe (CUDA linked with -lcuda) and
 * dl_procaddr (every CUDA function taken through cuGetProcAddress, as
 * cudart 12/13 does).  Each argv word is one command, arguments separated
 * by ':'; each command prints one line "<command> rc=<CUresult> key=value...",
 * plus err=<CUDA_ERROR_NAME> when rc != 0.  Exit status: 0 when every
 * command succeeded, 1 otherwise, 2 on a usage error.  NVML commands dlopen
 * libnvidia-ml.so.1.  See sim/README.md for the command list.
 */
#ifndef SOFTMIG_TEST_PROBE_H
#define SOFTMIG_TEST_PROBE_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cuda_abi.h"

#define PROBE_CU_STREAM_LEGACY ((CUstream)0x1)

struct probe_api {
	CUresult (*init)(unsigned int);
	CUresult (*drvver)(int *);
	CUresult (*devcount)(int *);
	CUresult (*devget)(CUdevice *, int);
	CUresult (*devname)(char *, int, CUdevice);
	CUresult (*devuuid)(CUuuid *, CUdevice);
	CUresult (*devtotal)(size_t *, CUdevice);
	CUresult (*devattr)(int *, int, CUdevice);
	CUresult (*devpci)(char *, int, CUdevice);
	CUresult (*pretain)(CUcontext *, CUdevice);
	CUresult (*prelease)(CUdevice);
	CUresult (*preset)(CUdevice);
	CUresult (*pstate)(CUdevice, unsigned int *, int *);
	CUresult (*ctxcreate)(CUcontext *, unsigned int, CUdevice);
	CUresult (*ctxdestroy)(CUcontext);
	CUresult (*ctxset)(CUcontext);
	CUresult (*ctxsync)(void);
	CUresult (*meminfo)(size_t *, size_t *);
	CUresult (*alloc)(CUdeviceptr *, size_t);
	CUresult (*free)(CUdeviceptr);
	CUresult (*pitch)(CUdeviceptr *, size_t *, size_t, size_t, unsigned int);
	CUresult (*managed)(CUdeviceptr *, size_t, unsigned int);
	CUresult (*allocasync)(CUdeviceptr *, size_t, CUstream);
	CUresult (*allocpool)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
	CUresult (*freeasync)(CUdeviceptr, CUstream);
	CUresult (*poolcreate)(CUmemoryPool *, const CUmemPoolProps *);
	CUresult (*memcreate)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *,
			      unsigned long long);
	CUresult (*memrelease)(CUmemGenericAllocationHandle);
	CUresult (*reserve)(CUdeviceptr *, size_t, size_t, CUdeviceptr, unsigned long long);
	CUresult (*addrfree)(CUdeviceptr, size_t);
	CUresult (*map)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle,
			unsigned long long);
	CUresult (*unmap)(CUdeviceptr, size_t);
	CUresult (*setaccess)(CUdeviceptr, size_t, const CUmemAccessDesc *, size_t);
	CUresult (*array)(CUarray *, const CUDA_ARRAY_DESCRIPTOR *);
	CUresult (*array3d)(CUarray *, const CUDA_ARRAY3D_DESCRIPTOR *);
	CUresult (*arraydestroy)(CUarray);
	CUresult (*mipmap)(CUmipmappedArray *, const CUDA_ARRAY3D_DESCRIPTOR *, unsigned int);
	CUresult (*mipmapdestroy)(CUmipmappedArray);
	CUresult (*modload)(CUmodule *, const void *);
	CUresult (*getfunc)(CUfunction *, CUmodule, const char *);
	CUresult (*launch)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			   unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
	CUresult (*launchex)(const CUlaunchConfig *, CUfunction, void **, void **);
	CUresult (*coop)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			 unsigned int, unsigned int, unsigned int, CUstream, void **);
	CUresult (*streamcreate)(CUstream *, unsigned int);
	CUresult (*streamsync)(CUstream);
	CUresult (*streamquery)(CUstream);
	CUresult (*eventcreate)(CUevent *, unsigned int);
	CUresult (*eventrecord)(CUevent, CUstream);
	CUresult (*eventsync)(CUevent);
	CUresult (*elapsed)(float *, CUevent, CUevent);
	CUresult (*eventdestroy)(CUevent);
	CUresult (*graphcreate)(CUgraph *, unsigned int);
	CUresult (*graphkernel)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
				const CUDA_KERNEL_NODE_PARAMS_v2 *);
	CUresult (*graphalloc)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
			       CUDA_MEM_ALLOC_NODE_PARAMS *);
	CUresult (*graphfree)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, CUdeviceptr);
	CUresult (*graphinst)(CUgraphExec *, CUgraph, unsigned long long);
	CUresult (*graphlaunch)(CUgraphExec, CUstream);
	CUresult (*graphexecdestroy)(CUgraphExec);
	CUresult (*graphdestroy)(CUgraph);
	CUresult (*errname)(CUresult, const char **);
};

/* The names, in struct order, under which each entry is looked up: the
 * exported symbol (sim_probe) or the cuGetProcAddress base name plus the
 * version to ask for (0: the caller's version) for dl_procaddr. */
struct probe_sym {
	const char *exported;
	const char *base;
	int version;
};

static const struct probe_sym probe_syms[] = {
	{"cuInit", "cuInit", 0},
	{"cuDriverGetVersion", "cuDriverGetVersion", 0},
	{"cuDeviceGetCount", "cuDeviceGetCount", 0},
	{"cuDeviceGet", "cuDeviceGet", 0},
	{"cuDeviceGetName", "cuDeviceGetName", 0},
	{"cuDeviceGetUuid_v2", "cuDeviceGetUuid", 0},
	{"cuDeviceTotalMem_v2", "cuDeviceTotalMem", 0},
	{"cuDeviceGetAttribute", "cuDeviceGetAttribute", 0},
	{"cuDeviceGetPCIBusId", "cuDeviceGetPCIBusId", 0},
	{"cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain", 0},
	{"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease", 0},
	{"cuDevicePrimaryCtxReset_v2", "cuDevicePrimaryCtxReset", 0},
	{"cuDevicePrimaryCtxGetState", "cuDevicePrimaryCtxGetState", 0},
	{"cuCtxCreate_v2", "cuCtxCreate", 11000}, /* later versions change the signature */
	{"cuCtxDestroy_v2", "cuCtxDestroy", 0},
	{"cuCtxSetCurrent", "cuCtxSetCurrent", 0},
	{"cuCtxSynchronize", "cuCtxSynchronize", 0},
	{"cuMemGetInfo_v2", "cuMemGetInfo", 0},
	{"cuMemAlloc_v2", "cuMemAlloc", 0},
	{"cuMemFree_v2", "cuMemFree", 0},
	{"cuMemAllocPitch_v2", "cuMemAllocPitch", 0},
	{"cuMemAllocManaged", "cuMemAllocManaged", 0},
	{"cuMemAllocAsync", "cuMemAllocAsync", 0},
	{"cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync", 0},
	{"cuMemFreeAsync", "cuMemFreeAsync", 0},
	{"cuMemPoolCreate", "cuMemPoolCreate", 0},
	{"cuMemCreate", "cuMemCreate", 0},
	{"cuMemRelease", "cuMemRelease", 0},
	{"cuMemAddressReserve", "cuMemAddressReserve", 0},
	{"cuMemAddressFree", "cuMemAddressFree", 0},
	{"cuMemMap", "cuMemMap", 0},
	{"cuMemUnmap", "cuMemUnmap", 0},
	{"cuMemSetAccess", "cuMemSetAccess", 0},
	{"cuArrayCreate_v2", "cuArrayCreate", 0},
	{"cuArray3DCreate_v2", "cuArray3DCreate", 0},
	{"cuArrayDestroy", "cuArrayDestroy", 0},
	{"cuMipmappedArrayCreate", "cuMipmappedArrayCreate", 0},
	{"cuMipmappedArrayDestroy", "cuMipmappedArrayDestroy", 0},
	{"cuModuleLoadData", "cuModuleLoadData", 0},
	{"cuModuleGetFunction", "cuModuleGetFunction", 0},
	{"cuLaunchKernel", "cuLaunchKernel", 0},
	{"cuLaunchKernelEx", "cuLaunchKernelEx", 0},
	{"cuLaunchCooperativeKernel", "cuLaunchCooperativeKernel", 0},
	{"cuStreamCreate", "cuStreamCreate", 0},
	{"cuStreamSynchronize", "cuStreamSynchronize", 0},
	{"cuStreamQuery", "cuStreamQuery", 0},
	{"cuEventCreate", "cuEventCreate", 0},
	{"cuEventRecord", "cuEventRecord", 0},
	{"cuEventSynchronize", "cuEventSynchronize", 0},
	{"cuEventElapsedTime", "cuEventElapsedTime", 0},
	{"cuEventDestroy_v2", "cuEventDestroy", 0},
	{"cuGraphCreate", "cuGraphCreate", 0},
	{"cuGraphAddKernelNode_v2", "cuGraphAddKernelNode", 12000},
	{"cuGraphAddMemAllocNode", "cuGraphAddMemAllocNode", 0},
	{"cuGraphAddMemFreeNode", "cuGraphAddMemFreeNode", 0},
	{"cuGraphInstantiateWithFlags", "cuGraphInstantiateWithFlags", 0},
	{"cuGraphLaunch", "cuGraphLaunch", 0},
	{"cuGraphExecDestroy", "cuGraphExecDestroy", 0},
	{"cuGraphDestroy", "cuGraphDestroy", 0},
	{"cuGetErrorName", "cuGetErrorName", 0},
};

_Static_assert(sizeof(struct probe_api) == sizeof probe_syms / sizeof probe_syms[0] * sizeof(void *),
	       "probe_syms must list every probe_api entry");

/* ---- NVML, through dlopen ---- */

struct probe_nvml {
	void *h;
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
	nvmlReturn_t (*mem)(nvmlDevice_t, nvmlMemory_t *);
	nvmlReturn_t (*procs)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
	nvmlReturn_t (*util)(nvmlDevice_t, nvmlUtilization_t *);
	nvmlReturn_t (*putil)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
			      unsigned long long);
	nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*count)(unsigned int *);
};

static struct probe_nvml nv;

static inline int nvml_load(void)
{
	if (nv.h)
		return 0;
	nv.h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	if (!nv.h) {
		fprintf(stderr, "probe: dlopen libnvidia-ml.so.1: %s\n", dlerror());
		return -1;
	}
	*(void **)&nv.init = dlsym(nv.h, "nvmlInit_v2");
	*(void **)&nv.handle = dlsym(nv.h, "nvmlDeviceGetHandleByIndex_v2");
	*(void **)&nv.mem = dlsym(nv.h, "nvmlDeviceGetMemoryInfo");
	*(void **)&nv.procs = dlsym(nv.h, "nvmlDeviceGetComputeRunningProcesses_v3");
	*(void **)&nv.util = dlsym(nv.h, "nvmlDeviceGetUtilizationRates");
	*(void **)&nv.putil = dlsym(nv.h, "nvmlDeviceGetProcessUtilization");
	*(void **)&nv.uuid = dlsym(nv.h, "nvmlDeviceGetUUID");
	*(void **)&nv.name = dlsym(nv.h, "nvmlDeviceGetName");
	*(void **)&nv.count = dlsym(nv.h, "nvmlDeviceGetCount_v2");
	if (!nv.init || !nv.handle || !nv.mem || !nv.procs || !nv.util || !nv.putil || !nv.uuid ||
	    !nv.name || !nv.count) {
		fprintf(stderr, "probe: libnvidia-ml.so.1 lacks a function\n");
		return -1;
	}
	return nv.init() == NVML_SUCCESS ? 0 : -1;
}

/* ---- the interpreter ---- */

enum { OBJ_PTR = 1, OBJ_ASYNC, OBJ_VMM, OBJ_ARRAY, OBJ_MIPMAP, OBJ_GRAPH };

struct probe_obj {
	int kind;
	CUdeviceptr ptr;
	size_t size;
	CUmemGenericAllocationHandle handle;
	void *h; /* array, mipmap, graph */
	CUgraphExec exec;
};

struct probe {
	const struct probe_api *a;
	int dev;
	CUcontext created;
	CUstream stream;
	CUmodule mod;
	CUfunction busy;
	CUmemoryPool pool;
	struct probe_obj obj[4096];
	int nobj;
	int failed;
};

static unsigned long long probe_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s ? s : "0", &end, 10);
	switch (*end) {
	case 'k': case 'K': return v << 10;
	case 'm': case 'M': return v << 20;
	case 'g': case 'G': return v << 30;
	default: return v;
	}
}

static double probe_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Prints "<cmd> rc=<r>" (and err=NAME), leaves the line open for more. */
static void probe_rc(struct probe *p, const char *cmd, CUresult r)
{
	const char *name = NULL;
	printf("%s rc=%d", cmd, r);
	if (r) {
		p->failed = 1;
		if (p->a->errname && p->a->errname(r, &name) == CUDA_SUCCESS && name)
			printf(" err=%s", name);
	}
}

static struct probe_obj *probe_push(struct probe *p, int kind)
{
	struct probe_obj *o;
	if (p->nobj == (int)(sizeof p->obj / sizeof p->obj[0]))
		return NULL;
	o = &p->obj[p->nobj++];
	memset(o, 0, sizeof *o);
	o->kind = kind;
	return o;
}

static CUresult probe_release(struct probe *p, struct probe_obj *o)
{
	const struct probe_api *a = p->a;
	CUresult r;
	switch (o->kind) {
	case OBJ_PTR: return a->free(o->ptr);
	case OBJ_ASYNC: return a->freeasync(o->ptr, p->stream);
	case OBJ_VMM:
		a->unmap(o->ptr, o->size);
		a->addrfree(o->ptr, o->size);
		return a->memrelease(o->handle);
	case OBJ_ARRAY: return a->arraydestroy((CUarray)o->h);
	case OBJ_MIPMAP: return a->mipmapdestroy((CUmipmappedArray)o->h);
	case OBJ_GRAPH:
		r = a->graphexecdestroy(o->exec);
		return r ? r : a->graphdestroy((CUgraph)o->h);
	}
	return CUDA_ERROR_INVALID_VALUE;
}

static CUresult probe_busy(struct probe *p)
{
	static const char image[] = "simulated cubin";
	CUresult r;
	if (p->busy)
		return CUDA_SUCCESS;
	r = p->a->modload(&p->mod, image);
	return r ? r : p->a->getfunc(&p->busy, p->mod, "busy");
}

static void probe_nvml_cmd(struct probe *p, const char *cmd, const char *arg)
{
	nvmlDevice_t d;
	unsigned int idx = arg ? (unsigned int)atoi(arg) : 0;
	nvmlReturn_t r;

	if (nvml_load() < 0) {
		printf("%s rc=-1\n", cmd);
		p->failed = 1;
		return;
	}
	r = nv.handle(idx, &d);
	if (!r && strcmp(cmd, "nvml-mem") == 0) {
		nvmlMemory_t m;
		r = nv.mem(d, &m);
		printf("%s rc=%d", cmd, r);
		if (!r)
			printf(" total=%llu used=%llu free=%llu", m.total, m.used, m.free);
	} else if (!r && strcmp(cmd, "nvml-procs") == 0) {
		nvmlProcessInfo_t info[256];
		unsigned int n = 256;
		r = nv.procs(d, &n, info);
		printf("%s rc=%d n=%u", cmd, r, r ? 0 : n);
		for (unsigned int i = 0; !r && i < n; i++)
			printf(" pid%u=%llu", info[i].pid, info[i].usedGpuMemory);
	} else if (!r && strcmp(cmd, "nvml-size") == 0) {
		/* The size protocol: query with 0/NULL, then one too few, then exact. */
		nvmlProcessInfo_t info[256];
		unsigned int n = 0, small, exact;
		nvmlReturn_t q = nv.procs(d, &n, NULL), s = NVML_SUCCESS, e;
		small = n ? n - 1 : 0;
		if (n)
			s = nv.procs(d, &small, info);
		exact = n;
		e = nv.procs(d, &exact, info);
		printf("%s rc=%d query=%d n=%u small=%d small_n=%u exact=%d exact_n=%u", cmd, e, q, n,
		       s, small, e, exact);
		r = e;
	} else if (!r && strcmp(cmd, "nvml-all") == 0) {
		/* Every simple device query, for smoke tests and for comparing
		 * with nvidia-smi. */
		static const char *const uints[] = {
			"nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit",
			"nvmlDeviceGetPowerManagementLimit", "nvmlDeviceGetArchitecture",
			"nvmlDeviceGetMinorNumber", "nvmlDeviceGetIndex", "nvmlDeviceGetPerformanceState",
			"nvmlDeviceGetPersistenceMode", "nvmlDeviceGetComputeMode",
			"nvmlDeviceGetDisplayMode", "nvmlDeviceGetDisplayActive", "nvmlDeviceGetFanSpeed",
		};
		static const char *const strs[] = {"nvmlDeviceGetSerial", "nvmlDeviceGetBoardPartNumber",
						    "nvmlDeviceGetVbiosVersion"};
		nvmlReturn_t (*fu)(nvmlDevice_t, unsigned int *);
		nvmlReturn_t (*fs)(nvmlDevice_t, char *, unsigned int);
		nvmlReturn_t (*f2)(nvmlDevice_t, int, unsigned int *);
		nvmlReturn_t (*fpci)(nvmlDevice_t, nvmlPciInfo_t *);
		nvmlReturn_t (*fver)(char *, unsigned int);
		nvmlPciInfo_t pci;
		unsigned int u;
		char buf[96];
		printf("%s rc=0", cmd);
		for (size_t k = 0; k < sizeof uints / sizeof uints[0]; k++) {
			*(void **)&fu = dlsym(nv.h, uints[k]);
			u = 0;
			nvmlReturn_t q = fu ? fu(d, &u) : NVML_ERROR_FUNCTION_NOT_FOUND;
			printf(" %s=%s", uints[k] + 13, q ? "err" : "");
			if (!q)
				printf("%u", u);
		}
		for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
			*(void **)&fs = dlsym(nv.h, strs[k]);
			nvmlReturn_t q = fs ? fs(d, buf, sizeof buf) : NVML_ERROR_FUNCTION_NOT_FOUND;
			printf(" %s=%s", strs[k] + 13, q ? "err" : buf);
		}
		*(void **)&f2 = dlsym(nv.h, "nvmlDeviceGetTemperature");
		if (f2 && !f2(d, 0, &u))
			printf(" Temperature=%u", u);
		*(void **)&f2 = dlsym(nv.h, "nvmlDeviceGetMaxClockInfo");
		if (f2 && !f2(d, 1, &u))
			printf(" MaxClockSM=%u", u);
		*(void **)&fpci = dlsym(nv.h, "nvmlDeviceGetPciInfo_v3");
		if (fpci && !fpci(d, &pci))
			printf(" busId=%s bus=%u pciDeviceId=0x%08x", pci.busId, pci.bus, pci.pciDeviceId);
		*(void **)&fver = dlsym(nv.h, "nvmlSystemGetDriverVersion");
		if (fver && !fver(buf, sizeof buf))
			printf(" driver=%s", buf);
	} else if (!r && strcmp(cmd, "nvml-util") == 0) {
		nvmlUtilization_t u;
		r = nv.util(d, &u);
		printf("%s rc=%d", cmd, r);
		if (!r)
			printf(" gpu=%u mem=%u", u.gpu, u.memory);
	} else if (!r && strcmp(cmd, "nvml-putil") == 0) {
		nvmlProcessUtilizationSample_t s[256];
		unsigned int n = 256;
		r = nv.putil(d, s, &n, 0);
		printf("%s rc=%d n=%u", cmd, r, r ? 0 : n);
		for (unsigned int i = 0; !r && i < n; i++)
			printf(" pid%u=%u", s[i].pid, s[i].smUtil);
	} else if (!r && strcmp(cmd, "nvml-info") == 0) {
		char uuid[96], name[96];
		unsigned int count = 0;
		r = nv.uuid(d, uuid, sizeof uuid);
		if (!r)
			r = nv.name(d, name, sizeof name);
		if (!r)
			r = nv.count(&count);
		printf("%s rc=%d", cmd, r);
		if (!r)
			printf(" count=%u uuid=%s name=\"%s\"", count, uuid, name);
	} else {
		printf("%s rc=%d", cmd, r ? r : -1);
	}
	if (r)
		p->failed = 1;
	printf("\n");
}

/* One command.  Returns -1 on a usage error. */
static int probe_cmd(struct probe *p, char *word)
{
	const struct probe_api *a = p->a;
	char *args[8] = {0};
	char *cmd = word;
	int nargs = 0;
	CUresult r = CUDA_SUCCESS;
	struct probe_obj *o;

	for (char *s = strchr(word, ':'); s && nargs < 8; s = strchr(s, ':')) {
		*s++ = 0;
		args[nargs++] = s;
	}
	if (strcmp(cmd, "init") == 0) {
		int n = 0, v = 0;
		r = a->init(0);
		if (!r)
			r = a->devcount(&n);
		a->drvver(&v);
		probe_rc(p, cmd, r);
		printf(" count=%d version=%d", n, v);
	} else if (strcmp(cmd, "dev") == 0) {
		p->dev = atoi(args[0] ? args[0] : "0");
		probe_rc(p, cmd, r);
	} else if (strcmp(cmd, "info") == 0) {
		char name[128] = "", pci[32] = "";
		CUuuid u;
		size_t total = 0;
		int sms = 0, dev = args[0] ? atoi(args[0]) : p->dev;
		CUdevice d;
		r = a->devget(&d, dev);
		if (!r)
			r = a->devname(name, sizeof name, d);
		if (!r)
			r = a->devuuid(&u, d);
		if (!r)
			r = a->devtotal(&total, d);
		if (!r)
			r = a->devattr(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d);
		if (!r)
			r = a->devpci(pci, sizeof pci, d);
		probe_rc(p, cmd, r);
		if (!r) {
			const unsigned char *b = (const unsigned char *)u.bytes;
			printf(" dev=%d total=%zu sms=%d pci=%s uuid=GPU-", dev, total, sms, pci);
			for (int i = 0; i < 16; i++)
				printf("%02x%s", b[i], i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
			printf(" name=\"%s\"", name);
		}
	} else if (strcmp(cmd, "retain") == 0) {
		CUcontext c;
		r = a->pretain(&c, p->dev);
		if (!r)
			r = a->ctxset(c);
		probe_rc(p, cmd, r);
	} else if (strcmp(cmd, "release") == 0) {
		probe_rc(p, cmd, a->prelease(p->dev));
	} else if (strcmp(cmd, "reset") == 0) {
		probe_rc(p, cmd, a->preset(p->dev));
	} else if (strcmp(cmd, "state") == 0) {
		unsigned int flags = 0;
		int active = 0;
		r = a->pstate(p->dev, &flags, &active);
		probe_rc(p, cmd, r);
		printf(" active=%d", active);
	} else if (strcmp(cmd, "ctx") == 0) {
		probe_rc(p, cmd, a->ctxcreate(&p->created, 0, p->dev));
	} else if (strcmp(cmd, "ctxdestroy") == 0) {
		probe_rc(p, cmd, a->ctxdestroy(p->created));
	} else if (strcmp(cmd, "sync") == 0) {
		double t0 = probe_ms();
		r = a->ctxsync();
		probe_rc(p, cmd, r);
		printf(" ms=%.3f", probe_ms() - t0);
	} else if (strcmp(cmd, "meminfo") == 0) {
		size_t f = 0, t = 0;
		r = a->meminfo(&f, &t);
		probe_rc(p, cmd, r);
		printf(" free=%zu total=%zu", f, t);
	} else if (strcmp(cmd, "alloc") == 0 || strcmp(cmd, "managed") == 0 ||
		   strcmp(cmd, "async") == 0 || strcmp(cmd, "poolalloc") == 0) {
		CUdeviceptr d = 0;
		size_t size = probe_size(args[0]);
		int count = args[1] ? atoi(args[1]) : 1, done = 0;
		for (int i = 0; i < count && !r; i++) {
			if (cmd[0] == 'a' && cmd[1] == 'l')
				r = a->alloc(&d, size);
			else if (cmd[0] == 'm')
				r = a->managed(&d, size, 1);
			else if (cmd[0] == 'a')
				r = a->allocasync(&d, size, p->stream);
			else {
				if (!p->pool) {
					CUmemPoolProps props;
					memset(&props, 0, sizeof props);
					props.allocType = 1;
					props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
					props.location.id = p->dev;
					r = a->poolcreate(&p->pool, &props);
				}
				if (!r)
					r = a->allocpool(&d, size, p->pool, p->stream);
			}
			if (!r && (o = probe_push(p, cmd[0] == 'a' && cmd[1] == 'l' ? OBJ_PTR :
						     cmd[0] == 'm' ? OBJ_PTR : OBJ_ASYNC))) {
				o->ptr = d;
				done++;
			}
		}
		probe_rc(p, cmd, r);
		printf(" ptr=0x%llx done=%d", (unsigned long long)d, done);
	} else if (strcmp(cmd, "pitch") == 0) {
		CUdeviceptr d = 0;
		size_t pitch = 0;
		r = a->pitch(&d, &pitch, probe_size(args[0]), probe_size(args[1]), 4);
		if (!r && (o = probe_push(p, OBJ_PTR)))
			o->ptr = d;
		probe_rc(p, cmd, r);
		printf(" ptr=0x%llx pitch=%zu", (unsigned long long)d, pitch);
	} else if (strcmp(cmd, "vmm") == 0) {
		CUmemAllocationProp prop;
		CUmemAccessDesc acc;
		CUmemGenericAllocationHandle h = 0;
		CUdeviceptr va = 0;
		size_t size = probe_size(args[0]);
		memset(&prop, 0, sizeof prop);
		prop.type = 1; /* CU_MEM_ALLOCATION_TYPE_PINNED */
		prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
		prop.location.id = p->dev;
		acc.location = prop.location;
		acc.flags = 3; /* CU_MEM_ACCESS_FLAGS_PROT_READWRITE */
		r = a->memcreate(&h, size, &prop, 0);
		if (!r)
			r = a->reserve(&va, size, 0, 0, 0);
		if (!r)
			r = a->map(va, size, 0, h, 0);
		if (!r)
			r = a->setaccess(va, size, &acc, 1);
		if (!r && (o = probe_push(p, OBJ_VMM))) {
			o->ptr = va;
			o->size = size;
			o->handle = h;
		}
		probe_rc(p, cmd, r);
		printf(" ptr=0x%llx", (unsigned long long)va);
	} else if (strcmp(cmd, "array") == 0 || strcmp(cmd, "array3d") == 0 ||
		   strcmp(cmd, "mipmap") == 0) {
		CUDA_ARRAY3D_DESCRIPTOR d3;
		void *h = NULL;
		memset(&d3, 0, sizeof d3);
		d3.Width = probe_size(args[0]);
		d3.Height = probe_size(args[1]);
		d3.Depth = cmd[5] == '3' ? probe_size(args[2]) : 0;
		d3.Format = CU_AD_FORMAT_FLOAT;
		d3.NumChannels = 1;
		if (cmd[0] == 'm') {
			r = a->mipmap((CUmipmappedArray *)&h, &d3, (unsigned int)atoi(args[2] ? args[2] : "1"));
		} else if (cmd[5] == '3') {
			r = a->array3d((CUarray *)&h, &d3);
		} else {
			CUDA_ARRAY_DESCRIPTOR d2 = {d3.Width, d3.Height, d3.Format, d3.NumChannels};
			r = a->array((CUarray *)&h, &d2);
		}
		if (!r && (o = probe_push(p, cmd[0] == 'm' ? OBJ_MIPMAP : OBJ_ARRAY)))
			o->h = h;
		probe_rc(p, cmd, r);
	} else if (strcmp(cmd, "free") == 0) {
		int n = args[0] ? atoi(args[0]) : 1;
		for (int i = 0; i < n && p->nobj && !r; i++)
			r = probe_release(p, &p->obj[--p->nobj]);
		probe_rc(p, cmd, r);
	} else if (strcmp(cmd, "freeall") == 0) {
		while (p->nobj && !r)
			r = probe_release(p, &p->obj[--p->nobj]);
		probe_rc(p, cmd, r);
	} else if (strcmp(cmd, "stream") == 0) {
		probe_rc(p, cmd, a->streamcreate(&p->stream, 0));
	} else if (strcmp(cmd, "launch") == 0 || strcmp(cmd, "launchex") == 0 ||
		   strcmp(cmd, "coop") == 0) {
		unsigned long long us = strtoull(args[0] ? args[0] : "0", NULL, 10);
		int count = args[1] ? atoi(args[1]) : 1;
		void *params[] = {&us};
		double t0 = probe_ms();
		r = probe_busy(p);
		for (int i = 0; i < count && !r; i++) {
			if (cmd[0] == 'c') {
				r = a->coop(p->busy, 1, 1, 1, 32, 1, 1, 0, p->stream, params);
			} else if (cmd[6] == 'e') {
				CUlaunchConfig cfg;
				memset(&cfg, 0, sizeof cfg);
				cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
				cfg.blockDimX = 32;
				cfg.blockDimY = cfg.blockDimZ = 1;
				cfg.hStream = p->stream;
				r = a->launchex(&cfg, p->busy, params, NULL);
			} else {
				r = a->launch(p->busy, 1, 1, 1, 32, 1, 1, 0, p->stream, params, NULL);
			}
		}
		probe_rc(p, cmd, r);
		printf(" ms=%.3f", probe_ms() - t0);
	} else if (strcmp(cmd, "ssync") == 0) {
		double t0 = probe_ms();
		r = a->streamsync(p->stream);
		probe_rc(p, cmd, r);
		printf(" ms=%.3f", probe_ms() - t0);
	} else if (strcmp(cmd, "query") == 0) {
		probe_rc(p, cmd, a->streamquery(p->stream));
	} else if (strcmp(cmd, "time") == 0) {
		unsigned long long us = strtoull(args[0] ? args[0] : "0", NULL, 10);
		int count = args[1] ? atoi(args[1]) : 1;
		void *params[] = {&us};
		CUevent e0 = NULL, e1 = NULL;
		float ms = 0;
		r = probe_busy(p);
		if (!r)
			r = a->eventcreate(&e0, 0);
		if (!r)
			r = a->eventcreate(&e1, 0);
		if (!r)
			r = a->eventrecord(e0, p->stream);
		for (int i = 0; i < count && !r; i++)
			r = a->launch(p->busy, 1, 1, 1, 32, 1, 1, 0, p->stream, params, NULL);
		if (!r)
			r = a->eventrecord(e1, p->stream);
		if (!r)
			r = a->eventsync(e1);
		if (!r)
			r = a->elapsed(&ms, e0, e1);
		if (e0)
			a->eventdestroy(e0);
		if (e1)
			a->eventdestroy(e1);
		probe_rc(p, cmd, r);
		printf(" ms=%.3f", ms);
	} else if (strcmp(cmd, "graph") == 0) {
		unsigned long long us = strtoull(args[0] ? args[0] : "0", NULL, 10);
		int nodes = args[1] ? atoi(args[1]) : 1;
		size_t bytes = probe_size(args[2]);
		void *params[] = {&us};
		CUgraph g = NULL;
		CUgraphExec x = NULL;
		CUgraphNode node, prev = NULL;
		CUDA_MEM_ALLOC_NODE_PARAMS mp;
		double t0;
		memset(&mp, 0, sizeof mp);
		r = probe_busy(p);
		if (!r)
			r = a->graphcreate(&g, 0);
		if (!r && bytes) {
			mp.poolProps.allocType = 1;
			mp.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
			mp.poolProps.location.id = p->dev;
			mp.bytesize = bytes;
			r = a->graphalloc(&node, g, NULL, 0, &mp);
			prev = node;
		}
		for (int i = 0; i < nodes && !r; i++) {
			CUDA_KERNEL_NODE_PARAMS_v2 kp;
			memset(&kp, 0, sizeof kp);
			kp.func = p->busy;
			kp.gridDimX = kp.gridDimY = kp.gridDimZ = 1;
			kp.blockDimX = 32;
			kp.blockDimY = kp.blockDimZ = 1;
			kp.kernelParams = params;
			r = a->graphkernel(&node, g, prev ? &prev : NULL, prev ? 1 : 0, &kp);
			prev = node;
		}
		if (!r && bytes)
			r = a->graphfree(&node, g, &prev, 1, mp.dptr);
		if (!r)
			r = a->graphinst(&x, g, 0);
		t0 = probe_ms();
		if (!r)
			r = a->graphlaunch(x, p->stream);
		if (!r)
			r = a->streamsync(p->stream);
		if (!r && (o = probe_push(p, OBJ_GRAPH))) {
			o->h = g;
			o->exec = x;
		}
		probe_rc(p, cmd, r);
		printf(" ms=%.3f dptr=0x%llx", probe_ms() - t0, (unsigned long long)mp.dptr);
	} else if (strcmp(cmd, "sleep") == 0) {
		usleep((useconds_t)atoi(args[0] ? args[0] : "0") * 1000);
		probe_rc(p, cmd, r);
	} else if (strcmp(cmd, "pid") == 0) {
		probe_rc(p, cmd, r);
		printf(" pid=%d", (int)getpid());
	} else if (strcmp(cmd, "hold") == 0) {
		char buf[256];
		probe_rc(p, cmd, r);
		printf(" pid=%d\n", (int)getpid());
		fflush(stdout);
		while (fgets(buf, sizeof buf, stdin))
			;
		return 0;
	} else if (strncmp(cmd, "nvml-", 5) == 0) {
		probe_nvml_cmd(p, cmd, args[0]);
		return 0;
	} else {
		fprintf(stderr, "probe: unknown command \"%s\"\n", cmd);
		return -1;
	}
	printf("\n");
	return 0;
}

static inline int probe_main(const struct probe_api *a, int argc, char **argv, int first)
{
	static struct probe p;
	setvbuf(stdout, NULL, _IOLBF, 0);
	p.a = a;
	for (int i = first; i < argc; i++)
		if (probe_cmd(&p, argv[i]) < 0)
			return 2;
	return p.failed;
}

#endif
