/* SPDX-License-Identifier: Apache-2.0 */
/* Entries of processes in other PID namespaces (pidns.c). */
#ifndef SOFTMIG_PIDNS_H
#define SOFTMIG_PIDNS_H

#include "softmig.h"

struct sm_proc;

/* This process's PID namespace tag (0: the host's). */
hidden uint32_t sm_pidns_tag(void);
/* Whether an entry's process runs: 1, 0, or -1 when it cannot be seen
 * from here. */
hidden int sm_pidns_alive(const struct sm_proc *p);
/* Whether NVML's pid (the host's) is entry p's process. */
hidden int sm_pidns_matches(const struct sm_proc *p, pid_t pid);
/* Whether /proc is the host's, where NVML's pids can be looked up. */
hidden int sm_pidns_proc_is_host(void);
/* This process's pid as NVML reports it (the host's), 0 unknown. */
hidden pid_t sm_pidns_host_pid(void);

#endif
