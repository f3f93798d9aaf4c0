/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every file of libsoftmig.so includes: the build's macros and
 * facts.  The declarations of each file are in a header of its own name
 * (region.h for region.c), which a file includes when it uses them.
 *
 * The library is preloaded into every process of a node, so it exports
 * nothing but the hooked CUDA/NVML entry points, dlsym, softmig_version
 * and the softmig_build_info string (see exports.map), does no work until
 * the first CUDA or NVML call, and never exits, prints to stdout or
 * changes errno.
 */
#ifndef SOFTMIG_H
#define SOFTMIG_H

/* Every file: the glibc versions of the symbols it uses. */
#include "glibc_compat.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SOFTMIG_EXPORT __attribute__((visibility("default")))
#define hidden __attribute__((visibility("hidden")))
#define SM_TLS __thread __attribute__((tls_model("initial-exec")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* The directories the library trusts come from internal/defs/defs.mk, given
 * by the Makefile (make RUNDIR=...); there is no default here on purpose. */
#if !defined(SM_RUN_DIR) || !defined(SM_LOG_DIR)
#error "SM_RUN_DIR and SM_LOG_DIR come from internal/defs/defs.mk: build with make"
#endif
#define SM_JOB_MAX 32 /* a job id and its NUL (internal/defs: MaxJobIDLen) */

static inline uint64_t sm_sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

#endif
