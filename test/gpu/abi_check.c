/* SPDX-License-Identifier: Apache-2.0 */
/* Build twice: -DREAL with the CUDA toolkit's headers, and without it
 * against preload/cuda_abi.h.  The outputs must be identical. */
#include <stddef.h>
#include <stdio.h>
#ifdef REAL
#include <cuda.h>
#include <nvml.h>
#else
#include "cuda_abi.h"
#endif
#include "abi_fields.h"

#define S(t) printf("sizeof %s %zu\n", #t, sizeof(t));
#define F(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(t, f));

int main(void)
{
	ABI_FIELDS(S, F)
	printf("nvmlMemory_v2 %u\n", (unsigned)nvmlMemory_v2);
	printf("CUDA_ERROR_OUT_OF_MEMORY %d CUDA_ERROR_NOT_PERMITTED %d\n", (int)CUDA_ERROR_OUT_OF_MEMORY,
	       (int)CUDA_ERROR_NOT_PERMITTED);
	return 0;
}
