/* The test client with a second, private copy of the driver: dlmopen
 * libcuda.so.1 into a new link-map namespace (LM_ID_NEWLM), where no
 * preloaded library is, then every entry point through its
 * cuGetProcAddress_v2, as dl_client does.  An escape softmig-guard must
 * catch (issue 12).  See client.h. */
#include <dlfcn.h>

#include "client.h"

typedef CUresult (*getproc_fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

static getproc_fn getproc;
static int cuda_version = 13000;

static void *get(const char *name)
{
	void *p = NULL;
	CUdriverProcAddressQueryResult st;
	CUresult r = getproc(name, &p, cuda_version, CU_GET_PROC_ADDRESS_DEFAULT, &st);

	if (r != CUDA_SUCCESS || !p) {
		fprintf(stderr, "dl_dlmopen: cuGetProcAddress_v2(%s) = %d status %d\n", name, r, (int)st);
		exit(4);
	}
	return p;
}

int main(int argc, char **argv)
{
	void *h = dlmopen(LM_ID_NEWLM, "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	const char *v = getenv("CLIENT_CUDA_VERSION");
	struct cu cu;

	if (!h) {
		fprintf(stderr, "dl_dlmopen: %s\n", dlerror());
		return 4;
	}
	if (v)
		cuda_version = atoi(v);
	getproc = (getproc_fn)dlsym(h, "cuGetProcAddress_v2");
	if (!getproc) {
		fprintf(stderr, "dl_dlmopen: no cuGetProcAddress_v2\n");
		return 4;
	}
	/* The runtime asks for cuGetProcAddress itself through it, too. */
	getproc = (getproc_fn)get("cuGetProcAddress");
	cu.Init = get("cuInit");
	cu.DeviceGet = get("cuDeviceGet");
	cu.DevicePrimaryCtxRetain = get("cuDevicePrimaryCtxRetain");
	cu.CtxSetCurrent = get("cuCtxSetCurrent");
	cu.CtxCreate = get("cuCtxCreate");
	cu.CtxDestroy = get("cuCtxDestroy");
	cu.MemGetInfo = get("cuMemGetInfo");
	cu.DeviceTotalMem = get("cuDeviceTotalMem");
	cu.MemAlloc = get("cuMemAlloc");
	cu.MemAllocV1 = NULL;
	cu.MemFreeV1 = NULL;
	cu.MemAllocPitch = get("cuMemAllocPitch");
	cu.MemAllocManaged = get("cuMemAllocManaged");
	cu.MemAllocAsync = get("cuMemAllocAsync");
	cu.MemFreeAsync = get("cuMemFreeAsync");
	cu.DeviceGetDefaultMemPool = get("cuDeviceGetDefaultMemPool");
	cu.MemAllocFromPoolAsync = get("cuMemAllocFromPoolAsync");
	cu.StreamSynchronize = get("cuStreamSynchronize");
	cu.MemFree = get("cuMemFree");
	cu.MemCreate = get("cuMemCreate");
	cu.MemRelease = get("cuMemRelease");
	cu.ArrayCreate = get("cuArrayCreate");
	cu.Array3DCreate = get("cuArray3DCreate");
	cu.ArrayDestroy = get("cuArrayDestroy");
	cu.MipmappedArrayCreate = get("cuMipmappedArrayCreate");
	cu.MipmappedArrayDestroy = get("cuMipmappedArrayDestroy");
	cu.GraphCreate = get("cuGraphCreate");
	cu.GraphAddMemAllocNode = get("cuGraphAddMemAllocNode");
	cu.GraphDestroy = get("cuGraphDestroy");
	return run_commands(&cu, argc, argv);
}
