/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's side of the time file (timefile_abi.h): one GPU's file,
 * mapped read-only, and the job's entry in it.  Pure mechanics: whether to
 * follow the authority, and what to do when it is down, is gate.c's.
 */
#ifndef SOFTMIG_TIMEFILE_H
#define SOFTMIG_TIMEFILE_H

#include <sys/types.h>

#include "softmig.h"
#include "timefile_abi.h"

struct sm_tfmap {
	/* Mapped read-only, at one address for the life of the process: a
	 * new file at the path is mapped over the old one (MAP_FIXED), so a
	 * launch that loaded a gate pointer never touches unmapped memory. */
	const struct sm_time_file *f; /* NULL: never mapped */
	dev_t dev;
	ino_t ino;
	uint64_t instance; /* the authority's instance when entry was found */
	int entry;         /* the job's entry, -1 none */
	char job[sizeof(((struct sm_time_entry *)0)->job)]; /* as an entry holds it */
};

/* A map of nothing yet, for job (the name of its config; "" none). */
hidden void sm_timefile_init(struct sm_tfmap *m, const char *job);

/* Maps the time file at path unless the file mapped is still the one the
 * path names; checks that it is a regular root-owned file writable only by
 * root, of SM_TIME_SIZE bytes, of this magic and version.  Returns NULL, or
 * why the file cannot be used (m->f may stay mapped to an older file). */
hidden const char *sm_timefile_attach(struct sm_tfmap *m, const char *path);

/* Finds the job's entry when the one known no longer names it or the
 * authority restarted; NULL, or why there is none. */
hidden const char *sm_timefile_locate(struct sm_tfmap *m);

/* The entry known, if it still names the job for the same authority; else
 * -1.  Cheap: every 64th launch asks. */
hidden int sm_timefile_ours(const struct sm_tfmap *m);

/* A beat this old, or this far ahead of now, means the authority is down. */
static inline int sm_timefile_fresh(const struct sm_tfmap *m, uint64_t now)
{
	uint64_t beat = __atomic_load_n(&m->f->beat_ns, __ATOMIC_RELAXED);

	return beat + SM_TIME_STALE_NS > now && beat < now + SM_TIME_STALE_NS;
}

#endif
