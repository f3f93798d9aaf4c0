/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The used file (usedfile_abi.h): the job's memory on a GPU as the node's
 * guard read it.  Judged as a file the library may trust by the rule of
 * job configs (sm_config_root_owned) and copied with one pread; the guard
 * writes it in place, so the copy counts only when the sequence count read
 * again after it is the same even number.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "usedfile.h"
#include "usedfile_abi.h"

#include "gpufile.h"

_Static_assert(SM_JOB_MAX <= sizeof(((struct sm_used_entry *)0)->job), "a job id fits an entry");

/* A copy of the file taken while the guard was not writing: 1, or 0.
 * The count is read before the copy too: the copy's own seq comes after
 * the header (magic to flags), which a write whole between their copies
 * would leave from before it. */
static int read_stable(int fd, struct sm_used_file *f)
{
	const off_t at = offsetof(struct sm_used_file, seq);
	uint64_t before, seq;
	int tries;

	for (tries = 0; tries < 3; tries++) {
		if (pread(fd, &before, sizeof(before), at) != (ssize_t)sizeof(before) ||
		    pread(fd, f, sizeof(*f), 0) != (ssize_t)sizeof(*f) ||
		    pread(fd, &seq, sizeof(seq), at) != (ssize_t)sizeof(seq))
			return 0;
		if (before == seq && seq == f->seq && !(seq & 1))
			return 1;
	}
	return 0;
}

/* The file for uuid, read whole into f if it is the guard's; 0 or -1. */
static int read_file(const uint8_t uuid[16], struct sm_used_file *f)
{
	char path[256];
	const char *why;
	struct stat st;
	int fd, ok;

	if (sm_gpufile_path(uuid, SM_USED_SUFFIX, path, sizeof(path)) != 0 ||
	    (fd = sm_gpufile_open(path, SM_USED_SIZE, &st, &why)) < 0)
		return -1;
	ok = read_stable(fd, f);
	close(fd);
	if (!ok || f->magic != SM_USED_MAGIC || f->version != SM_USED_VERSION || f->entries != SM_USED_ENTRIES ||
	    f->jobs > SM_USED_ENTRIES || (f->flags & SM_USED_F_PARTIAL))
		return -1;
	return 0;
}

hidden int sm_usedfile_job(const uint8_t uuid[16], const char *job, uint64_t *used, uint64_t *age_ns)
{
	struct sm_used_file f;
	struct timespec ts;
	char want[sizeof(f.e[0].job)] = { 0 };
	uint64_t now;
	int saved = errno, r = -1;
	uint32_t i;

	if (!job[0] || strlen(job) >= sizeof(want) || read_file(uuid, &f) != 0 ||
	    clock_gettime(CLOCK_REALTIME, &ts) != 0)
		goto out;
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (f.seen_ns > now + SM_USED_AHEAD_NS || (f.seen_ns < now && now - f.seen_ns >= SM_USED_FRESH_NS))
		goto out;
	memcpy(want, job, strlen(job));
	*used = 0; /* a job the guard saw nothing of held nothing */
	for (i = 0; i < f.jobs; i++)
		if (memcmp(f.e[i].job, want, sizeof(want)) == 0) {
			*used = f.e[i].used;
			break;
		}
	*age_ns = f.seen_ns < now ? now - f.seen_ns : 0;
	r = 0;
out:
	errno = saved;
	return r;
}
