/*
 * The region's lock and its entries: a process takes an entry when it
 * first uses the GPU and gives it back at exit; the entries of processes
 * that died go (and their bytes with them) when anyone takes the lock
 * after a take-over, joins, or is about to be refused.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "softmig.h"

/* Recomputes every device's tracked sum from the process entries: after
 * a holder died inside the lock, or after dead entries were freed. */
hidden void sm_region_retotal(void)
{
	uint32_t i, d, n = sm_region->nprocs;

	for (d = 0; d < SM_MAX_DEVICES; d++) {
		uint64_t t = 0;
		for (i = 0; i < n && i < SM_MAX_PROCS; i++)
			if (sm_region->procs[i].pid)
				t += sm_region->procs[i].used[d] + sm_region->procs[i].ctx[d];
		sm_region->devs[d].tracked = t;
	}
}

hidden void sm_region_cleanup_dead(void)
{
	uint32_t i, n = sm_region->nprocs;
	int freed = 0;

	for (i = 0; i < n && i < SM_MAX_PROCS; i++) {
		struct sm_proc *p = &sm_region->procs[i];
		if (p->pid && sm_entry_alive(p) == 0) {
			int d;
			/* What NVML last saw of it beyond its bookkeeping is in
			 * the device's excess: that goes too, and NVML is asked
			 * again at the next allocation. */
			for (d = 0; d < SM_MAX_DEVICES; d++) {
				uint64_t t = p->used[d] + p->ctx[d];
				struct sm_dev *dv = &sm_region->devs[d];
				if (p->nvml[d] > t)
					dv->excess = sm_sat_sub(dv->excess, p->nvml[d] - t);
				if (p->nvml[d] || t)
					dv->last_check_ns = 0;
			}
			memset(p, 0, sizeof(*p));
			freed = 1;
		}
	}
	if (freed)
		sm_region_retotal();
}

hidden int sm_region_register(void)
{
	pid_t me = getpid();
	uint32_t i;
	int pass;

	/* Every admission passes here first: the mapping is checked before
	 * the reads that follow outside the lock. */
	sm_region_guard();
	if (sm_proc_entry >= 0 && sm_entry_pid == me)
		return 0;
	if (!sm_region || sm_region_lock() != 0)
		return -1;
	/* A process joining the job sees it as it is: the places of those
	 * that died (kill -9, the OOM killer) go now, not at a refusal. */
	sm_region_cleanup_dead();
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < SM_MAX_PROCS; i++) {
			struct sm_proc *p = &sm_region->procs[i];
			if (p->pid == 0) {
				memset(p, 0, sizeof(*p));
				p->start_time = sm_proc_start_time(me);
				p->pidns = sm_pidns_tag();
				p->pid = (int32_t)me;
				if (i >= sm_region->nprocs)
					sm_region->nprocs = i + 1;
				sm_proc_entry = (int)i;
				sm_entry_pid = me;
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

/* The lock (lock.c) never fails.  Whatever a holder that was taken over
 * had half-done is recomputed from the entries; a damaged header or entry
 * of this process is put back. */
hidden int sm_region_lock(void)
{
	int saved = errno;

	sm_region_guard();
	if (sm_lock_take(sm_region->lock)) {
		sm_region_cleanup_dead();
		sm_region_retotal();
	}
	sm_region_verify();
	errno = saved;
	return 0;
}

hidden void sm_region_unlock(void)
{
	sm_lock_give(sm_region->lock);
}

hidden int sm_region_dev(const uint8_t uuid[16])
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

hidden void sm_region_reclaim(void)
{
	if (sm_region_lock() == 0) {
		sm_region_cleanup_dead();
		sm_region_unlock();
	}
}

hidden int sm_pid_in_region(pid_t pid)
{
	uint32_t i, n;

	if (!sm_region)
		return 0;
	n = sm_region->nprocs;
	for (i = 0; i < n && i < SM_MAX_PROCS; i++)
		if (sm_region->procs[i].pid && sm_entry_has_host_pid(&sm_region->procs[i], pid))
			return 1;
	return 0;
}

/* At exit the driver frees the process's memory: so does its entry. */
hidden void sm_region_exit(void)
{
	struct sm_proc *me;
	int d;

	if (sm_proc_entry < 0 || sm_entry_pid != getpid() || sm_region_lock() != 0)
		return;
	if (sm_proc_entry < 0) { /* the lock's check found it taken, none free */
		sm_region_unlock();
		return;
	}
	me = &sm_region->procs[sm_proc_entry];
	for (d = 0; d < SM_MAX_DEVICES; d++)
		sm_region->devs[d].tracked = sm_sat_sub(sm_region->devs[d].tracked, me->used[d] + me->ctx[d]);
	memset(me, 0, sizeof(*me));
	sm_region_unlock();
	sm_proc_entry = -1;
}
