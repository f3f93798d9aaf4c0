/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVML commands, on device index I (default 0) of libnvidia-ml.so.1,
 * dlopen'd at the first one (rc=-1 when it cannot be):
 *   nvml-mem:I    nvmlDeviceGetMemoryInfo            total= used= free=
 *   nvml-procs:I  compute processes _v3              n= pid<pid>=<bytes>...
 *   nvml-size:I   the size protocol: NULL/0 query, one too few, exact
 *   nvml-util:I   utilisation rates                  gpu= mem=
 *   nvml-putil:I  per-process utilisation            n= pid<pid>=<smUtil>...
 *   nvml-info:I   count, UUID, name
 *   nvml-all:I    every simple device query (smoke tests, nvidia-smi)
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static struct {
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
} nv;

static int nvml_load(void)
{
	if (nv.h)
		return 0;
	nv.h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	if (!nv.h) {
		fprintf(stderr, "client: dlopen libnvidia-ml.so.1: %s\n", dlerror());
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
		fprintf(stderr, "client: libnvidia-ml.so.1 lacks a function\n");
		return -1;
	}
	return nv.init() == NVML_SUCCESS ? 0 : -1;
}

/* The device of argument 0: its NVML return, -1 when NVML is not there. */
static int device(char **args, nvmlDevice_t *d)
{
	if (nvml_load() < 0)
		return -1;
	return nv.handle((unsigned int)arg_int(args, 0, 0), d);
}

static int mem(struct client *c, char **args)
{
	nvmlDevice_t d;
	nvmlMemory_t m;
	int r = device(args, &d);

	if (r)
		return r;
	r = nv.mem(d, &m);
	if (!r)
		kv(c, "total=%llu used=%llu free=%llu", m.total, m.used, m.free);
	return r;
}

static int procs(struct client *c, char **args)
{
	nvmlDevice_t d;
	nvmlProcessInfo_t info[256];
	unsigned int n = 256;
	int r = device(args, &d);

	if (r)
		return r;
	r = nv.procs(d, &n, info);
	kv(c, "n=%u", r ? 0 : n);
	for (unsigned int i = 0; !r && i < n; i++)
		kv(c, "pid%u=%llu", info[i].pid, info[i].usedGpuMemory);
	return r;
}

/* The size protocol: query with 0/NULL, then one too few, then exact. */
static int size(struct client *c, char **args)
{
	nvmlDevice_t d;
	nvmlProcessInfo_t info[256];
	unsigned int n = 0, small, exact;
	nvmlReturn_t q, s = NVML_SUCCESS, e;
	int r = device(args, &d);

	if (r)
		return r;
	q = nv.procs(d, &n, NULL);
	small = n ? n - 1 : 0;
	if (n)
		s = nv.procs(d, &small, info);
	exact = n;
	e = nv.procs(d, &exact, info);
	kv(c, "query=%d n=%u small=%d small_n=%u exact=%d exact_n=%u", q, n, s, small, e, exact);
	return e;
}

static int util(struct client *c, char **args)
{
	nvmlDevice_t d;
	nvmlUtilization_t u;
	int r = device(args, &d);

	if (r)
		return r;
	r = nv.util(d, &u);
	if (!r)
		kv(c, "gpu=%u mem=%u", u.gpu, u.memory);
	return r;
}

static int putil(struct client *c, char **args)
{
	nvmlDevice_t d;
	nvmlProcessUtilizationSample_t s[256];
	unsigned int n = 256;
	int r = device(args, &d);

	if (r)
		return r;
	r = nv.putil(d, s, &n, 0);
	kv(c, "n=%u", r ? 0 : n);
	for (unsigned int i = 0; !r && i < n; i++)
		kv(c, "pid%u=%u", s[i].pid, s[i].smUtil);
	return r;
}

static int info(struct client *c, char **args)
{
	nvmlDevice_t d;
	char uuid[96], name[96];
	unsigned int count = 0;
	int r = device(args, &d);

	if (!r)
		r = nv.uuid(d, uuid, sizeof uuid);
	if (!r)
		r = nv.name(d, name, sizeof name);
	if (!r)
		r = nv.count(&count);
	if (!r)
		kv(c, "count=%u uuid=%s name=\"%s\"", count, uuid, name);
	return r;
}

/* Each query by name, "err" where it fails; always rc=0. */
static int all(struct client *c, char **args)
{
	static const char *const uints[] = {
		"nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit",
		"nvmlDeviceGetPowerManagementLimit", "nvmlDeviceGetArchitecture",
		"nvmlDeviceGetMinorNumber", "nvmlDeviceGetIndex", "nvmlDeviceGetPerformanceState",
		"nvmlDeviceGetPersistenceMode", "nvmlDeviceGetComputeMode",
		"nvmlDeviceGetDisplayMode", "nvmlDeviceGetDisplayActive", "nvmlDeviceGetFanSpeed",
	};
	static const char *const strs[] = {"nvmlDeviceGetSerial", "nvmlDeviceGetBoardPartNumber",
					    "nvmlDeviceGetVbiosVersion"};
	const size_t prefix = strlen("nvmlDeviceGet");
	nvmlReturn_t (*fu)(nvmlDevice_t, unsigned int *);
	nvmlReturn_t (*fs)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*f2)(nvmlDevice_t, int, unsigned int *);
	nvmlReturn_t (*fpci)(nvmlDevice_t, nvmlPciInfo_t *);
	nvmlReturn_t (*fver)(char *, unsigned int);
	nvmlDevice_t d;
	nvmlPciInfo_t pci;
	unsigned int u;
	char buf[96];
	int r = device(args, &d);

	if (r)
		return r;
	for (size_t k = 0; k < sizeof uints / sizeof uints[0]; k++) {
		*(void **)&fu = dlsym(nv.h, uints[k]);
		u = 0;
		if (fu && fu(d, &u) == NVML_SUCCESS)
			kv(c, "%s=%u", uints[k] + prefix, u);
		else
			kv(c, "%s=err", uints[k] + prefix);
	}
	for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
		*(void **)&fs = dlsym(nv.h, strs[k]);
		nvmlReturn_t q = fs ? fs(d, buf, sizeof buf) : NVML_ERROR_FUNCTION_NOT_FOUND;
		kv(c, "%s=%s", strs[k] + prefix, q ? "err" : buf);
	}
	*(void **)&f2 = dlsym(nv.h, "nvmlDeviceGetTemperature");
	if (f2 && !f2(d, 0, &u))
		kv(c, "Temperature=%u", u);
	*(void **)&f2 = dlsym(nv.h, "nvmlDeviceGetMaxClockInfo");
	if (f2 && !f2(d, 1, &u))
		kv(c, "MaxClockSM=%u", u);
	*(void **)&fpci = dlsym(nv.h, "nvmlDeviceGetPciInfo_v3");
	if (fpci && !fpci(d, &pci))
		kv(c, "busId=%s bus=%u pciDeviceId=0x%08x", pci.busId, pci.bus, pci.pciDeviceId);
	*(void **)&fver = dlsym(nv.h, "nvmlSystemGetDriverVersion");
	if (fver && !fver(buf, sizeof buf))
		kv(c, "driver=%s", buf);
	return 0;
}

const struct command nvml_commands[] = {
	{"nvml-mem", 1, mem, 1},
	{"nvml-procs", 1, procs, 1},
	{"nvml-size", 1, size, 1},
	{"nvml-util", 1, util, 1},
	{"nvml-putil", 1, putil, 1},
	{"nvml-info", 1, info, 1},
	{"nvml-all", 1, all, 1},
	{0},
};
