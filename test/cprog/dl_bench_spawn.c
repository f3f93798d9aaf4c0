/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_bench_spawn N: mean time to start and reap /bin/true, best of 7 rounds
 * of N.  The children inherit the environment, so running it with
 * LD_PRELOAD set measures what the preloaded library adds to every process
 * start on a node.  Prints "spawn_us=<x>".
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	char *args[] = { "/bin/true", NULL };
	int n = argc > 1 ? atoi(argv[1]) : 500, round, i;
	double best = 1e18;

	for (round = 0; round < 7; round++) {
		double t0 = now_us(), t;
		for (i = 0; i < n; i++) {
			pid_t pid;
			int st;
			if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0 ||
			    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "dl_bench_spawn: /bin/true failed\n");
				return 1;
			}
		}
		t = (now_us() - t0) / n;
		if (t < best)
			best = t;
	}
	printf("spawn_us=%.1f\n", best);
	return 0;
}
