/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Contexts.  A context costs device memory the program never asked for
 * (hundreds of MiB on a big GPU).  A new context reserves the largest
 * context size seen on the device (or a default) before the driver creates
 * it, and is refused when the slice cannot hold that: the same reservation
 * under the lock as an allocation's, and nothing else, so that the
 * processes of a job that start together do not wait in line for NVML.
 * What the context really cost is measured through NVML (this process's
 * usage less its allocations) at this process's next NVML check, within a
 * second (its first allocation's, unless the guard's used file stood in
 * for that: check.c) at which no other thread of it had an allocation or
 * a free between the ledger and the driver; only the job's first context
 * on a device, whose size nobody knows yet, is measured at once, and
 * contexts that would guess while another's guess stands wait for that
 * measure.  Destroying
 * a context frees what was allocated in it, so those allocations are
 * credited back too.
 */
#include <unistd.h>

#include "check.h"
#include "depth.h"
#include "dev.h"
#include "ledger.h"
#include "limits.h"
#include "log.h"
#include "mode.h"
#include "nvml.h"
#include "region.h"
#include "slice.h"
#include "slice_impl.h"

/* What a context is assumed to cost before one was measured on the
 * device: about what CUDA 12/13 take on a large GPU. */
#define CTX_DEFAULT_RESERVE (512ULL << 20)

/* A sliced job whose memory NVML cannot count fails closed: one line on
 * stderr, once. */
static CUresult nvml_missing(int ordinal, const char *api)
{
	static int told;
	static const char line[] = "softmig: GPU disabled for this process: NVML (libnvidia-ml.so.1 beside the "
				   "driver's libcuda.so.1) does not work, so the job's GPU memory cannot be "
				   "counted; contact your cluster administrators\n";

	if (!__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED)) {
		if (write(STDERR_FILENO, line, sizeof(line) - 1) < 0) {
			/* stderr closed: the log has it */
		}
		sm_log(SM_ERROR, ordinal, "nvml unavailable", "api=%s", api);
	}
	return SM_CU_DENIED;
}

/* What a new context on d is reserved at: the largest measured there, or
 * a guess. */
static uint64_t ctx_size(int d, int *what)
{
	uint64_t est = sm_ledger_ctx_estimate(d);

	*what = est ? SM_FOR_CTX : SM_FOR_CTX_GUESS;
	return est ? est : CTX_DEFAULT_RESERVE;
}

/* The reservation of a new context on d, or its refusal (-1). */
static int reserve_ctx(int d, int ordinal, const char *api, struct sm_take *t)
{
	struct sm_ask ask = { 0, 0, ctx_size };

	sm_slice_await_guesses(d);
	ask.bytes = ctx_size(d, &ask.what);
	if (sm_slice_reserve(d, ordinal, &ask, api) != 0)
		return -1;
	t->bytes = ask.bytes;
	t->measure = ask.what == SM_FOR_CTX_GUESS;
	return 0;
}

hidden CUresult sm_slice_ctx_admit(int ordinal, const char *api, struct sm_take *t)
{
	int d, refused;

	t->dev = -1;
	t->ordinal = ordinal;
	t->bytes = 0;
	t->measure = 0;
	if (!sm_limits_mem(ordinal))
		return CUDA_SUCCESS;
	sm_depth++;
	if (!sm_nvml_handle(ordinal)) {
		sm_depth--;
		return nvml_missing(ordinal, api);
	}
	if ((d = sm_dev_enter(ordinal)) < 0) {
		sm_depth--;
		return CUDA_SUCCESS; /* no device entry: the allocations will fail closed */
	}
	sm_dev_note(ordinal);
	sm_check_ctx_begin(d);
	refused = reserve_ctx(d, ordinal, api, t);
	sm_depth--;
	if (refused) {
		sm_check_ctx_end(d, 0, 0);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	t->dev = d;
	return CUDA_SUCCESS;
}

hidden void sm_slice_ctx_settle(const struct sm_take *t, int created)
{
	int d = t->dev;

	if (d < 0)
		return;
	/* Created: the reservation stands for the context until this
	 * process's next check measures it. */
	sm_check_ctx_end(d, created ? t->bytes : 0, t->measure);
	if (sm_region_entry < 0)
		return;
	if (!created) {
		sm_ledger_ctx_settle(d, t->bytes, -1, 0, t->measure);
	} else if (t->measure) {
		/* The job's first context here: its size is every later
		 * reservation's, so it is measured now. */
		sm_depth++;
		sm_check_now(d, t->ordinal);
		sm_depth--;
	}
}

hidden void sm_slice_ctx_gone(uint64_t ctx)
{
	int ordinal;

	sm_slice_credit_owned(ctx);
	if (!sm_region || sm_region_entry < 0)
		return;
	for (ordinal = 0; ordinal < SM_MAX_DEVICES; ordinal++) {
		int d;
		if (sm_limits_mem(ordinal) && (d = sm_dev_entry(ordinal)) >= 0 && sm_ledger_proc_ctx(d))
			sm_check_ctx_gone(d, ordinal);
	}
}
