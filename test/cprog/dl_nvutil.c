/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_nvutil INDEX SKIP_MS SECS NAME=PID,PID... [NAME=...]: samples the GPU
 * time of groups of processes (jobs) the way an outside observer does: it
 * loads libnvidia-ml.so.1 itself (run it without the preload) and calls
 * nvmlDeviceGetProcessUtilization every 100 ms with the previous sample's
 * time stamp.  Each sample is one bin of the simulator (sim/README.md) of
 * SOFTMIG_SIM_SAMPLE_MS (default 20: run it with the environment that
 * created the state), whose time it was busy.  After SKIP_MS it measures
 * for SECS seconds and prints one line per 1-second window and one for the
 * whole measurement:
 *   win <i> NAME=<percent>... dev=<percent>
 *   mean NAME=<percent>... dev=<percent>
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda_abi.h"

#define MAXG 8
#define MAXP 32

struct group {
	char name[32];
	unsigned int pids[MAXP];
	int n;
	double busy_us, win_us;
};

static unsigned long long realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
}

static void print(const char *what, struct group *g, int ng, double dev_us, double span_us, int win)
{
	int i;

	if (win >= 0)
		printf("win %d", win);
	else
		printf("%s", what);
	for (i = 0; i < ng; i++)
		printf(" %s=%.2f", g[i].name, 100.0 * (win >= 0 ? g[i].win_us : g[i].busy_us) / span_us);
	printf(" dev=%.2f\n", 100.0 * dev_us / span_us);
}

int main(int argc, char **argv)
{
	void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*byindex)(unsigned int, nvmlDevice_t *);
	nvmlReturn_t (*putil)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *, unsigned long long);
	struct group g[MAXG];
	nvmlProcessUtilizationSample_t s[256];
	nvmlDevice_t dev;
	struct timespec tick = { 0, 100000000L };
	unsigned long long last, start, wstart;
	double dev_us = 0, win_dev_us = 0;
	int ng = 0, i, win = 0;
	long skip;
	double secs;
	const char *bin_ms = getenv("SOFTMIG_SIM_SAMPLE_MS");
	unsigned long long bin = (bin_ms && atoi(bin_ms) > 0 ? (unsigned long long)atoi(bin_ms) : 20ULL) * 1000ULL;

	if (argc < 5 || !h)
		return 2;
	skip = atol(argv[2]);
	secs = atof(argv[3]);
	for (i = 4; i < argc && ng < MAXG; i++, ng++) {
		char *eq = strchr(argv[i], '='), *tok, *save = NULL;
		memset(&g[ng], 0, sizeof(g[ng]));
		if (!eq || eq - argv[i] >= 32)
			return 2;
		memcpy(g[ng].name, argv[i], (size_t)(eq - argv[i]));
		for (tok = strtok_r(eq + 1, ",", &save); tok && g[ng].n < MAXP; tok = strtok_r(NULL, ",", &save))
			g[ng].pids[g[ng].n++] = (unsigned int)atoi(tok);
	}
	init = (nvmlReturn_t(*)(void))dlsym(h, "nvmlInit_v2");
	byindex = (nvmlReturn_t(*)(unsigned int, nvmlDevice_t *))dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
	putil = (nvmlReturn_t(*)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
				 unsigned long long))dlsym(h, "nvmlDeviceGetProcessUtilization");
	if (!init || !byindex || !putil || init() != NVML_SUCCESS ||
	    byindex((unsigned int)atoi(argv[1]), &dev) != NVML_SUCCESS)
		return 3;
	{
		struct timespec ts = { skip / 1000, (skip % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	last = start = wstart = realtime_us() / bin * bin; /* a bin is counted whole */
	for (;;) {
		unsigned int n = 256, k;
		unsigned long long covered = last, now;
		nanosleep(&tick, NULL);
		now = realtime_us();
		nvmlReturn_t r = putil(dev, s, &n, last);
		if (r == NVML_ERROR_NOT_FOUND)
			n = 0;
		else if (r != NVML_SUCCESS)
			return 3;
		/* Every bin that ended before the call is in its answer. */
		if (now / bin * bin > covered)
			covered = now / bin * bin;
		for (k = 0; k < n; k++)
			if (s[k].timeStamp > covered)
				covered = s[k].timeStamp;
		for (k = 0; k < n; k++) {
			double b = (double)s[k].smUtil / 100.0 * (double)bin;
			dev_us += b;
			win_dev_us += b;
			for (i = 0; i < ng; i++)
				for (int j = 0; j < g[i].n; j++)
					if (g[i].pids[j] == s[k].pid) {
						g[i].busy_us += b;
						g[i].win_us += b;
					}
		}
		last = covered;
		if (last - wstart >= 1000000ULL) {
			print("", g, ng, win_dev_us, (double)(last - wstart), win++);
			for (i = 0; i < ng; i++)
				g[i].win_us = 0;
			win_dev_us = 0;
			wstart = last;
		}
		if ((double)(last - start) >= secs * 1e6)
			break;
	}
	print("mean", g, ng, dev_us, (double)(last - start), -1);
	return 0;
}
