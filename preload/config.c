/*
 * Configuration (contract 2): /var/run/softmig/<jobid>.conf, then the
 * environment, else passive.  Read once, during sm_init.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "softmig.h"

hidden struct sm_config sm_cfg;

#define CONF_MAX (64 * 1024)
#define LINE_MAX_LEN 4096

enum { K_MEM, K_SM, K_OOM, K_LOG, K_REGION, K_DISABLED, K_SLOT, K_GPU, K_NKEYS };
static const char *const key_names[K_NKEYS] = {
	"CUDA_DEVICE_MEMORY_LIMIT", "CUDA_DEVICE_SM_LIMIT", "ACTIVE_OOM_KILLER",
	"SOFTMIG_LOG_LEVEL", "SOFTMIG_REGION", "SOFTMIG_DISABLED",
	"SOFTMIG_SM_SLOT", "SOFTMIG_GPU",
};

/* Keys that take a device suffix "_<i>" (SOFTMIG_GPU only with one). */
#define PER_DEVICE(k) ((k) == K_MEM || (k) == K_SM || (k) == K_SLOT || (k) == K_GPU)

/* What a config or the environment asked for; index SM_MAX_DEVICES is
 * the unsuffixed key. */
struct request {
	int has_mem[SM_MAX_DEVICES + 1];
	uint64_t mem[SM_MAX_DEVICES + 1];
	int has_sm[SM_MAX_DEVICES + 1];
	uint64_t sm[SM_MAX_DEVICES + 1];
	int has_slot[SM_MAX_DEVICES + 1];
	int has_gpu[SM_MAX_DEVICES + 1];
	uint64_t slot[SM_MAX_DEVICES + 1][2];
	int has_oom, has_log, has_region, has_disabled;
	uint64_t oom, log;
	char region[512];
	char disabled[256];
};

static void trim(char **s, char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

/* Splits "NAME" or "NAME_<i>" into a key and a device index
 * (SM_MAX_DEVICES for none); -1 if unknown. */
static int key_of(const char *k, int *idx)
{
	int i;

	for (i = 0; i < K_NKEYS; i++) {
		size_t n = strlen(key_names[i]);
		uint64_t v;
		if (strncmp(k, key_names[i], n) != 0)
			continue;
		if (k[n] == 0 && i != K_GPU) {
			*idx = SM_MAX_DEVICES;
			return i;
		}
		if (PER_DEVICE(i) && k[n] == '_' &&
		    sm_parse_uint(k + n + 1, SM_MAX_DEVICES - 1, &v) == 0 && k[n + 1] != 0 &&
		    !(k[n + 1] == '0' && k[n + 2] != 0)) {
			*idx = (int)v;
			return i;
		}
	}
	return -1;
}

/* "A-B[,C-D...]": ascending, disjoint, unmerged-free percent ranges [A,B)
 * of the compute period, at most SM_SLOT_RANGES, as a 100-bit mask. */
static const char *parse_slot(const char *val, uint64_t mask[2])
{
	const char *p = val;
	uint64_t a, b, last = 0;
	int n = 0, first = 1;
	char num[4];

	mask[0] = mask[1] = 0;
	for (;;) {
		size_t len = strspn(p, "0123456789");
		if (len == 0 || len >= sizeof(num) || (len > 1 && *p == '0'))
			goto bad;
		memcpy(num, p, len);
		num[len] = 0;
		if (sm_parse_uint(num, 100, &a) != 0 || p[len] != '-')
			goto bad;
		p += len + 1;
		len = strspn(p, "0123456789");
		if (len == 0 || len >= sizeof(num) || (len > 1 && *p == '0'))
			goto bad;
		memcpy(num, p, len);
		num[len] = 0;
		if (sm_parse_uint(num, 100, &b) != 0 || a >= b || (!first && a <= last))
			goto bad;
		p += len;
		if (++n > SM_SLOT_RANGES)
			return "more than 8 ranges";
		for (; a < b; a++)
			mask[a / 64] |= 1ULL << (a % 64);
		last = b;
		first = 0;
		if (*p == 0)
			return NULL;
		if (*p++ != ',')
			goto bad;
	}
bad:
	return "not ascending, disjoint percent ranges A-B[,C-D...] with 0 <= A < B <= 100 (example: 25-50)";
}

/* Sets one key; returns NULL or an error text. */
static const char *set_key(struct request *rq, int key, int idx, const char *val)
{
	uint64_t v;

	switch (key) {
	case K_MEM:
		if (rq->has_mem[idx])
			return "given twice";
		if (sm_parse_size(val, &v) != 0 || v == 0)
			return "not a size above zero (examples: 12g, 12288M, 512k)";
		rq->has_mem[idx] = 1;
		rq->mem[idx] = v;
		return NULL;
	case K_SM:
		if (rq->has_sm[idx])
			return "given twice";
		if (sm_parse_uint(val, 100, &v) != 0)
			return "not a percentage 0-100";
		rq->has_sm[idx] = 1;
		rq->sm[idx] = v;
		return NULL;
	case K_OOM:
		if (rq->has_oom)
			return "given twice";
		if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
			return "must be 0 or 1";
		rq->has_oom = 1;
		rq->oom = val[0] == '1';
		return NULL;
	case K_LOG:
		if (rq->has_log)
			return "given twice";
		if (sm_parse_uint(val, 4, &v) != 0)
			return "must be 0-4";
		rq->has_log = 1;
		rq->log = v;
		return NULL;
	case K_REGION:
		if (rq->has_region)
			return "given twice";
		if (val[0] != '/' || strstr(val, "/../") || strlen(val) >= sizeof(rq->region))
			return "must be an absolute path without /../";
		rq->has_region = 1;
		sm_strlcpy(rq->region, val, sizeof(rq->region));
		return NULL;
	case K_SLOT:
		if (rq->has_slot[idx])
			return "given twice";
		rq->has_slot[idx] = 1;
		return parse_slot(val, rq->slot[idx]);
	case K_GPU:
		/* Slurm's index of the GPU, for softmig-conf's slot allocation. */
		if (rq->has_gpu[idx])
			return "given twice";
		rq->has_gpu[idx] = 1;
		return sm_parse_uint(val, 1023, &v) != 0 ? "not a GPU index 0-1023" : NULL;
	case K_DISABLED:
		if (rq->has_disabled)
			return "given twice";
		rq->has_disabled = 1;
		sm_strlcpy(rq->disabled, *val ? val : "disabled by the administrator", sizeof(rq->disabled));
		return NULL;
	}
	return "unknown key";
}

static int parse_text(struct request *rq, const char *text, size_t len, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	int lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char line[LINE_MAX_LEN + 1], *s, *e, *eq, *ks, *ke, *vs;
		const char *why;
		int key, idx;

		lineno++;
		if ((size_t)(le - p) > LINE_MAX_LEN) {
			snprintf(err, errlen, "line %d: longer than %d bytes", lineno, LINE_MAX_LEN);
			return -1;
		}
		if (memchr(p, 0, (size_t)(le - p))) {
			snprintf(err, errlen, "line %d: contains a NUL byte", lineno);
			return -1;
		}
		memcpy(line, p, (size_t)(le - p));
		line[le - p] = 0;
		p = nl ? nl + 1 : end;
		s = line;
		e = line + strlen(line);
		trim(&s, &e);
		*e = 0;
		if (*s == 0 || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "line %d: expected KEY=VALUE", lineno);
			return -1;
		}
		ks = s;
		ke = eq;
		trim(&ks, &ke);
		*ke = 0;
		vs = eq + 1;
		e = vs + strlen(vs);
		trim(&vs, &e);
		*e = 0;
		key = key_of(ks, &idx);
		if (key < 0) {
			snprintf(err, errlen, "line %d: unknown key \"%.64s\"", lineno, ks);
			return -1;
		}
		why = set_key(rq, key, idx, vs);
		if (why) {
			snprintf(err, errlen, "line %d: %.64s=%.64s: %s", lineno, ks, vs, why);
			return -1;
		}
	}
	return 0;
}

/* Applies a request as the base configuration. */
static void apply(struct sm_config *cfg, const struct request *rq)
{
	int i, k;

	for (i = 0; i < SM_MAX_DEVICES; i++) {
		if (rq->has_mem[i])
			cfg->mem_limit[i] = rq->mem[i];
		else if (rq->has_mem[SM_MAX_DEVICES])
			cfg->mem_limit[i] = rq->mem[SM_MAX_DEVICES];
		if (rq->has_sm[i])
			cfg->sm_limit[i] = (int)rq->sm[i];
		else if (rq->has_sm[SM_MAX_DEVICES])
			cfg->sm_limit[i] = (int)rq->sm[SM_MAX_DEVICES];
		if (cfg->sm_limit[i] == 100)
			cfg->sm_limit[i] = 0;
		k = rq->has_slot[i] ? i : SM_MAX_DEVICES;
		if (rq->has_slot[k]) {
			cfg->sm_slot[i][0] = rq->slot[k][0];
			cfg->sm_slot[i][1] = rq->slot[k][1];
		}
	}
	if (rq->has_oom)
		cfg->oom_killer = (int)rq->oom;
	if (rq->has_log)
		cfg->log_level = (int)rq->log;
	if (rq->has_region)
		sm_strlcpy(cfg->region_path, rq->region, sizeof(cfg->region_path));
}

/* Applies the environment on top of a config: it may only tighten (a time
 * slot is the config's alone: another one would collide with other jobs). */
static void tighten(struct sm_config *cfg, const struct request *rq)
{
	int i;

	for (i = 0; i < SM_MAX_DEVICES; i++) {
		int k = rq->has_mem[i] ? i : SM_MAX_DEVICES;
		if (rq->has_mem[k] && (cfg->mem_limit[i] == 0 || rq->mem[k] < cfg->mem_limit[i]))
			cfg->mem_limit[i] = rq->mem[k];
		k = rq->has_sm[i] ? i : SM_MAX_DEVICES;
		if (rq->has_sm[k] && rq->sm[k] > 0 && rq->sm[k] < 100 &&
		    (cfg->sm_limit[i] == 0 || (int)rq->sm[k] < cfg->sm_limit[i]))
			cfg->sm_limit[i] = (int)rq->sm[k];
	}
	if (rq->has_oom && rq->oom)
		cfg->oom_killer = 1;
	if (rq->has_log)
		cfg->log_level = (int)rq->log;
}

hidden int sm_config_parse(struct sm_config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
	struct request rq;

	memset(&rq, 0, sizeof(rq));
	if (parse_text(&rq, text, len, err, errlen) != 0)
		return -1;
	if (rq.has_disabled) {
		snprintf(err, errlen, "%s", rq.disabled);
		return -1;
	}
	apply(cfg, &rq);
	return 0;
}

/* Reads the environment's limits; names the first bad variable in err. */
static int env_request(struct request *rq, char *err, size_t errlen)
{
	static const int keys[] = { K_MEM, K_SM, K_OOM, K_LOG, K_SLOT };
	char name[64];
	size_t k;
	int i;

	memset(rq, 0, sizeof(*rq));
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (i = 0; i <= SM_MAX_DEVICES; i++) {
			const char *v, *why;
			if (i < SM_MAX_DEVICES && !PER_DEVICE(keys[k]))
				continue;
			if (i < SM_MAX_DEVICES)
				snprintf(name, sizeof(name), "%s_%d", key_names[keys[k]], i);
			else
				snprintf(name, sizeof(name), "%s", key_names[keys[k]]);
			v = sm_getenv(name);
			if (!v)
				continue;
			why = set_key(rq, keys[k], i, v);
			if (why) {
				snprintf(err, errlen, "environment variable %s=\"%.64s\": %s", name, v, why);
				return -1;
			}
		}
	}
	return 0;
}

static int any_limit(const struct sm_config *cfg)
{
	int i;

	for (i = 0; i < SM_MAX_DEVICES; i++)
		if (cfg->mem_limit[i] || cfg->sm_limit[i])
			return 1;
	return cfg->oom_killer;
}

/* 0: safe and read into buf; 1: no config; -1: unsafe/unreadable (err). */
static int read_config(const char *path, char *buf, size_t len, size_t *n, char *err, size_t errlen)
{
	struct stat st;
	int fd, dfd, saved;
	ssize_t r;

	dfd = open(SM_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: cannot open: %s", SM_RUN_DIR, strerror(errno));
		return -1;
	}
	if (sm_fstat(dfd, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		close(dfd);
		snprintf(err, errlen, "%s: directory must be owned by root and writable only by root",
			 SM_RUN_DIR);
		return -1;
	}
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	close(dfd);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		if (errno == ELOOP)
			snprintf(err, errlen, "%s/%s: is a symbolic link", SM_RUN_DIR, path);
		else
			snprintf(err, errlen, "%s/%s: cannot open: %s", SM_RUN_DIR, path, strerror(errno));
		return -1;
	}
	if (sm_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s/%s: not a regular file", SM_RUN_DIR, path);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		snprintf(err, errlen, "%s/%s: must be owned by root and writable only by root (mode 0644)",
			 SM_RUN_DIR, path);
		return -1;
	}
	if ((size_t)st.st_size >= len) {
		close(fd);
		snprintf(err, errlen, "%s/%s: larger than %zu bytes", SM_RUN_DIR, path, len - 1);
		return -1;
	}
	r = sm_read_fd(fd, buf, len);
	saved = errno;
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: read: %s", SM_RUN_DIR, path, strerror(saved));
		return -1;
	}
	*n = (size_t)r;
	return 0;
}

static void default_region(struct sm_config *cfg)
{
	const char *dir = sm_getenv("SLURM_TMPDIR");

	if (!dir || dir[0] != '/')
		dir = sm_getenv("TMPDIR");
	if (!dir || dir[0] != '/' || strlen(dir) > 256)
		dir = "/tmp";
	snprintf(cfg->region_path, sizeof(cfg->region_path), "%s/softmig-%u-%s.region", dir,
		 (unsigned)getuid(), cfg->job[0] ? cfg->job : "nojob");
}

hidden int sm_config_load(struct sm_config *cfg)
{
	static char buf[CONF_MAX + 1];
	char name[SM_JOB_MAX + 8], err[400];
	struct request env;
	size_t n = 0;
	int r, env_bad;

	memset(cfg, 0, sizeof(*cfg));
	if (sm_job_from_cgroup(0, cfg->job, sizeof(cfg->job)) == 1) {
		cfg->job_from_cgroup = 1;
	} else {
		const char *j = sm_getenv("SLURM_JOB_ID");
		if (j && sm_job_id_valid(j))
			sm_strlcpy(cfg->job, j, sizeof(cfg->job));
	}
	env_bad = env_request(&env, err, sizeof(err)) != 0;

	if (cfg->job[0]) {
		snprintf(name, sizeof(name), "%s.conf", cfg->job);
		r = read_config(name, buf, sizeof(buf), &n, err, sizeof(err));
		if (r < 0) {
			snprintf(cfg->fail_reason, sizeof(cfg->fail_reason), "%s", err);
			return SM_FAILCLOSED;
		}
		if (r == 0) {
			snprintf(cfg->source, sizeof(cfg->source), "%s/%s", SM_RUN_DIR, name);
			if (sm_config_parse(cfg, buf, n, err, sizeof(err)) != 0) {
				snprintf(cfg->fail_reason, sizeof(cfg->fail_reason), "%s: %s", cfg->source, err);
				return SM_FAILCLOSED;
			}
			/* A bad environment cannot loosen anything here: ignore it. */
			if (!env_bad)
				tighten(cfg, &env);
			if (!cfg->region_path[0])
				default_region(cfg);
			return any_limit(cfg) ? SM_ACTIVE : SM_PASSIVE;
		}
	}
	if (env_bad) {
		snprintf(cfg->fail_reason, sizeof(cfg->fail_reason), "%s", err);
		return SM_FAILCLOSED;
	}
	sm_strlcpy(cfg->source, "environment", sizeof(cfg->source));
	apply(cfg, &env);
	default_region(cfg);
	return any_limit(cfg) ? SM_ACTIVE : SM_PASSIVE;
}
