/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACTIVE_OOM_KILLER=1: on a refusal, kill the job's own processes on that
 * GPU.  A target must be on the device (NVML), belong to this job (its
 * cgroup, or its entry in the job's region for jobs known only from the
 * environment), run as this process's user, and never be root.  NVML
 * names processes by their host pids, which kill() takes only in the
 * host's PID namespace: in a namespace of its own (a container's) the
 * process can kill only itself.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oom.h"

#include "log.h"
#include "nvml.h"
#include "pidns.h"
#include "read.h"

static uid_t uid_of(pid_t pid)
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (sm_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nUid:")))
		return 0;
	return (uid_t)strtoul(p + 5, NULL, 10);
}

hidden void sm_oom_kill(int ordinal)
{
	nvmlProcessInfo_t stack[SM_PROC_STACK], *infos;
	nvmlDevice_t nd = sm_nvml_handle(ordinal);
	pid_t me = getpid(), me_host = sm_pidns_host_pid();
	uid_t uid = getuid();
	int host_ns = sm_pidns_tag() == 0, self = !me_host, n, i;

	if (uid == 0 || !nd || (n = sm_nvml_processes(nd, stack, &infos)) < 0)
		return;
	for (i = 0; i < n; i++) {
		pid_t pid = (pid_t)infos[i].pid;
		if (me_host && pid == me_host) {
			self = 1;
			continue;
		}
		if (!host_ns || !sm_nvml_pid_in_job(pid) || uid_of(pid) != uid || uid_of(pid) == 0)
			continue;
		sm_log(SM_EVENT, ordinal, "oom kill", "target=%d", (int)pid);
		kill(pid, SIGKILL);
	}
	if (infos != stack)
		free(infos);
	if (self) {
		sm_log(SM_EVENT, ordinal, "oom kill", "target=%d", (int)me);
		kill(me, SIGKILL);
		_exit(128 + SIGKILL); /* the init of a PID namespace ignores it */
	}
}
