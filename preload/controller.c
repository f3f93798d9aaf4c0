/*
 * Compute slicing: holds a job to its share of GPU time on each device
 * (CUDA_DEVICE_SM_LIMIT).  docs/compute.md describes the design; in short:
 *
 *   measure   every TICK, one process of the job (the leader, chosen by a
 *             lease word in the region) reads the job's GPU time from NVML
 *             (nvmlDeviceGetProcessUtilization, summed over the job's pids);
 *   integrate the job's credit grows by limit x elapsed and shrinks by the
 *             GPU time it used (clamped: a small burst allowance above,
 *             a bounded debt below), so the average converges to the limit
 *             whatever the kernel lengths, queue depths or launch paths;
 *   predict   NVML samples lag; the gate decision subtracts what the job
 *             probably used since the last sample (the time the gate was
 *             open times the measured busy/open ratio);
 *   gate      one word per device in the region: 0 open, else closed.  A
 *             launch reads it (one relaxed load); only a closed gate sleeps
 *             the launching thread, until the leader reopens it.
 *
 * With a time slot (SOFTMIG_SM_SLOT, slot.h) the gate follows the slot
 * instead: open in the job's parts of each period, closed early by the time
 * its queued work takes to finish (measured by the threads that wait), so
 * that jobs sharing a GPU do not time-slice against each other; out of its
 * slot a job that is not busy may still spend its credit.
 *
 * State lives in struct sm_dev.sm[8] (indices in throttle.h), so leadership
 * moves between the job's processes without losing the credit.  A process
 * starts its controller thread on its first launch on a device with a
 * limit, never earlier; a fork child starts its own when it launches.
 *
 * This file measures, integrates and keeps the time slots; leader.c runs
 * it on the device it leads, gate.c is the launch side (throttle_impl.h).
 */
#include <stdlib.h>

#include "throttle_impl.h"

hidden struct tdev tdevs[SM_MAX_DEVICES];
hidden putil_fn putil;

static struct {
	pid_t pid;
	int in;
	uint64_t t;
} pidcache[PIDCACHE];

/* ---- the job's GPU time ------------------------------------------------ */

static int in_job(pid_t pid, uint64_t now_ns)
{
	int i, h = (int)((unsigned int)pid % PIDCACHE);

	if (sm_pid_in_region(pid))
		return 1;
	for (i = 0; i < PIDCACHE; i++) {
		int k = (h + i) % PIDCACHE;
		if (pidcache[k].pid == pid && now_ns - pidcache[k].t < 2000000000ULL)
			return pidcache[k].in;
	}
	pidcache[h].pid = pid;
	pidcache[h].in = sm_pid_in_job(pid);
	pidcache[h].t = now_ns;
	return pidcache[h].in;
}

/* The job's GPU time (ns) in NVML samples newer than seen (us); *covered
 * gets the time the samples reach.  -1: NVML cannot say. */
static int measure(struct tdev *t, uint64_t seen, uint64_t now_us, uint64_t now_ns, uint64_t *busy,
		   uint64_t *covered, int *fresh)
{
	nvmlProcessUtilizationSample_t stack[SAMPLES], *s = stack;
	unsigned int n = SAMPLES, i;
	nvmlReturn_t r;

	*busy = 0;
	*covered = seen;
	*fresh = 0;
	r = putil(t->nvml, s, &n, seen);
	if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
		n += 16;
		if (!(s = calloc(n, sizeof(*s))))
			return -1;
		r = putil(t->nvml, s, &n, seen);
	}
	if (r == NVML_ERROR_NOT_FOUND) {
		/* Nothing ran since seen, or the samples are still to come. */
		if (now_us > seen + STALE_US)
			*covered = now_us - STALE_US;
		r = NVML_SUCCESS;
		n = 0;
	}
	if (r != NVML_SUCCESS) {
		if (s != stack)
			free(s);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (s[i].timeStamp > *covered && s[i].timeStamp <= now_us + 1000000ULL) {
			*covered = s[i].timeStamp;
			*fresh = 1;
		}
	for (i = 0; i < n; i++) {
		uint64_t ts = s[i].timeStamp > *covered ? *covered : s[i].timeStamp;
		if (ts <= seen || !in_job((pid_t)s[i].pid, now_ns))
			continue;
		*busy += (uint64_t)(s[i].smUtil > 100 ? 100 : s[i].smUtil) * (ts - seen) * 10ULL;
	}
	if (s != stack)
		free(s);
	return 0;
}

/* Microseconds the gate was open in (from, to]. */
static uint64_t open_between(const struct tdev *t, uint64_t from, uint64_t to)
{
	unsigned int n = t->hist_n < HIST ? t->hist_n : HIST, i;
	uint64_t sum = 0;

	for (i = 0; i < n; i++) {
		unsigned int k = (t->hist_n - n + i) % HIST;
		uint64_t a = t->hist_t[k];
		uint64_t b = i + 1 < n ? t->hist_t[(k + 1) % HIST] : to;
		if (!t->hist_open[k])
			continue;
		if (a < from)
			a = from;
		if (b > to)
			b = to;
		if (b > a)
			sum += b - a;
	}
	return sum;
}

/* The most credit a job banks: limit x BURST_NS, at most BURST_MAX_NS. */
static int64_t burst_cap(const struct tdev *t)
{
	int64_t cap = BURST_NS * t->limit / 100;

	return cap < BURST_MAX_NS ? cap : BURST_MAX_NS;
}

/* Opens or closes the gate (bits: SM_GATE_SLOT_END), and keeps the history
 * of when it was open for the predictor. */
static void set_gate(struct tdev *t, int open, uint64_t bits, uint64_t now_ns, uint64_t now_us)
{
	uint64_t *g = word(t->d, SM_THR_GATE);
	uint64_t gate = __atomic_load_n(g, __ATOMIC_RELAXED);

	if (open == !gate)
		return;
	if (open)
		__atomic_store_n(g, 0, __ATOMIC_RELEASE);
	else
		__atomic_store_n(g, (now_ns & ~3ULL) | SM_GATE_CLOSED | bits, __ATOMIC_RELEASE);
	t->hist_t[t->hist_n % HIST] = now_us;
	t->hist_open[t->hist_n % HIST] = (uint8_t)open;
	t->hist_n++;
}

/* One step of the leader: measure, integrate, predict, set the gate. */
hidden void control(struct tdev *t, uint64_t now_ns)
{
	uint64_t now_us = realtime_us(), seen, covered, busy, dt, opened, horizon;
	int64_t credit, cap = burst_cap(t);
	int64_t pred;
	int64_t ratio = t->ratio;
	int open, fresh;

	seen = __atomic_load_n(word(t->d, SM_THR_SEEN), __ATOMIC_RELAXED);
	credit = (int64_t)__atomic_load_n(word(t->d, SM_THR_CREDIT), __ATOMIC_RELAXED);
	if (!seen || seen > now_us + 1000000ULL || now_us - seen > RESTART_US) {
		seen = now_us - TICK_NS / 1000;
		credit = cap; /* a job starts under its share */
		ratio = 1000000;
	}
	if (measure(t, seen, now_us, now_ns, &busy, &covered, &fresh) != 0) {
		if (!t->warned) {
			t->warned = 1;
			sm_log(SM_ERROR, (int)(t - tdevs), "compute limit not enforced",
			       "reason=\"nvmlDeviceGetProcessUtilization failed\" sm_limit=%d", t->limit);
		}
		t->pred = cap;
		set_gate(t, 1, 0, now_ns, now_us);
		return;
	}
	dt = covered - seen;
	if (dt) {
		uint64_t was_open = open_between(t, seen, covered);
		credit += (int64_t)(dt * 10ULL * (uint64_t)t->limit) - (int64_t)busy;
		if (was_open * 4 > dt) {
			int64_t r = (int64_t)(busy / was_open); /* ns per us: thousandths */
			if (r > 1500)
				r = 1500;
			ratio = (ratio + r * 1000) / 2;    /* parts per million */
		}
	}
	if (credit > cap)
		credit = cap;
	if (credit < -DEBT_NS)
		credit = -DEBT_NS;
	/* NVML's sampling period, as seen: how far behind its answers are. */
	if (fresh) {
		if (t->last_fresh && covered > t->last_fresh && covered - t->last_fresh < 1000000ULL)
			t->period_us = (t->period_us * 3 + (covered - t->last_fresh)) / 4;
		t->last_fresh = covered;
	}
	/* What the job probably used, and earned, in the last period, which
	 * NVML has not reported yet (nothing when it is up to date). */
	horizon = now_us > covered ? now_us - covered : 0;
	if (horizon > t->period_us + TICK_NS / 1000)
		horizon = t->period_us + TICK_NS / 1000;
	opened = open_between(t, now_us - horizon, now_us);
	pred = credit + (int64_t)(horizon * 10ULL * (uint64_t)t->limit) - (int64_t)opened * ratio / 1000;
	open = pred > 0;
	t->pred = pred;
	t->ratio = ratio;
	__atomic_store_n(word(t->d, SM_THR_CREDIT), (uint64_t)credit, __ATOMIC_RELAXED);
	__atomic_store_n(word(t->d, SM_THR_SEEN), covered, __ATOMIC_RELAXED);
	__atomic_store_n(word(t->d, SM_THR_LIMIT), (uint64_t)t->limit, __ATOMIC_RELAXED);
	if (!t->slots.n) {
		int was_open = !__atomic_load_n(word(t->d, SM_THR_GATE), __ATOMIC_RELAXED);
		set_gate(t, open, 0, now_ns, now_us);
		if (open != was_open)
			sm_log(SM_TRACE, (int)(t - tdevs), open ? "gate open" : "gate closed",
			       "credit_us=%lld pred_us=%lld busy_us=%llu dt_us=%llu lag_us=%llu ratio_ppm=%lld",
			       (long long)credit / 1000, (long long)pred / 1000, (unsigned long long)busy / 1000,
			       (unsigned long long)dt, (unsigned long long)(now_us - covered), (long long)ratio);
	}
	/* Idle and in credit: look less often. */
	t->next_ns = now_ns + (credit >= cap && !busy && open ? IDLE_TICK_NS : TICK_NS);
}

/* ---- time slots --------------------------------------------------------- */

/* Whether the job is alone on the GPU: no process of another job holds a
 * context there (NVML's process list, looked at once a second).  NVML's
 * per-process time is exact only then: with several processes it gives
 * each 200 ms sample whole to one of them (docs/compute.md). */
static int alone(struct tdev *t, uint64_t now_ns)
{
	nvmlProcessInfo_t stack[SM_PROC_STACK], *infos = stack;
	int n, i, others = 0;

	if (t->solo_check_ns && now_ns - t->solo_check_ns < ALONE_CHECK_NS)
		return t->solo;
	t->solo_check_ns = now_ns;
	n = sm_nvml_processes(t->nvml, stack, &infos);
	for (i = 0; i < n && !others; i++)
		others = !in_job((pid_t)infos[i].pid, now_ns);
	if (infos != stack)
		free(infos);
	t->solo = n >= 0 && !others;
	return t->solo;
}

/* A new occurrence of the job's slot begins: learn from the last one how
 * long the job's queued work ran on after its close, and pay debt. */
static void slot_begin(struct tdev *t, uint64_t start, uint64_t end, int solo)
{
	uint64_t len = end - start, cap = len / 2, d, over, delay;

	d = __atomic_exchange_n(word(t->d, SM_THR_DRAIN), 0, __ATOMIC_ACQ_REL);
	if (d && t->occ_end) {
		/* The work queued at the close took d to finish.  Close earlier
		 * by a low estimate of it: down fast, up slowly, since a close
		 * too early leaves the GPU idle while one too late only delays
		 * the next job's first kernels. */
		over = d > t->margin_ns ? d - t->margin_ns : 0;
		if (d < t->margin_ns)
			t->margin_ns = (t->margin_ns + d) / 2;
		else
			t->margin_ns = (15 * t->margin_ns + (d < cap ? d : cap)) / 16;
		/* What the margin cannot cover (work queued longer than half
		 * the slot) ran in other jobs' time: the job owes it, and opens
		 * its next slots that much later.  Alone, NVML's debt counts it
		 * already. */
		if (!solo && t->margin_ns >= cap * 7 / 8 && over && t->debt_ns < SLOT_DEBT_NS)
			t->debt_ns += over;
	}
	if (t->margin_ns > cap)
		t->margin_ns = cap;
	sm_log(SM_TRACE, (int)(t - tdevs), "slot", "drain_us=%llu margin_us=%llu debt_us=%llu",
	       (unsigned long long)d / 1000, (unsigned long long)t->margin_ns / 1000,
	       (unsigned long long)t->debt_ns / 1000);
	delay = t->debt_ns < len - t->margin_ns ? t->debt_ns : len - t->margin_ns;
	t->debt_ns -= delay;
	t->occ_start = start;
	t->occ_end = end;
	t->occ_open = start + delay;
	t->occ_close = end - t->margin_ns;
}

/* The gate of a job with a time slot at realtime rt; returns the
 * CLOCK_MONOTONIC time of the next change. */
hidden uint64_t slot_step(struct tdev *t, uint64_t now_ns, uint64_t rt)
{
	int64_t reserve = burst_cap(t) / 2;
	uint64_t start, end, next, bits = 0;
	uint32_t waited = (uint32_t)__atomic_load_n(word(t->d, SM_THR_WAITED), __ATOMIC_RELAXED);
	int inside = sm_slot_find(&t->slots, rt, &start, &end), in, open;
	/* Only for a job alone may NVML's debt (kernels longer than the slot)
	 * close the slot. */
	int solo = alone(t, now_ns);

	if (inside && start != t->occ_start)
		slot_begin(t, start, end, solo);
	in = inside && rt >= t->occ_open && rt < t->occ_close;
	if (in) {
		open = !(solo && t->pred < -ALONE_DEBT_NS);
		next = t->occ_close;
	} else {
		/* Out of its slot, a job spends credit only while it is not busy:
		 * a busy job waits at its slot's end and is kept to its slot. */
		open = t->pred > reserve && (!waited || ms32(now_ns) - waited > CONFINE_MS);
		if (t->in_slot)
			bits = SM_GATE_SLOT_END;
		next = !inside ? start : rt < t->occ_open ? t->occ_open : end;
	}
	t->in_slot = in;
	set_gate(t, open, bits, now_ns, rt / 1000);
	if (next <= rt)
		next = rt + 100000;
	return now_ns + (next - rt);
}

