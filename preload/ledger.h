/* SPDX-License-Identifier: Apache-2.0 */
/* What the region's entries hold, under the lock (ledger.c). */
#ifndef SOFTMIG_LEDGER_H
#define SOFTMIG_LEDGER_H

#include "cuda_abi.h"
#include "softmig.h"

/* Reserve bytes on device entry d against limit; 0 ok, -1 refused.
 * *used_out gets the job's usage before the request. */
hidden int sm_ledger_reserve(int d, uint64_t bytes, uint64_t limit, uint64_t *used_out);
hidden int sm_ledger_reserve_ctx(int d, uint64_t bytes, uint64_t limit, uint64_t *used_out, int guessed);
hidden int sm_ledger_guesses_stand(void);
hidden int sm_ledger_release(int d, uint64_t bytes); /* 0 given back, -1 no entry */
hidden void sm_ledger_ctx_account(int d, int64_t bytes, int guesses);
hidden void sm_ledger_ctx_settle(int d, uint64_t reserved, int64_t measured, int created, int guesses);
hidden uint64_t sm_ledger_ctx_estimate(int d);
hidden uint64_t sm_ledger_used(int d);         /* tracked + excess */
hidden int sm_ledger_proc_used(int d, uint64_t *used); /* this process's allocations on d (0, or -1) */
hidden uint64_t sm_ledger_proc_ctx(int d);     /* ... and context memory */
hidden uint64_t sm_ledger_proc_peak(int d);
hidden void sm_ledger_nvml(int d, const nvmlProcessInfo_t *sorted, int n, uint64_t untracked);
hidden uint64_t sm_ledger_checked_ns(int d);
hidden void sm_ledger_mark_checked(int d, uint64_t now);

#endif
