/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-time initialisation, on the first CUDA or NVML call (never in a
 * constructor: the library is in every process of the node).
 *
 * States of init_state: 0 idle; 1 running, by thread init_tid; 2 done.
 * The thread that moves 0 -> 1 loads the config and maps the region; a
 * call from that same thread during it (re-entry) gets 0 and passes
 * through; other threads wait for 2.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

#include "check.h"
#include "config.h"
#include "depth.h"
#include "dev.h"
#include "entries.h"
#include "ledger.h"
#include "lock.h"
#include "log.h"
#include "mode.h"
#include "nvml.h"
#include "ptrmap.h"
#include "real.h"
#include "region.h"
#include "throttle.h"

static int init_state;
static long init_tid;
static struct sm_why why; /* why the mode is SM_FAILCLOSED */

static long gettid_(void)
{
	return syscall(SYS_gettid);
}

static void atfork_child(void)
{
	/* A fork child shares the parent's region mapping but is a new
	 * process: it claims its own entry when it first uses the GPU. */
	sm_region_entry = -1;
	sm_ptrmap_reset_after_fork();
	sm_log_reset_after_fork();
	sm_nvml_reset_after_fork();
	sm_check_reset_after_fork();
	sm_lock_reset_after_fork();
}

/* What each device this process used cost it, then its entry goes. */
static void exit_report(void)
{
	int i;

	if (!sm_region || sm_region_entry < 0)
		return;
	sm_region_ensure();
	for (i = 0; i < SM_MAX_DEVICES; i++) {
		int d = sm_dev_noted(i);
		if (d < 0)
			continue;
		sm_log(SM_EVENT, i, "process exit", "peak=%llu throttled_ms=%llu",
		       (unsigned long long)sm_ledger_proc_peak(d), (unsigned long long)sm_gate_throttled_ms(i));
	}
	sm_entries_exit();
}

static void announce_failure(void)
{
	char line[768], q[700], about[600], qp[560];
	int n;

	n = snprintf(line, sizeof(line),
		     "softmig: GPU disabled for this process: %s; contact your cluster administrators\n",
		     why.reason);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0) {
		/* stderr closed: the log below still has it */
	}
	/* path= or var= when the failure is about one (contract 5). */
	if (why.path[0])
		snprintf(about, sizeof(about), "path=%s ", sm_log_quote(why.path, qp, sizeof(qp)));
	else if (why.var[0])
		snprintf(about, sizeof(about), "var=%s ", why.var);
	else
		about[0] = 0;
	sm_log(SM_ERROR, -1, "config error", "%sreason=%s", about, sm_log_quote(why.reason, q, sizeof(q)));
}

static void do_init(void)
{
	char exe[512], qexe[600], qsrc[600];
	ssize_t n;
	int mode = sm_config_load(&why);

	if (mode == SM_ACTIVE &&
	    (sm_real_libs(why.reason, sizeof(why.reason)) != 0 || sm_region_attach(&why) != 0))
		mode = SM_FAILCLOSED;
	if (mode == SM_FAILCLOSED) {
		announce_failure();
	} else if (mode == SM_ACTIVE) {
		pthread_atfork(NULL, NULL, atfork_child);
		atexit(exit_report);
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		sm_log(SM_EVENT, -1, "process start", "exe=%s uid=%u source=%s", sm_log_quote(exe, qexe, sizeof(qexe)),
		       (unsigned)getuid(), sm_log_quote(sm_config->source, qsrc, sizeof(qsrc)));
	}
	sm_mode = mode;
}

hidden int sm_init(void)
{
	int s = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE), zero = 0, saved;
	struct timespec ts = { 0, 100000 };

	if (likely(s == 2))
		return 1;
	if (s == 0 && __atomic_compare_exchange_n(&init_state, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		saved = errno;
		init_tid = gettid_();
		sm_depth++;
		do_init();
		sm_depth--;
		__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
		errno = saved;
		return 1;
	}
	if (init_tid == gettid_())
		return 0;
	while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2)
		nanosleep(&ts, NULL);
	return 1;
}
