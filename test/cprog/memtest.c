/* SPDX-License-Identifier: Apache-2.0 */
/* memtest alloc <bytes>: the slice as a program sees it, and one
 * allocation against it, on device 0.  Used by the Slurm tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_abi.h"

CUresult cuInit(unsigned int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuMemGetInfo_v2(size_t *, size_t *);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);

int main(int argc, char **argv)
{
	CUcontext ctx;
	CUdeviceptr p;
	size_t f, t;
	CUresult r;

	if (argc != 3 || strcmp(argv[1], "alloc") != 0) {
		fprintf(stderr, "usage: memtest alloc <bytes>\n");
		return 2;
	}
	if ((r = cuInit(0)) != CUDA_SUCCESS || (r = cuDevicePrimaryCtxRetain(&ctx, 0)) != CUDA_SUCCESS ||
	    (r = cuCtxSetCurrent(ctx)) != CUDA_SUCCESS || (r = cuMemGetInfo_v2(&f, &t)) != CUDA_SUCCESS) {
		printf("init=ERR %d\n", r);
		return 1;
	}
	printf("total=%zu free=%zu\n", t, f);
	r = cuMemAlloc_v2(&p, strtoull(argv[2], NULL, 10));
	if (r == CUDA_SUCCESS)
		printf("alloc=OK\n");
	else
		printf("alloc=ERR %d\n", r);
	return 0;
}
