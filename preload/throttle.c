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
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "slot.h"
#include "throttle.h"

#define TICK_NS 20000000ULL           /* control period */
#define IDLE_TICK_NS 100000000ULL     /* period while the job is idle and in credit */
#define LEASE_MS 300U                 /* a leader silent this long is replaced */
#define DEAD_GATE_MS 1000U            /* a closed gate whose leader is gone this long is ignored */
#define WAIT_NS 500000L               /* a closed gate is re-read this often */
#define BURST_NS 100000000LL          /* credit cap: limit x this, */
#define BURST_MAX_NS 50000000LL       /* at most this: 5 points of a 1 s window */
#define DEBT_NS 10000000000LL         /* debt floor */
#define STALE_US 200000ULL            /* NVML sample lag assumed when it reports nothing */
#define RESTART_US 2000000ULL         /* measurement older than this: start over */
#define LOG_INTERVAL_NS 10000000000ULL
#define HIST 128                      /* ticks of gate history for the predictor */
#define PIDCACHE 64
#define SAMPLES 256
#define ALONE_CHECK_NS 1000000000ULL  /* how often the leader looks for other jobs' processes */
#define ALONE_DEBT_NS ((int64_t)SM_SLOT_PERIOD_NS) /* in its slot, a job alone waits only
						     * beyond this debt (a slot's own swing is less) */
#define CONFINE_MS (2 * (uint32_t)(SM_SLOT_PERIOD_NS / 1000000ULL)) /* a job that waited this
						     * recently keeps to its slot */
#define SLOT_DEBT_NS 10000000000ULL   /* most slot time a job can owe */

typedef nvmlReturn_t (*putil_fn)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
				 unsigned long long);

static uint64_t open_word; /* the gate of devices without a limit: always 0 */
static uint64_t *gates[SM_MAX_DEVICES]; /* per ordinal, NULL: not seen yet */
hidden uint64_t *sm_thr_seen[SM_MAX_DEVICES];
hidden int sm_thr_ngates;
hidden SM_TLS unsigned int sm_thr_count;
hidden int sm_thr_any = -1;

struct tdev {
	int on;                 /* registered: the thread looks after it */
	int d;                  /* region device slot */
	int limit;              /* percent, 1..99 */
	nvmlDevice_t nvml;
	uint64_t throttled_ns;  /* this process slept this long at the gate */
	uint64_t logged_ns;     /* part of it already in a throttle line */
	uint64_t last_log_ns;
	uint64_t next_ns;       /* next control step */
	int leader;
	int warned;
	struct sm_slots slots;  /* n == 0: no time slot */
	/* leader only: when the gate was open (predictor) */
	uint64_t hist_t[HIST];  /* CLOCK_REALTIME us at which hist_open began */
	uint8_t hist_open[HIST];
	unsigned int hist_n;
	uint64_t last_fresh;    /* time stamp of the last new NVML sample */
	uint64_t period_us;     /* NVML's sampling period as seen */
	int64_t ratio;          /* busy time per open time, parts per million */
	int64_t pred;           /* credit, less what the job used that NVML has not reported */
	int solo;               /* no process of another job on the GPU, last we looked */
	uint64_t solo_check_ns; /* when we looked */
	/* leader only, time slots (CLOCK_REALTIME ns) */
	uint64_t occ_start, occ_end; /* the slot range now or last in use */
	uint64_t occ_open, occ_close;/* the gate is open between these */
	uint64_t margin_ns;     /* closes this early: the job's queued work at the close */
	uint64_t debt_ns;       /* slot time the job ran over and still owes */
	int in_slot;
};

static struct tdev tdevs[SM_MAX_DEVICES];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static int thread_started;
static int atfork_done;
static putil_fn putil;

static struct {
	pid_t pid;
	int in;
	uint64_t t;
} pidcache[PIDCACHE];

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_us(void)
{
	return realtime_ns() / 1000ULL;
}

static uint32_t ms32(uint64_t ns)
{
	return (uint32_t)(ns / 1000000ULL);
}

static uint64_t *word(int d, int i)
{
	return &sm_region->devs[d].sm[i];
}

hidden int sm_thr_any_init(void)
{
	int i, any = 0;

	if (sm_mode == SM_ACTIVE)
		for (i = 0; i < SM_MAX_DEVICES; i++)
			if (sm_cfg.sm_limit[i] > 0 && sm_cfg.sm_limit[i] < 100)
				any = 1;
	__atomic_store_n(&sm_thr_any, any, __ATOMIC_RELAXED);
	return any;
}

hidden uint64_t sm_thr_throttled_ms(int ordinal)
{
	if (ordinal < 0 || ordinal >= SM_MAX_DEVICES)
		return 0;
	return __atomic_load_n(&tdevs[ordinal].throttled_ns, __ATOMIC_RELAXED) / 1000000ULL;
}

/* ---- the job's GPU time ------------------------------------------------ */

static int in_job(pid_t pid, uint64_t now_ns)
{
	int i, slot = (int)((unsigned int)pid % PIDCACHE);

	if (sm_pid_in_region(pid))
		return 1;
	for (i = 0; i < PIDCACHE; i++) {
		int k = (slot + i) % PIDCACHE;
		if (pidcache[k].pid == pid && now_ns - pidcache[k].t < 2000000000ULL)
			return pidcache[k].in;
	}
	pidcache[slot].pid = pid;
	pidcache[slot].in = sm_pid_in_job(pid);
	pidcache[slot].t = now_ns;
	return pidcache[slot].in;
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
static void control(struct tdev *t, uint64_t now_ns)
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
static uint64_t slot_step(struct tdev *t, uint64_t now_ns, uint64_t rt)
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

/* Takes or renews the device's lease; 1 when this process leads. */
static int lead(struct tdev *t, uint64_t now_ns)
{
	uint64_t *lw = word(t->d, SM_THR_LEASE);
	uint64_t lease = __atomic_load_n(lw, __ATOMIC_ACQUIRE);
	uint64_t mine = (uint64_t)(uint32_t)getpid() << 32 | ms32(now_ns);

	if ((uint32_t)(lease >> 32) == (uint32_t)getpid()) {
		__atomic_store_n(lw, mine, __ATOMIC_RELEASE);
		return 1;
	}
	if (lease && ms32(now_ns) - (uint32_t)lease <= LEASE_MS)
		return 0;
	if (!__atomic_compare_exchange_n(lw, &lease, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;
	t->hist_n = 0;
	t->next_ns = 0;
	t->last_fresh = 0;
	t->period_us = TICK_NS / 1000;
	t->ratio = 1000000;
	t->pred = 0;
	t->solo = 0;
	t->solo_check_ns = 0;
	t->occ_start = t->occ_end = 0;
	t->margin_ns = t->debt_ns = 0;
	t->in_slot = 0;
	return 1;
}

static void maybe_log(int o, struct tdev *t, uint64_t now_ns)
{
	uint64_t total, delta;

	if (now_ns - t->last_log_ns < LOG_INTERVAL_NS)
		return;
	total = __atomic_load_n(&t->throttled_ns, __ATOMIC_RELAXED);
	delta = total - t->logged_ns;
	if (delta < 1000000ULL)
		return;
	t->logged_ns = total;
	t->last_log_ns = now_ns;
	sm_log(SM_EVENT, o, "throttle", "throttled_ms=%llu sm_limit=%d", (unsigned long long)(delta / 1000000ULL),
	       t->limit);
}

/* Wakes every TICK, and at the slot boundaries of the devices it leads. */
static void *controller(void *arg)
{
	struct timespec ts;
	sigset_t bus;
	uint64_t tick = sm_now_ns(), wake;
	int o;

	(void)arg;
	sm_depth = 1; /* anything this thread calls passes the hooks */
	/* ... but a fault on a region cut short must reach the library's
	 * handler (region_guard.c): a blocked SIGBUS fault kills the process.
	 * A SIGBUS sent to the process still goes to the program's threads. */
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
	for (;;) {
		uint64_t now = sm_now_ns();
		/* The launches read the region without a lock: a file cut short
		 * is found here within a tick (region_guard.c). */
		sm_region_guard();
		if (now >= tick) {
			tick += TICK_NS;
			if (tick < now)
				tick = now + TICK_NS;
		}
		wake = tick;
		for (o = 0; o < SM_MAX_DEVICES; o++) {
			struct tdev *t = &tdevs[o];
			if (!__atomic_load_n(&t->on, __ATOMIC_ACQUIRE))
				continue;
			t->leader = lead(t, now);
			if (t->leader && now >= t->next_ns)
				control(t, now);
			if (t->leader && t->slots.n) {
				uint64_t w = slot_step(t, now, realtime_ns());
				if (w < wake)
					wake = w;
			}
			maybe_log(o, t, now);
		}
		ts.tv_sec = (time_t)(wake / 1000000000ULL);
		ts.tv_nsec = (long)(wake % 1000000000ULL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	return NULL;
}

/* ---- registration (first launch on a device) and fork ------------------ */

static void atfork_child(void)
{
	int o;

	/* The child has no controller thread: it registers again, and starts
	 * one, on its first launch. */
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	reg_lock = fresh;
	thread_started = 0;
	sm_thr_ngates = 0;
	for (o = 0; o < SM_MAX_DEVICES; o++) {
		gates[o] = NULL;
		memset(&tdevs[o], 0, sizeof(tdevs[o]));
	}
}

static int start_thread(void)
{
	sigset_t all, old;
	pthread_t th;
	int r;

	if (thread_started)
		return 0;
	if (!atfork_done) {
		if (pthread_atfork(NULL, NULL, atfork_child) != 0)
			return -1;
		atfork_done = 1;
	}
	/* The thread takes no signals: the program's handlers stay on its own threads. */
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
		return -1;
	r = pthread_create(&th, NULL, controller, NULL);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0 && r == 0) {
		/* cannot happen with a valid set; the thread runs anyway */
	}
	if (r != 0)
		return -1;
	if (pthread_detach(th) != 0) {
		/* a joinable thread that never exits costs nothing more */
	}
	thread_started = 1;
	return 0;
}

static putil_fn resolve_putil(void)
{
	void *h;

	if (putil)
		return putil;
	h = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return NULL;
	putil = (putil_fn)sm_real_dlsym(h, "nvmlDeviceGetProcessUtilization");
	/* The handle stays open, like real.c's. */
	return putil;
}

/* The gate of a limited device: registers the process and the device in
 * the region and starts the controller thread.  NULL: cannot be enforced. */
static uint64_t *enroll_limited(int o, int limit)
{
	struct tdev *t = &tdevs[o];
	const char *why = NULL;
	int d = -1;

	if (sm_region_register() != 0 || (d = sm_dev_slot(o)) < 0)
		why = "no shared region";
	else if (!(t->nvml = sm_dev_nvml(o)))
		why = "NVML unavailable";
	else if (!resolve_putil())
		why = "nvmlDeviceGetProcessUtilization missing";
	if (why) {
		sm_log(SM_ERROR, o, "compute limit not enforced", "reason=\"%s\" sm_limit=%d", why, limit);
		return NULL;
	}
	sm_note_device(o, d);
	t->d = d;
	t->limit = limit;
	sm_slots_from_mask(sm_cfg.sm_slot[o], &t->slots);
	t->last_log_ns = sm_now_ns();
	__atomic_store_n(&t->on, 1, __ATOMIC_RELEASE);
	if (start_thread() != 0)
		sm_log(SM_WARN, o, "no controller thread", "reason=\"pthread_create failed\"");
	return word(d, SM_THR_GATE);
}

/* First launch on ordinal o; caller holds reg_lock. */
static void enroll(int o)
{
	uint64_t *gate = NULL;
	int limit = sm_cfg.sm_limit[o];

	if (limit > 0 && limit < 100) {
		sm_depth++;
		gate = enroll_limited(o, limit);
		sm_depth--;
	}
	if (!gate)
		gate = &open_word;
	__atomic_store_n(&gates[o], gate, __ATOMIC_RELEASE);
	sm_thr_seen[sm_thr_ngates] = gate;
	__atomic_store_n(&sm_thr_ngates, sm_thr_ngates + 1, __ATOMIC_RELEASE);
}

/* Reports how long the job's queued work ran on after its slot closed. */
static void report_drain(struct tdev *t, uint64_t d)
{
	uint64_t *w = word(t->d, SM_THR_DRAIN);
	uint64_t cur = __atomic_load_n(w, __ATOMIC_RELAXED);

	while (d > cur && !__atomic_compare_exchange_n(w, &cur, d, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Sleeps until the gate opens.  A gate closed at the end of the job's
 * slot: meanwhile, watches the stream for the job's queued work to finish. */
static void wait_open(int o, uint64_t *gate, CUstream stream)
{
	struct timespec ts = { 0, WAIT_NS };
	uint64_t t0 = sm_now_ns(), now = t0, dt, g = __atomic_load_n(gate, __ATOMIC_ACQUIRE);
	uint64_t closed_at = g & ~3ULL;
	struct tdev *t = &tdevs[o];
	int drain = (g & SM_GATE_SLOT_END) && real_cuStreamQuery && closed_at <= t0;

	__atomic_store_n(word(t->d, SM_THR_WAITED), (uint64_t)(ms32(t0) | 1), __ATOMIC_RELAXED);
	while (__atomic_load_n(gate, __ATOMIC_ACQUIRE)) {
		uint64_t lease = __atomic_load_n(word(t->d, SM_THR_LEASE), __ATOMIC_RELAXED);
		if (drain && real_cuStreamQuery(stream) != CUDA_ERROR_NOT_READY) {
			report_drain(t, now - closed_at);
			drain = 0;
		}
		if (ms32(now) - (uint32_t)lease > DEAD_GATE_MS)
			break; /* no controller left: do not hang the program */
		nanosleep(&ts, NULL);
		now = sm_now_ns();
	}
	if (drain) /* still running when the slot came back: at least this */
		report_drain(t, now - closed_at);
	__atomic_store_n(word(t->d, SM_THR_WAITED), (uint64_t)(ms32(now) | 1), __ATOMIC_RELAXED);
	dt = now - t0;
	__atomic_add_fetch(&t->throttled_ns, dt, __ATOMIC_RELAXED);
	__atomic_add_fetch(word(t->d, SM_THR_THROTTLED), dt, __ATOMIC_RELAXED);
}

/* A launch into a stream being captured adds to a graph and runs nothing. */
static int capturing(CUstream stream)
{
	int status = 0;

	return real_cuStreamIsCapturing && real_cuStreamIsCapturing(stream, &status) == CUDA_SUCCESS &&
	       status != 0;
}

hidden void sm_thr_slow(CUstream stream)
{
	uint64_t *gate;
	CUdevice o;
	int saved = errno;

	if (sm_dev_current(&o) != 0)
		return;
	if (!(gate = __atomic_load_n(&gates[o], __ATOMIC_ACQUIRE))) {
		if (pthread_mutex_lock(&reg_lock) != 0)
			return;
		if (!gates[o])
			enroll(o);
		gate = gates[o];
		pthread_mutex_unlock(&reg_lock);
	}
	if (gate != &open_word && __atomic_load_n(gate, __ATOMIC_ACQUIRE) && !capturing(stream))
		wait_open(o, gate, stream);
	errno = saved;
}
