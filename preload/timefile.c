/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The time file, the library's side (timefile.h): find it, judge it as a
 * file the library may trust (the rule of job configs: sm_config_root_owned),
 * map it read-only and find the job's entry.  The file is root's: nothing
 * in it is checked against the user, only against a writer that is not the
 * authority (another owner, a loose mode, a symlink) or another format.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timefile.h"

#include "gpufile.h"
#include "strlcpy.h"

_Static_assert(SM_JOB_MAX <= sizeof(((struct sm_tfmap *)0)->job), "a job id fits an entry");

hidden const char *sm_timefile_attach(struct sm_tfmap *m, const char *path)
{
	const struct sm_time_file *f;
	const char *why = NULL;
	struct stat st;
	void *p;
	int fd = sm_gpufile_open(path, SM_TIME_SIZE, &st, &why);

	if (fd < 0)
		return why;
	if (!m->f || st.st_dev != m->dev || st.st_ino != m->ino) {
		p = mmap((void *)m->f, SM_TIME_SIZE, PROT_READ, MAP_SHARED | (m->f ? MAP_FIXED : 0), fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			return "cannot map";
		}
		m->f = p;
		m->dev = st.st_dev;
		m->ino = st.st_ino;
		__atomic_store_n(&m->entry, -1, __ATOMIC_RELAXED);
	}
	close(fd);
	f = m->f;
	if (__atomic_load_n(&f->magic, __ATOMIC_ACQUIRE) != SM_TIME_MAGIC || f->version != SM_TIME_VERSION ||
	    f->entries != SM_TIME_ENTRIES)
		return "not a time file of this version";
	return NULL;
}

hidden void sm_timefile_init(struct sm_tfmap *m, const char *job)
{
	memset(m, 0, sizeof(*m));
	m->entry = -1;
	sm_strlcpy(m->job, job, sizeof(m->job));
}

/* Whether entry i names the job. */
static int names(const struct sm_tfmap *m, int i)
{
	char got[sizeof(m->job)];

	memcpy(got, (const void *)m->f->e[i].job, sizeof(got));
	return m->job[0] && memcmp(got, m->job, sizeof(got)) == 0;
}

hidden int sm_timefile_ours(const struct sm_tfmap *m)
{
	int i = __atomic_load_n(&m->entry, __ATOMIC_RELAXED);

	if (i < 0 || __atomic_load_n(&m->f->instance, __ATOMIC_RELAXED) != __atomic_load_n(&m->instance, __ATOMIC_RELAXED))
		return -1;
	return names(m, i) ? i : -1;
}

hidden const char *sm_timefile_locate(struct sm_tfmap *m)
{
	uint64_t inst;
	int i;

	if (sm_timefile_ours(m) >= 0)
		return NULL;
	inst = __atomic_load_n(&m->f->instance, __ATOMIC_ACQUIRE);
	for (i = 0; i < SM_TIME_ENTRIES && !names(m, i); i++)
		;
	__atomic_store_n(&m->instance, inst, __ATOMIC_RELAXED);
	__atomic_store_n(&m->entry, i < SM_TIME_ENTRIES ? i : -1, __ATOMIC_RELAXED);
	return i < SM_TIME_ENTRIES ? NULL : "no entry for the job";
}
