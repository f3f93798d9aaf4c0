/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compute slicing, the launch side behind sm_gate() (throttle.h): the
 * first launch on a device with an SM limit enrols it (the region's device
 * entry and "device attach", for the bookkeeping; the GPU's time file and
 * the job's entry in it, authority.c).  A launch at a closed gate sleeps
 * until the authority opens it; while the authority is down, a launch
 * outside the job's static slot sleeps until the slot comes.  The launch
 * queue is kept short (launchq.c) so that a closed gate soon stops the
 * job's work on the GPU, not a thousand launches later.  Nothing here
 * runs but in a launching thread: no thread of its own, no timer.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dev.h"
#include "gpufile.h"
#include "launchq.h"
#include "limits.h"
#include "log.h"
#include "mode.h"
#include "now.h"
#include "real.h"
#include "region.h"
#include "throttle.h"
#include "throttle_impl.h"
#include "uuid.h"

static struct gdev gdevs[SM_MAX_DEVICES]; /* by ordinal */
static const uint64_t open_word; /* the gate of devices without a limit: always 0 */
/* What the launches read while the authority is down: never open, so that
 * each comes to the slow path and the static slot. */
static const uint64_t closed_word = SM_GATE_CLOSED;
static int seen_at[SM_MAX_DEVICES]; /* per ordinal: index in sm_gate_seen + 1, 0 not yet */
hidden const uint64_t *sm_gate_seen[SM_MAX_DEVICES];
hidden int sm_gate_ngates;
hidden SM_TLS unsigned int sm_gate_count, sm_gate_due;
hidden int sm_gate_any = -1;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static int atfork_done;

hidden int sm_gate_any_init(void)
{
	int i, any = 0;

	if (sm_mode == SM_ACTIVE)
		for (i = 0; i < SM_MAX_DEVICES; i++)
			if (sm_limits_sm(i) > 0 && sm_limits_sm(i) < 100)
				any = 1;
	__atomic_store_n(&sm_gate_any, any, __ATOMIC_RELAXED);
	return any;
}

hidden uint64_t sm_gate_throttled_ms(int ordinal)
{
	if (ordinal < 0 || ordinal >= SM_MAX_DEVICES)
		return 0;
	return __atomic_load_n(&gdevs[ordinal].throttled_ns, __ATOMIC_RELAXED) / 1000000ULL;
}

/* ---- enrolment (first launch on a device) and fork --------------------- */

/* The child keeps the time files mapped and each device's state, and
 * enrols again at its first launch (its own region entry); what it sleeps
 * is its own. */
static void atfork_child(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	uint64_t now = sm_now_ns();
	int o;

	reg_lock = fresh;
	sm_authority_reset_after_fork();
	sm_gate_ngates = 0;
	for (o = 0; o < SM_MAX_DEVICES; o++) {
		seen_at[o] = 0;
		gdevs[o].throttled_ns = gdevs[o].logged_ns = 0;
		gdevs[o].last_log_ns = now;
	}
}

/* The static slot: the config's, else the first L% of the period. */
static void static_slot(int o, int limit, struct sm_slots *s)
{
	uint64_t mask[2] = { 0, 0 };
	int p;

	if (sm_slot_from_mask(sm_limits_slot(o), s))
		return;
	for (p = 0; p < limit; p++)
		mask[p / 64] |= 1ULL << (p % 64);
	sm_slot_from_mask(mask, s);
}

/* The word the fast path reads for g: its gate w, or closed (no authority). */
static void publish(const struct gdev *g, const uint64_t *w)
{
	const uint64_t **seen = &sm_gate_seen[g->seen];

	if (!w)
		w = &closed_word;
	if (__atomic_load_n(seen, __ATOMIC_RELAXED) != w)
		__atomic_store_n(seen, w, __ATOMIC_RELEASE);
}

static void enroll_limited(int o, int limit)
{
	struct gdev *g = &gdevs[o];
	uint8_t uuid[16];

	if (!g->on) {
		g->limit = limit;
		static_slot(o, limit, &g->slots);
		sm_timefile_init(&g->tf, sm_config->job);
		if (sm_uuid_of(o, uuid) != 0 || sm_gpufile_path(uuid, SM_TIME_SUFFIX, g->path, sizeof(g->path)) != 0)
			g->path[0] = 0;
		g->last_log_ns = sm_now_ns();
		g->on = 1;
	}
	/* Bookkeeping only: the gate needs neither the region nor NVML. */
	if ((g->d = sm_dev_enter(o)) >= 0)
		sm_dev_note(o);
}

/* First launch on ordinal o in this process; caller holds reg_lock. */
static void enroll(int o)
{
	int limit = sm_limits_sm(o), k = sm_gate_ngates;

	if (!atfork_done && pthread_atfork(NULL, NULL, atfork_child) == 0)
		atfork_done = 1;
	sm_gate_seen[k] = &open_word;
	if (limit > 0 && limit < 100) {
		sm_depth++;
		enroll_limited(o, limit);
		gdevs[o].seen = k;
		publish(&gdevs[o], sm_authority_check(&gdevs[o], o, realtime_ns()));
		sm_depth--;
	}
	seen_at[o] = k + 1;
	__atomic_store_n(&sm_gate_ngates, k + 1, __ATOMIC_RELEASE);
}

/* ---- waiting ------------------------------------------------------------ */

/* A launch into a stream being captured adds to a graph and runs nothing. */
static int capturing(CUstream stream)
{
	int status = 0;

	return real_cuStreamIsCapturing && real_cuStreamIsCapturing(stream, &status) == CUDA_SUCCESS &&
	       status != 0;
}

static void sleep_until(uint64_t rt)
{
	struct timespec ts = { (time_t)(rt / 1000000000ULL), (long)(rt % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Sleeps in WAIT_NS steps until the gate opens, at most RECHECK_NS: then
 * the caller checks the authority's beat again. */
static void wait_gate(const uint64_t *gate, uint64_t now)
{
	struct timespec ts = { 0, (long)WAIT_NS };
	uint64_t end = now + RECHECK_NS;

	while (__atomic_load_n(gate, __ATOMIC_ACQUIRE) && realtime_ns() < end)
		nanosleep(&ts, NULL);
}

/* Whether a launch on ordinal o may go now through the gate: open, and,
 * where the work the thread has queued is known (launchq.h), not so close
 * to the window's end (the entry's close_ns) that the work would run past
 * it.  fresh: the thread waited for the gate
 * to open.  *fit: how many launches, this one included, fit before the
 * end; *end: when to look again where the launch must wait for the end
 * (0: wait for the gate). */
static int open_for(const uint64_t *gate, int o, uint64_t now, int fresh, uint64_t *end, unsigned int *fit)
{
	uint64_t close_ns, done_by, per, k;

	*end = 0;
	*fit = SM_GATE_EVERY;
	if (__atomic_load_n(gate, __ATOMIC_ACQUIRE))
		return 0;
	/* gate is the job's entry's first word (timefile_abi.h) */
	close_ns = __atomic_load_n(&((const struct sm_time_entry *)(const void *)gate)->close_ns, __ATOMIC_RELAXED);
	if (!close_ns)
		return 1;
	if (close_ns <= now) {
		/* Ended, and the authority has not closed the gate yet (or moved
		 * the end on): a tick's wait, not a launch past the window. */
		*end = now + WAIT_NS;
		return 0;
	}
	done_by = sm_launchq_done_by(o, sm_gate_count, now, close_ns, &per);
	if (!per)
		return 1;
	if (done_by > close_ns && fresh) {
		/* A window too short for one launch at the thread's pace still
		 * gets one, the first after the gate opened: a job of kernels
		 * longer than its window runs up debt and hears why (the
		 * authority's pause or kill), rather than waiting for good. */
		*fit = 1;
		return 1;
	}
	if (done_by > close_ns) {
		/* looked at again a launch's time later: the queue's end is an
		 * upper bound, nearer the truth once its checkpoint is done */
		*end = now + per < close_ns ? now + per : close_ns;
		return 0;
	}
	/* checked again at the first launch that may not fit: the window's
	 * end is kept to a launch's work, not a checkpoint interval's */
	k = 1 + (close_ns - done_by) / per;
	*fit = k < SM_GATE_EVERY ? (unsigned int)k : SM_GATE_EVERY;
	return 1;
}

/* Authority down: launches run in the job's static slot.  Outside it,
 * *next is when it next begins. */
static int in_static_slot(const struct gdev *g, uint64_t now, uint64_t *next)
{
	uint64_t end;

	return sm_slot_find(&g->slots, now, next, &end);
}

/* ---- bookkeeping ------------------------------------------------------- */

static void count_sleep(struct gdev *g, uint64_t dt)
{
	__atomic_add_fetch(&g->throttled_ns, dt, __ATOMIC_RELAXED);
	if (g->d < 0)
		return;
	/* The region is the user's file: only bookkeeping goes there. */
	sm_region_ensure();
	__atomic_add_fetch(&sm_region->devs[g->d].sm[SM_THR_THROTTLED], dt, __ATOMIC_RELAXED);
}

/* A launch of a job the authority judged idle waits at its closed gate:
 * the job is busy again.  Whole samples (the driver's: one every 200 ms,
 * to the process running at its instant) can miss it for periods while
 * its slot is lent and shared; the authority reads this word of an idle
 * job at every measure (docs/compute.md, "Idle and busy"). */
static void note_wanted(const struct gdev *g, const uint64_t *gate, uint64_t now)
{
	const struct sm_time_entry *e = (const struct sm_time_entry *)(const void *)gate;

	if (g->d < 0 || __atomic_load_n(gate, __ATOMIC_RELAXED) != SM_GATE_CLOSED ||
	    !(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & SM_TIME_F_IDLE))
		return;
	sm_region_ensure();
	__atomic_store_n(&sm_region->devs[g->d].sm[SM_THR_WANTED], now, __ATOMIC_RELAXED);
}

/* A throttle record per device at most every LOG_INTERVAL_NS, by the
 * launching thread that gets there first. */
static void maybe_log(struct gdev *g, int o, uint64_t now)
{
	uint64_t last = __atomic_load_n(&g->last_log_ns, __ATOMIC_RELAXED), total, delta;

	if (now - last < LOG_INTERVAL_NS ||
	    __atomic_load_n(&g->throttled_ns, __ATOMIC_RELAXED) - __atomic_load_n(&g->logged_ns, __ATOMIC_RELAXED) <
		    1000000ULL ||
	    !__atomic_compare_exchange_n(&g->last_log_ns, &last, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	total = __atomic_load_n(&g->throttled_ns, __ATOMIC_RELAXED);
	delta = total - __atomic_exchange_n(&g->logged_ns, total, __ATOMIC_RELAXED);
	sm_log(SM_EVENT, o, "throttle", "throttled_ms=%llu sm_limit=%d", (unsigned long long)(delta / 1000000ULL),
	       g->limit);
}

/* ---- the slow path -------------------------------------------------------- */

hidden void sm_gate_slow(CUstream stream)
{
	struct gdev *g;
	const uint64_t *gate;
	uint64_t t0 = 0, now, next = 0, end = 0;
	CUdevice o;
	unsigned int fit;
	int saved = errno, due, fresh = 0, marked = 0;

	sm_gate_due = sm_gate_count + SM_GATE_EVERY;
	if (sm_dev_current(&o) != 0)
		goto out;
	if (!__atomic_load_n(&seen_at[o], __ATOMIC_ACQUIRE)) {
		if (pthread_mutex_lock(&reg_lock) != 0)
			goto out;
		if (!seen_at[o])
			enroll(o);
		pthread_mutex_unlock(&reg_lock);
	}
	g = &gdevs[o];
	if (!g->on)
		goto out;
	/* The queue first: at most one interval's work is left when it returns. */
	due = sm_launchq_checkpoint(o, stream, sm_gate_count);
	if (due < SM_GATE_EVERY)
		sm_gate_due = sm_gate_count + (unsigned int)due;
	for (;;) {
		now = realtime_ns();
		gate = sm_authority_follow(g, o, now);
		publish(g, gate);
		if (!gate && in_static_slot(g, now, &next))
			break;
		if (gate && open_for(gate, o, now, fresh, &end, &fit)) {
			if ((int)(sm_gate_count + fit - sm_gate_due) < 0)
				sm_gate_due = sm_gate_count + fit;
			break;
		}
		if (!t0) {
			if (capturing(stream))
				break;
			t0 = sm_now_ns();
		}
		if (end > now) { /* open, but what it queues would run past the window */
			if (!marked) {
				sm_launchq_mark(o, stream, sm_gate_count);
				marked = 1;
			}
			sleep_until(end);
		}
		else if (gate) {
			note_wanted(g, gate, now);
			wait_gate(gate, now);
			fresh = 1;
		}
		else /* and look for the authority again at least every RETRY_NS */
			sleep_until(next < now + RETRY_NS ? next : now + RETRY_NS);
	}
	if (t0) {
		count_sleep(g, sm_now_ns() - t0);
		sm_launchq_waited(o);
	}
	maybe_log(g, o, sm_now_ns());
out:
	errno = saved;
}
