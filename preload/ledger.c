/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger: the bytes the job holds on each device, in the region's
 * entries (contract 4): reservations and releases, context memory, peaks
 * and NVML's numbers, each under the lock.  slice.c decides, the ledger
 * counts.  An entry that goes (a dead process, or this one at exit) takes
 * its bytes with it (region.c, entries.c).
 */
#include <string.h>

#include "ledger.h"

#include "now.h"
#include "nvml.h"
#include "region.h"

/* Takes the lock and returns this process's entry, or NULL (and no lock)
 * when it has none: the lock's check of the region may just have found the
 * entry given to another pid, with none free to take instead. */
static struct sm_proc *lock_me(void)
{
	if (sm_region_entry < 0 || sm_region_lock() != 0)
		return NULL;
	if (sm_region_entry < 0) {
		sm_region_unlock();
		return NULL;
	}
	return &sm_region->procs[sm_region_entry];
}

static void note_peak(struct sm_proc *me, int d, uint64_t total)
{
	if (total > sm_region->devs[d].peak)
		sm_region->devs[d].peak = total;
	if (total > me->peak[d])
		me->peak[d] = total;
}

/*
 * Contexts reserved at a guessed size (no context of the job measured on
 * their device yet), job-wide: a count under the lock, up while one is
 * reserved, down when it is measured or was not created.  A guesser killed
 * in between leaves it up: the count holds for GUESS_HOLD_S after the last
 * guess, no longer.
 */
#define GUESS_HOLD_S 6

static uint32_t now_s(void)
{
	return (uint32_t)(sm_now_coarse_ns() / 1000000000ULL);
}

static void count_guesses(int n)
{
	uint32_t now = now_s();

	if (n > 0) {
		if (now > sm_region->guesses_until)
			sm_region->ctx_guesses = 0;
		sm_region->ctx_guesses += (uint32_t)n;
		sm_region->guesses_until = now + GUESS_HOLD_S;
	} else if (n < 0) {
		sm_region->ctx_guesses = (uint32_t)sm_sat_sub(sm_region->ctx_guesses, (uint64_t)-n);
	}
}

/* Whether guessed context reservations stand in the job (read without the
 * lock: a hint for waiting). */
hidden int sm_ledger_guesses_stand(void)
{
	return __atomic_load_n(&sm_region->ctx_guesses, __ATOMIC_RELAXED) &&
	       now_s() <= __atomic_load_n(&sm_region->guesses_until, __ATOMIC_RELAXED);
}

/* Reserves bytes on device entry d for this process, as an allocation or
 * (as_ctx) as context memory, if the slice holds them: memory arithmetic
 * only, nothing else under the lock (slice.c reclaims the places of dead
 * processes before it takes a no for an answer).  A context whose size is
 * a guess is counted as one.  0 ok, -1 over (*used_out). */
static int reserve(int d, uint64_t bytes, uint64_t limit, uint64_t *used_out, int as_ctx, int guessed)
{
	struct sm_dev *dv = &sm_region->devs[d];
	struct sm_proc *me;
	uint64_t used;

	if (!(me = lock_me()))
		return -1;
	used = dv->tracked + dv->excess;
	*used_out = used;
	if (bytes <= limit && used <= limit - bytes) {
		dv->tracked += bytes;
		if (as_ctx) {
			me->ctx[d] += bytes;
			if (guessed)
				count_guesses(1);
		} else {
			me->used[d] += bytes;
			note_peak(me, d, used + bytes);
		}
		sm_region_unlock();
		return 0;
	}
	dv->oom_count++;
	sm_region_unlock();
	return -1;
}

hidden int sm_ledger_reserve(int d, uint64_t bytes, uint64_t limit, uint64_t *used_out)
{
	return reserve(d, bytes, limit, used_out, 0, 0);
}

/* A context's size, before the driver creates it, so that concurrent
 * creations cannot all pass one check. */
hidden int sm_ledger_reserve_ctx(int d, uint64_t bytes, uint64_t limit, uint64_t *used_out, int guessed)
{
	return reserve(d, bytes, limit, used_out, 1, guessed);
}

hidden int sm_ledger_release(int d, uint64_t bytes)
{
	struct sm_proc *me;

	if (d < 0 || !(me = lock_me()))
		return -1;
	me->used[d] = sm_sat_sub(me->used[d], bytes);
	sm_region->devs[d].tracked = sm_sat_sub(sm_region->devs[d].tracked, bytes);
	sm_region_unlock();
	return 0;
}

/* Sets this process's context memory on device entry d. */
hidden void sm_ledger_ctx_account(int d, int64_t bytes, int guesses)
{
	struct sm_proc *me;
	struct sm_dev *dv;
	uint64_t old, nv = bytes > 0 ? (uint64_t)bytes : 0;

	if (d < 0 || !(me = lock_me()))
		return;
	dv = &sm_region->devs[d];
	old = me->ctx[d];
	me->ctx[d] = nv;
	count_guesses(-guesses);
	dv->tracked = sm_sat_sub(dv->tracked, old) + nv;
	if (nv > old && nv - old > dv->ctx_estimate)
		dv->ctx_estimate = nv - old;
	note_peak(me, d, dv->tracked + dv->excess);
	sm_region_unlock();
}

hidden uint64_t sm_ledger_used(int d)
{
	struct sm_dev *dv;

	sm_region_ensure();
	dv = &sm_region->devs[d];

	return __atomic_load_n(&dv->tracked, __ATOMIC_RELAXED) + __atomic_load_n(&dv->excess, __ATOMIC_RELAXED);
}

/* Replaces a context's reservation by what it really cost (measured bytes
 * of context memory of this process on d), or gives it back when the
 * driver created nothing; measured < 0 (NVML silent) keeps it.  guesses of
 * those reservations were guesses: either way but the last they stand no
 * more. */
hidden void sm_ledger_ctx_settle(int d, uint64_t reserved, int64_t measured, int created, int guesses)
{
	struct sm_dev *dv;
	struct sm_proc *me;
	uint64_t old, base, nv;

	if (d < 0 || !(me = lock_me()))
		return;
	dv = &sm_region->devs[d];
	old = me->ctx[d];
	base = old > reserved ? old - reserved : 0;
	nv = !created ? base : measured < 0 ? old : (uint64_t)measured;
	me->ctx[d] = nv;
	if (!created || measured >= 0)
		count_guesses(-guesses);
	dv->tracked = (dv->tracked > old ? dv->tracked - old : 0) + nv;
	if (created && measured >= 0 && nv > base && nv - base > dv->ctx_estimate)
		dv->ctx_estimate = nv - base;
	if (dv->tracked + dv->excess > dv->peak)
		dv->peak = dv->tracked + dv->excess;
	sm_region_unlock();
}

/* What a new context on d is assumed to cost: the largest one seen. */
hidden uint64_t sm_ledger_ctx_estimate(int d)
{
	return __atomic_load_n(&sm_region->devs[d].ctx_estimate, __ATOMIC_RELAXED);
}

/* This process's allocations on d, read under the lock, so that a
 * reservation seen (made under it) comes with the in-flight mark its
 * allocation set before it (check.c). */
hidden int sm_ledger_proc_used(int d, uint64_t *used)
{
	struct sm_proc *me;

	if (d < 0 || !(me = lock_me()))
		return -1;
	*used = me->used[d];
	sm_region_unlock();
	return 0;
}

hidden uint64_t sm_ledger_proc_ctx(int d)
{
	int me = sm_region_entry;

	return me < 0 ? 0 : sm_region->procs[me].ctx[d];
}

hidden uint64_t sm_ledger_proc_peak(int d)
{
	int me = sm_region_entry;

	return me < 0 ? 0 : sm_region->procs[me].peak[d];
}

/*
 * NVML's numbers for device entry d replace the bookkeeping where they are
 * higher: each process entry gets what NVML shows for its pid, the device
 * what its processes hold beyond their bookkeeping (excess) plus the job's
 * processes that have no entry (untracked).  The entries of the dead went
 * just before (sm_entries_reap, outside the lock); the list is sorted by
 * pid.
 */
hidden void sm_ledger_nvml(int d, const nvmlProcessInfo_t *sorted, int n, uint64_t untracked)
{
	struct sm_dev *dv;
	uint64_t tracked = 0, excess = untracked;
	int j, listed;

	if (sm_region_lock() != 0)
		return;
	dv = &sm_region->devs[d];
	for (j = 0; j < (int)sm_region->nprocs && j < SM_MAX_PROCS; j++) {
		struct sm_proc *p = &sm_region->procs[j];
		uint64_t t, v;
		if (!p->pid)
			continue;
		v = sm_nvml_listed_bytes(sorted, n, p->pid, &listed);
		p->nvml[d] = v;
		t = p->used[d] + p->ctx[d];
		tracked += t;
		if (v > t)
			excess += v - t;
	}
	dv->tracked = tracked;
	dv->excess = excess;
	if (tracked + excess > dv->peak)
		dv->peak = tracked + excess;
	dv->last_check_ns = sm_now_coarse_ns();
	sm_region_unlock();
}

/* When a process of the job last asked NVML about d (a shared stamp that
 * spares NVML; check.c keeps its own, which the user cannot touch). */
hidden uint64_t sm_ledger_checked_ns(int d)
{
	return __atomic_load_n(&sm_region->devs[d].last_check_ns, __ATOMIC_RELAXED);
}

hidden void sm_ledger_mark_checked(int d, uint64_t now)
{
	__atomic_store_n(&sm_region->devs[d].last_check_ns, now, __ATOMIC_RELAXED);
}
