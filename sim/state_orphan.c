/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process's driver files.  The real driver keeps a process's memory for
 * as long as its files (/dev/nvidia*) are open, and a child forked after
 * CUDA started inherits them: when the parent exits, its memory outlives
 * its pid.  The simulator gives each process a file of its own,
 * <state>.fd/<namespace>-<pid>-<start>, opened without O_CLOEXEC at its
 * first use of the GPU, with a shared flock on it, and kept; a gone
 * process's entry keeps its memory while any live process holds that open
 * file (a flock belongs to the open file, which fork shares: an exclusive
 * try fails while a holder lives), checked at most every ORPHAN_CHECK_NS
 * per entry.  The dead pid stays in NVML's
 * process lists (SOFTMIG_SIM_ORPHAN=unlisted: counted in the device's used
 * memory, listed nowhere).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim.h"

#define ORPHAN_CHECK_NS 200000000ULL

static int held_fd = -1;
static uint32_t held_pid;

static void files_of(const struct sim_proc *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s.fd/%llx-%u-%llu", sim_state_file(), (unsigned long long)p->ns_ino, p->ns_pid,
		 (unsigned long long)p->starttime);
}

void sim_hold_files(const struct sim_proc *self)
{
	char path[4200];

	if (held_fd >= 0 && held_pid == self->ns_pid)
		return;
	snprintf(path, sizeof path, "%s.fd", sim_state_file());
	if (mkdir(path, 01777) == 0)
		(void)chmod(path, 01777);
	files_of(self, path, sizeof path);
	/* Not O_CLOEXEC: a child keeps it, as it keeps /dev/nvidia*. */
	held_fd = open(path, O_RDONLY | O_CREAT, 0644);
	if (held_fd >= 0)
		(void)flock(held_fd, LOCK_SH);
	held_pid = self->ns_pid;
}

static int held_by_someone(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), held;

	if (fd < 0)
		return 0;
	held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int sim_orphan_keep_locked(struct sim_proc *p)
{
	char path[4200];
	uint64_t now = sim_now_ns();

	if (p->orphan_ns && now - p->orphan_ns < ORPHAN_CHECK_NS)
		return 1;
	files_of(p, path, sizeof path);
	if (held_by_someone(path)) {
		p->orphan_ns = now;
		return 1;
	}
	unlink(path);
	return 0;
}

int sim_orphan_listed(void)
{
	const char *v = getenv("SOFTMIG_SIM_ORPHAN");
	return !v || strcmp(v, "unlisted") != 0;
}
