/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The used file: what each job holds on a GPU, as the node's guard read it
 * from NVML.  One per GPU, <run dir>/<GPU UUID>.used (the UUID as NVML
 * prints it), written only by softmig-guard (root) after its full looks,
 * in place under a sequence count (odd while it writes), and read by a job
 * process in place of its own NVML process-list read before its first
 * allocation on the GPU (docs/contracts.md, section 10): one pread instead
 * of a driver call that scans every process of the GPU.  A reader reads
 * seq, copies the file, reads seq again, and uses the copy only when the
 * three counts are the same even number.  An ABI shared
 * with the Go tools: internal/usedfile mirrors it and its layout test pins
 * the same offsets.  Fixed-width fields, the node's byte order.  Change
 * SM_USED_VERSION on any change.
 *
 * seen_ns is the CLOCK_REALTIME of the NVML read the numbers come from.  A
 * reader uses the file only when it is a regular root-owned file writable
 * only by its owner, of this magic, version and size, seen within
 * SM_USED_FRESH_NS, and not SM_USED_F_PARTIAL; a job without an entry then
 * held nothing on the GPU at seen_ns.  Anything else: the reader reads
 * NVML itself, as it does when no guard runs.
 */
#ifndef SOFTMIG_USEDFILE_ABI_H
#define SOFTMIG_USEDFILE_ABI_H

#include <stddef.h>
#include <stdint.h>

#define SM_USED_MAGIC 0x31444553554d5353ULL /* "SSMUSED1" little-endian */
#define SM_USED_VERSION 1U
#define SM_USED_ENTRIES 84
#define SM_USED_SIZE 4096
#define SM_USED_SUFFIX ".used"
#define SM_USED_FRESH_NS 1000000000ULL /* older than this: read NVML */
#define SM_USED_AHEAD_NS 50000000ULL   /* a seen_ns this far ahead of now is wrong */

/* file.flags */
#define SM_USED_F_PARTIAL 1U /* more jobs than entries: the file names not all */

struct sm_used_entry {
	char job[32];     /* job id (the name of its config), NUL-padded */
	uint64_t used;    /* bytes NVML showed the job's processes holding */
	uint64_t reserved;
};

struct sm_used_file {
	uint64_t magic;
	uint32_t version;
	uint32_t entries;     /* SM_USED_ENTRIES */
	uint64_t seen_ns;     /* CLOCK_REALTIME of the NVML read */
	uint64_t device_used; /* the GPU's memory in use then (NVML) */
	uint32_t jobs;        /* entries in use, the first ones */
	uint32_t flags;       /* SM_USED_F_* */
	uint64_t seq;         /* odd while the guard writes */
	uint8_t reserved[16];
	struct sm_used_entry e[SM_USED_ENTRIES];
};

_Static_assert(offsetof(struct sm_used_entry, used) == 32, "sm_used_entry.used");
_Static_assert(sizeof(struct sm_used_entry) == 48, "sm_used_entry size");
_Static_assert(offsetof(struct sm_used_file, seen_ns) == 16, "sm_used_file.seen_ns");
_Static_assert(offsetof(struct sm_used_file, device_used) == 24, "sm_used_file.device_used");
_Static_assert(offsetof(struct sm_used_file, jobs) == 32, "sm_used_file.jobs");
_Static_assert(offsetof(struct sm_used_file, flags) == 36, "sm_used_file.flags");
_Static_assert(offsetof(struct sm_used_file, seq) == 40, "sm_used_file.seq");
_Static_assert(offsetof(struct sm_used_file, e) == 64, "sm_used_file.e");
_Static_assert(sizeof(struct sm_used_file) == SM_USED_SIZE, "sm_used_file size");

#endif
