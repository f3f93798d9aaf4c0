/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handing out hooks: the identity table that maps each driver (and NVML)
 * function to its hook, and the two ways a program gets a function
 * pointer, dlsym on a library handle and cuGetProcAddress.
 *
 * A hook replaces a driver function only where the pointer the driver gave
 * out IS that function: no names are guessed, so a new "_v3" the driver
 * hands out for a base name is passed through untouched rather than
 * wrongly hooked.  cuGetProcAddress is how the CUDA runtime (12 and 13)
 * takes every driver entry point; the driver answers first (honouring
 * cudaVersion and the per-thread-stream flags its own way).
 */
#include <errno.h>
#include <string.h>

#include "hooks.h"

struct sm_hook {
	void **real;
	void *hook;
};

#define SM_HOOK_ENTRY(name, params) { (void **)&real_##name, (void *)name },
static const struct sm_hook hooks[] = {
	SM_CUDA_HOOKS(SM_HOOK_ENTRY)
	SM_NVML_HOOKS(SM_HOOK_ENTRY)
};

/* The hook for a driver pointer, or the pointer itself. */
static void *hook_for(void *real)
{
	size_t i;

	if (!real)
		return NULL;
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (*hooks[i].real == real)
			return hooks[i].hook;
	return real;
}

/*
 * dlsym on a specific handle (dlsym.S sends RTLD_DEFAULT and RTLD_NEXT
 * straight to glibc, whose answer depends on the caller's address).  Only
 * names of the CUDA driver and NVML are looked at; a process that is
 * passive gets the driver's own function.
 *
 * The caller must see errno and dlerror() exactly as glibc's dlsym leaves
 * them.  Finding out whether a name is the driver's may dlopen libcuda,
 * which fails where there is no driver and leaves its error behind (glibc
 * keeps one pending error per thread, and each dl* call replaces it).  So
 * once the library did any such work, the real dlsym runs again last: its
 * state is the one the caller reads.  A name that is not found returns
 * before any work, so its error is glibc's own.
 */
static void *substitute(void *handle, const char *name, void *p)
{
	int nvml;

	if (name[0] == 'c' && name[1] == 'u')
		nvml = 0;
	else if (strncmp(name, "nvml", 4) == 0)
		nvml = 1;
	else
		return p;
	if (sm_depth > 0)
		return p;
	if ((nvml ? sm_real_nvml(0) : sm_real_cuda(0)) == 0 && hook_for(p) != p && sm_init() &&
	    sm_mode != SM_PASSIVE)
		p = hook_for(p);
	/* The answer is the same; only its dlerror state matters. */
	sm_real_dlsym(handle, name);
	return p;
}

hidden void *sm_hook_lookup_dlsym(void *handle, const char *name)
{
	void *p = sm_real_dlsym(handle, name);
	int saved;

	if (!p || !name || (name[0] != 'c' && name[0] != 'n'))
		return p;
	saved = errno;
	p = substitute(handle, name, p);
	errno = saved;
	return p;
}

static void *procaddr_hook(void *p)
{
	if (!p || sm_depth > 0 || !sm_init() || sm_mode == SM_PASSIVE)
		return p;
	return hook_for(p);
}

SOFTMIG_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	CUresult r;

	SM_NEED_REAL(cuGetProcAddress);
	r = real_cuGetProcAddress(symbol, pfn, cudaVersion, flags);
	if (r == CUDA_SUCCESS && pfn)
		*pfn = procaddr_hook(*pfn);
	return r;
}

SOFTMIG_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
					    CUdriverProcAddressQueryResult *status)
{
	CUresult r;

	SM_NEED_REAL(cuGetProcAddress_v2);
	r = real_cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, status);
	if (r == CUDA_SUCCESS && pfn)
		*pfn = procaddr_hook(*pfn);
	return r;
}
