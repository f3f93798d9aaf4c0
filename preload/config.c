/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration (contract 2): /run/softmig/<jobid>.conf, then the
 * environment, else passive.  Read once, during sm_init, and read-only
 * from then on: what is enforced on each ordinal is limits.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#include "env.h"
#include "fstat.h"
#include "job.h"
#include "mode.h"
#include "paths.h"
#include "read.h"
#include "request.h"
#include "strlcpy.h"
#include "userns.h"

static struct sm_config parsed;
hidden const struct sm_config *const sm_config = &parsed;

static int any_limit(const struct sm_config *cfg)
{
	int i;

	for (i = 0; i < SM_MAX_DEVICES; i++)
		if (cfg->mem_limit[i] || cfg->sm_limit[i])
			return 1;
	return cfg->oom_killer;
}

/* The uid root's files show as here (sm_userns_root_uid): 0 but in a user
 * namespace, where root is usually unmapped (the overflow uid) and the
 * user's own files may show as 0. */
static int64_t root_uid;

hidden int sm_config_root_owned(const struct stat *st)
{
	return (int64_t)st->st_uid == root_uid && !(st->st_mode & 022);
}

/* The safety rules of contract 2, the same in internal/jobconf/file.go:
 * the directory is a directory (not a symlink), owned by root and not
 * writable by group or others; the file is a regular file (not a symlink),
 * owned by root and not writable by group or others.  A missing directory
 * or file is no config.  Reads dir/name into buf. */
static int read_config(const char *dir, const char *name, char *buf, size_t len, size_t *n,
		       char *err, size_t errlen)
{
	struct stat st;
	int fd, dfd, saved;
	ssize_t r;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		if (errno == ENOENT)
			return SM_CONF_ABSENT;
		if (errno == ELOOP || errno == ENOTDIR)
			snprintf(err, errlen, "%s: not a directory (a symbolic link?)", dir);
		else
			snprintf(err, errlen, "%s: cannot open: %s", dir, strerror(errno));
		return SM_CONF_UNSAFE;
	}
	if (sm_fstat(dfd, &st) != 0 || !sm_config_root_owned(&st)) {
		close(dfd);
		snprintf(err, errlen, "%s: directory must be owned by root and writable only by root (mode 0755)",
			 dir);
		return SM_CONF_UNSAFE;
	}
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	close(dfd);
	if (fd < 0) {
		if (errno == ENOENT)
			return SM_CONF_ABSENT;
		if (errno == ELOOP)
			snprintf(err, errlen, "%s/%s: is a symbolic link", dir, name);
		else
			snprintf(err, errlen, "%s/%s: cannot open: %s", dir, name, strerror(errno));
		return SM_CONF_UNSAFE;
	}
	if (sm_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s/%s: not a regular file", dir, name);
		return SM_CONF_UNSAFE;
	}
	if (!sm_config_root_owned(&st)) {
		close(fd);
		snprintf(err, errlen, "%s/%s: must be owned by root and writable only by root (mode 0644)",
			 dir, name);
		return SM_CONF_UNSAFE;
	}
	r = sm_read_fd(fd, buf, len);
	saved = errno;
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: read: %s", dir, name, strerror(saved));
		return SM_CONF_UNSAFE;
	}
	*n = (size_t)r;
	return SM_CONF_OK;
}

/* A config's text as the library's configuration, or why not (request.c
 * reads the text). */
hidden int sm_config_parse(struct sm_config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
	struct sm_request rq;

	memset(&rq, 0, sizeof(rq));
	if (sm_request_parse(&rq, text, len, err, errlen) != 0)
		return SM_CONF_INVALID;
	if (rq.has_disabled) {
		snprintf(err, errlen, "%s", rq.disabled);
		return SM_CONF_DISABLED;
	}
	sm_request_apply(cfg, &rq);
	return SM_CONF_OK;
}
hidden int sm_config_file(struct sm_config *cfg, const char *dir, const char *name, char *err,
			  size_t errlen)
{
	static char buf[CONF_MAX + 2]; /* one byte more than allowed shows an oversize file */
	char bad[400];
	size_t n = 0;
	int r;

	r = read_config(dir, name, buf, sizeof(buf), &n, err, errlen);
	if (r != SM_CONF_OK)
		return r;
	snprintf(cfg->source, sizeof(cfg->source), "%s/%s", dir, name);
	r = sm_config_parse(cfg, buf, n, bad, sizeof(bad));
	if (r != SM_CONF_OK)
		snprintf(err, errlen, "%s: %s", cfg->source, bad);
	return r;
}

/* A config that slices the GPU (or fails its job closed): what a process
 * of that job's user outside every job must not escape. */
static int slices(const struct sm_request *rq)
{
	int i;

	if (rq->has_disabled)
		return 1;
	for (i = 0; i <= SM_MAX_DEVICES; i++)
		if (rq->has_mem[i] || (rq->has_sm[i] && rq->sm[i] > 0 && rq->sm[i] < 100))
			return 1;
	return 0;
}

/*
 * A process in no job of its own (no job cgroup, no config of its own)
 * must not run unlimited while its user has sliced jobs on this node: a
 * cgroup namespace (unshare -C) hides the job cgroup without privilege.
 * The configs are root's and name their job's user (SOFTMIG_UID); in a
 * user namespace of its own the process's uid means nothing, so there any
 * sliced job on the node counts.  Returns 1 (reason in why) to fail closed.
 * Root in the initial namespace is never held (slurmd, admins' tools).
 */
static int escapes_a_slice(struct sm_why *why, int init_ns)
{
	static char buf[CONF_MAX + 2];
	const size_t len = sizeof(buf);
	char name[SM_JOB_MAX], err[400];
	struct dirent *e;
	struct sm_request rq;
	uid_t uid = getuid();
	DIR *dir;
	size_t n;
	int found = 0;

	if (init_ns && uid == 0)
		return 0;
	if (!(dir = opendir(SM_RUN_DIR)))
		return 0;
	while (!found && (e = readdir(dir)) != NULL) {
		if (!sm_paths_conf_job(e->d_name, name, sizeof(name)))
			continue;
		if (read_config(SM_RUN_DIR, e->d_name, buf, len, &n, err, sizeof(err)) != SM_CONF_OK)
			continue; /* gone, or not root's: not a job root set up */
		memset(&rq, 0, sizeof(rq));
		if (sm_request_parse(&rq, buf, n, err, sizeof(err)) != 0) {
			if (init_ns)
				continue; /* unparsable: whose it is cannot be told */
			found = 1;
		} else if (slices(&rq) && (!init_ns || (rq.has_uid && rq.uid == (uint64_t)uid))) {
			found = 1;
		}
	}
	closedir(dir);
	if (!found)
		return 0;
	if (init_ns)
		snprintf(why->reason, sizeof(why->reason),
			 "user %u has a sliced job (%s) on this node but this process is not in it "
			 "(a new cgroup namespace, a shell outside it, or a job without a GPU); "
			 "run GPU work inside that job",
			 (unsigned)uid, name);
	else
		snprintf(why->reason, sizeof(why->reason),
			 "this process is in a user namespace of its own and in no job, while sliced jobs "
			 "(%s) run on this node; run GPU work inside the job, without unshare -U",
			 name);
	return 1;
}

/* Without a config (testing, nodes without the prolog) the limits are the
 * user's own choice, and so is the region's place. */
static void default_region(struct sm_config *cfg)
{
	sm_paths_local_region(cfg->region_path, sizeof(cfg->region_path), sm_env_get("SLURM_TMPDIR"),
			      sm_env_get("TMPDIR"), (unsigned)getuid(), cfg->job);
}

hidden int sm_config_load(struct sm_why *why)
{
	char name[SM_JOB_MAX + 8], err[400];
	struct sm_config *cfg = &parsed;
	struct sm_request env;
	int r, env_bad, init_ns;

	memset(cfg, 0, sizeof(*cfg));
	memset(why, 0, sizeof(*why));
	cfg->job_uid = -1;
	init_ns = sm_userns_initial();
	root_uid = sm_userns_root_uid(init_ns);
	if (sm_job_from_cgroup(0, cfg->job, sizeof(cfg->job)) == 1) {
		cfg->job_from_cgroup = 1;
	} else if (init_ns) {
		/* In a user namespace of its own a process could name any
		 * job, another user's whole-GPU job too: only here. */
		const char *j = sm_env_get("SLURM_JOB_ID");
		if (j && sm_job_id_valid(j))
			sm_strlcpy(cfg->job, j, sizeof(cfg->job));
	}
	env_bad = sm_request_env(&env, err, sizeof(err), why->var, sizeof(why->var)) != 0;

	if (cfg->job[0]) {
		sm_paths_name(name, sizeof(name), SM_FILE_CONF, cfg->job);
		r = sm_config_file(cfg, SM_RUN_DIR, name, why->reason, sizeof(why->reason));
		if (r != SM_CONF_OK && r != SM_CONF_ABSENT) {
			sm_paths_job(why->path, sizeof(why->path), SM_FILE_CONF, cfg->job);
			why->var[0] = 0;
			return SM_FAILCLOSED;
		}
		if (r == SM_CONF_OK && !cfg->job_from_cgroup && cfg->job_uid >= 0 &&
		    cfg->job_uid != (int64_t)getuid()) {
			/* SLURM_JOB_ID names another user's job: not this one's. */
			char job[SM_JOB_MAX];
			sm_strlcpy(job, cfg->job, sizeof(job));
			memset(cfg, 0, sizeof(*cfg));
			memset(why, 0, sizeof(*why));
			cfg->job_uid = -1;
			sm_strlcpy(cfg->job, job, sizeof(cfg->job));
			r = SM_CONF_ABSENT;
		}
		if (r == SM_CONF_OK) {
			/* A bad environment cannot loosen anything here: ignore it. */
			why->var[0] = 0;
			if (!env_bad)
				sm_request_tighten(cfg, &env);
			/* Inside a job the region is root's choice: the run
			 * dir, never a place the user's environment names. */
			if (!cfg->region_path[0])
				sm_paths_job(cfg->region_path, sizeof(cfg->region_path), SM_FILE_REGION, cfg->job);
			return any_limit(cfg) ? SM_ACTIVE : SM_PASSIVE;
		}
	}
	if (escapes_a_slice(why, init_ns))
		return SM_FAILCLOSED;
	if (env_bad) {
		snprintf(why->reason, sizeof(why->reason), "%s", err);
		return SM_FAILCLOSED;
	}
	sm_strlcpy(cfg->source, "environment", sizeof(cfg->source));
	sm_request_apply(cfg, &env);
	default_region(cfg);
	return any_limit(cfg) ? SM_ACTIVE : SM_PASSIVE;
}
