/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compute time slots (SOFTMIG_SM_SLOT): the parts of a fixed period, the
 * same on every process of the node (CLOCK_REALTIME), in which a job may
 * launch while the node's time authority is down.  softmig-conf gives the
 * jobs of a GPU disjoint parts, so their kernels do not time-slice against
 * each other then either.  Pure arithmetic; gate.c uses it.
 */
#ifndef SOFTMIG_SLOT_H
#define SOFTMIG_SLOT_H

#include "softmig.h"

/* One second: a 1 s window always holds exactly the slot's share, and the
 * GPU's power management (which averages over some 100 ms) keeps the
 * clocks of a power-bound load where they are when the GPU is shared, so
 * that a share of time is the same share of work (docs/compute.md). */
#define SM_SLOT_PERIOD_NS 1000000000ULL

#define SM_SLOT_RANGES 8 /* ranges in a SOFTMIG_SM_SLOT value */

/* A slot as ranges [a, b) of nanoseconds from the start of a period,
 * ascending; a range that wraps past the period's end has b > period. */
struct sm_slots {
	int n;
	uint64_t a[SM_SLOT_RANGES], b[SM_SLOT_RANGES];
};

/* Turns a percent mask (sm_limits_slot) into ranges; returns their
 * number, 0 for no slot. */
hidden int sm_slot_from_mask(const uint64_t mask[2], struct sm_slots *s);

/* The occurrence [*start, *end) of a range that contains t (ns, realtime):
 * returns 1; else the next occurrence after t: returns 0.  s->n > 0. */
hidden int sm_slot_find(const struct sm_slots *s, uint64_t t, uint64_t *start, uint64_t *end);

#endif
