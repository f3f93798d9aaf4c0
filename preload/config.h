/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's configuration (contract 2), as config.c read it at sm_init:
 * read-only from then on.  What is enforced on each ordinal is limits.c's.
 */
#ifndef SOFTMIG_CONFIG_H
#define SOFTMIG_CONFIG_H

#include "region_abi.h"
#include "softmig.h"

struct sm_config {
	char job[SM_JOB_MAX];          /* job id, "" outside a job */
	int job_from_cgroup;           /* job id came from /proc/self/cgroup */
	int64_t job_uid;               /* SOFTMIG_UID: the job's user, -1 unset */
	uint64_t mem_limit[SM_MAX_DEVICES];   /* 0: no memory limit */
	int sm_limit[SM_MAX_DEVICES];  /* 0: no compute limit (100 is stored as 0) */
	uint64_t sm_slot[SM_MAX_DEVICES][2]; /* percent p of the compute period is the job's
					      * time slot if bit p is set; none set: no slot */
	int gpu_index[SM_MAX_DEVICES]; /* SOFTMIG_GPU_<i> + 1: Slurm (NVML) index of the
					* GPU the limits of ordinal i are for; 0 unset */
	int oom_killer;
	int log_level;
	char region_path[512];
	char source[512];              /* config path or "environment" */
};

extern hidden const struct sm_config *const sm_config;

/* Loads the config and returns the mode (mode.h); why says why
 * SM_FAILCLOSED. */
struct sm_why;
hidden int sm_config_load(struct sm_why *why);

/* Verdicts on a job config, as internal/jobconf gives them (testdata/jobconf). */
enum sm_conf_verdict {
	SM_CONF_OK = 0,
	SM_CONF_ABSENT,   /* no such file or directory: no config */
	SM_CONF_UNSAFE,   /* file or directory not root's alone, a symlink, ... */
	SM_CONF_INVALID,  /* unparsable */
	SM_CONF_DISABLED  /* SOFTMIG_DISABLED: err holds the reason */
};
/* Parses a config's text into cfg; err says why when not SM_CONF_OK. */
hidden int sm_config_parse(struct sm_config *cfg, const char *text, size_t len,
			   char *err, size_t errlen);
/* Checks that dir/name is safe, reads and parses it (sets cfg->source). */
hidden int sm_config_file(struct sm_config *cfg, const char *dir, const char *name,
			  char *err, size_t errlen);
/* Owned by root (as root's files show here: sm_userns_root_uid) and writable by
 * no one else: the rule for every file the library trusts (contract 2). */
struct stat;
hidden int sm_config_root_owned(const struct stat *st);

#endif
