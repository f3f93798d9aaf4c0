/* SPDX-License-Identifier: Apache-2.0 */
/* The NVML cross-check and this process's own view (check.c). */
#ifndef SOFTMIG_CHECK_H
#define SOFTMIG_CHECK_H

#include "softmig.h"

hidden void sm_check_maybe(int d, int ordinal);  /* at most once a second */
hidden void sm_check_now(int d, int ordinal);
/* This process's private view of device entry d: its own allocations (+)
 * and frees (-) since its last check; whether seen + those + bytes fit
 * the limit (*seen_out: that sum); the age of its last check. */
hidden void sm_check_note(int d, int64_t delta);
hidden int sm_check_fits(int d, uint64_t bytes, uint64_t limit, uint64_t *seen_out);
hidden uint64_t sm_check_age_ns(int d);
hidden void sm_check_reset_after_fork(void);
/* This process's contexts on device entry d, measured by its checks: one
 * is admitted (begin), then created with its reservation standing until
 * the next check that starts measures it, or not (end, reserved 0).  When
 * one went, gone measures them all again now. */
hidden void sm_check_ctx_begin(int d);
hidden void sm_check_ctx_end(int d, uint64_t reserved, int guessed);
hidden void sm_check_ctx_gone(int d, int ordinal);
/* Memory on its way between the ledger and the driver in this thread
 * (begin before the first of the two changes, end after the second): no
 * context is measured while another thread has some. */
hidden void sm_check_flight_begin(void);
hidden void sm_check_flight_end(void);

#endif
