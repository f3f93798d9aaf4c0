/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the compute slicing files (throttle.h is the public side):
 * the state of each limited device and the one function that crosses
 *
 *   gate.c       the launch side: enrol a device, wait at a closed gate or
 *                outside the static slot, the bookkeeping and fork
 *   authority.c  whether the device follows the authority now: its beat,
 *                its file, the job's entry; the gate word the launches read
 *   timefile.c   the file itself (timefile.h)
 *   launchq.c    the launch queue's bound (launchq.h): when its work is done
 *
 * Design in docs/compute.md.
 */
#ifndef SOFTMIG_THROTTLE_IMPL_H
#define SOFTMIG_THROTTLE_IMPL_H

#include <time.h>

#include "slot.h"
#include "timefile.h"

#define WAIT_NS 500000ULL           /* a closed gate is re-read this often, */
#define RECHECK_NS 10000000ULL      /* the authority's beat at least this often */
#define RETRY_NS 50000000ULL        /* authority down: looked for again this often */
#define LOG_INTERVAL_NS 10000000000ULL /* throttle records, per device */
#define STATE_LOG_NS 1000000000ULL  /* time authority records, per device */

enum { LOGGED_NONE = 0, LOGGED_UP, LOGGED_DOWN };

/* One ordinal with an SM limit, in this process. */
struct gdev {
	int on;                 /* enrolled in this process (or its parent) */
	int d;                  /* device entry in the region, -1 none */
	int limit;              /* percent, 1..99 */
	int seen;               /* index in sm_gate_seen */
	char path[256];         /* the GPU's time file; "" when its UUID is unknown */
	struct sm_slots slots;  /* the static slot, for while the authority is down */
	/* authority.c; changed under its lock, read without it by atomics */
	struct sm_tfmap tf;
	int up;                 /* following the authority */
	uint64_t retry_at;      /* down: when to look again (CLOCK_REALTIME ns) */
	int logged;             /* LOGGED_*: the state the log shows */
	int log_due;            /* a transition not yet logged */
	uint64_t logged_at;
	const char *why;        /* why down */
	/* gate.c: this process's bookkeeping */
	uint64_t throttled_ns;  /* slept at the gate */
	uint64_t logged_ns;     /* part of it already in a throttle record */
	uint64_t last_log_ns;
};

static inline uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The gate word the launches on ordinal o obey now: the job's entry in the
 * time file while the authority is up, else NULL (the static slot rules).
 * Logs each change of state (at most one record a second). */
hidden const uint64_t *sm_authority_follow(struct gdev *g, int o, uint64_t now);
/* The same, checked in full (a device just enrolled). */
hidden const uint64_t *sm_authority_check(struct gdev *g, int o, uint64_t now);
/* A fork child's lock. */
hidden void sm_authority_reset_after_fork(void);

#endif
