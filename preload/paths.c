// SPDX-License-Identifier: Apache-2.0
/* Where a job's files lie (paths.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "paths.h"

#include "job.h"
#include "softmig.h"

/* The longest SLURM_TMPDIR/TMPDIR taken for a local region. */
#define SM_LOCAL_DIR_MAX 256

static const char *const suffix[] = { ".conf", ".region", ".log" };

__attribute__((format(printf, 3, 4)))
static int put(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

hidden int sm_paths_name(char *buf, size_t len, enum sm_job_file f, const char *job)
{
	return put(buf, len, "%s%s", job, suffix[f]);
}

hidden int sm_paths_job(char *buf, size_t len, enum sm_job_file f, const char *job)
{
	return put(buf, len, "%s/%s%s", f == SM_FILE_LOG ? SM_LOG_DIR : SM_RUN_DIR, job, suffix[f]);
}

hidden int sm_paths_conf_job(const char *name, char *job, size_t len)
{
	size_t l = strlen(name), s = strlen(suffix[SM_FILE_CONF]);

	if (l <= s || l - s >= len || strcmp(name + l - s, suffix[SM_FILE_CONF]) != 0)
		return 0;
	memcpy(job, name, l - s);
	job[l - s] = 0;
	return sm_job_id_valid(job);
}

hidden int sm_paths_tmp_log(char *buf, size_t len, const char *slurm_tmpdir, const char *job)
{
	return put(buf, len, "%s/softmig_%s%s", slurm_tmpdir, job, suffix[SM_FILE_LOG]);
}

hidden int sm_paths_pid_log(char *buf, size_t len, int pid)
{
	return put(buf, len, "%s/pid%d%s", SM_LOG_DIR, pid, suffix[SM_FILE_LOG]);
}

hidden int sm_paths_local_region(char *buf, size_t len, const char *slurm_tmpdir, const char *tmpdir,
				 unsigned uid, const char *job)
{
	const char *dir = slurm_tmpdir;

	if (!dir || dir[0] != '/')
		dir = tmpdir;
	if (!dir || dir[0] != '/' || strlen(dir) > SM_LOCAL_DIR_MAX)
		dir = "/tmp";
	return put(buf, len, "%s/softmig-%u-%s%s", dir, uid, job && job[0] ? job : "nojob",
		   suffix[SM_FILE_REGION]);
}
