/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compute slicing: whether a device follows the node's time authority now
 * (throttle_impl.h).  It does while the GPU's time file is safe, its beat
 * fresh and the job's entry found; then the launches read the entry's gate
 * word.  Else the authority is down: the launches read a closed word of
 * this process, so each comes to the slow path and keeps to the job's
 * static slot (gate.c), and the file is looked for again every RETRY_NS.
 * gate.c publishes the word the launches read.
 *
 * The check that everything still holds (every 64th launch, and while a
 * gate is closed) takes no lock; a change of state is made under one.
 */
#include <pthread.h>
#include <string.h>

#include "log.h"
#include "throttle_impl.h"

static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER;

hidden void sm_authority_reset_after_fork(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	auth_lock = fresh;
}

/* The job's entry, if the authority is up and it is still the job's. */
static int entry_if_fresh(const struct gdev *g, uint64_t now)
{
	return g->tf.f && sm_timefile_fresh(&g->tf, now) ? sm_timefile_ours(&g->tf) : -1;
}

/* One record per change of state, at most one a second: a transition
 * within the second is logged when it is over (log_due).  The normal start,
 * up from the first launch, is said by "device attach" already. */
static void log_state(struct gdev *g, int o, int state, uint64_t now)
{
	char qr[160], qp[300];

	if (g->logged == state || (g->logged == LOGGED_NONE && state == LOGGED_UP)) {
		g->logged = state;
		__atomic_store_n(&g->log_due, 0, __ATOMIC_RELAXED);
		return;
	}
	if (g->logged_at && now - g->logged_at < STATE_LOG_NS) {
		__atomic_store_n(&g->log_due, 1, __ATOMIC_RELAXED);
		return;
	}
	sm_log(SM_EVENT, o, "time authority", "state=%s reason=%s path=%s", state == LOGGED_UP ? "up" : "down",
	       sm_log_quote(state == LOGGED_UP ? "beat fresh" : g->why, qr, sizeof(qr)),
	       sm_log_quote(g->path, qp, sizeof(qp)));
	g->logged = state;
	g->logged_at = now;
	__atomic_store_n(&g->log_due, 0, __ATOMIC_RELAXED);
}

/* Why the authority cannot be followed now, or NULL. */
static const char *judge(struct gdev *g, uint64_t now)
{
	const char *why;

	if (!g->path[0])
		return "no device UUID";
	if (!g->tf.job[0])
		return "no job id";
	if ((why = sm_timefile_attach(&g->tf, g->path)) || (why = sm_timefile_locate(&g->tf)))
		return why;
	return sm_timefile_fresh(&g->tf, now) ? NULL : "stale beat";
}

/* Caller holds auth_lock. */
static const uint64_t *evaluate(struct gdev *g, int o, uint64_t now)
{
	const uint64_t *w = NULL;
	int i;

	if (g->up && (i = entry_if_fresh(g, now)) >= 0) {
		w = &g->tf.f->e[i].gate; /* another thread saw to it */
	} else if (!g->up && g->retry_at && now < g->retry_at) {
		/* looked for less than RETRY_NS ago */
	} else if (!(g->why = judge(g, now))) {
		w = &g->tf.f->e[__atomic_load_n(&g->tf.entry, __ATOMIC_RELAXED)].gate;
	} else {
		__atomic_store_n(&g->retry_at, now + RETRY_NS, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&g->up, w != NULL, __ATOMIC_RELEASE);
	log_state(g, o, w ? LOGGED_UP : LOGGED_DOWN, now);
	return w;
}

hidden const uint64_t *sm_authority_check(struct gdev *g, int o, uint64_t now)
{
	const uint64_t *w;

	if (pthread_mutex_lock(&auth_lock) != 0)
		return NULL;
	w = evaluate(g, o, now);
	pthread_mutex_unlock(&auth_lock);
	return w;
}

hidden const uint64_t *sm_authority_follow(struct gdev *g, int o, uint64_t now)
{
	int i;

	if (!__atomic_load_n(&g->log_due, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&g->up, __ATOMIC_ACQUIRE)) {
			if ((i = entry_if_fresh(g, now)) >= 0)
				return &g->tf.f->e[i].gate;
		} else if (now < __atomic_load_n(&g->retry_at, __ATOMIC_RELAXED)) {
			return NULL;
		}
	}
	return sm_authority_check(g, o, now);
}
