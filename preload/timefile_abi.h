/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The time file: who may launch on a GPU, and when.  One per GPU,
 * <run dir>/<GPU UUID>.time (the UUID as NVML prints it, "GPU-xxxxxxxx-..."),
 * written only by the node's time authority (softmig-guard, as root) and
 * mapped read-only by every job process that launches on that GPU with an
 * SM limit (docs/contracts.md, section 9; docs/compute.md).  An ABI shared
 * with the Go tools: internal/timefile mirrors it and its layout test pins
 * the same offsets.  Fixed-width fields, the node's byte order.  Change
 * SM_TIME_VERSION on any change.
 *
 * Entries: one per job that has a time share on the GPU, found by its job
 * id (the name of its config, <run dir>/<job>.conf).  The authority never
 * moves a live job to another entry, closes an entry's gate before it
 * frees it, and leaves a freed entry unused for SM_TIME_REUSE_NS, so a
 * reader that checks its entry's job id every few launches never follows
 * another job's gate for long.
 *
 * The gate: entry.gate is 0 while the job may launch, non-zero (the
 * SM_GATE_* reasons) while it may not.  A launch reads it with one relaxed
 * load.  close_ns says when the window now open closes (0: none open).
 *
 * Liveness: the authority stores CLOCK_REALTIME into beat_ns at least every
 * SM_TIME_BEAT_NS.  A reader that finds it older than SM_TIME_STALE_NS, or
 * the file missing, unsafe (not a regular root-owned file writable only by
 * its owner), of another magic or version, or without the job's entry,
 * treats the authority as down and falls back to the job's static time
 * slot from its config until a fresh file says otherwise.  The authority
 * writes the file in place (never truncates it); a new authority instance
 * changes instance.
 */
#ifndef SOFTMIG_TIMEFILE_ABI_H
#define SOFTMIG_TIMEFILE_ABI_H

#include <stddef.h>
#include <stdint.h>

#define SM_TIME_MAGIC 0x31454d49544d5353ULL /* "SSMTIME1" little-endian */
#define SM_TIME_VERSION 1U
#define SM_TIME_ENTRIES 63
#define SM_TIME_SIZE 4096
#define SM_TIME_SUFFIX ".time"
#define SM_TIME_BEAT_NS 50000000ULL   /* the authority writes beat_ns this often */
#define SM_TIME_STALE_NS 250000000ULL /* older than this: the authority is down */
#define SM_TIME_REUSE_NS 5000000000ULL /* a freed entry stays unused this long */

/* entry.gate: why the job may not launch now (0: it may). */
#define SM_GATE_CLOSED 1ULL /* outside the job's window */
#define SM_GATE_PAUSED 2ULL /* the job used time it was not given: paused until repaid */

/* file.policy */
enum { SM_TIME_CAP = 0, SM_TIME_LEND = 1 };

/* entry.flags */
#define SM_TIME_F_LENT 1U   /* the job is being lent time beyond its share now */
#define SM_TIME_F_PAUSED 2U /* the job's cgroup is frozen by the authority */
#define SM_TIME_F_IDLE 4U   /* the job used none of its own window last period */

struct sm_time_entry {
	uint64_t gate;     /* 0 open; else SM_GATE_* */
	uint64_t close_ns; /* CLOCK_REALTIME the open window ends; 0: not open */
	char job[32];      /* job id, NUL-padded; "" free */
	uint32_t share;    /* guaranteed percent of the GPU's time, 1..99 */
	uint32_t flags;    /* SM_TIME_F_* */
	uint32_t used_pm;  /* last period: permille of the GPU's time the job used */
	uint32_t lent_pm;  /* last period: permille it was given beyond its share */
};

struct sm_time_file {
	uint64_t magic;
	uint32_t version;
	uint32_t entries;  /* SM_TIME_ENTRIES */
	uint64_t beat_ns;  /* CLOCK_REALTIME of the authority's last write */
	uint64_t period_ns;/* the schedule's period */
	uint64_t instance; /* changes with every start of the authority */
	uint32_t policy;   /* SM_TIME_CAP or SM_TIME_LEND */
	uint32_t reserved0;
	uint8_t reserved[16];
	struct sm_time_entry e[SM_TIME_ENTRIES];
};

_Static_assert(offsetof(struct sm_time_entry, close_ns) == 8, "sm_time_entry.close_ns");
_Static_assert(offsetof(struct sm_time_entry, job) == 16, "sm_time_entry.job");
_Static_assert(offsetof(struct sm_time_entry, share) == 48, "sm_time_entry.share");
_Static_assert(offsetof(struct sm_time_entry, flags) == 52, "sm_time_entry.flags");
_Static_assert(offsetof(struct sm_time_entry, used_pm) == 56, "sm_time_entry.used_pm");
_Static_assert(offsetof(struct sm_time_entry, lent_pm) == 60, "sm_time_entry.lent_pm");
_Static_assert(sizeof(struct sm_time_entry) == 64, "sm_time_entry size");
_Static_assert(offsetof(struct sm_time_file, beat_ns) == 16, "sm_time_file.beat_ns");
_Static_assert(offsetof(struct sm_time_file, period_ns) == 24, "sm_time_file.period_ns");
_Static_assert(offsetof(struct sm_time_file, instance) == 32, "sm_time_file.instance");
_Static_assert(offsetof(struct sm_time_file, policy) == 40, "sm_time_file.policy");
_Static_assert(offsetof(struct sm_time_file, e) == 64, "sm_time_file.e");
_Static_assert(sizeof(struct sm_time_file) == SM_TIME_SIZE, "sm_time_file size");

#endif
