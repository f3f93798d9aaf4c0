/*
 * Private to slice.c, slice_ctx.c and slice_view.c (slice.h is the door).
 */
#ifndef SOFTMIG_SLICE_IMPL_H
#define SOFTMIG_SLICE_IMPL_H

#include "hooks.h"
#include "slice.h"

/* What a reservation is for: a context of a size nobody in the job has
 * measured on the device yet reserves a guess. */
enum sm_for { SM_FOR_ALLOC, SM_FOR_CTX, SM_FOR_CTX_GUESS };

/* Reserves bytes on device entry d of the ordinal if both this process's
 * own NVML view and the ledger hold them; with again, asks once more after
 * the places of dead processes went and NVML was re-read.  0 ok, -1 over
 * (*used: what the job holds).  Caller holds sm_depth. */
hidden int sm_slice_try(int d, int ordinal, uint64_t bytes, int what, int again, uint64_t *used);
/* Says no: logged (rate-limited), and for an allocation the OOM killer
 * runs when the job asked. */
hidden void sm_slice_refuse(int ordinal, const char *api, uint64_t bytes, uint64_t used, int what);

#endif
