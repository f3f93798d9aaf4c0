/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a job config's text and the environment say (contract 2): the keys,
 * their values and the rules for each; and how the two combine (the
 * environment may only tighten).  Safety of the file is config.c's.
 */
#include <stdio.h>
#include <string.h>

#include "request.h"

#include "env.h"
#include "parse.h"
#include "slot.h"
#include "strlcpy.h"

#define LINE_MAX_LEN 4096

enum { K_MEM, K_SM, K_OOM, K_LOG, K_REGION, K_DISABLED, K_SLOT, K_GPU, K_UID, K_POLICY, K_SLICE, K_NKEYS };
static const char *const key_names[K_NKEYS] = {
	"CUDA_DEVICE_MEMORY_LIMIT", "CUDA_DEVICE_SM_LIMIT", "ACTIVE_OOM_KILLER",
	"SOFTMIG_LOG_LEVEL", "SOFTMIG_REGION", "SOFTMIG_DISABLED",
	"SOFTMIG_SM_SLOT", "SOFTMIG_GPU", "SOFTMIG_UID", "SOFTMIG_TIME_POLICY", "SOFTMIG_SLICE",
};

/* Keys that take a device suffix "_<i>" (SOFTMIG_GPU and SOFTMIG_SLICE
 * only with one). */
#define PER_DEVICE(k) ((k) == K_MEM || (k) == K_SM || (k) == K_SLOT || (k) == K_GPU || (k) == K_SLICE)
#define DEVICE_ONLY(k) ((k) == K_GPU || (k) == K_SLICE)

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
		if (k[n] == 0 && !DEVICE_ONLY(i)) {
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

static int slice_name(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 64)
		return 0;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		      strchr("._-:/", *v)))
			return 0;
	return 1;
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

/* What Go's filepath.Clean leaves unchanged: "/" or "/a/b", without
 * empty, "." or ".." components and without a trailing slash. */
static int clean_abs_path(const char *p)
{
	const char *c;

	if (p[0] != '/')
		return 0;
	if (p[1] == 0)
		return 1;
	for (c = p + 1;; ) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (!e)
			return 1;
		c = e + 1;
	}
}

/* Sets one key; returns NULL or an error text. */
static const char *set_key(struct sm_request *rq, int key, int idx, const char *val)
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
		if (!clean_abs_path(val) || strlen(val) >= sizeof(rq->region))
			return "must be a clean absolute path (no //, /./, /../, trailing /) under 512 bytes";
		rq->has_region = 1;
		sm_strlcpy(rq->region, val, sizeof(rq->region));
		return NULL;
	case K_SLOT:
		if (rq->has_slot[idx])
			return "given twice";
		rq->has_slot[idx] = 1;
		return parse_slot(val, rq->slot[idx]);
	case K_GPU:
		/* Slurm's index of the GPU: the limits of ordinal idx follow
		 * that GPU wherever CUDA_VISIBLE_DEVICES puts it. */
		if (rq->has_gpu[idx])
			return "given twice";
		if (sm_parse_uint(val, 1023, &v) != 0)
			return "not a GPU index 0-1023";
		rq->has_gpu[idx] = 1;
		rq->gpu[idx] = v;
		return NULL;
	case K_SLICE:
		/* The slice's name (l40s.4), for softmig-guard's metrics. */
		if (rq->has_slice[idx])
			return "given twice";
		if (!slice_name(val))
			return "not a slice name (letters, digits, '.', '_', '-', ':', '/'; 1 to 64)";
		rq->has_slice[idx] = 1;
		return NULL;
	case K_UID:
		/* The job's user: that user's processes outside any job fail closed. */
		if (rq->has_uid)
			return "given twice";
		if (sm_parse_uint(val, 4294967294ULL, &v) != 0)
			return "not a user id";
		rq->has_uid = 1;
		rq->uid = v;
		return NULL;
	case K_POLICY:
		/* For softmig-guard, the time authority (cap or lend); the
		 * library follows whatever gates it publishes. */
		if (rq->has_policy)
			return "given twice";
		if (strcmp(val, "cap") != 0 && strcmp(val, "lend") != 0)
			return "must be cap or lend";
		rq->has_policy = 1;
		return NULL;
	case K_DISABLED:
		if (rq->has_disabled)
			return "given twice";
		if (!*val)
			return "empty reason (say why the job has no GPU)";
		rq->has_disabled = 1;
		sm_strlcpy(rq->disabled, val, sizeof(rq->disabled));
		return NULL;
	}
	return "unknown key";
}

hidden int sm_request_parse(struct sm_request *rq, const char *text, size_t len, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	int lineno = 0;

	if (len > CONF_MAX) {
		snprintf(err, errlen, "larger than %d bytes", CONF_MAX);
		return -1;
	}
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
hidden void sm_request_apply(struct sm_config *cfg, const struct sm_request *rq)
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
		if (rq->has_gpu[i])
			cfg->gpu_index[i] = (int)rq->gpu[i] + 1;
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
	if (rq->has_uid)
		cfg->job_uid = (int64_t)rq->uid;
}

/* Applies the environment on top of a config: it may only tighten (a time
 * slot is the config's alone: another one would collide with other jobs). */
hidden void sm_request_tighten(struct sm_config *cfg, const struct sm_request *rq)
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

/* Reads the environment's limits; names the first bad variable in err. */
hidden int sm_request_env(struct sm_request *rq, char *err, size_t errlen, char *var, size_t varlen)
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
			v = sm_env_get(name);
			if (!v)
				continue;
			why = set_key(rq, keys[k], i, v);
			if (why) {
				snprintf(err, errlen, "environment variable %s=\"%.64s\": %s", name, v, why);
				sm_strlcpy(var, name, varlen);
				return -1;
			}
		}
	}
	return 0;
}

