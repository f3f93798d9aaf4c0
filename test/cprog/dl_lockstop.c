/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_lockstop REGION [spin SECONDS]: takes the job's region lock as the
 * library does (its futex word: 0 free, else the holder's thread id) and
 * stops itself with SIGSTOP while holding it, as a process stopped by a
 * debugger or a frozen cgroup would be; with "spin", it keeps running on
 * the CPU for SECONDS instead.  Prints "locked" before; after SIGCONT
 * (or the spin) it releases the lock only if it is still its own and prints
 * "released=<1|0>" (0: another process took it over meanwhile).  The lock
 * is a test client's doing, not a hook in the library.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "region_abi.h"

int main(int argc, char **argv)
{
	struct sm_region *r;
	uint32_t *word, me = (uint32_t)syscall(SYS_gettid), zero;
	int fd;

	if (argc != 2 && (argc != 4 || strcmp(argv[2], "spin") != 0)) {
		fprintf(stderr, "usage: dl_lockstop REGION [spin SECONDS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	r = mmap(NULL, SM_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	word = (uint32_t *)(void *)r->lock;
	for (;;) {
		zero = 0;
		if (__atomic_compare_exchange_n(word, &zero, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			break;
		usleep(100);
	}
	printf("locked\n");
	fflush(stdout);
	if (argc == 4) {
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &t);
		while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < atof(argv[3]));
	} else {
		raise(SIGSTOP);
	}
	zero = me;
	printf("released=%d\n",
	       __atomic_compare_exchange_n(word, &zero, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED) ? 1 : 0);
	return 0;
}
