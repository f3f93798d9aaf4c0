/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stress SECONDS THREADS MAXBYTES [GO]: threads allocate and free at random
 * on device 0 for SECONDS, then free everything.  With GO, the program
 * creates GO.<pid> once its context exists and starts only when the file
 * GO appears, so that every process of a test has its context first.  Prints
 * "ok=<n> refused=<n> errors=<n>".  Refusals are expected near the limit;
 * errors (anything but OUT_OF_MEMORY) are not.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cuda_abi.h"

CUresult cuInit(unsigned int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
CUresult cuMemFree_v2(CUdeviceptr);

static CUcontext ctx;
static double seconds;
static unsigned long long maxbytes;
static long ok, refused, errors;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg ^ (unsigned int)getpid();
	CUdeviceptr held[64];
	int n = 0;
	long o = 0, rf = 0, e = 0;
	double end = now() + seconds;

	cuCtxSetCurrent(ctx);
	while (now() < end) {
		if (n > 0 && (n == 64 || rand_r(&seed) % 2)) {
			int k = rand_r(&seed) % n;
			if (cuMemFree_v2(held[k]) != CUDA_SUCCESS)
				e++;
			held[k] = held[--n];
		} else {
			size_t sz = 1 + (size_t)(((unsigned long long)rand_r(&seed) * 4096ULL) % maxbytes);
			CUresult r = cuMemAlloc_v2(&held[n], sz);
			if (r == CUDA_SUCCESS)
				n++, o++;
			else if (r == CUDA_ERROR_OUT_OF_MEMORY)
				rf++;
			else
				e++;
		}
	}
	while (n > 0)
		if (cuMemFree_v2(held[--n]) != CUDA_SUCCESS)
			e++;
	pthread_mutex_lock(&mu);
	ok += o;
	refused += rf;
	errors += e;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[64];
	int i, nt;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: stress SECONDS THREADS MAXBYTES [GO]\n");
		return 2;
	}
	seconds = atof(argv[1]);
	nt = atoi(argv[2]);
	maxbytes = strtoull(argv[3], NULL, 10);
	if (nt < 1 || nt > 64 || !maxbytes)
		return 2;
	if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS) {
		printf("init failed\n");
		return 1;
	}
	if (argc == 5) {
		char ready[4096];
		FILE *f;
		snprintf(ready, sizeof(ready), "%s.%d", argv[4], (int)getpid());
		if (!(f = fopen(ready, "w")))
			return 1;
		fclose(f);
		while (access(argv[4], F_OK) != 0)
			usleep(1000);
	}
	for (i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	printf("ok=%ld refused=%ld errors=%ld\n", ok, refused, errors);
	return 0;
}
