/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_nvsamples INDEX SINCE_US [SECS]: prints the device's per-process
 * utilisation samples as NVML gives them, one line each:
 *   <timeStamp us> <pid> <smUtil> <memUtil>
 * Loads libnvidia-ml.so.1 itself (run it without the preload) and goes
 * through the size protocol as a careful caller does: a query with no
 * buffer for the count, then a buffer of that size.
 *
 * SECS 0 (the default): one call with lastSeenTimeStamp SINCE_US, the
 * samples preceded by "rc=<query's NVML code> n=<count>".  Else a watcher:
 * every 50 ms a call with the newest time stamp seen so far, the new
 * samples printed (and flushed) as they come, for SECS seconds.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cuda_abi.h"

typedef nvmlReturn_t (*putil_fn)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
				 unsigned long long);

/* The samples newer than since, *n of them in *s (malloc'ed; exits on a
 * failure).  Returns the code of the query without a buffer: with samples
 * NVML_ERROR_INSUFFICIENT_SIZE, without NVML_ERROR_NOT_FOUND. */
static nvmlReturn_t samples(putil_fn putil, nvmlDevice_t dev, unsigned long long since,
			    nvmlProcessUtilizationSample_t **s, unsigned int *n)
{
	nvmlReturn_t q, r = NVML_ERROR_INSUFFICIENT_SIZE;

	*s = NULL;
	*n = 0;
	q = putil(dev, NULL, n, since);
	if (q != NVML_ERROR_INSUFFICIENT_SIZE) {
		*n = 0;
		return q;
	}
	/* A bin may end between the two calls: ask again with the new count. */
	while (r == NVML_ERROR_INSUFFICIENT_SIZE) {
		free(*s);
		if (!(*s = calloc(*n, sizeof(**s))))
			exit(3);
		r = putil(dev, *s, n, since);
	}
	if (r != NVML_SUCCESS)
		exit(3);
	return q;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*byindex)(unsigned int, nvmlDevice_t *);
	putil_fn putil;
	nvmlProcessUtilizationSample_t *s;
	nvmlDevice_t dev;
	unsigned long long last;
	struct timespec tick = { 0, 50000000L };
	unsigned int n, k;
	double secs, end;
	nvmlReturn_t r;

	if (argc < 3 || !h)
		return 2;
	last = strtoull(argv[2], NULL, 10);
	secs = argc > 3 ? atof(argv[3]) : 0;
	init = (nvmlReturn_t(*)(void))dlsym(h, "nvmlInit_v2");
	byindex = (nvmlReturn_t(*)(unsigned int, nvmlDevice_t *))dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
	putil = (putil_fn)dlsym(h, "nvmlDeviceGetProcessUtilization");
	if (!init || !byindex || !putil || init() != NVML_SUCCESS ||
	    byindex((unsigned int)atoi(argv[1]), &dev) != NVML_SUCCESS)
		return 3;
	if (secs <= 0) {
		r = samples(putil, dev, last, &s, &n);
		printf("rc=%d n=%u\n", (int)r, n);
		for (k = 0; r == NVML_ERROR_INSUFFICIENT_SIZE && k < n; k++)
			printf("%llu %u %u %u\n", s[k].timeStamp, s[k].pid, s[k].smUtil, s[k].memUtil);
		free(s);
		return 0;
	}
	for (end = now_s() + secs; now_s() < end; nanosleep(&tick, NULL)) {
		r = samples(putil, dev, last, &s, &n);
		if (r != NVML_ERROR_INSUFFICIENT_SIZE && r != NVML_ERROR_NOT_FOUND)
			return 3;
		for (k = 0; r == NVML_ERROR_INSUFFICIENT_SIZE && k < n; k++) {
			printf("%llu %u %u %u\n", s[k].timeStamp, s[k].pid, s[k].smUtil, s[k].memUtil);
			if (s[k].timeStamp > last)
				last = s[k].timeStamp;
		}
		free(s);
		fflush(stdout);
	}
	return 0;
}
