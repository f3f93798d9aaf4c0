/*
 * Compute slicing, the launch side behind sm_thr_gate() (throttle.h): the
 * first launch on a device enrols it (registers the process and the device
 * in the region, starts the controller thread of leader.c); a launch at a
 * closed gate sleeps until the leader reopens it, and meanwhile measures
 * how long the job's queued work runs on after its time slot closed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "throttle_impl.h"

static uint64_t open_word; /* the gate of devices without a limit: always 0 */
static uint64_t *gates[SM_MAX_DEVICES]; /* per ordinal, NULL: not seen yet */
hidden uint64_t *sm_thr_seen[SM_MAX_DEVICES];
hidden int sm_thr_ngates;
hidden SM_TLS unsigned int sm_thr_count;
hidden int sm_thr_any = -1;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static int thread_started;
static int atfork_done;

hidden int sm_thr_any_init(void)
{
	int i, any = 0;

	if (sm_mode == SM_ACTIVE)
		for (i = 0; i < SM_MAX_DEVICES; i++)
			if (sm_cfg.sm_limit[i] > 0 && sm_cfg.sm_limit[i] < 100)
				any = 1;
	__atomic_store_n(&sm_thr_any, any, __ATOMIC_RELAXED);
	return any;
}

hidden uint64_t sm_thr_throttled_ms(int ordinal)
{
	if (ordinal < 0 || ordinal >= SM_MAX_DEVICES)
		return 0;
	return __atomic_load_n(&tdevs[ordinal].throttled_ns, __ATOMIC_RELAXED) / 1000000ULL;
}

/* ---- registration (first launch on a device) and fork ------------------ */

static void atfork_child(void)
{
	int o;

	/* The child has no controller thread: it registers again, and starts
	 * one, on its first launch. */
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	reg_lock = fresh;
	thread_started = 0;
	sm_thr_ngates = 0;
	for (o = 0; o < SM_MAX_DEVICES; o++) {
		gates[o] = NULL;
		memset(&tdevs[o], 0, sizeof(tdevs[o]));
	}
}

static int start_thread(void)
{
	sigset_t all, old;
	pthread_t th;
	int r;

	if (thread_started)
		return 0;
	if (!atfork_done) {
		if (pthread_atfork(NULL, NULL, atfork_child) != 0)
			return -1;
		atfork_done = 1;
	}
	/* The thread takes no signals: the program's handlers stay on its own threads. */
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
		return -1;
	r = pthread_create(&th, NULL, controller, NULL);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0 && r == 0) {
		/* cannot happen with a valid set; the thread runs anyway */
	}
	if (r != 0)
		return -1;
	if (pthread_detach(th) != 0) {
		/* a joinable thread that never exits costs nothing more */
	}
	thread_started = 1;
	return 0;
}

static putil_fn resolve_putil(void)
{
	void *h;

	if (putil)
		return putil;
	h = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return NULL;
	putil = (putil_fn)sm_real_dlsym(h, "nvmlDeviceGetProcessUtilization");
	/* The handle stays open, like real.c's. */
	return putil;
}

/* The gate of a limited device: registers the process and the device in
 * the region and starts the controller thread.  NULL: cannot be enforced. */
static uint64_t *enroll_limited(int o, int limit)
{
	struct tdev *t = &tdevs[o];
	const char *why = NULL;
	int d = -1;

	if ((d = sm_dev_enter(o)) < 0)
		why = "no shared region";
	else if (!(t->nvml = sm_dev_nvml(o)))
		why = "NVML unavailable";
	else if (!resolve_putil())
		why = "nvmlDeviceGetProcessUtilization missing";
	if (why) {
		sm_log(SM_ERROR, o, "compute limit not enforced", "reason=\"%s\" sm_limit=%d", why, limit);
		return NULL;
	}
	sm_dev_note(o);
	t->d = d;
	t->limit = limit;
	sm_slots_from_mask(sm_cfg.sm_slot[o], &t->slots);
	t->last_log_ns = sm_now_ns();
	__atomic_store_n(&t->on, 1, __ATOMIC_RELEASE);
	if (start_thread() != 0)
		sm_log(SM_WARN, o, "no controller thread", "reason=\"pthread_create failed\"");
	return word(d, SM_THR_GATE);
}

/* First launch on ordinal o; caller holds reg_lock. */
static void enroll(int o)
{
	uint64_t *gate = NULL;
	int limit = sm_cfg.sm_limit[o];

	if (limit > 0 && limit < 100) {
		sm_depth++;
		gate = enroll_limited(o, limit);
		sm_depth--;
	}
	if (!gate)
		gate = &open_word;
	__atomic_store_n(&gates[o], gate, __ATOMIC_RELEASE);
	sm_thr_seen[sm_thr_ngates] = gate;
	__atomic_store_n(&sm_thr_ngates, sm_thr_ngates + 1, __ATOMIC_RELEASE);
}

/* Reports how long the job's queued work ran on after its slot closed. */
static void report_drain(struct tdev *t, uint64_t d)
{
	uint64_t *w = word(t->d, SM_THR_DRAIN);
	uint64_t cur = __atomic_load_n(w, __ATOMIC_RELAXED);

	while (d > cur && !__atomic_compare_exchange_n(w, &cur, d, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Sleeps until the gate opens.  A gate closed at the end of the job's
 * slot: meanwhile, watches the stream for the job's queued work to finish. */
static void wait_open(int o, uint64_t *gate, CUstream stream)
{
	struct timespec ts = { 0, WAIT_NS };
	uint64_t t0 = sm_now_ns(), now = t0, dt, g = __atomic_load_n(gate, __ATOMIC_ACQUIRE);
	uint64_t closed_at = g & ~3ULL;
	struct tdev *t = &tdevs[o];
	int drain = (g & SM_GATE_SLOT_END) && real_cuStreamQuery && closed_at <= t0;

	__atomic_store_n(word(t->d, SM_THR_WAITED), (uint64_t)(ms32(t0) | 1), __ATOMIC_RELAXED);
	while (__atomic_load_n(gate, __ATOMIC_ACQUIRE)) {
		uint64_t lease = __atomic_load_n(word(t->d, SM_THR_LEASE), __ATOMIC_RELAXED);
		if (drain && real_cuStreamQuery(stream) != CUDA_ERROR_NOT_READY) {
			report_drain(t, now - closed_at);
			drain = 0;
		}
		if (ms32(now) - (uint32_t)lease > DEAD_GATE_MS)
			break; /* no controller left: do not hang the program */
		nanosleep(&ts, NULL);
		now = sm_now_ns();
	}
	if (drain) /* still running when the slot came back: at least this */
		report_drain(t, now - closed_at);
	__atomic_store_n(word(t->d, SM_THR_WAITED), (uint64_t)(ms32(now) | 1), __ATOMIC_RELAXED);
	dt = now - t0;
	__atomic_add_fetch(&t->throttled_ns, dt, __ATOMIC_RELAXED);
	__atomic_add_fetch(word(t->d, SM_THR_THROTTLED), dt, __ATOMIC_RELAXED);
}

/* A launch into a stream being captured adds to a graph and runs nothing. */
static int capturing(CUstream stream)
{
	int status = 0;

	return real_cuStreamIsCapturing && real_cuStreamIsCapturing(stream, &status) == CUDA_SUCCESS &&
	       status != 0;
}

hidden void sm_thr_slow(CUstream stream)
{
	uint64_t *gate;
	CUdevice o;
	int saved = errno;

	if (sm_dev_current(&o) != 0)
		return;
	if (!(gate = __atomic_load_n(&gates[o], __ATOMIC_ACQUIRE))) {
		if (pthread_mutex_lock(&reg_lock) != 0)
			return;
		if (!gates[o])
			enroll(o);
		gate = gates[o];
		pthread_mutex_unlock(&reg_lock);
	}
	if (gate != &open_word && __atomic_load_n(gate, __ATOMIC_ACQUIRE) && !capturing(stream))
		wait_open(o, gate, stream);
	errno = saved;
}
