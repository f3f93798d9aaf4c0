/*
 * Compute slicing (CUDA_DEVICE_SM_LIMIT): the per-launch gate and the
 * job-wide controller behind it (gate.c, controller.c, leader.c over
 * throttle_impl.h; design in docs/compute.md).
 *
 * The launch hooks call sm_thr_gate() before the driver's launch.  With no
 * SM limit on any device it is one predictable branch; with a limit on the
 * launching device and the job under its share it is one relaxed load of
 * the device's gate word in the shared region and a compare.  Only a closed
 * gate sleeps the launching thread.
 */
#ifndef SOFTMIG_THROTTLE_H
#define SOFTMIG_THROTTLE_H

#include "softmig.h"

/* Indices into struct sm_dev.sm[8] (region_abi.h), per device and job. */
enum {
	SM_THR_GATE = 0,      /* 0 open; else closed: CLOCK_MONOTONIC ns it closed, with the
			       * SM_GATE_* bits in the low two */
	SM_THR_LEASE = 1,     /* controller lease: pid << 32 | CLOCK_MONOTONIC ms (low 32 bits) */
	SM_THR_CREDIT = 2,    /* int64 ns of GPU time the job may still use */
	SM_THR_SEEN = 3,      /* NVML sample time (us, CLOCK_REALTIME) measured up to */
	SM_THR_THROTTLED = 4, /* ns that the job's launching threads slept, total */
	SM_THR_LIMIT = 5,     /* limit the controller enforces, percent */
	SM_THR_DRAIN = 6,     /* time slots: longest wait (ns) for the job's queued work to
			       * finish after its slot closed, reported by waiting threads */
	SM_THR_WAITED = 7     /* CLOCK_MONOTONIC ms (low 32 bits) a thread last began or ended a wait */
};

#define SM_GATE_CLOSED 1ULL
#define SM_GATE_SLOT_END 2ULL /* closed at the end of the job's time slot */

/* Slow part of the gate: finds the launching device, registers it the
 * first time, and waits while its gate is closed. */
hidden void sm_thr_slow(CUstream stream);

extern hidden int sm_thr_any;   /* -1 unknown, 0 no SM limit anywhere, 1 some */
hidden int sm_thr_any_init(void);

/* The gates of the devices this process launched on (no limit: a word that
 * stays 0), in the order seen; sm_thr_ngates is published last. */
extern hidden uint64_t *sm_thr_seen[SM_MAX_DEVICES];
extern hidden int sm_thr_ngates;
extern hidden SM_TLS unsigned int sm_thr_count;

/* Every 64th launch of a thread looks up its device (a launch on a new
 * device is registered by then); the others only read the gates of the
 * devices already seen, usually one word, and go on when all are open. */
static inline void sm_thr_gate(CUstream stream)
{
	int any = sm_thr_any, n, i;
	uint64_t closed = 0;

	if (likely(any == 0))
		return;
	if (unlikely(any < 0) && !sm_thr_any_init())
		return;
	if (unlikely(sm_depth > 0))
		return;
	n = __atomic_load_n(&sm_thr_ngates, __ATOMIC_ACQUIRE);
	if (likely(n > 0) && likely((++sm_thr_count & 63) != 0)) {
		for (i = 0; i < n; i++)
			closed |= __atomic_load_n(sm_thr_seen[i], __ATOMIC_RELAXED);
		if (likely(!closed))
			return;
	}
	sm_thr_slow(stream);
}

/* Milliseconds this process slept at a closed gate of the ordinal. */
hidden uint64_t sm_thr_throttled_ms(int ordinal);

#endif
