/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Job identity (contract 1): from the cgroup, which the user cannot
 * change; SLURM_JOB_ID only when no job cgroup exists (config.c).
 * v1: "6:freezer:/slurm_vm/uid_0/job_1/step_batch"
 * v2: "0::/system.slice/slurmstepd.scope/job_42/step_0/user/task_0"
 */
#include <stdio.h>
#include <string.h>

#include "job.h"

#include "proc.h"
#include "strlcpy.h"

/* "^[0-9]+(_[0-9]+)?$", at most SM_JOB_MAX-1 characters. */
hidden int sm_job_id_valid(const char *s)
{
	size_t n = 0, digits = 0;
	int underscore = 0;

	for (; s[n]; n++) {
		if (s[n] >= '0' && s[n] <= '9') {
			digits++;
		} else if (s[n] == '_' && !underscore && digits) {
			underscore = 1;
			digits = 0;
		} else {
			return 0;
		}
	}
	return digits > 0 && n < SM_JOB_MAX;
}

/* 1 when [s, e) is "job_<digits>" with fewer than SM_JOB_MAX digits. */
static int job_component(const char *s, const char *e)
{
	const char *d = s + 4;

	if (e - s < 5 || e - d >= SM_JOB_MAX || strncmp(s, "job_", 4) != 0)
		return 0;
	for (; d < e; d++)
		if (*d < '0' || *d > '9')
			return 0;
	return 1;
}

/* 1 when [s, e) is "uid_<digits>". */
static int uid_component(const char *s, const char *e)
{
	const char *d = s + 4;

	if (e - s < 5 || strncmp(s, "uid_", 4) != 0)
		return 0;
	for (; d < e; d++)
		if (*d < '0' || *d > '9')
			return 0;
	return 1;
}

/* The job of one line "hierarchy:controllers:path": on the v2 line
 * ("0::") the first job_<M> component, on a v1 line only one below
 * /slurm.../uid_<N>/, as slurmd lays it out (internal/job does the same;
 * testdata/cgroup.tsv pins both). */
static int job_of_line(const char *line, const char *end, char *job, size_t len)
{
	const char *c1 = memchr(line, ':', (size_t)(end - line)), *c2, *p;
	const char *prev[2] = { NULL, NULL }, *prev_end[2] = { NULL, NULL };
	int v2;

	if (!c1 || !(c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1))))
		return 0;
	v2 = c1 == line + 1 && line[0] == '0' && c2 == c1 + 1;
	for (p = c2 + 1; p <= end;) {
		const char *e = memchr(p, '/', (size_t)(end - p));
		if (!e)
			e = end;
		if (job_component(p, e) &&
		    (v2 || (prev[0] && !strncmp(prev[0], "slurm", 5) && prev_end[0] - prev[0] >= 5 &&
			    uid_component(prev[1], prev_end[1])))) {
			if ((size_t)(e - p - 4) >= len)
				return 0;
			memcpy(job, p + 4, (size_t)(e - p - 4));
			job[e - p - 4] = 0;
			return 1;
		}
		prev[0] = prev[1];
		prev_end[0] = prev_end[1];
		prev[1] = p;
		prev_end[1] = e;
		p = e + 1;
	}
	return 0;
}

/* Finds the job of /proc/<pid>/cgroup text: the first line that names one. */
hidden int sm_job_parse_cgroup(const char *text, char *job, size_t len)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
		if (job_of_line(p, end, job, len))
			return 1;
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

/* The file must be the kernel's (sm_proc_read): in a mount namespace of
 * their own, users can bind a file of their making over /proc/self/cgroup. */
hidden int sm_job_from_cgroup(pid_t pid, char *job, size_t len)
{
	char path[64], buf[4096];

	if (pid == 0)
		sm_strlcpy(path, "/proc/self/cgroup", sizeof(path));
	else
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (sm_proc_read(path, buf, sizeof(buf)) < 0)
		return -1;
	return sm_job_parse_cgroup(buf, job, len);
}
