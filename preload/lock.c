/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The region's lock, as a primitive over its bytes (region.c takes it
 * through sm_region_lock, which repairs what a taken-over holder left).
 * lock[] holds a robust process-shared pthread_mutex_t
 * (region_abi.h); the library takes and releases it through its futex word
 * the way glibc does (0 free; the holder's thread id, with FUTEX_WAITERS
 * when someone sleeps on it; FUTEX_OWNER_DIED after a holder died), so
 * processes of an older library in the same job still exclude each other.
 *
 * What glibc cannot do is bound the wait without failing: a holder that is
 * stopped (SIGSTOP, a debugger, a frozen cgroup) would stall every process
 * of the job.  Critical sections last microseconds and never sleep, so a
 * waiter looks at a holder that has not let go for SM_LOCK_SLICE_NS:
 *   - gone (exited, killed, a zombie, a scribbled id): taken over at once;
 *   - not running (stopped, traced, frozen, asleep) for SM_LOCK_STUCK_NS:
 *     taken over;
 *   - running but holding for SM_LOCK_MAX_NS: taken over.
 * Taking over never fails an allocation.  The holder, if it resumes, finds
 * the lock no longer its own and leaves it alone; what it had half-written
 * is recomputed from the process entries at once and from NVML at the next
 * check.  docs/contracts.md (section 4) and libsoftmig.8 give the bounds.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"

#include "log.h"
#include "now.h"
#include "proc.h"

#define TID_MASK 0x3fffffffU

/* Layout of glibc's pthread_mutex_t (__lock, __count, __owner) on every
 * Linux ABI the library builds for. */
struct glibc_mutex {
	uint32_t lock;
	uint32_t count;
	int32_t owner;
};

static SM_TLS uint32_t tid_cache;

static uint32_t self_tid(void)
{
	if (unlikely(!tid_cache))
		tid_cache = (uint32_t)syscall(SYS_gettid);
	return tid_cache;
}

/* The thread that forked is a new thread in the child. */
hidden void sm_lock_reset_after_fork(void)
{
	tid_cache = 0;
}

static void futex_wait(uint32_t *w, uint32_t val, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL) };

	syscall(SYS_futex, w, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

enum holder { H_RUNNING, H_IDLE, H_GONE };

/* /proc/<tid>/stat reads a thread as well as a process. */
static enum holder holder_state(uint32_t tid, char *state)
{
	uint64_t start;

	if (sm_proc_stat((pid_t)tid, state, &start) != 0) {
		*state = 'X'; /* no such thread: as dead as a reaped one */
		return H_GONE;
	}
	if (*state == 'Z' || *state == 'X' || *state == 'x')
		return H_GONE;
	return *state == 'R' ? H_RUNNING : H_IDLE;
}

/* A take-over to log once the lock is released (a log write may be slow). */
static SM_TLS struct {
	uint32_t holder;
	char state;
	uint64_t waited_ns;
} taken;

static void took_over(struct glibc_mutex *m, uint32_t me, uint32_t holder, char state, uint64_t waited)
{
	m->owner = (int32_t)me;
	taken.holder = holder;
	taken.state = state;
	taken.waited_ns = waited;
}

hidden int sm_lock_take(void *lock)
{
	struct glibc_mutex *m = lock;
	uint32_t me = self_tid(), cur = 0, holder = 0;
	uint64_t start = 0, since = 0, now;
	int saved = errno, over = 0;
	char state = '?';

	if (__atomic_compare_exchange_n(&m->lock, &cur, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		m->owner = (int32_t)me;
		return 0;
	}
	for (;;) {
		if ((cur & TID_MASK) == 0) {
			/* Free, or its holder died inside (the kernel cleared the
			 * id and set FUTEX_OWNER_DIED): others may sleep on it. */
			if (__atomic_compare_exchange_n(&m->lock, &cur, me | FUTEX_WAITERS, 0, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				if (cur & FUTEX_OWNER_DIED) {
					took_over(m, me, 0, 'X', 0);
					over = 1;
				} else {
					m->owner = (int32_t)me;
				}
				break;
			}
			continue;
		}
		now = sm_now_ns();
		if (!start)
			start = now;
		if ((cur & TID_MASK) != holder) {
			holder = cur & TID_MASK; /* progress: the clock starts again */
			since = now;
		} else if (now - since >= SM_LOCK_SLICE_NS) {
			enum holder h = holder_state(holder, &state);
			if (h == H_GONE || (h == H_IDLE && now - since >= SM_LOCK_STUCK_NS) ||
			    now - since >= SM_LOCK_MAX_NS) {
				if (__atomic_compare_exchange_n(&m->lock, &cur, me | FUTEX_WAITERS, 0, __ATOMIC_ACQUIRE,
								__ATOMIC_RELAXED)) {
					took_over(m, me, holder, state, now - start);
					over = 1;
					break;
				}
				continue;
			}
		}
		if (!(cur & FUTEX_WAITERS) && !__atomic_compare_exchange_n(&m->lock, &cur, cur | FUTEX_WAITERS, 0,
									    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			continue;
		futex_wait(&m->lock, cur | FUTEX_WAITERS, SM_LOCK_SLICE_NS);
		cur = __atomic_load_n(&m->lock, __ATOMIC_RELAXED);
	}
	errno = saved;
	return over;
}

hidden void sm_lock_give(void *lock)
{
	struct glibc_mutex *m = lock;
	uint32_t me = self_tid(), cur = __atomic_load_n(&m->lock, __ATOMIC_RELAXED);
	int saved = errno;

	/* Taken over while this thread was stopped: no longer ours. */
	while ((cur & TID_MASK) == me) {
		if (__atomic_compare_exchange_n(&m->lock, &cur, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
			if (cur & FUTEX_WAITERS)
				futex_wake(&m->lock);
			break;
		}
	}
	if (unlikely(taken.holder)) {
		sm_log(SM_EVENT, -1, "region lock taken over", "holder_tid=%u holder_state=%c waited_ms=%llu",
		       taken.holder, taken.state, (unsigned long long)(taken.waited_ns / 1000000ULL));
		taken.holder = 0;
	}
	errno = saved;
}
