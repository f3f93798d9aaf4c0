/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Admission of an allocation against the job's slice.  Both the region's
 * bookkeeping and what this process itself last saw from NVML (plus its
 * own allocations since) must leave room; before a refusal the usage is
 * brought up to date.  Refusals are rate-limited so that a program looping
 * on one cannot fill the log disk.
 */
#include <time.h>

#include "slice.h"

#include "check.h"
#include "config.h"
#include "depth.h"
#include "dev.h"
#include "entries.h"
#include "ledger.h"
#include "limits.h"
#include "log.h"
#include "now.h"
#include "oom.h"
#include "slice_impl.h"

#define REFUSAL_BURST 10
#define REFUSAL_INTERVAL_NS 1000000000ULL
#define RECHECK_NS 50000000ULL
#define GUESS_WAIT_NS 5000000000ULL
#define GUESS_POLL_NS 1000000L

static struct {
	int logged;
	uint64_t last_ns;
	uint64_t suppressed;
} refusals;

static void log_refusal(int ordinal, const char *api, uint64_t bytes, uint64_t used, uint64_t limit)
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

/* Reserves bytes on device entry d if both this process's view and the
 * ledger hold them; *used says how much the job had.  0 ok, -1 over. */
static int reserve(int d, uint64_t bytes, uint64_t limit, int what, uint64_t *used)
{
	uint64_t seen = 0;

	if (!sm_check_fits(d, bytes, limit, &seen)) {
		*used = seen;
		return -1;
	}
	if (what == SM_FOR_ALLOC) {
		if (sm_ledger_reserve(d, bytes, limit, used) != 0)
			return -1;
		sm_check_note(d, (int64_t)bytes);
		return 0;
	}
	return sm_ledger_reserve_ctx(d, bytes, limit, used, what == SM_FOR_CTX_GUESS);
}

/* Before any refusal, bring the usage up to date: the entries of processes
 * that died (kill -9, the OOM killer, a scancel'ed step) go, and NVML's
 * numbers replace the bookkeeping (memory freed by a dead process or a
 * trimmed pool) unless they are fresh: a program looping on a refusal must
 * not hammer NVML. */
static void reclaim(int d, int ordinal)
{
	sm_entries_reclaim();
	if (sm_check_age_ns(d) > RECHECK_NS)
		sm_check_now(d, ordinal);
}

/*
 * Processes that create their contexts at once before any was measured on
 * the device each reserve a guess, and guesses can fill a slice that their
 * contexts would not.  A reservation refused while guesses stand in the job
 * waits for them to be measured, asking again (a context at the size then
 * known), and is refused only when none stands, or after GUESS_WAIT_NS: a
 * context takes the real driver seconds to create when a job's processes
 * all start at once.
 */
hidden int sm_slice_reserve(int d, int ordinal, struct sm_ask *ask, const char *api)
{
	struct timespec poll = { 0, GUESS_POLL_NS };
	uint64_t limit = sm_limits_mem(ordinal), used = 0, start = sm_now_ns();

	while (reserve(d, ask->bytes, limit, ask->what, &used) != 0) {
		if (!sm_ledger_guesses_stand() || sm_now_ns() - start > GUESS_WAIT_NS) {
			/* A killed process's place, and NVML, before a no. */
			reclaim(d, ordinal);
			if (ask->size)
				ask->bytes = ask->size(d, &ask->what);
			if (reserve(d, ask->bytes, limit, ask->what, &used) == 0)
				return 0;
			log_refusal(ordinal, api, ask->bytes, used, limit);
			if (ask->what == SM_FOR_ALLOC && sm_config->oom_killer)
				sm_oom_kill(ordinal);
			return -1;
		}
		nanosleep(&poll, NULL);
		if (ask->size)
			ask->bytes = ask->size(d, &ask->what);
		/* Memory freed meanwhile shows in NVML, which this
		 * process's own view holds it to. */
		if (sm_check_age_ns(d) > RECHECK_NS)
			sm_check_now(d, ordinal);
	}
	return 0;
}

hidden void sm_slice_await_guesses(int d)
{
	struct timespec poll = { 0, GUESS_POLL_NS };
	uint64_t start = sm_now_ns();

	while (!sm_ledger_ctx_estimate(d) && sm_ledger_guesses_stand() && sm_now_ns() - start <= GUESS_WAIT_NS)
		nanosleep(&poll, NULL);
}

/* An allocation's reservation, or its refusal. */
static int reserve_alloc(int d, int ordinal, uint64_t bytes, const char *api)
{
	struct sm_ask ask = { bytes, SM_FOR_ALLOC, NULL };

	return sm_slice_reserve(d, ordinal, &ask, api);
}

hidden CUresult sm_slice_admit(int ordinal, uint64_t bytes, const char *api, struct sm_take *t)
{
	int d, refused;

	t->dev = -1;
	t->ordinal = ordinal;
	t->measure = 0;
	t->bytes = bytes;
	if (!sm_limits_mem(ordinal))
		return CUDA_SUCCESS;
	sm_depth++;
	if ((d = sm_dev_enter(ordinal)) < 0) {
		sm_depth--;
		sm_log(SM_ERROR, ordinal, "cannot account allocation", "api=%s", api);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	sm_dev_note(ordinal);
	sm_check_maybe(d, ordinal);
	sm_check_flight_begin(); /* ended by the settle */
	refused = reserve_alloc(d, ordinal, bytes, api);
	sm_depth--;
	if (refused) {
		sm_check_flight_end();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	t->dev = d;
	return CUDA_SUCCESS;
}

hidden CUresult sm_slice_admit_current(uint64_t bytes, const char *api, struct sm_take *t)
{
	CUdevice dev;

	t->dev = -1;
	t->ordinal = -1;
	t->measure = 0;
	t->bytes = bytes;
	if (sm_dev_current(&dev) != 0)
		return CUDA_SUCCESS; /* no context: the driver will say so */
	return sm_slice_admit(dev, bytes, api, t);
}

static void give_back(int d, uint64_t bytes)
{
	if (sm_ledger_release(d, bytes) == 0)
		sm_check_note(d, -(int64_t)bytes);
}

hidden CUresult sm_slice_resize(struct sm_take *t, uint64_t actual, const char *api)
{
	int refused;

	if (t->dev < 0) {
		t->bytes = actual;
		return CUDA_SUCCESS;
	}
	if (actual > t->bytes) {
		sm_depth++;
		refused = reserve_alloc(t->dev, t->ordinal, actual - t->bytes, api);
		sm_depth--;
		if (refused) {
			/* The hook frees it and settles nothing. */
			give_back(t->dev, t->bytes);
			sm_check_flight_end();
			t->dev = -1;
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
	} else if (actual < t->bytes) {
		give_back(t->dev, t->bytes - actual);
	}
	t->bytes = actual;
	return CUDA_SUCCESS;
}

hidden void sm_slice_settle(CUresult r, const struct sm_take *t, int kind, uint64_t key, uint64_t owner)
{
	if (t->dev < 0)
		return;
	if (r != CUDA_SUCCESS)
		give_back(t->dev, t->bytes);
	else if (sm_ptrmap_put(kind, key, t->bytes, t->dev, t->ordinal, owner) != 0)
		sm_log(SM_WARN, t->ordinal, "allocation not tracked for its free", "bytes=%llu",
		       (unsigned long long)t->bytes);
	sm_check_flight_end();
}

hidden int sm_slice_forget(int kind, uint64_t key, struct sm_alloc *a)
{
	int found = sm_ptrmap_take(kind, key, a);

	if (found)
		sm_check_flight_begin(); /* ended by the credit */
	return found;
}

hidden CUresult sm_slice_credit(CUresult r, int kind, uint64_t key, const struct sm_alloc *a)
{
	if (r == CUDA_SUCCESS)
		give_back(a->dev, a->size);
	else
		sm_ptrmap_put(kind, key, a->size, a->dev, a->ordinal, a->owner);
	sm_check_flight_end();
	return r;
}

hidden void sm_slice_teardown_begin(void)
{
	sm_check_flight_begin();
}

hidden void sm_slice_teardown_end(void)
{
	sm_check_flight_end();
}

hidden void sm_slice_credit_owned(uint64_t owner)
{
	struct sm_alloc a;

	if (!owner)
		return;
	while (sm_ptrmap_take_owned(owner, &a))
		give_back(a.dev, a.size);
}
