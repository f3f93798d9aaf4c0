/*
 * Admission of an allocation against the job's slice, the events the
 * summary needs (device attach, refusals, process exit), and the
 * rate limit that keeps a program looping on a refused allocation from
 * filling the log disk.
 */
#include <stdio.h>
#include <string.h>

#include "hooks.h"
#include "throttle.h"

#define REFUSAL_BURST 10
#define REFUSAL_INTERVAL_NS 1000000000ULL
#define RECHECK_NS 50000000ULL

static int attached[SM_MAX_DEVICES]; /* region slot + 1 once logged */

static struct {
	int logged;
	uint64_t last_ns;
	uint64_t suppressed;
} refusals;

hidden void sm_note_device(int ordinal, int d)
{
	char us[64];

	if (ordinal < 0 || ordinal >= SM_MAX_DEVICES || attached[ordinal])
		return;
	attached[ordinal] = d + 1;
	sm_uuid_format(sm_region->devs[d].uuid, us, sizeof(us));
	sm_log(SM_EVENT, ordinal, "device attach", "uuid=%s mem_limit=%llu sm_limit=%d", us,
	       (unsigned long long)sm_mem_limit(ordinal), sm_cfg.sm_limit[ordinal]);
}

hidden void sm_log_refusal(int ordinal, const char *api, uint64_t bytes, uint64_t used, uint64_t limit)
{
	uint64_t now = sm_now_ns();

	if (refusals.logged >= REFUSAL_BURST && now - refusals.last_ns < REFUSAL_INTERVAL_NS) {
		__atomic_add_fetch(&refusals.suppressed, 1, __ATOMIC_RELAXED);
		return;
	}
	refusals.logged++;
	refusals.last_ns = now;
	sm_log(SM_EVENT, ordinal, "oom refused", "api=%s requested=%llu used=%llu limit=%llu suppressed=%llu", api,
	       (unsigned long long)bytes, (unsigned long long)used, (unsigned long long)limit,
	       (unsigned long long)__atomic_exchange_n(&refusals.suppressed, 0, __ATOMIC_RELAXED));
}

/* The region's bookkeeping and what this process itself last saw from
 * NVML (plus its own allocations since) must both leave room. */
static int admit(int d, uint64_t bytes, uint64_t limit, uint64_t *used)
{
	uint64_t seen = 0;

	if (!sm_check_fits(d, bytes, limit, &seen)) {
		*used = seen;
		return -1;
	}
	if (sm_reserve(d, bytes, limit, used) != 0)
		return -1;
	sm_check_note(d, (int64_t)bytes);
	return 0;
}

hidden CUresult sm_admit(int ordinal, uint64_t bytes, const char *api, int *dslot)
{
	uint64_t limit = sm_mem_limit(ordinal), used = 0;
	int d;

	*dslot = -1;
	if (!limit)
		return CUDA_SUCCESS;
	sm_depth++;
	if (sm_region_register() != 0 || (d = sm_dev_slot(ordinal)) < 0) {
		sm_depth--;
		sm_log(SM_ERROR, ordinal, "cannot account allocation", "api=%s", api);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	sm_note_device(ordinal, d);
	sm_check_maybe(d, ordinal);
	if (admit(d, bytes, limit, &used) == 0) {
		sm_depth--;
		*dslot = d;
		return CUDA_SUCCESS;
	}
	/* Before refusing, bring the usage up to date (memory may have been
	 * freed by a process that died or a pool that was trimmed), unless it
	 * is fresh: a program looping on a refusal must not hammer NVML. */
	if (sm_check_age_ns(d) > RECHECK_NS)
		sm_check_now(d, ordinal);
	if (admit(d, bytes, limit, &used) == 0) {
		sm_depth--;
		*dslot = d;
		return CUDA_SUCCESS;
	}
	sm_log_refusal(ordinal, api, bytes, used, limit);
	if (sm_cfg.oom_killer)
		sm_oom_kill(d, ordinal);
	sm_depth--;
	return CUDA_ERROR_OUT_OF_MEMORY;
}

hidden void sm_exit_report(void)
{
	int i;

	if (!sm_region || sm_slot < 0)
		return;
	for (i = 0; i < SM_MAX_DEVICES; i++) {
		int d = attached[i] - 1;
		if (d < 0)
			continue;
		sm_log(SM_EVENT, i, "process exit", "peak=%llu throttled_ms=%llu",
		       (unsigned long long)sm_region->procs[sm_slot].peak[d],
		       (unsigned long long)sm_thr_throttled_ms(i));
	}
	sm_region_exit();
}
