/* SPDX-License-Identifier: Apache-2.0 */
/* The region's process and device entries (entries.c). */
#ifndef SOFTMIG_ENTRIES_H
#define SOFTMIG_ENTRIES_H

#include "cuda_abi.h"
#include "region_abi.h"
#include "softmig.h"

hidden int sm_entries_register(void);    /* claims a process entry */
hidden int sm_entries_dev(const uint8_t uuid[16]); /* device entry, creating it */
hidden void sm_entries_reclaim(void);    /* the entries of dead processes go */
/* Without the lock held: the entries of dead processes go, looked at
 * outside it.  listed (NVML's processes of device entry d, n of them,
 * sorted by pid): only entries with bytes on d that NVML did not list, and
 * only if their pid is gone; NULL: every entry, zombies and reused pids
 * included. */
hidden void sm_entries_reap(int d, const nvmlProcessInfo_t *listed, int n);
hidden void sm_entries_exit(void);       /* at exit: this process's entry goes */
hidden int sm_entries_has_pid(pid_t pid); /* NVML's pid (the host's) has an entry */
/* The pids of the entries of the host's PID namespace (NVML's), sorted
 * (read without the lock); their count; *others whether entries of other
 * namespaces are there too. */
hidden int sm_entries_pids(int32_t pids[SM_MAX_PROCS], int *others);

#endif
