/*
 * Private to slice.c, slice_ctx.c and slice_view.c (slice.h is the door).
 */
#ifndef SOFTMIG_SLICE_IMPL_H
#define SOFTMIG_SLICE_IMPL_H

#include "hooks.h"
#include "slice.h"

/* Reserves bytes on device entry d of the ordinal (as context memory when
 * ctx), reclaiming once before a refusal; a refusal is logged and, for an
 * allocation, runs the OOM killer when the job asked.  0 ok, -1 refused.
 * Caller holds sm_depth. */
hidden int sm_slice_reserve(int d, int ordinal, uint64_t bytes, int ctx, const char *api);

#endif
