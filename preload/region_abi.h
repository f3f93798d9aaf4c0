/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-job shared region: an ABI shared by every process of a job and by
 * the Go tools (internal/region mirrors it; its layout test pins the same
 * offsets).  Fixed-width fields only; change SM_REGION_VERSION on any change.
 *
 * Lifecycle: the file is created (zero-filled, SM_REGION_SIZE bytes) either
 * by root in the prolog or by the first process of the job.  Its first user
 * moves init_state 0 -> 1 (writing init_pid), initialises the robust
 * process-shared mutex in lock[], sets magic and version, then stores
 * init_state = 2.  Everyone else waits for 2; an initialiser that died at 1
 * is detected through init_pid and the state is reset to 0.
 *
 * Locking: lock[] holds a pthread_mutex_t (PTHREAD_PROCESS_SHARED,
 * PTHREAD_MUTEX_ROBUST).  Every write below happens under it; readers that
 * only display (softmig-smi) may read without it.  The library takes it
 * through its futex word as glibc does and takes it over from a holder
 * that is dead, stopped or stuck (preload/lock.c).
 *
 * Accounting (bytes): for each process entry p and device entry d,
 *   p.used[d]  allocations the library saw succeed and not yet freed;
 *   p.ctx[d]   memory of the contexts p holds on d (measured through NVML);
 *   p.nvml[d]  what NVML reported for p on d at the last check.
 * A process counts max(p.used+p.ctx, p.nvml).  dev.tracked is the sum of
 * used+ctx over live entries, kept up to date on every allocation; dev.excess
 * is what the last NVML check found beyond it (job processes unknown to the
 * region, pools holding freed memory, tampering).  The job's usage on a
 * device is tracked + excess; a reservation succeeds only if it stays within
 * the device's limit (limits live in the job config, never here).
 */
#ifndef SOFTMIG_REGION_ABI_H
#define SOFTMIG_REGION_ABI_H

#include <stddef.h>
#include <stdint.h>

#define SM_REGION_MAGIC 0x4752534dU /* "MSRG" little-endian: 'M' 'S' 'R' 'G' */
#define SM_REGION_VERSION 1U
#define SM_MAX_DEVICES 16
#define SM_MAX_PROCS 1024

enum { SM_INIT_NONE = 0, SM_INIT_RUNNING = 1, SM_INIT_DONE = 2 };

struct sm_dev {
	uint8_t uuid[16];      /* binary device UUID; all zero: entry unused */
	uint64_t tracked;      /* sum over live entries of used + ctx */
	uint64_t excess;       /* NVML usage of the job beyond tracked, last check */
	uint64_t ctx_estimate; /* largest context footprint seen on this device */
	uint64_t peak;         /* highest tracked + excess seen */
	uint64_t last_check_ns;/* CLOCK_MONOTONIC of the last NVML check */
	uint64_t oom_count;    /* allocations refused on this device */
	uint64_t sm[8];        /* compute bookkeeping: [4] ns the job's launches slept at
				* their gate (throttle.h); the rest unused since the node's
				* time authority decides (timefile_abi.h), kept for the ABI */
};

struct sm_proc {
	int32_t pid;           /* 0: entry free; the pid in the process's PID namespace */
	uint32_t pidns;        /* that namespace's tag, 0 for the host's (pidns.c) */
	uint64_t start_time;   /* /proc/<pid>/stat field 22: guards pid reuse */
	uint64_t used[SM_MAX_DEVICES];
	uint64_t ctx[SM_MAX_DEVICES];
	uint64_t nvml[SM_MAX_DEVICES];
	uint64_t peak[SM_MAX_DEVICES];
};

struct sm_region {
	uint32_t magic;
	uint32_t version;
	uint64_t size;         /* sizeof(struct sm_region) */
	uint8_t lock[64];      /* pthread_mutex_t, robust and process-shared */
	uint32_t init_state;   /* SM_INIT_* */
	int32_t init_pid;
	uint64_t created_ns;   /* CLOCK_REALTIME at initialisation */
	char job[32];          /* job id, NUL-terminated */
	uint32_t ndevs;        /* device entries in use */
	uint32_t nprocs;       /* high-water mark of process entries */
	uint32_t ctx_guesses;  /* context reservations of guessed size (no context of the
				* job measured on their device yet) not yet measured ... */
	uint32_t guesses_until;/* ... a count that holds until this CLOCK_MONOTONIC second */
	uint8_t reserved[112];
	struct sm_dev devs[SM_MAX_DEVICES];
	struct sm_proc procs[SM_MAX_PROCS];
};

_Static_assert(offsetof(struct sm_dev, tracked) == 16, "sm_dev.tracked");
_Static_assert(offsetof(struct sm_dev, excess) == 24, "sm_dev.excess");
_Static_assert(offsetof(struct sm_dev, ctx_estimate) == 32, "sm_dev.ctx_estimate");
_Static_assert(offsetof(struct sm_dev, peak) == 40, "sm_dev.peak");
_Static_assert(offsetof(struct sm_dev, last_check_ns) == 48, "sm_dev.last_check_ns");
_Static_assert(offsetof(struct sm_dev, oom_count) == 56, "sm_dev.oom_count");
_Static_assert(offsetof(struct sm_dev, sm) == 64, "sm_dev.sm");
_Static_assert(sizeof(struct sm_dev) == 128, "sm_dev size");

_Static_assert(offsetof(struct sm_proc, pidns) == 4, "sm_proc.pidns");
_Static_assert(offsetof(struct sm_proc, start_time) == 8, "sm_proc.start_time");
_Static_assert(offsetof(struct sm_proc, used) == 16, "sm_proc.used");
_Static_assert(offsetof(struct sm_proc, ctx) == 144, "sm_proc.ctx");
_Static_assert(offsetof(struct sm_proc, nvml) == 272, "sm_proc.nvml");
_Static_assert(offsetof(struct sm_proc, peak) == 400, "sm_proc.peak");
_Static_assert(sizeof(struct sm_proc) == 528, "sm_proc size");

_Static_assert(offsetof(struct sm_region, size) == 8, "sm_region.size");
_Static_assert(offsetof(struct sm_region, lock) == 16, "sm_region.lock");
_Static_assert(offsetof(struct sm_region, init_state) == 80, "sm_region.init_state");
_Static_assert(offsetof(struct sm_region, init_pid) == 84, "sm_region.init_pid");
_Static_assert(offsetof(struct sm_region, created_ns) == 88, "sm_region.created_ns");
_Static_assert(offsetof(struct sm_region, job) == 96, "sm_region.job");
_Static_assert(offsetof(struct sm_region, ndevs) == 128, "sm_region.ndevs");
_Static_assert(offsetof(struct sm_region, nprocs) == 132, "sm_region.nprocs");
_Static_assert(offsetof(struct sm_region, ctx_guesses) == 136, "sm_region.ctx_guesses");
_Static_assert(offsetof(struct sm_region, guesses_until) == 140, "sm_region.guesses_until");
_Static_assert(offsetof(struct sm_region, devs) == 256, "sm_region.devs");
_Static_assert(offsetof(struct sm_region, procs) == 2304, "sm_region.procs");
_Static_assert(sizeof(struct sm_region) == 2304 + 528 * SM_MAX_PROCS, "sm_region size");

#define SM_REGION_SIZE ((uint64_t)sizeof(struct sm_region))

#endif
