/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_start N [BYTES]: N processes of one job start CUDA at the same
 * instant.  Each is a fresh process (this program again, exec'd), loaded
 * and waiting before the clock starts; at the release each calls cuInit,
 * retains and sets device 0's primary context and allocates BYTES (default
 * 16 MiB), then holds them until every one is done.  Prints "start_ms=<x>
 * failed=<n>": the time from the release until the last one was done.
 * Run it with and without the library preloaded: the difference is what the
 * library adds to a job whose processes start together (MPI ranks, torchrun,
 * worker pools).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cuda_abi.h"

CUresult cuInit(unsigned int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
CUresult cuMemFree_v2(CUdeviceptr);

/* The child's ends of the three pipes, as fixed descriptors. */
enum { FD_RELEASE = 3, FD_REPORT = 4, FD_HOLD = 5 };

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void put(int fd, char c)
{
	while (write(fd, &c, 1) < 0 && errno == EINTR)
		;
}

/* Blocks until the other end of fd is closed. */
static void wait_eof(int fd)
{
	char c;

	while (read(fd, &c, 1) != 0 && errno == EINTR)
		;
}

static int child(size_t bytes)
{
	CUcontext ctx;
	CUdeviceptr p = 0;
	int ok;

	put(FD_REPORT, 'r');
	wait_eof(FD_RELEASE);
	ok = cuInit(0) == CUDA_SUCCESS && cuDevicePrimaryCtxRetain(&ctx, 0) == CUDA_SUCCESS &&
	     cuCtxSetCurrent(ctx) == CUDA_SUCCESS && cuMemAlloc_v2(&p, bytes) == CUDA_SUCCESS;
	put(FD_REPORT, ok ? 'd' : 'f');
	wait_eof(FD_HOLD);
	if (p)
		cuMemFree_v2(p);
	return ok ? 0 : 1;
}

/* Reads n report bytes; returns how many were c. */
static int collect(int fd, int n, char c)
{
	char buf[256];
	int got = 0, match = 0;

	while (got < n) {
		ssize_t k = read(fd, buf, sizeof(buf) < (size_t)(n - got) ? sizeof(buf) : (size_t)(n - got));
		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			fprintf(stderr, "bench_start: a process ended early\n");
			exit(1);
		}
		for (ssize_t i = 0; i < k; i++)
			match += buf[i] == c;
		got += (int)k;
	}
	return match;
}

int main(int argc, char **argv)
{
	int n, i, release[2], report[2], hold[2], failed;
	size_t bytes;
	char bytes_arg[32];
	double t0, t1;

	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child(argc > 2 ? strtoull(argv[2], NULL, 10) : 16 << 20);
	n = argc > 1 ? atoi(argv[1]) : 200;
	bytes = argc > 2 ? strtoull(argv[2], NULL, 10) : 16 << 20;
	if (n < 1 || pipe(release) || pipe(report) || pipe(hold)) {
		fprintf(stderr, "usage: bench_start N [BYTES]\n");
		return 2;
	}
	snprintf(bytes_arg, sizeof(bytes_arg), "%zu", bytes);
	for (i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("bench_start: fork");
			return 1;
		}
		if (pid == 0) {
			if (dup2(release[0], FD_RELEASE) < 0 || dup2(report[1], FD_REPORT) < 0 ||
			    dup2(hold[0], FD_HOLD) < 0)
				_exit(1);
			for (int fd = FD_HOLD + 1; fd < 64; fd++)
				close(fd);
			execl("/proc/self/exe", argv[0], "child", bytes_arg, (char *)NULL);
			_exit(127);
		}
	}
	close(release[0]);
	close(report[1]);
	close(hold[0]);
	collect(report[0], n, 'r'); /* all loaded and waiting */
	t0 = now_ms();
	close(release[1]);
	failed = n - collect(report[0], n, 'd');
	t1 = now_ms();
	close(hold[1]);
	while (wait(NULL) > 0)
		;
	printf("start_ms=%.1f failed=%d\n", t1 - t0, failed);
	return failed ? 1 : 0;
}
