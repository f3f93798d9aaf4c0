/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to slice.c, slice_ctx.c and slice_view.c (slice.h is the door).
 */
#ifndef SOFTMIG_SLICE_IMPL_H
#define SOFTMIG_SLICE_IMPL_H

#include "softmig.h"

/* What a reservation is for: a context of a size nobody in the job has
 * measured on the device yet reserves a guess. */
enum sm_for { SM_FOR_ALLOC, SM_FOR_CTX, SM_FOR_CTX_GUESS };

/* A reservation asked for: bytes, for what.  A context's size may be
 * known better while it waits: size (NULL for an allocation) gives it
 * again. */
struct sm_ask {
	uint64_t bytes;
	int what;
	uint64_t (*size)(int d, int *what);
};

/* Reserves ask on device entry d of the ordinal if both this process's own
 * NVML view and the ledger hold it, or refuses (-1): the refusal is logged
 * and, for an allocation, runs the OOM killer when the job asked.  Caller
 * holds sm_depth. */
hidden int sm_slice_reserve(int d, int ordinal, struct sm_ask *ask, const char *api);

/* Waits (at most as long as a refused reservation waits for guesses) while
 * no context size is known on device entry d and another process's guess
 * stands in the job: its measure is a moment away, and a guess of each of
 * the job's processes that start together would fill the slice with
 * guesses and send them all to NVML. */
hidden void sm_slice_await_guesses(int d);

#endif
