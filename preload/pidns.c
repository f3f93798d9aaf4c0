// SPDX-License-Identifier: Apache-2.0
/*
 * Entries of processes in other PID namespaces.  A job's processes share
 * one region whatever PID namespace they run in (a container with its own:
 * Apptainer's --pid and --containall), but a pid means something only in
 * its namespace, and /proc shows one namespace: the process's own, or, in
 * a namespace without a /proc of its own (unshare -p alone), the host's.
 * Each entry carries its namespace's tag, and a process decides that an
 * entry's process is gone only where it can see it: in its own namespace
 * with its own /proc, or from the host's /proc, where a process of another
 * namespace is found by its pid there (NSpid) and its start time.  An
 * entry no one here can judge stays: it is the job's memory until a
 * process that can see it finds it gone (softmig-guard, which reads NVML
 * and the kernel, is the authority either way).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidns.h"

#include "fstat.h"
#include "proc.h"
#include "read.h"
#include "region_abi.h"

#define PROC_PID_INIT_INO 0xEFFFFFFCULL /* the kernel's initial PID namespace */
#define PF_KTHREAD 0x00200000UL

static struct {
	pid_t pid; /* whose view this is: redone after fork */
	uint32_t tag;
	uint64_t ino;
	int proc_own;  /* /proc is this process's namespace's */
	int proc_host; /* /proc is the initial namespace's */
} view;

static uint64_t ns_ino(const char *pid)
{
	char path[64];
	struct stat st;
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/%s/ns/pid", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return 0;
	ok = sm_fstat(fd, &st) == 0;
	close(fd);
	return ok ? (uint64_t)st.st_ino : 0;
}

/* The pids of /proc/<pid>/status's NSpid, outermost first; how many. */
static int nspids(const char *pid, pid_t *out, int max)
{
	char path[64], buf[4096], *p, *end;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (sm_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nNSpid:")))
		return 0;
	for (p += 7; n < max; p = end) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		out[n++] = (pid_t)v;
	}
	return n;
}

/* Only the initial namespace's /proc shows kthreadd (pid 2) as a kernel
 * thread, which no process can pretend to be. */
static int proc_is_host(void)
{
	char buf[1024], *p = NULL;
	int field;

	if (sm_read_file("/proc/2/stat", buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	for (field = 2; *p && field < 9; p++)
		if (*p == ' ')
			field++;
	return (strtoul(p, NULL, 10) & PF_KTHREAD) != 0;
}

static uint32_t tag_of(uint64_t ino)
{
	if (ino == PROC_PID_INIT_INO || ino == 0)
		return 0;
	return (uint32_t)ino ? (uint32_t)ino : 1;
}

static void see(void)
{
	pid_t ns[2];

	if (view.pid == getpid())
		return;
	view.pid = getpid();
	view.ino = ns_ino("self");
	view.tag = tag_of(view.ino);
	view.proc_own = nspids("self", ns, 2) == 1;
	view.proc_host = proc_is_host();
}

hidden uint32_t sm_pidns_tag(void)
{
	see();
	return view.tag;
}

/* Whether a process of another namespace with that tag, pid (there) and
 * start time runs, looked up in the host's /proc. */
static int found_in_host_proc(uint32_t tag, pid_t pid, uint64_t start)
{
	struct dirent *de;
	DIR *d = opendir("/proc");
	int found = 0;

	if (!d)
		return 1;
	while (!found && (de = readdir(d))) {
		pid_t ns[32];
		uint64_t st;
		char state;
		int n;
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (sm_proc_stat((pid_t)atoi(de->d_name), &state, &st) != 0 || st != start || state == 'Z' ||
		    state == 'X')
			continue;
		if ((n = nspids(de->d_name, ns, 32)) < 2 || ns[n - 1] != pid)
			continue;
		/* Another user's namespace link is not ours to open: NSpid and
		 * the start time tell it then. */
		uint64_t ino = ns_ino(de->d_name);
		found = !ino || tag_of(ino) == tag;
	}
	closedir(d);
	return found;
}

hidden int sm_pidns_alive(const struct sm_proc *p)
{
	uint64_t st;
	char state;

	see();
	if (p->pidns == view.tag && (view.proc_own || (view.proc_host && !view.tag)))
		return sm_proc_alive(p->pid, p->start_time);
	if (!view.proc_host)
		return -1; /* not visible from here */
	if (!p->pidns)
		return sm_proc_stat(p->pid, &state, &st) == 0 && st == p->start_time && state != 'Z' &&
		       state != 'X';
	return found_in_host_proc(p->pidns, p->pid, p->start_time);
}

hidden int sm_pidns_proc_is_host(void)
{
	see();
	return view.proc_host;
}

/* Whether pid, as NVML reports it (the host's), is entry p's process. */
hidden int sm_pidns_matches(const struct sm_proc *p, pid_t pid)
{
	char s[16], state;
	pid_t ns[32];
	uint64_t st, ino;
	int n;

	if (!p->pidns)
		return p->pid == pid;
	if (!sm_pidns_proc_is_host())
		return 0;
	snprintf(s, sizeof(s), "%d", (int)pid);
	if ((n = nspids(s, ns, 32)) < 2 || ns[n - 1] != p->pid)
		return 0;
	if (sm_proc_stat(pid, &state, &st) != 0 || st != p->start_time)
		return 0;
	ino = ns_ino(s);
	return !ino || tag_of(ino) == p->pidns;
}

/* This process's pid as NVML reports it (the host's), 0 when it cannot
 * be known here (a PID namespace with a /proc of its own). */
hidden pid_t sm_pidns_host_pid(void)
{
	pid_t ns[1];

	see();
	if (!view.tag)
		return getpid();
	if (view.proc_host && nspids("self", ns, 1) == 1)
		return ns[0];
	return 0;
}
