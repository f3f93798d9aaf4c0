/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NVML cross-check: at most once a second per device and job (and
 * before any refusal), what NVML reports for the job's processes replaces
 * the bookkeeping where it is higher.  Context memory, memory held by pools
 * after a free, job processes that bypass the library and a region
 * tampered with by its user therefore cannot raise the real limit.
 *
 * A process's first view of a device comes from the node's guard when it
 * published one within a second (usedfile.c): root's reading of the same
 * NVML numbers, so that the processes of a job that start together do not
 * each read the GPU's process list (issue 25).  It stands in for the first
 * check only: a refusal, and the check a second later, read NVML here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#include "config.h"
#include "depth.h"
#include "entries.h"
#include "ledger.h"
#include "now.h"
#include "nvml.h"
#include "pidns.h"
#include "region.h"
#include "usedfile.h"
#include "uuid.h"

#define CHECK_INTERVAL_NS 1000000000ULL

/*
 * What this process last saw, in its own memory (the region is the user's
 * to write): when it last asked NVML about device entry d, what NVML showed
 * the job holding there, and what this process allocated (+) and freed (-)
 * since.  Admission also holds seen + since to the slice.
 */
static struct {
	uint64_t last_ns;   /* this process's own last read; 0 none */
	uint64_t seeded_ns; /* when the guard's read that seen came from was */
	uint64_t seen;
	int64_t since;
	int valid;
} mine[SM_MAX_DEVICES];

/*
 * This process's contexts on d that no check measured yet: admitted and
 * not yet created (inflight), and created, their reservations standing
 * (unmeasured bytes) until a check numbered above after measures them
 * (checks are numbered as they start: a context created before a check
 * started is in its numbers).  No measure while one is in flight: NVML
 * cannot see a context that does not exist yet, and its reservation must
 * stand.
 */
static struct {
	uint64_t seq;
	int inflight;
	uint64_t unmeasured;
	int guessed;      /* how many of those were reserved at a guessed size */
	uint64_t after;
	int again;        /* a measure after a context went was put off */
} ctxs[SM_MAX_DEVICES];
static pthread_mutex_t ctxs_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Memory on its way between the ledger and the driver in this process: an
 * allocation reserved and not yet settled, a free or a destroyed context
 * or graph not yet credited.  NVML's figure for the process and the
 * ledger's differ by it, so a context measured as their difference came
 * out short by an allocation in flight (to nothing, where it was larger
 * than the contexts), and the job's ledger counted none of them until a
 * later check.  A measure counts only when no other thread had memory in
 * flight from before NVML was read until after the ledger was; until then
 * the reservation stands.
 */
static struct {
	unsigned busy;
	uint64_t gen; /* ends so far */
} flight;
static SM_TLS unsigned my_flight; /* this thread's part of busy */

struct calm {
	uint64_t gen;
	int ok;
};

hidden void sm_check_flight_begin(void)
{
	my_flight++;
	__atomic_add_fetch(&flight.busy, 1, __ATOMIC_SEQ_CST);
}

hidden void sm_check_flight_end(void)
{
	__atomic_add_fetch(&flight.gen, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&flight.busy, 1, __ATOMIC_SEQ_CST);
	my_flight--;
}

/* Taken before NVML is read: whether other threads have memory in flight. */
static struct calm calm_begin(void)
{
	struct calm c;

	c.ok = __atomic_load_n(&flight.busy, __ATOMIC_SEQ_CST) == my_flight;
	c.gen = __atomic_load_n(&flight.gen, __ATOMIC_SEQ_CST);
	return c;
}

/* After the ledger was read (under its lock, after which a begin before
 * the reservation it saw is seen): whether nothing went in flight since. */
static int calm_held(struct calm c)
{
	return c.ok && __atomic_load_n(&flight.busy, __ATOMIC_SEQ_CST) == my_flight &&
	       __atomic_load_n(&flight.gen, __ATOMIC_SEQ_CST) == c.gen;
}

hidden void sm_check_note(int d, int64_t delta)
{
	if (d >= 0 && d < SM_MAX_DEVICES)
		__atomic_add_fetch(&mine[d].since, delta, __ATOMIC_RELAXED);
}

hidden int sm_check_fits(int d, uint64_t bytes, uint64_t limit, uint64_t *seen_out)
{
	int64_t since;
	uint64_t seen;

	if (d < 0 || d >= SM_MAX_DEVICES || !__atomic_load_n(&mine[d].valid, __ATOMIC_ACQUIRE))
		return 1;
	seen = __atomic_load_n(&mine[d].seen, __ATOMIC_RELAXED);
	since = __atomic_load_n(&mine[d].since, __ATOMIC_RELAXED);
	if (since > 0)
		seen += (uint64_t)since;
	else if ((uint64_t)-since < seen)
		seen -= (uint64_t)-since;
	else
		seen = 0;
	*seen_out = seen;
	return bytes <= limit && seen <= limit - bytes;
}

hidden uint64_t sm_check_age_ns(int d)
{
	uint64_t last = d >= 0 && d < SM_MAX_DEVICES ? __atomic_load_n(&mine[d].last_ns, __ATOMIC_RELAXED) : 0;

	return last ? sm_now_coarse_ns() - last : UINT64_MAX;
}

hidden void sm_check_reset_after_fork(void)
{
	memset(mine, 0, sizeof(mine));
	memset(ctxs, 0, sizeof(ctxs));
	pthread_mutex_init(&ctxs_lock, NULL);
	memset(&flight, 0, sizeof(flight)); /* the threads that had any are not in the child */
	my_flight = 0;
}

hidden void sm_check_ctx_begin(int d)
{
	if (d >= 0 && d < SM_MAX_DEVICES)
		__atomic_add_fetch(&ctxs[d].inflight, 1, __ATOMIC_ACQ_REL);
}

hidden void sm_check_ctx_end(int d, uint64_t reserved, int guessed)
{
	if (d < 0 || d >= SM_MAX_DEVICES)
		return;
	pthread_mutex_lock(&ctxs_lock);
	if (reserved) {
		ctxs[d].unmeasured += reserved;
		ctxs[d].guessed += guessed;
		ctxs[d].after = __atomic_load_n(&ctxs[d].seq, __ATOMIC_ACQUIRE);
	}
	__atomic_sub_fetch(&ctxs[d].inflight, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&ctxs_lock);
}

/* Context memory of this process on d is what NVML shows for it (self,
 * read after calm began) less the allocations the library tracks there.
 * A check numbered seq settles the reservations it can see; a context
 * that went (seq 0) has everything measured again, or (again) at the
 * first check after a context in the making or memory in flight put it
 * off.  Returns 0 when memory in flight put it off. */
static int measure_ctxs(int d, uint64_t seq, uint64_t self, struct calm calm)
{
	uint64_t used;
	int done = 1;

	if (seq && !__atomic_load_n(&ctxs[d].unmeasured, __ATOMIC_ACQUIRE) &&
	    !__atomic_load_n(&ctxs[d].again, __ATOMIC_ACQUIRE))
		return 1;
	pthread_mutex_lock(&ctxs_lock);
	if (!seq && ctxs[d].inflight) {
		ctxs[d].again = 1; /* measured with the context in the making */
	} else if (!ctxs[d].inflight &&
		   (!seq || ((ctxs[d].unmeasured || ctxs[d].again) && seq > ctxs[d].after))) {
		if (sm_ledger_proc_used(d, &used) != 0 || !calm_held(calm)) {
			ctxs[d].again |= !seq;
			done = 0;
		} else {
			int64_t ctx = (int64_t)sm_sat_sub(self, used);
			if (seq && !ctxs[d].again)
				sm_ledger_ctx_settle(d, ctxs[d].unmeasured, ctx, 1, ctxs[d].guessed);
			else
				sm_ledger_ctx_account(d, ctx, ctxs[d].guessed);
			ctxs[d].unmeasured = 0;
			ctxs[d].guessed = 0;
			ctxs[d].again = 0;
		}
	}
	pthread_mutex_unlock(&ctxs_lock);
	return done;
}

/* How many times a measure after a context went waits 1 ms for memory
 * in flight in other threads: put off, a destroyed context stays charged
 * until this process's next check, which one that only launches or is
 * about to exit may never make. */
#define GONE_TRIES 20

hidden void sm_check_ctx_gone(int d, int ordinal)
{
	int saved = errno;

	if (d < 0 || d >= SM_MAX_DEVICES)
		return;
	for (int tries = 0; tries < GONE_TRIES; tries++) {
		struct calm calm = calm_begin();
		int64_t self;
		sm_depth++;
		self = sm_nvml_self_used(ordinal);
		sm_depth--;
		if (self < 0 || measure_ctxs(d, 0, (uint64_t)self, calm))
			break;
		usleep(1000);
	}
	errno = saved;
}

static int by_pid(const void *a, const void *b)
{
	unsigned int x = ((const nvmlProcessInfo_t *)a)->pid, y = ((const nvmlProcessInfo_t *)b)->pid;

	return (x > y) - (x < y);
}

static int in_sorted(const int32_t *v, int n, int32_t x)
{
	int lo = 0, hi = n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == x;
}

hidden void sm_check_now(int d, int ordinal)
{
	nvmlProcessInfo_t stack[SM_PROC_STACK], *infos;
	int32_t region_pids[SM_MAX_PROCS];
	nvmlDevice_t nd;
	uint64_t untracked = 0, job_nvml = 0, self = 0, seq;
	struct calm calm;
	pid_t me = sm_pidns_host_pid(); /* NVML's pids are the host's; 0 unknown */
	int n, i, np, others;

	if (d < 0 || d >= SM_MAX_DEVICES || !sm_region || !(nd = sm_nvml_handle(ordinal)))
		return;
	seq = __atomic_add_fetch(&ctxs[d].seq, 1, __ATOMIC_ACQ_REL);
	calm = calm_begin();
	sm_depth++;
	n = sm_nvml_processes(nd, stack, &infos);
	sm_depth--;
	if (n < 0)
		return;
	/* Sorted by pid, each process is found in log n; job membership
	 * reads /proc: both before taking the lock. */
	qsort(infos, (size_t)n, sizeof(*infos), by_pid);
	np = sm_entries_pids(region_pids, &others);
	for (i = 0; i < n; i++) {
		if (me && (pid_t)infos[i].pid == me)
			self += infos[i].usedGpuMemory;
		if (in_sorted(region_pids, np, (int32_t)infos[i].pid) ||
		    (others && sm_entries_has_pid((pid_t)infos[i].pid)))
			job_nvml += infos[i].usedGpuMemory;
		else if (sm_nvml_pid_in_job((pid_t)infos[i].pid))
			untracked += infos[i].usedGpuMemory;
	}
	job_nvml += untracked;
	__atomic_store_n(&mine[d].seen, job_nvml, __ATOMIC_RELAXED);
	__atomic_store_n(&mine[d].since, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&mine[d].last_ns, sm_now_coarse_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&mine[d].valid, 1, __ATOMIC_RELEASE);
	/* Entries NVML did not list whose process is gone go first (each
	 * looked at outside the lock), so that the ledger counts none. */
	sm_entries_reap(d, infos, n);
	sm_ledger_nvml(d, infos, n, untracked);
	if (me)
		measure_ctxs(d, seq, self, calm);
	if (infos != stack)
		free(infos);
}

/* The guard's view of the job on d as this process's first (once: the
 * caller asks only while none was taken); 0, or -1 when there is none to
 * trust.  Its age counts against the interval. */
static int seed(int d, int ordinal, uint64_t now)
{
	uint8_t uuid[16];
	uint64_t used, age;

	if (sm_uuid_of(ordinal, uuid) != 0 ||
	    sm_usedfile_job(uuid, sm_config->job, &used, &age) != 0 || age >= now)
		return -1;
	__atomic_store_n(&mine[d].seen, used, __ATOMIC_RELAXED);
	__atomic_store_n(&mine[d].since, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&mine[d].seeded_ns, now - age, __ATOMIC_RELAXED);
	__atomic_store_n(&mine[d].valid, 1, __ATOMIC_RELEASE);
	return 0;
}

hidden void sm_check_maybe(int d, int ordinal)
{
	uint64_t now = sm_now_coarse_ns();
	uint64_t last = sm_ledger_checked_ns(d);

	if (d >= 0 && d < SM_MAX_DEVICES && !mine[d].last_ns) {
		uint64_t seeded = __atomic_load_n(&mine[d].seeded_ns, __ATOMIC_RELAXED);
		if (seeded ? now - seeded < CHECK_INTERVAL_NS : seed(d, ordinal, now) == 0)
			return;
	}

	/* The shared stamp spares NVML when another process of the job just
	 * checked; this process's own stamp (which its user cannot touch)
	 * bounds how long it goes without a check of its own. */
	if (sm_check_age_ns(d) < 2 * CHECK_INTERVAL_NS && now - last < CHECK_INTERVAL_NS && now >= last)
		return;
	if (sm_check_age_ns(d) < CHECK_INTERVAL_NS)
		return;
	sm_ledger_mark_checked(d, now);
	sm_check_now(d, ordinal);
}
