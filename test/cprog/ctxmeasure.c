/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctxmeasure BIG: a context measured while another thread's allocation is
 * in flight.
 *
 * The primary context is retained and its first allocation measures it.
 * A second thread then allocates BIG bytes, which the simulator makes
 * slow (SOFTMIG_SIM_SLOW_ALLOC): the library has reserved them, the
 * driver does not show them yet.  Meanwhile this thread creates a second
 * context and, once the library's next check is due (a second after the
 * last), allocates 1 MiB, whose check would measure the new context as
 * what NVML shows for the process less what the library counts.  It
 * prints "checked" and "ready", and waits for its stdin to close; then,
 * the big allocation done, it waits for the next check to be due,
 * allocates 1 MiB again, prints "measured" and holds everything for 3 s.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cuda_abi.h"

CUresult cuInit(unsigned int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxCreate_v2(CUcontext *, unsigned int, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);

static CUcontext primary;
static size_t big;

static void *allocate_big(void *arg)
{
	CUdeviceptr p;

	(void)arg;
	cuCtxSetCurrent(primary);
	if (cuMemAlloc_v2(&p, big) != CUDA_SUCCESS)
		fprintf(stderr, "ctxmeasure: the big allocation failed\n");
	return NULL;
}

static int alloc_mib(void)
{
	CUdeviceptr p;

	return cuMemAlloc_v2(&p, 1 << 20) == CUDA_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv)
{
	CUcontext second;
	pthread_t t;
	char buf[64];

	if (argc != 2 || !(big = strtoull(argv[1], NULL, 10))) {
		fprintf(stderr, "usage: ctxmeasure BIG\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cuInit(0) || cuDevicePrimaryCtxRetain(&primary, 0) || cuCtxSetCurrent(primary) || alloc_mib()) {
		fprintf(stderr, "ctxmeasure: the first context failed\n");
		return 1;
	}
	if (pthread_create(&t, NULL, allocate_big, NULL) != 0)
		return 1;
	usleep(200 * 1000); /* the big one reserved, in the slow driver */
	if (cuCtxCreate_v2(&second, 0, 0) || cuCtxSetCurrent(second)) {
		fprintf(stderr, "ctxmeasure: the second context failed\n");
		return 1;
	}
	usleep(1100 * 1000); /* the library's next check is due */
	if (alloc_mib()) {
		fprintf(stderr, "ctxmeasure: the allocation that checks failed\n");
		return 1;
	}
	printf("checked\nready\n");
	while (read(STDIN_FILENO, buf, sizeof buf) > 0)
		;
	pthread_join(t, NULL);
	usleep(1100 * 1000);
	if (alloc_mib()) {
		fprintf(stderr, "ctxmeasure: the allocation that measures failed\n");
		return 1;
	}
	printf("measured\n");
	sleep(3);
	return 0;
}
