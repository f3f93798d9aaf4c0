/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a program is told about memory inside a sliced job: total is the
 * limit, used is the job's (the bookkeeping, or NVML's sum over the job's
 * processes where that is higher), free is what the job has left of the
 * slice (never more than the device really has free, never an underflow).
 */
#include <stdlib.h>

#include "check.h"
#include "config.h"
#include "depth.h"
#include "dev.h"
#include "ledger.h"
#include "limits.h"
#include "nvml.h"
#include "region.h"
#include "slice.h"

hidden void sm_slice_view(int ordinal, uint64_t *freep, uint64_t *totalp)
{
	uint64_t limit = sm_limits_mem(ordinal), used = 0, left;
	int d;

	if (!limit)
		return;
	if (limit < *totalp)
		*totalp = limit;
	sm_depth++;
	if ((d = sm_dev_enter(ordinal)) >= 0) {
		uint64_t seen = 0;
		sm_check_maybe(d, ordinal);
		used = sm_ledger_used(d);
		/* A first view the guard's used file gave (check.c) is not in
		 * the bookkeeping: what the process holds itself to counts. */
		sm_check_fits(d, 0, UINT64_MAX, &seen);
		if (seen > used)
			used = seen;
	}
	sm_depth--;
	left = used < *totalp ? *totalp - used : 0;
	if (left < *freep)
		*freep = left;
}

hidden uint64_t sm_slice_view_total(int ordinal, uint64_t real_total)
{
	uint64_t limit = sm_limits_mem(ordinal);

	return limit && limit < real_total ? limit : real_total;
}

hidden int sm_slice_view_shows(pid_t pid)
{
	return sm_nvml_pid_in_job(pid);
}

/* Sum of NVML's per-process memory over the job's processes. */
static uint64_t job_nvml_used(nvmlDevice_t nd)
{
	nvmlProcessInfo_t stack[SM_PROC_STACK], *infos;
	int n, i;
	uint64_t sum = 0;

	if ((n = sm_nvml_processes(nd, stack, &infos)) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (sm_nvml_pid_in_job((pid_t)infos[i].pid))
			sum += infos[i].usedGpuMemory;
	if (infos != stack)
		free(infos);
	return sum;
}

hidden int sm_slice_view_nvml(nvmlDevice_t nd, uint64_t real_total, uint64_t *total, uint64_t *used)
{
	uint8_t uuid[16];
	uint64_t limit, u = 0;
	int ord, d;

	sm_depth++;
	ord = sm_nvml_ordinal(nd, uuid);
	limit = sm_limits_nvml_mem(nd, ord);
	if (!limit) {
		sm_depth--;
		return -1;
	}
	/* Active: the region was attached at init. */
	if (sm_region && (d = sm_region_find_dev(uuid)) >= 0)
		u = sm_ledger_used(d);
	if (sm_config->job[0]) {
		uint64_t n = job_nvml_used(nd);
		if (n > u)
			u = n;
	}
	sm_depth--;
	*total = limit < real_total ? limit : real_total;
	*used = u;
	return 0;
}
