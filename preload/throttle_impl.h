/*
 * Private to the compute slicing files (throttle.h is the public side):
 * the controller's tuning, its per-device state and the few functions
 * that cross between
 *
 *   controller.c  measurement, the credit integrator and the time-slot policy
 *   leader.c      leadership of a device and the controller thread
 *   gate.c        the launch side: enrol a device, wait at a closed gate
 *
 * Design in docs/compute.md.
 */
#ifndef SOFTMIG_THROTTLE_IMPL_H
#define SOFTMIG_THROTTLE_IMPL_H

#include <pthread.h>
#include <time.h>

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

struct tdev {
	int on;                 /* registered: the thread looks after it */
	int d;                  /* device entry in the region */
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

/* Per ordinal (controller.c); filled at the first launch on the device (gate.c). */
extern hidden struct tdev tdevs[SM_MAX_DEVICES];
extern hidden putil_fn putil;

static inline uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t realtime_us(void)
{
	return realtime_ns() / 1000ULL;
}

static inline uint32_t ms32(uint64_t ns)
{
	return (uint32_t)(ns / 1000000ULL);
}

static inline uint64_t *word(int d, int i)
{
	return &sm_region->devs[d].sm[i];
}

/* controller.c: one step of the leader without and with a time slot. */
hidden void control(struct tdev *t, uint64_t now_ns);
hidden uint64_t slot_step(struct tdev *t, uint64_t now_ns, uint64_t rt);

/* leader.c: the controller thread's body. */
hidden void *controller(void *arg);

#endif
