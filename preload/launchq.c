/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launch queue's bound on a device with an SM limit.  The gate decides
 * when a job may launch, but the driver queues about a thousand launches a
 * stream: a job that fills its queue keeps the GPU busy long after its gate
 * closed, and the time authority, which counts that as GPU time outside
 * the job's windows, pauses it.  So a launching thread records a
 * checkpoint event every so many launches (the gate's slow path, gate.c),
 * after first waiting for its previous one: it keeps at most two
 * checkpoints' worth of work ahead of the GPU.  How many launches that is
 * follows what they cost: the GPU time between the last two checkpoints
 * (their events' elapsed time) sets the next interval so that one holds
 * about QUEUE_NS of work, between 1 and SM_LAUNCHQ_MAX launches, grown
 * from FIRST_INTERVAL by at most twice at a time.  Enough
 * to keep the GPU fed, little enough that the gate can tell when the
 * queued work is done (sm_launchq_done_by) and queue none past the job's
 * window: the authority counts every moment run after a close as debt.
 *
 * Launches into a stream being captured run nothing and are not bounded.
 * A driver error drops the thread's checkpoint: the bound is lost until
 * the next one, the application never sees the error.
 *
 * Events belong to their context.  A thread's checkpoints live in its TLS;
 * a thread that ends gives its events to a small pool rather than to the
 * driver, because by then their context may be gone, and destroying an
 * event of a destroyed context is not a call to make blind.
 */
#include <errno.h>
#include <pthread.h>

#include "launchq.h"
#include "real.h"
#include "region_abi.h"
#include "throttle_impl.h"

#define QUEUE_NS 15000000ULL /* work a checkpoint interval should hold */
#define FIRST_INTERVAL 2     /* then at most doubled at each checkpoint */
#define POOL_MAX 256
#define MAX_FAILURES 4

#define EVENT_BLOCKING_SYNC 0x1    /* CU_EVENT_BLOCKING_SYNC: the waiting thread sleeps */
#define CAPTURE_MODE_RELAXED 2     /* CU_STREAM_CAPTURE_MODE_RELAXED */

struct checkpoint {
	CUcontext ctx;
	CUevent ev[2];   /* alternately recorded: ev[last] is the newest */
	int last;
	int recorded;    /* checkpoints recorded on this context, capped at 2 */
	unsigned int at; /* the thread's launch count at the newest */
	int span;        /* launches between the two recorded */
	uint64_t per_ns; /* the GPU time a launch of theirs took; 0 unknown */
	uint64_t at_ns;  /* when the newest was recorded (CLOCK_REALTIME) */
	int interval;    /* launches from the newest to the next */
	int failures;    /* driver errors; at MAX_FAILURES the thread stops trying */
	int waited;      /* the thread waited at the gate since the newest */
};

static SM_TLS struct checkpoint cps[SM_MAX_DEVICES];
static SM_TLS int keyed;

static CUevent pool[POOL_MAX][2];
static CUcontext pool_ctx[POOL_MAX];
static int pooled;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static int have_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* ---- the pool: events ended threads left, by context -------------------- */

static void pool_put(struct checkpoint *c)
{
	if (c->ev[0]) {
		pthread_mutex_lock(&pool_lock);
		if (pooled < POOL_MAX) { /* else kept by the driver until their context goes */
			pool[pooled][0] = c->ev[0];
			pool[pooled][1] = c->ev[1];
			pool_ctx[pooled++] = c->ctx;
		}
		pthread_mutex_unlock(&pool_lock);
	}
	*c = (struct checkpoint){ .failures = c->failures };
}

static int pool_take(CUcontext ctx, CUevent ev[2])
{
	int i, found = 0;

	pthread_mutex_lock(&pool_lock);
	for (i = 0; i < pooled && !found; i++)
		if (pool_ctx[i] == ctx) {
			ev[0] = pool[i][0];
			ev[1] = pool[i][1];
			pooled--;
			pool[i][0] = pool[pooled][0];
			pool[i][1] = pool[pooled][1];
			pool_ctx[i] = pool_ctx[pooled];
			found = 1;
		}
	pthread_mutex_unlock(&pool_lock);
	return found;
}

static void thread_exit(void *unused)
{
	int o;

	(void)unused;
	for (o = 0; o < SM_MAX_DEVICES; o++)
		pool_put(&cps[o]);
}

static void make_key(void)
{
	/* weak before glibc 2.34 (glibc_compat.h) */
	have_key = pthread_key_create && pthread_setspecific && pthread_key_create(&exit_key, thread_exit) == 0;
}

/* ---- the checkpoint ----------------------------------------------------- */

static int have_driver(void)
{
	return real_cuEventCreate && real_cuEventRecord && real_cuEventQuery && real_cuEventSynchronize &&
	       real_cuEventElapsedTime && real_cuCtxGetCurrent;
}

/* The thread's checkpoint on ordinal o, for the current context ctx;
 * NULL when it has none and cannot make one. */
static struct checkpoint *checkpoint_for(int o, CUcontext ctx)
{
	struct checkpoint *c = &cps[o];

	if (c->ev[0] && c->ctx == ctx)
		return c;
	if (c->failures >= MAX_FAILURES)
		return NULL;
	pool_put(c);
	if (!keyed) {
		pthread_once(&key_once, make_key);
		keyed = have_key && pthread_setspecific(exit_key, cps) == 0;
	}
	if (!pool_take(ctx, c->ev) &&
	    (real_cuEventCreate(&c->ev[0], EVENT_BLOCKING_SYNC) != CUDA_SUCCESS ||
	     real_cuEventCreate(&c->ev[1], EVENT_BLOCKING_SYNC) != CUDA_SUCCESS)) {
		/* one event made and not the other: kept by the driver */
		*c = (struct checkpoint){ .failures = c->failures + 1 };
		return NULL;
	}
	c->ctx = ctx;
	return c;
}

/* Forgets the events without a driver call (see above). */
static int drop(struct checkpoint *c)
{
	*c = (struct checkpoint){ .failures = c->failures + 1 };
	return SM_LAUNCHQ_MAX;
}

/* The next interval: launches that hold about QUEUE_NS of GPU time, by
 * what the launches between the last two checkpoints took (both done). */
static int next_interval(struct checkpoint *c)
{
	float ms = 0;
	uint64_t per, k;

	if (c->waited) {
		/* the span's elapsed time holds the wait: it says nothing of
		 * what its launches cost */
		c->waited = 0;
		return c->interval;
	}
	if (c->recorded < 2 || c->span <= 0 ||
	    real_cuEventElapsedTime(&ms, c->ev[!c->last], c->ev[c->last]) != CUDA_SUCCESS || ms <= 0)
		k = SM_LAUNCHQ_MAX;
	else if ((per = (uint64_t)((double)ms * 1e6) / (uint64_t)c->span) == 0)
		k = SM_LAUNCHQ_MAX;
	else {
		k = QUEUE_NS / per;
		c->per_ns = per;
	}
	/* Grown slowly from FIRST_INTERVAL: long kernels are known before
	 * many are queued. */
	if (k > 2 * (uint64_t)c->interval)
		k = 2 * (uint64_t)c->interval;
	return k < 1 ? 1 : k > SM_LAUNCHQ_MAX ? SM_LAUNCHQ_MAX : (int)k;
}

hidden void sm_launchq_waited(int o)
{
	if (o >= 0 && o < SM_MAX_DEVICES)
		cps[o].waited = 1;
}

hidden uint64_t sm_launchq_done_by(int o, unsigned int count, uint64_t now, uint64_t by, uint64_t *per)
{
	const struct checkpoint *c;
	uint64_t end, since;

	*per = 0;
	if (o < 0 || o >= SM_MAX_DEVICES)
		return 0;
	c = &cps[o];
	if (!c->ev[0] || !c->per_ns || c->span < 0)
		return 0;
	*per = c->per_ns;
	/* the launches since the newest checkpoint, and the one at hand */
	since = *per * ((uint64_t)(count - c->at) + 1);
	/* The checkpoint had waited for the one before: the span launched
	 * since began by then at the latest.  Each launch at the pace the
	 * last span ran. */
	end = c->at_ns + *per * (uint64_t)c->span + since;
	if (end < now + since)
		end = now + since;
	/* Past by, the driver is asked whether that span is done (one event
	 * query, near a window's end only). */
	if (end > by && real_cuEventQuery(c->ev[c->last]) == CUDA_SUCCESS)
		end = now + since;
	/* Kernels too long for a window are not kept out of it for good: the
	 * authority's debt accounts for what runs past. */
	return end < now + 3 * QUEUE_NS ? end : now + 3 * QUEUE_NS;
}

hidden void sm_launchq_mark(int o, CUstream stream, unsigned int count)
{
	struct checkpoint *c;
	CUcontext ctx = NULL;
	int mode = CAPTURE_MODE_RELAXED, saved = errno;

	if (o < 0 || o >= SM_MAX_DEVICES || !have_driver())
		return;
	c = &cps[o];
	if (!c->ev[0] || c->recorded < 2 || count == c->at || real_cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || ctx != c->ctx)
		goto out;
	if (real_cuThreadExchangeStreamCaptureMode && real_cuThreadExchangeStreamCaptureMode(&mode) != CUDA_SUCCESS)
		mode = -1;
	/* Only with the newest done: then both are, and the older is free.
	 * The span it closes measures nothing (the thread waits now). */
	if (real_cuEventQuery(c->ev[c->last]) == CUDA_SUCCESS && real_cuEventRecord(c->ev[!c->last], stream) == CUDA_SUCCESS) {
		c->last = !c->last;
		c->span = (int)(count - c->at);
		c->at = count;
		c->at_ns = realtime_ns();
		c->waited = 1;
	}
	if (mode >= 0 && real_cuThreadExchangeStreamCaptureMode)
		real_cuThreadExchangeStreamCaptureMode(&mode);
out:
	errno = saved;
}

hidden int sm_launchq_checkpoint(int o, CUstream stream, unsigned int count)
{
	struct checkpoint *c;
	CUcontext ctx = NULL;
	int mode = CAPTURE_MODE_RELAXED, saved = errno, status = 0, n = SM_LAUNCHQ_MAX;
	CUresult r;

	if (o < 0 || o >= SM_MAX_DEVICES || !have_driver())
		return SM_LAUNCHQ_MAX;
	if (real_cuStreamIsCapturing && real_cuStreamIsCapturing(stream, &status) == CUDA_SUCCESS && status)
		return SM_LAUNCHQ_MAX;
	if (real_cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || !ctx || !(c = checkpoint_for(o, ctx)))
		goto out;
	if (c->recorded && count - c->at < (unsigned int)c->interval) {
		n = (int)(c->at + (unsigned int)c->interval - count);
		goto out; /* not due: a launch at a closed gate, or another device's */
	}
	/* Another thread's capture in the global mode must not fail for our
	 * calls: they are not part of anything it records. */
	if (real_cuThreadExchangeStreamCaptureMode && real_cuThreadExchangeStreamCaptureMode(&mode) != CUDA_SUCCESS)
		mode = -1;
	if (c->recorded) {
		r = real_cuEventQuery(c->ev[c->last]);
		if (r == CUDA_ERROR_NOT_READY)
			r = real_cuEventSynchronize(c->ev[c->last]);
		if (r != CUDA_SUCCESS) {
			n = drop(c);
			goto restore;
		}
		c->interval = next_interval(c);
	}
	/* ev[!last] was waited for at the checkpoint before: free to record */
	if (real_cuEventRecord(c->ev[!c->last], stream) != CUDA_SUCCESS) {
		n = drop(c);
		goto restore;
	}
	c->last = !c->last;
	c->span = (int)(count - c->at);
	c->at = count;
	c->at_ns = realtime_ns();
	if (c->recorded < 2)
		c->recorded++;
	if (!c->interval)
		c->interval = FIRST_INTERVAL;
	n = c->interval;
restore:
	if (mode >= 0 && real_cuThreadExchangeStreamCaptureMode)
		real_cuThreadExchangeStreamCaptureMode(&mode);
out:
	errno = saved;
	return n;
}
