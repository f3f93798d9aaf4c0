/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a job config's text and the environment ask for (request.c), for
 * config.c, which knows where a config comes from and whether it is safe.
 */
#ifndef SOFTMIG_REQUEST_H
#define SOFTMIG_REQUEST_H

#include "config.h"

#define CONF_MAX (64 * 1024) /* bytes in a config file, at most */

/* What a config or the environment asked for; index SM_MAX_DEVICES is
 * the unsuffixed key. */
struct sm_request {
	int has_mem[SM_MAX_DEVICES + 1];
	uint64_t mem[SM_MAX_DEVICES + 1];
	int has_sm[SM_MAX_DEVICES + 1];
	uint64_t sm[SM_MAX_DEVICES + 1];
	int has_slot[SM_MAX_DEVICES + 1];
	uint64_t slot[SM_MAX_DEVICES + 1][2];
	int has_gpu[SM_MAX_DEVICES + 1];
	int has_slice[SM_MAX_DEVICES + 1];
	uint64_t gpu[SM_MAX_DEVICES + 1];
	int has_oom, has_log, has_region, has_disabled, has_uid, has_policy;
	uint64_t oom, log, uid;
	char region[512];
	char disabled[256];
};

/* Parses a config's text; err says why on -1. */
hidden int sm_request_parse(struct sm_request *rq, const char *text, size_t len, char *err, size_t errlen);
/* Reads the environment's limits; names the first bad variable in err. */
hidden int sm_request_env(struct sm_request *rq, char *err, size_t errlen, char *var, size_t varlen);
/* A config's request as the base configuration. */
hidden void sm_request_apply(struct sm_config *cfg, const struct sm_request *rq);
/* The environment on top of a config: it may only tighten. */
hidden void sm_request_tighten(struct sm_config *cfg, const struct sm_request *rq);

#endif
