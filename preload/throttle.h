/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compute slicing (CUDA_DEVICE_SM_LIMIT): the per-launch gate (gate.c and
 * authority.c over throttle_impl.h; design in docs/compute.md).
 *
 * Who may launch when is decided by root: the node's time authority
 * (softmig-guard) publishes a gate word per job in each GPU's time file
 * (timefile_abi.h), which the job's processes map read-only.  The launch
 * hooks call sm_gate() before the driver's launch.  With no SM limit on
 * any device it is one predictable branch; with a limit and the job's gate
 * open it is one relaxed load of the gate word and a compare.  Only a
 * closed gate sleeps the launching thread; with the authority down the job
 * keeps to its static time slot.  No thread, no lease, nothing a user can
 * write decides anything.
 */
#ifndef SOFTMIG_THROTTLE_H
#define SOFTMIG_THROTTLE_H

#include "cuda_abi.h"
#include "depth.h"
#include "region_abi.h"
#include "softmig.h"

/* Indices into struct sm_dev.sm[8] (region_abi.h), per device and job
 * (internal/region mirrors them).  The region is the user's file: the
 * authority reads SM_THR_WANTED alone, and only to give an idle job its
 * own slot back sooner, which is the job's due whatever it writes.  The
 * other words are unused since the time authority decides. */
enum {
	SM_THR_WANTED = 0,   /* CLOCK_REALTIME ns a launch last waited at its gate
			      * while the job's entry said idle (SM_TIME_F_IDLE) */
	SM_THR_THROTTLED = 4 /* ns that the job's launching threads slept, total */
};

/* Slow part of the gate: finds the launching device, enrols it the first
 * time, checks the authority, and waits while the device's gate is closed
 * (or outside the job's static slot while the authority is down). */
hidden void sm_gate_slow(CUstream stream);

extern hidden int sm_gate_any;   /* -1 unknown, 0 no SM limit anywhere, 1 some */
hidden int sm_gate_any_init(void);

/* The gate words of the devices this process launched on, in the order
 * seen: the job's entry in the time file, a process-local closed word
 * while the authority is down, a word that stays 0 for a device without
 * a limit.  sm_gate_ngates is published last. */
extern hidden const uint64_t *sm_gate_seen[SM_MAX_DEVICES];
extern hidden int sm_gate_ngates;
/* The thread's launches, and the count at which the next takes the slow
 * path: every SM_GATE_EVERY launches at most, sooner when its launch queue
 * checkpoint is due (launchq.h). */
extern hidden SM_TLS unsigned int sm_gate_count, sm_gate_due;
#define SM_GATE_EVERY 64

/* A thread's launch takes the slow path when due (a launch on a new device
 * is enrolled by then, the authority's beat checked, the launch queue
 * kept short); the others only read the gates of the devices already
 * seen, usually one word, and go on when all are open. */
static inline void sm_gate(CUstream stream)
{
	int any = sm_gate_any, n, i;
	uint64_t closed = 0;

	if (likely(any == 0))
		return;
	if (unlikely(any < 0) && !sm_gate_any_init())
		return;
	if (unlikely(sm_depth > 0))
		return;
	n = __atomic_load_n(&sm_gate_ngates, __ATOMIC_ACQUIRE);
	if (likely(n > 0) && likely((int)(++sm_gate_count - sm_gate_due) < 0)) {
		for (i = 0; i < n; i++)
			closed |= __atomic_load_n(__atomic_load_n(&sm_gate_seen[i], __ATOMIC_RELAXED), __ATOMIC_RELAXED);
		if (likely(!closed))
			return;
	}
	sm_gate_slow(stream);
}

/* Milliseconds this process slept at a closed gate of the ordinal. */
hidden uint64_t sm_gate_throttled_ms(int ordinal);

#endif
