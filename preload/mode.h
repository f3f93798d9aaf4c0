/* SPDX-License-Identifier: Apache-2.0 */
/* The library's mode (mode.c), set once by sm_init, and why it fails
 * closed when it does. */
#ifndef SOFTMIG_MODE_H
#define SOFTMIG_MODE_H

#include "cuda_abi.h"
#include "softmig.h"

enum sm_mode {
	SM_PASSIVE = 0,   /* no limits: every hook passes straight through */
	SM_ACTIVE = 1,    /* limits enforced */
	SM_FAILCLOSED = 2 /* unsafe or unparsable config: no GPU at all */
};

extern hidden int sm_mode; /* valid once sm_init() returned 1 */

/* What a call is answered in SM_FAILCLOSED, for CUDA, NVML and launches
 * alike. */
#define SM_CU_DENIED CUDA_ERROR_NOT_PERMITTED
#define SM_NVML_DENIED NVML_ERROR_NO_PERMISSION

/* Why the mode is SM_FAILCLOSED: the line on stderr and the log record
 * (contract 5), filled by what found it (the config, the region, the
 * libraries). */
struct sm_why {
	char reason[512];
	char path[512];  /* the file it is about (config, region), or "" */
	char var[64];    /* the environment variable it is about, or "" */
};

#endif
