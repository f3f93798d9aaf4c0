/* SPDX-License-Identifier: Apache-2.0 */
/* A process as /proc shows it: its state, its start time, whether it runs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc.h"

#include "read.h"

/* State (field 3) and start time (field 22, clock ticks since boot: guards
 * pid reuse) of /proc/<pid>/stat.  The command name (field 2) may hold
 * spaces and ')', so parse after the last ')'.  -1 when unreadable. */
hidden int sm_proc_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024], *p;
	int field;

	/* Its own through "self": /proc may be another namespace's. */
	if (pid == getpid())
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sm_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	*state = p[2];
	/* after ')' comes " S ..." = field 3 */
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	*start = strtoull(p, NULL, 10);
	return 0;
}

hidden uint64_t sm_proc_start_time(pid_t pid)
{
	uint64_t start;
	char state;

	return sm_proc_stat(pid, &state, &start) == 0 ? start : 0;
}

/* 1 when pid runs and (if start_time is known) is the same process.  A
 * zombie is dead: the driver freed its memory when it exited, and a
 * killed process's parent may take its time to reap it. */
hidden int sm_proc_alive(pid_t pid, uint64_t start_time)
{
	int saved = errno, alive;
	uint64_t st;
	char state;

	if (pid <= 0)
		return 0;
	alive = kill(pid, 0) == 0 || errno == EPERM;
	if (alive && sm_proc_stat(pid, &state, &st) == 0) {
		if (state == 'Z' || state == 'X' || (start_time && st != start_time))
			alive = 0;
	}
	errno = saved;
	return alive;
}

/* The file must be the kernel's (procfs): in a mount namespace of their
 * own, users can bind a file of their making over /proc/self/... */
#define PROC_SUPER_MAGIC 0x9fa0

/* Reads a small procfs file (not one bound over it); -1 on failure. */
hidden ssize_t sm_proc_read(const char *path, char *buf, size_t len)
{
	struct statfs sf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), saved;

	if (fd < 0)
		return -1;
	if (syscall(SYS_fstatfs, fd, &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC) {
		close(fd);
		return -1;
	}
	n = sm_read_fd(fd, buf, len);
	saved = errno;
	close(fd);
	errno = saved;
	return n;
}
