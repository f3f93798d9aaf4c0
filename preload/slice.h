/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory side's one door, as throttle.h is the compute side's: every
 * memory hook (hook_mem.c, hook_ctx.c, hook_info.c, hook_nvml.c) calls
 * these and nothing else of the accounting.  Behind the door:
 *
 *   slice.c       admission of allocations, refusals, credits
 *   slice_ctx.c   contexts: reserved before creation, measured after
 *   slice_view.c  what the program is told about memory
 *
 * and behind those the ledger (ledger.c, the region's bookkeeping), the
 * NVML check (check.c) and the cost of each allocation (ptrmap.c).
 *
 * A hook that creates memory admits before the driver call and settles
 * after it; a hook that frees forgets the key before and credits after.
 */
#ifndef SOFTMIG_SLICE_H
#define SOFTMIG_SLICE_H

#include "cuda_abi.h"
#include "ptrmap.h"
#include "softmig.h"

/* What an admission reserved. */
struct sm_take {
	int dev;          /* device entry the bytes are on; -1: not counted */
	int ordinal;      /* CUDA device ordinal */
	int measure;      /* a context to measure when created (none measured on the device yet) */
	uint64_t bytes;
};

/* Reserves bytes on the ordinal (or the current context's device) for
 * the call api, or refuses with CUDA_ERROR_OUT_OF_MEMORY: the refusal is
 * logged (rate-limited) and runs the OOM killer when the job asked. */
hidden CUresult sm_slice_admit(int ordinal, uint64_t bytes, const char *api, struct sm_take *t);
hidden CUresult sm_slice_admit_current(uint64_t bytes, const char *api, struct sm_take *t);
/* The driver chose the size (pitched allocations): the take becomes
 * actual bytes, any growth admitted as above. */
hidden CUresult sm_slice_resize(struct sm_take *t, uint64_t actual, const char *api);
/* After the driver answered r: gives the take back on failure, or
 * remembers its cost under (kind, key), owned by owner (a context or a
 * graph, 0 none) for the free. */
hidden void sm_slice_settle(CUresult r, const struct sm_take *t, int kind, uint64_t key, uint64_t owner);

/* Frees: forget finds (and removes) what key cost, 0 when it was never
 * counted; credit gives it back once the driver freed it, or remembers it
 * again when the driver refused.  Returns r. */
hidden int sm_slice_forget(int kind, uint64_t key, struct sm_alloc *a);
hidden CUresult sm_slice_credit(CUresult r, int kind, uint64_t key, const struct sm_alloc *a);
/* Everything owned by a destroyed graph or context. */
hidden void sm_slice_credit_owned(uint64_t owner);
/* Around a context's or graph's destruction and its credits: the driver
 * frees before the ledger hears of it (as between forget and credit). */
hidden void sm_slice_teardown_begin(void);
hidden void sm_slice_teardown_end(void);

/* Contexts: reserved before the driver creates one (the largest seen on
 * the device, or a default), settled to what NVML shows at this process's
 * next check (at once for the job's first context on the device); when
 * one is gone its allocations are credited and context memory measured
 * again. */
hidden CUresult sm_slice_ctx_admit(int ordinal, const char *api, struct sm_take *t);
hidden void sm_slice_ctx_settle(const struct sm_take *t, int created);
hidden void sm_slice_ctx_gone(uint64_t ctx);

/* Views: free and total of the ordinal as the slice (never more than the
 * device has); a device total; NVML's view of a device (0 with total and
 * used set, -1 no limit); whether pid is one of the job's processes. */
hidden void sm_slice_view(int ordinal, uint64_t *freep, uint64_t *totalp);
hidden uint64_t sm_slice_view_total(int ordinal, uint64_t real_total);
hidden int sm_slice_view_nvml(nvmlDevice_t nd, uint64_t real_total, uint64_t *total, uint64_t *used);
hidden int sm_slice_view_shows(pid_t pid);

#endif
