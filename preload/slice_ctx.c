/*
 * Contexts.  A context costs device memory the program never asked for
 * (hundreds of MiB on a big GPU); the library measures it through NVML
 * around the driver call and charges it to the process.  A new context
 * reserves the largest context size seen on the device (or a default)
 * before the driver creates it, and is refused when the slice cannot hold
 * that; the reservation is settled to the measured size.  Destroying a
 * context frees what was allocated in it, so those allocations are
 * credited back too.
 */
#include <unistd.h>

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

hidden CUresult sm_slice_ctx_admit(int ordinal, const char *api, struct sm_take *t)
{
	uint64_t est;
	int d, refused;

	t->dev = -1;
	t->ordinal = ordinal;
	t->bytes = 0;
	if (!sm_mem_limit(ordinal))
		return CUDA_SUCCESS;
	sm_depth++;
	if (!sm_dev_nvml(ordinal)) {
		sm_depth--;
		return nvml_missing(ordinal, api);
	}
	if ((d = sm_dev_enter(ordinal)) < 0) {
		sm_depth--;
		return CUDA_SUCCESS; /* no device entry: the allocations will fail closed */
	}
	sm_dev_note(ordinal);
	if (!(est = sm_ctx_estimate(d)))
		est = CTX_DEFAULT_RESERVE;
	/* What this process itself last saw from NVML must leave room too.  A
	 * process of the job that was killed must not lock the job out: its
	 * place is reclaimed, and NVML re-read, before a context is refused. */
	refused = sm_slice_reserve(d, ordinal, est, 1, api);
	sm_depth--;
	if (refused)
		return CUDA_ERROR_OUT_OF_MEMORY;
	t->dev = d;
	t->bytes = est;
	return CUDA_SUCCESS;
}

/* Context memory of this process on the ordinal = what NVML shows for it
 * minus the allocations the library tracks there; -1 NVML silent. */
static int64_t ctx_memory(int ordinal, int d)
{
	int64_t self;
	uint64_t mine;

	sm_depth++;
	self = sm_nvml_self_used(ordinal);
	sm_depth--;
	if (self < 0)
		return -1;
	mine = sm_proc_used(d);
	return (uint64_t)self > mine ? self - (int64_t)mine : 0;
}

hidden void sm_slice_ctx_settle(const struct sm_take *t, int created)
{
	if (t->dev < 0 || sm_proc_entry < 0)
		return;
	sm_ctx_settle(t->dev, t->bytes, created ? ctx_memory(t->ordinal, t->dev) : -1, created);
}

hidden void sm_slice_ctx_gone(uint64_t ctx)
{
	int ordinal;

	sm_slice_credit_owned(ctx);
	if (!sm_region || sm_proc_entry < 0)
		return;
	for (ordinal = 0; ordinal < SM_MAX_DEVICES; ordinal++) {
		int64_t bytes;
		int d;
		if (!sm_mem_limit(ordinal) || (d = sm_dev_entry(ordinal)) < 0 || !sm_proc_ctx(d))
			continue;
		if ((bytes = ctx_memory(ordinal, d)) >= 0)
			sm_ctx_account(d, bytes);
	}
}
