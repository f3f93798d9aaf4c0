/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The time file, the library's side (timefile.h): find it, judge it as a
 * file the library may trust (the rule of job configs: sm_config_root_owned),
 * map it read-only and find the job's entry.  The file is root's: nothing
 * in it is checked against the user, only against a writer that is not the
 * authority (another owner, a loose mode, a symlink) or another format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timefile.h"

#include "config.h"
#include "fstat.h"
#include "strlcpy.h"
#include "uuid.h"

_Static_assert(SM_JOB_MAX <= sizeof(((struct sm_tfmap *)0)->job), "a job id fits an entry");

hidden int sm_timefile_path(const uint8_t uuid[16], char *buf, size_t len)
{
	char us[64];
	int n;

	sm_uuid_format(uuid, us, sizeof(us));
	n = snprintf(buf, len, "%s/%s%s", SM_RUN_DIR, us, SM_TIME_SUFFIX);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* The file at path, open, if it is one the authority wrote; else -1 and why. */
static int open_safe(const char *path, struct stat *st, const char **why)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		*why = errno == ENOENT ? "missing" : errno == ELOOP ? "unsafe: a symbolic link" : "cannot open";
		return -1;
	}
	if (sm_fstat(fd, st) != 0 || !S_ISREG(st->st_mode))
		*why = "unsafe: not a regular file";
	else if (!sm_config_root_owned(st))
		*why = "unsafe: not owned by root or writable by others";
	else if (st->st_size != (off_t)SM_TIME_SIZE)
		/* Exactly one page: a file of another size is another format,
		 * which the authority may cut to size under a mapping. */
		*why = "unsafe: not the size of a time file";
	else
		return fd;
	close(fd);
	return -1;
}

hidden const char *sm_timefile_attach(struct sm_tfmap *m, const char *path)
{
	const struct sm_time_file *f;
	const char *why = NULL;
	struct stat st;
	void *p;
	int fd = open_safe(path, &st, &why);

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
