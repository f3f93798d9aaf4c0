/* SPDX-License-Identifier: Apache-2.0 */
/* Job identity (contract 1, job.c). */
#ifndef SOFTMIG_JOB_H
#define SOFTMIG_JOB_H

#include "softmig.h"

/* Job id of pid (0: self) from its cgroup; 1 found, 0 none, -1 unreadable. */
hidden int sm_job_from_cgroup(pid_t pid, char *job, size_t len);
hidden int sm_job_parse_cgroup(const char *text, char *job, size_t len);
hidden int sm_job_id_valid(const char *s);

#endif
