/* SPDX-License-Identifier: Apache-2.0 */
/* The library's side of the used file (usedfile_abi.h, usedfile.c). */
#ifndef SOFTMIG_USEDFILE_H
#define SOFTMIG_USEDFILE_H

#include "softmig.h"

/* What job held on the GPU of uuid when the guard last read NVML (*used,
 * and *age_ns since that read): 0, or -1 when the file cannot be trusted
 * or is not fresh (then the caller reads NVML itself).  errno is kept. */
hidden int sm_usedfile_job(const uint8_t uuid[16], const char *job, uint64_t *used, uint64_t *age_ns);

#endif
