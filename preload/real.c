/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Symbol resolution, the library's only: the typed table of the driver's
 * (and NVML's) own functions, real_<name>, the real dlsym, and the libc
 * functions that lived in libdl and libpthread before glibc 2.34.  Which
 * hook stands for which of them is hook_lookup.c's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "real.h"

#include "strlcpy.h"

#define SM_DEFINE(name, params) hidden CUresult (*real_##name) params;
#define SM_DEFINE_NVML(name, params) hidden nvmlReturn_t (*real_##name) params;
SM_CUDA_HOOKS(SM_DEFINE)
SM_CUDA_REAL(SM_DEFINE)
SM_NVML_HOOKS(SM_DEFINE_NVML)
SM_NVML_REAL(SM_DEFINE_NVML)

struct sm_sym {
	const char *name;
	void **real;
};

#define SM_REAL_ENTRY(name, params) { #name, (void **)&real_##name },
static const struct sm_sym cuda_syms[] = {
	SM_CUDA_HOOKS(SM_REAL_ENTRY)
	SM_CUDA_REAL(SM_REAL_ENTRY)
};
static const struct sm_sym nvml_syms[] = {
	SM_NVML_HOOKS(SM_REAL_ENTRY)
	SM_NVML_REAL(SM_REAL_ENTRY)
};

#define NSYMS(a) (sizeof(a) / sizeof((a)[0]))

/* 0 unresolved, 1 resolved; writes happen under resolve_lock. */
static int cuda_done, nvml_done;
static pthread_mutex_t resolve_lock = PTHREAD_MUTEX_INITIALIZER;

/* Set by dlsym.S on the first dlsym call; see sm_real_dlsym_resolve. */
hidden void *(*sm_real_dlsym_fn)(void *, const char *);
static SM_TLS int resolving_dlsym;

/*
 * The real dlsym.  glibc 2.34 moved it from libdl into libc with a new
 * version; dlvsym with RTLD_NEXT finds the next definition after us.  A
 * malloc interposer that calls dlsym from malloc while dlvsym allocates
 * would recurse here: that thread gets NULL instead of a deadlock
 * (libfaketime issue #130 describes the same hazard).
 */
hidden void *sm_real_dlsym_resolve(void)
{
	void *p;
	int saved;

	if (sm_real_dlsym_fn)
		return (void *)sm_real_dlsym_fn;
	if (resolving_dlsym)
		return NULL;
	saved = errno;
	resolving_dlsym = 1;
	p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
#ifdef SM_GLIBC_BASE
	if (!p)
		p = dlvsym(RTLD_NEXT, "dlsym", SM_GLIBC_BASE);
#endif
	resolving_dlsym = 0;
	errno = saved;
	if (p)
		__atomic_store_n(&sm_real_dlsym_fn, (void *(*)(void *, const char *))p, __ATOMIC_RELEASE);
	return p;
}

hidden void *sm_real_dlsym(void *handle, const char *name)
{
	void *(*fn)(void *, const char *) = __atomic_load_n(&sm_real_dlsym_fn, __ATOMIC_ACQUIRE);

	if (!fn) {
		fn = (void *(*)(void *, const char *))sm_real_dlsym_resolve();
		if (!fn)
			return NULL;
	}
	return fn(handle, name);
}

static int resolve(const char *soname, const struct sm_sym *syms, size_t n, int *done, int load)
{
	void *h;
	size_t i;

	if (__atomic_load_n(done, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&resolve_lock);
	if (*done) {
		pthread_mutex_unlock(&resolve_lock);
		return 0;
	}
	h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
	if (!h && load)
		h = dlopen(soname, RTLD_LAZY);
	if (!h) {
		/* The program's dlerror() must not see our failed probe. */
		if (dlerror)
			dlerror();
		pthread_mutex_unlock(&resolve_lock);
		return -1;
	}
	for (i = 0; i < n; i++)
		*syms[i].real = sm_real_dlsym(h, syms[i].name);
	/* The handle stays open: the pointers must outlive any dlclose. */
	__atomic_store_n(done, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&resolve_lock);
	return 0;
}

hidden int sm_real_cuda(int load)
{
	return resolve("libcuda.so.1", cuda_syms, NSYMS(cuda_syms), &cuda_done, load);
}

/*
 * The NVML the library trusts is the one beside the libcuda.so.1 this
 * process has mapped (the driver installs both in one directory), never
 * one LD_LIBRARY_PATH finds first: a user's stub whose nvmlInit fails
 * would switch off context accounting and the cross-check.  A process
 * without libcuda (nvidia-smi, monitoring) uses the NVML it loads: what
 * NVML tells it is only its own view.  nvml_done: 1 the process's NVML,
 * 2 the trusted one (which replaces the first once libcuda is there).
 */
static int cuda_dir_nvml(char *path, size_t len)
{
	Dl_info info;
	const char *slash;
	size_t i;

	if (sm_real_cuda(0) != 0 || !dladdr)
		return -1;
	for (i = 0; i < NSYMS(cuda_syms); i++)
		if (*cuda_syms[i].real)
			break;
	if (i == NSYMS(cuda_syms) || !dladdr(*cuda_syms[i].real, &info) || !info.dli_fname ||
	    !(slash = strrchr(info.dli_fname, '/')))
		return -1;
	if ((size_t)(slash - info.dli_fname) + sizeof("/libnvidia-ml.so.1") > len)
		return -1;
	memcpy(path, info.dli_fname, (size_t)(slash - info.dli_fname));
	strcpy(path + (slash - info.dli_fname), "/libnvidia-ml.so.1");
	return 0;
}

hidden int sm_real_nvml(int load)
{
	static int nvml_trusted;
	char path[4096];
	int r;

	if (__atomic_load_n(&nvml_trusted, __ATOMIC_ACQUIRE))
		return 0;
	if (cuda_dir_nvml(path, sizeof(path)) != 0)
		return resolve("libnvidia-ml.so.1", nvml_syms, NSYMS(nvml_syms), &nvml_done, load);
	/* Resolve again from the trusted file, whatever was resolved before. */
	pthread_mutex_lock(&resolve_lock);
	nvml_done = 0;
	pthread_mutex_unlock(&resolve_lock);
	r = resolve(path, nvml_syms, NSYMS(nvml_syms), &nvml_done, load);
	if (r == 0)
		__atomic_store_n(&nvml_trusted, 1, __ATOMIC_RELEASE);
	return r;
}

/*
 * Before glibc 2.34 the pthread calls the library needs live in
 * libpthread, referenced weakly (glibc_compat.h).  A CUDA process has it
 * loaded; if only in the local scope of a dlopen'ed libcuda, promote it.
 * 0 when they resolve, else -1 and why.
 */
hidden int sm_real_libs(char *why, size_t len)
{
	static const char *const need[] = {
		"pthread_mutexattr_init", "pthread_mutexattr_destroy", "pthread_mutexattr_setpshared",
		"pthread_mutexattr_setrobust",
	};
	size_t i;
	int promoted = 0;

	if (!dlopen || !dlvsym) {
		sm_strlcpy(why, "libdl is not loaded in this process (glibc before 2.34)", len);
		return -1;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (sm_real_dlsym(RTLD_DEFAULT, need[i]))
			continue;
		if (!promoted++ && dlopen("libpthread.so.0", RTLD_NOW | RTLD_GLOBAL)) {
			i--;
			continue;
		}
		snprintf(why, len, "%s not found (glibc before 2.34 without libpthread)", need[i]);
		return -1;
	}
	return 0;
}
