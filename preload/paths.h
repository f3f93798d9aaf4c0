/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a job's files lie: its config and region in SM_RUN_DIR, its log in
 * SM_LOG_DIR, the fallbacks of the log, and the region of a process
 * outside Slurm.  The one definition of these names in C; the Go tools'
 * is internal/jobpath, and testdata/paths.tsv holds both to the same
 * names (test/cprog/unit.c runs it here).
 *
 * Every function formats into buf like snprintf and returns 0, or -1 when
 * the path does not fit (buf then holds it cut short).
 */
#ifndef SOFTMIG_PATHS_H
#define SOFTMIG_PATHS_H

#include <stddef.h>

enum sm_job_file {
	SM_FILE_CONF,   /* <jobid>.conf in SM_RUN_DIR, written by root */
	SM_FILE_REGION, /* <jobid>.region in SM_RUN_DIR, unless the config names one */
	SM_FILE_LOG     /* <jobid>.log in SM_LOG_DIR */
};

/* The file's name alone: "<job>.conf", "<job>.region", "<job>.log". */
int sm_paths_name(char *buf, size_t len, enum sm_job_file f, const char *job);
/* The file's path in its built-in directory. */
int sm_paths_job(char *buf, size_t len, enum sm_job_file f, const char *job);
/* Returns 1 and the job id when name is "<job>.conf" with a valid job id. */
int sm_paths_conf_job(const char *name, char *job, size_t len);
/* The job's log when SM_LOG_DIR cannot be had: <slurm_tmpdir>/softmig_<job>.log. */
int sm_paths_tmp_log(char *buf, size_t len, const char *slurm_tmpdir, const char *job);
/* The log of a process in no job: SM_LOG_DIR/pid<pid>.log. */
int sm_paths_pid_log(char *buf, size_t len, int pid);
/*
 * The region of a process without a job config (outside Slurm, or a node
 * without the prolog): <dir>/softmig-<uid>-<job or "nojob">.region, where
 * dir is SLURM_TMPDIR if absolute, else TMPDIR if absolute, and /tmp when
 * the one chosen is relative, unset or longer than 256 characters.  The
 * values are the variables' (NULL: unset).
 */
int sm_paths_local_region(char *buf, size_t len, const char *slurm_tmpdir, const char *tmpdir,
			  unsigned uid, const char *job);

#endif
