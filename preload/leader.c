/*
 * Compute slicing, leadership: one process of the job leads each device,
 * chosen by a lease word in the region, and its controller thread runs the
 * control steps (controller.c) for the devices it leads.  A leader silent
 * for LEASE_MS is replaced, so the credit in the region outlives it.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "throttle_impl.h"

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
hidden void *controller(void *arg)
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
