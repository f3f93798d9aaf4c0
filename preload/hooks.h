/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a hook file needs: the hooks' prototypes (the lists of real.h) and
 * their prologues, which read the mode, the re-entry depth and the
 * one-time initialisation.
 */
#ifndef SOFTMIG_HOOKS_H
#define SOFTMIG_HOOKS_H

#include "depth.h"
#include "init.h"
#include "mode.h"
#include "real.h"

#define SM_DECLARE_HOOK_CUDA(name, params) SOFTMIG_EXPORT CUresult name params;
#define SM_DECLARE_HOOK_NVML(name, params) SOFTMIG_EXPORT nvmlReturn_t name params;
SM_CUDA_HOOKS(SM_DECLARE_HOOK_CUDA)
SM_NVML_HOOKS(SM_DECLARE_HOOK_NVML)

/* dlsym.S's entry for a handle other than RTLD_DEFAULT and RTLD_NEXT
 * (hook_lookup.c). */
hidden void *sm_hook_lookup_dlsym(void *handle, const char *name);

/*
 * The prologues of the hooks: what a hook does in each mode, in one place.
 * Passive, re-entered (the library's own calls) or not initialised (a call
 * during the initialisation itself): the driver's answer.  Fail-closed:
 * SM_CU_DENIED or SM_NVML_DENIED (mode.h).
 */

#define SM_PASS_OR(call, denied) \
	do { \
		if (unlikely(sm_depth > 0) || unlikely(!sm_init()) || sm_mode == SM_PASSIVE) \
			return (call); \
		if (unlikely(sm_mode == SM_FAILCLOSED)) \
			return (denied); \
	} while (0)
#define SM_PASS(call) SM_PASS_OR(call, SM_CU_DENIED)
#define SM_NVML_PASS(call) SM_PASS_OR(call, SM_NVML_DENIED)

/* A launch's fast path reads sm_mode alone: once active, the compute gate
 * (throttle.h) is the only work; the launch itself is realcall. */
#define SM_LAUNCH_PASS(realcall) \
	do { \
		if (unlikely(sm_mode != SM_ACTIVE)) { \
			if (sm_init() && sm_mode == SM_FAILCLOSED) \
				return SM_CU_DENIED; \
			return (realcall); \
		} \
	} while (0)

#endif
