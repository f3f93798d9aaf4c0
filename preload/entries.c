/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The region's lock and its entries: a process takes an entry when it
 * first uses the GPU and gives it back at exit; the entries of processes
 * that died go (and their bytes with them) before anyone is refused, at an
 * NVML check, when the entries are full, and after a lock take-over.
 *
 * Whether a process lives is a system call or a /proc read: those happen
 * outside the lock (sm_entries_reap), which then only clears the entries
 * found dead that still hold the same process.  A job whose processes start
 * together would otherwise wait in line behind every joiner's scan.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "entries.h"

#include "log.h"
#include "nvml.h"
#include "pidns.h"
#include "proc.h"
#include "region.h"

/* Dead entries cleared per lock taken; a longer list takes more turns. */
#define REAP_BATCH 32
/* A process NVML does not list though it holds bytes is either creating
 * its context (young) or gone; one older than this (seconds) is looked at
 * as closely as before a refusal (a zombie, a reused pid). */
#define UNLISTED_OLD_S 2

struct gone {
	uint32_t i;
	int32_t pid;
	uint64_t start;
};

/* A process start (/proc/<pid>/stat: clock ticks since boot) before which
 * a process is older than UNLISTED_OLD_S. */
static uint64_t old_start(void)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		hz = 100;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return sm_sat_sub((uint64_t)ts.tv_sec, UNLISTED_OLD_S) * (uint64_t)hz;
}

/* Without the lock, from entry *next on: up to REAP_BATCH entries whose
 * process is dead.  listed NULL: every entry, zombies, reused pids and
 * other PID namespaces looked at (sm_pidns_alive); else only the entries
 * holding bytes on device entry d that NVML (whose pids are the host's) did
 * not list: one of this process's PID namespace that is young only if its
 * pid is gone (one kill: it may be creating its context), an older one as
 * closely as without a list, one of another namespace not here. */
static int find_dead(int d, const nvmlProcessInfo_t *listed, int n, uint32_t *next, struct gone *g)
{
	uint32_t i, end = __atomic_load_n(&sm_region->nprocs, __ATOMIC_RELAXED), ns = sm_pidns_tag();
	int k = 0, saved = errno, on_list;
	uint64_t old = 0;

	for (i = *next; i < end && i < SM_MAX_PROCS && k < REAP_BATCH; i++) {
		struct sm_proc *p = &sm_region->procs[i];
		struct sm_proc e = { .pid = __atomic_load_n(&p->pid, __ATOMIC_RELAXED),
				     .pidns = __atomic_load_n(&p->pidns, __ATOMIC_RELAXED),
				     .start_time = __atomic_load_n(&p->start_time, __ATOMIC_RELAXED) };
		int dead;
		if (e.pid <= 0 || (int)i == sm_region_entry)
			continue;
		if (listed) {
			if (!__atomic_load_n(&p->used[d], __ATOMIC_RELAXED) &&
			    !__atomic_load_n(&p->ctx[d], __ATOMIC_RELAXED))
				continue;
			if (e.pidns != ns)
				continue;
			if (!e.pidns) {
				sm_nvml_listed_bytes(listed, n, e.pid, &on_list);
				if (on_list)
					continue;
			}
			dead = kill(e.pid, 0) != 0 && errno == ESRCH;
			if (!dead && !old)
				old = old_start();
			if (!dead && e.start_time < old)
				dead = sm_pidns_alive(&e) == 0;
		} else {
			dead = sm_pidns_alive(&e) == 0;
		}
		if (dead)
			g[k++] = (struct gone){ i, e.pid, e.start_time };
	}
	*next = i;
	errno = saved;
	return k;
}

hidden void sm_entries_reap(int d, const nvmlProcessInfo_t *listed, int n)
{
	struct gone g[REAP_BATCH];
	uint32_t next = 0;
	int k, j, freed;

	if (!sm_region || (listed && (d < 0 || d >= SM_MAX_DEVICES)))
		return;
	sm_region_ensure();
	do {
		if ((k = find_dead(d, listed, n, &next, g)) == 0 || sm_region_lock() != 0)
			return;
		for (j = 0, freed = 0; j < k; j++) {
			struct sm_proc *p = &sm_region->procs[g[j].i];
			if (p->pid == g[j].pid && p->start_time == g[j].start) {
				sm_region_forget(p);
				freed = 1;
			}
		}
		if (freed)
			sm_region_retotal();
		sm_region_unlock();
	} while (k == REAP_BATCH);
}

hidden int sm_entries_register(void)
{
	pid_t me = getpid();
	uint64_t start;
	uint32_t i, ns;
	int pass;

	/* Every admission passes here first: the mapping is checked before
	 * the reads that follow outside the lock. */
	sm_region_ensure();
	if (sm_region_entry >= 0 && sm_region_entry_pid == me)
		return 0;
	/* What /proc says of this process, before the lock. */
	start = sm_proc_start_time(me);
	ns = sm_pidns_tag();
	if (!sm_region || sm_region_lock() != 0)
		return -1;
	/* Joining takes a free entry and nothing else: the places of those
	 * that died go before a refusal or at an NVML check (sm_entries_reap),
	 * or here when none is free. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < SM_MAX_PROCS; i++) {
			struct sm_proc *p = &sm_region->procs[i];
			if (p->pid == 0) {
				memset(p, 0, sizeof(*p));
				p->start_time = start;
				p->pidns = ns;
				p->pid = (int32_t)me;
				if (i >= sm_region->nprocs)
					sm_region->nprocs = i + 1;
				sm_region_entry = (int)i;
				sm_region_entry_pid = me;
				sm_region_unlock();
				return 0;
			}
		}
		sm_region_cleanup_dead();
	}
	sm_region_unlock();
	sm_log(SM_ERROR, -1, "region full", "entries=%d", SM_MAX_PROCS);
	return -1;
}

hidden int sm_entries_dev(const uint8_t uuid[16])
{
	static const uint8_t zero[16];
	int d;

	if (memcmp(uuid, zero, 16) == 0)
		return -1;
	if (sm_region_lock() != 0)
		return -1;
	d = sm_region_find_dev(uuid);
	if (d < 0) {
		d = sm_region_find_dev(zero);
		if (d >= 0) {
			memcpy(sm_region->devs[d].uuid, uuid, 16);
			sm_region->ndevs++;
		}
	}
	if (d >= 0)
		sm_region_know_dev(d, uuid);
	sm_region_unlock();
	return d;
}

hidden void sm_entries_reclaim(void)
{
	sm_entries_reap(-1, NULL, 0);
}

static int by_value(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

hidden int sm_entries_pids(int32_t pids[SM_MAX_PROCS], int *others)
{
	uint32_t i, n = sm_region ? __atomic_load_n(&sm_region->nprocs, __ATOMIC_RELAXED) : 0;
	int k = 0;

	*others = 0;
	for (i = 0; i < n && i < SM_MAX_PROCS; i++) {
		int32_t pid = __atomic_load_n(&sm_region->procs[i].pid, __ATOMIC_RELAXED);
		if (pid <= 0)
			continue;
		if (__atomic_load_n(&sm_region->procs[i].pidns, __ATOMIC_RELAXED))
			*others = 1;
		else
			pids[k++] = pid;
	}
	qsort(pids, (size_t)k, sizeof(pids[0]), by_value);
	return k;
}

hidden int sm_entries_has_pid(pid_t pid)
{
	uint32_t i, n;

	if (!sm_region)
		return 0;
	n = sm_region->nprocs;
	for (i = 0; i < n && i < SM_MAX_PROCS; i++)
		if (sm_region->procs[i].pid && sm_pidns_matches(&sm_region->procs[i], pid))
			return 1;
	return 0;
}

/* At exit the driver frees the process's memory: so does its entry. */
hidden void sm_entries_exit(void)
{
	struct sm_proc *me;
	int d;

	if (sm_region_entry < 0 || sm_region_entry_pid != getpid() || sm_region_lock() != 0)
		return;
	if (sm_region_entry < 0) { /* the lock's check found it taken, none free */
		sm_region_unlock();
		return;
	}
	me = &sm_region->procs[sm_region_entry];
	for (d = 0; d < SM_MAX_DEVICES; d++)
		sm_region->devs[d].tracked = sm_sat_sub(sm_region->devs[d].tracked, me->used[d] + me->ctx[d]);
	memset(me, 0, sizeof(*me));
	sm_region_unlock();
	sm_region_entry = -1;
}
