/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver as cudart 12/13 reaches it (dl_client, dl_dlmopen): from a
 * loaded libcuda.so.1 take cuGetProcAddress_v2 with dlsym, ask it for
 * cuGetProcAddress itself, then for every other function by base name.
 * Environment: CLIENT_CUDA_VERSION (the cudaVersion asked for, default
 * 13000), CLIENT_PROC_FLAGS (0 default, 1 legacy stream, 2 per-thread
 * default stream).  A function the driver does not give answers
 * CUDA_ERROR_NOT_FOUND.
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "client.h"

static CUresult missing(void)
{
	return CUDA_ERROR_NOT_FOUND;
}

int client_procaddr_main(const char *prog, void *lib, int argc, char **argv)
{
	static struct client_driver drv;
	const char *v = getenv("CLIENT_CUDA_VERSION"), *f = getenv("CLIENT_PROC_FLAGS");
	int version = v ? atoi(v) : 13000;
	cuuint64_t flags = f ? strtoull(f, NULL, 0) : 0;
	void **slot = (void **)&drv.api;
	void *self = NULL;

	if (!lib) {
		fprintf(stderr, "%s: %s\n", prog, dlerror());
		return CLIENT_NO_DRIVER;
	}
	drv.lib = lib;
	*(void **)&drv.getproc = dlsym(lib, "cuGetProcAddress_v2");
	if (!drv.getproc) {
		fprintf(stderr, "%s: no cuGetProcAddress_v2\n", prog);
		return CLIENT_NO_DRIVER;
	}
	if (drv.getproc("cuGetProcAddress", &self, version, flags, NULL) == CUDA_SUCCESS && self)
		drv.getproc = (cuda_getproc_fn)self;
	for (size_t i = 0; i < sizeof drv.api / sizeof(void *); i++) {
		int ver = cuda_syms[i].version ? cuda_syms[i].version : version;
		if (drv.getproc(cuda_syms[i].base, &slot[i], ver, flags, NULL) != CUDA_SUCCESS ||
		    !slot[i]) {
			fprintf(stderr, "%s: %s not found for version %d\n", prog, cuda_syms[i].base, ver);
			slot[i] = (void *)missing;
		}
	}
	return client_main(&drv, argc, argv);
}
