/* SPDX-License-Identifier: Apache-2.0 */
/* GPU UUIDs (uuid.c). */
#ifndef SOFTMIG_UUID_H
#define SOFTMIG_UUID_H

#include "cuda_abi.h"
#include "softmig.h"

/* The UUID of a CUDA ordinal's device (the driver's, asked once); 0, -1. */
hidden int sm_uuid_of(CUdevice dev, uint8_t uuid[16]);
/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and back (0, -1). */
hidden void sm_uuid_format(const uint8_t uuid[16], char *out, size_t len);
hidden int sm_uuid_parse(const char *s, uint8_t uuid[16]);

#endif
