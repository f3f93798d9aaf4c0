/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who a process is, as the driver sees it.  The real driver records a
 * process by its pid in the initial PID namespace (the host's), whatever
 * namespace the process runs in, and NVML reports that pid.  A process of
 * the simulator sees only its own namespace, so its entry holds what it can
 * see (its namespace: the nsfs inode of /proc/self/ns/pid, its pid there,
 * its start time) and the host pid as soon as anyone can tell it: the
 * process itself when it runs in the initial namespace or its /proc is the
 * host's, else the first process whose /proc is the host's that reads the
 * table (softmig-guard's NVML, nvidia-smi, the library on the host), which
 * finds it in /proc by namespace, NSpid and start time.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sim.h"

#define PROC_PID_INIT_INO 0xEFFFFFFCULL /* the kernel's initial PID namespace */
#define PF_KTHREAD 0x00200000UL

static struct sim_who me;

static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* State, flags and start time (fields 3, 9, 22) of /proc/<pid>/stat. */
static int stat_fields(const char *pid, char *state, unsigned long *flags, uint64_t *start)
{
	char path[64], buf[1024], *p;
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	if (read_small(path, buf, sizeof buf) <= 0 || !(p = strrchr(buf, ')')) || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		if (!(p = strchr(p, ' ')))
			return -1;
		p++;
		if (field + 1 == 9)
			*flags = strtoul(p, NULL, 10);
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

static int proc_stat(uint32_t pid, char *state, uint64_t *start)
{
	char s[16];
	unsigned long flags;
	snprintf(s, sizeof s, "%u", pid);
	return stat_fields(s, state, &flags, start);
}

/* The pids of /proc/<pid>/status's NSpid line, outermost (the namespace of
 * that /proc) first; how many, 0 when unreadable. */
static int nspids(const char *pid, uint32_t *out, int max)
{
	char path[64], buf[4096], *p;
	int n = 0;
	snprintf(path, sizeof path, "/proc/%s/status", pid);
	if (read_small(path, buf, sizeof buf) <= 0 || !(p = strstr(buf, "\nNSpid:")))
		return 0;
	p += 7;
	while (n < max) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			break;
		out[n++] = (uint32_t)v;
		p = end;
	}
	return n;
}

static uint64_t pidns_ino(const char *pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%s/ns/pid", pid);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* /proc is the initial namespace's: only there is pid 2 a kernel thread
 * (kthreadd), which no process can pretend to be. */
static int proc_is_host(void)
{
	char state;
	unsigned long flags = 0;
	uint64_t start;
	return stat_fields("2", &state, &flags, &start) == 0 && (flags & PF_KTHREAD);
}

const struct sim_who *sim_whoami(void)
{
	uint32_t ns[32];
	int n;
	if (me.ns_pid == (uint32_t)getpid())
		return &me;
	memset(&me, 0, sizeof me);
	me.ns_pid = (uint32_t)getpid();
	(void)stat_fields("self", &(char){0}, &(unsigned long){0}, &me.start);
	me.ns_ino = pidns_ino("self");
	me.proc_host = proc_is_host();
	n = nspids("self", ns, 32);
	me.proc_own = n == 1;
	if (me.ns_ino == PROC_PID_INIT_INO)
		me.host_pid = me.ns_pid;
	else if (me.proc_host && n > 0)
		me.host_pid = ns[0];
	return &me;
}

int sim_is_self(const struct sim_proc *p)
{
	return p->ns_pid == me.ns_pid && p->ns_ino == me.ns_ino;
}

/* Finds the host pids of entries that lack one, in a /proc that is the
 * host's; an interval a process queued before it had its host pid gets it
 * too (sim_ring_pid). */
static void resolve_locked(void)
{
	struct dirent *de;
	DIR *d;
	int missing = 0;

	for (int i = 0; i < SIM_MAX_PROCS; i++)
		missing |= sim_st->proc[i].ns_pid && !sim_st->proc[i].pid;
	if (!missing || !(d = opendir("/proc")))
		return;
	while ((de = readdir(d))) {
		uint32_t ns[32], pid = (uint32_t)strtoul(de->d_name, NULL, 10);
		unsigned long flags;
		uint64_t start, ino = 0;
		char state;
		int n;
		if (!pid || stat_fields(de->d_name, &state, &flags, &start) < 0)
			continue;
		for (int i = 0; i < SIM_MAX_PROCS; i++) {
			struct sim_proc *p = &sim_st->proc[i];
			if (!p->ns_pid || p->pid || p->starttime != start)
				continue;
			if ((n = nspids(de->d_name, ns, 32)) < 2 || ns[n - 1] != p->ns_pid)
				continue;
			/* Another user's namespace link is not ours to read:
			 * NSpid and start time then tell it alone. */
			if (!ino)
				ino = pidns_ino(de->d_name);
			if (ino && ino != p->ns_ino)
				continue;
			p->pid = pid;
			sim_ring_resolve_locked(p);
		}
	}
	closedir(d);
}

/* How many threads /proc/<pid>/status counts, 0 when unreadable. */
static int proc_threads(uint32_t pid)
{
	char path[64], buf[4096], *p;
	snprintf(path, sizeof path, "/proc/%u/status", pid);
	if (read_small(path, buf, sizeof buf) <= 0 || !(p = strstr(buf, "\nThreads:")))
		return 0;
	return atoi(p + 9);
}

/* A leader that left with pthread_exit or SYS_exit reads Z while its other
 * threads run on: the process lives, and the driver keeps its memory. */
static int alive(uint32_t pid, uint64_t start)
{
	uint64_t st;
	char state;
	if (proc_stat(pid, &state, &st) != 0 || st != start)
		return 0;
	return (state != 'Z' && state != 'X') || proc_threads(pid) > 1;
}

/* A pidfd of each entry's host pid, kept by this process: one poll() then
 * tells which entries' processes have ended (a pidfd turns readable when
 * its process exits, zombie or not, and never follows a reused pid), where
 * reading every /proc/<pid>/stat at every call would make a node daemon's
 * many NVML calls cost what the number of processes says.  Kernels without
 * pidfd_open take the /proc way. */
static struct {
	uint32_t pid;
	uint64_t start;
	int fd; /* 0: none */
} pidfds[SIM_MAX_PROCS];

static int pidfd_of(int slot, uint32_t pid, uint64_t start)
{
#ifdef SYS_pidfd_open
	if (pidfds[slot].fd > 0 && pidfds[slot].pid == pid && pidfds[slot].start == start)
		return pidfds[slot].fd;
	if (pidfds[slot].fd > 0)
		close(pidfds[slot].fd);
	pidfds[slot].fd = 0;
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd < 0)
		return -1;
	/* The pid may already be another process's: pin it, then check. */
	if (!alive(pid, start)) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	pidfds[slot].pid = pid;
	pidfds[slot].start = start;
	pidfds[slot].fd = fd;
	return fd;
#else
	(void)slot;
	(void)pid;
	(void)start;
	return -1;
#endif
}

void sim_reap_locked(void)
{
	struct pollfd fds[SIM_MAX_PROCS];
	int slot[SIM_MAX_PROCS], n = 0, fd;

	sim_whoami();
	if (me.proc_host)
		resolve_locked();
	for (int i = 0; i < SIM_MAX_PROCS; i++) {
		struct sim_proc *p = &sim_st->proc[i];
		int gone;
		if (!p->ns_pid || sim_is_self(p))
			continue;
		if (me.proc_host && p->pid && (fd = pidfd_of(i, p->pid, p->starttime)) > 0) {
			fds[n].fd = fd;
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			slot[n++] = i;
			continue;
		}
		if (me.proc_host)
			gone = !p->pid || !alive(p->pid, p->starttime);
		else if (me.proc_own && p->ns_ino == me.ns_ino)
			gone = !alive(p->ns_pid, p->starttime);
		else
			continue; /* not visible from here: those who see it judge */
		if (gone && !sim_orphan_keep_locked(p))
			memset(p, 0, sizeof *p); /* exited: the driver frees its memory */
	}
	if (n && poll(fds, (nfds_t)n, 0) > 0)
		for (int k = 0; k < n; k++)
			if (fds[k].revents && !sim_orphan_keep_locked(&sim_st->proc[slot[k]]))
				memset(&sim_st->proc[slot[k]], 0, sizeof sim_st->proc[0]);
}

/* A ring interval names its process by host pid; before that is known, by
 * its pid in its namespace, with the namespace's tag in ns. */
static uint32_t ns_tag(uint64_t ino)
{
	return (uint32_t)ino ? (uint32_t)ino : 1;
}

uint32_t sim_ring_pid(const struct sim_proc *self, uint32_t *ns)
{
	uint32_t host = self ? self->pid : sim_whoami()->host_pid;
	*ns = host ? 0 : ns_tag(me.ns_ino);
	return host ? host : me.ns_pid;
}

void sim_ring_resolve_locked(const struct sim_proc *p)
{
	uint32_t tag = ns_tag(p->ns_ino);
	for (uint32_t d = 0; d < sim_st->ndev; d++) {
		struct sim_device *dv = &sim_st->dev[d];
		for (int k = 0; k < SIM_RING; k++) {
			struct sim_interval *iv = &dv->ring[k];
			if (iv->ns == tag && iv->pid == p->ns_pid) {
				iv->pid = p->pid;
				iv->ns = 0;
			}
		}
	}
}
