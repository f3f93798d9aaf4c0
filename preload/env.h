/* SPDX-License-Identifier: Apache-2.0 */
/* The environment, which is hostile (env.c). */
#ifndef SOFTMIG_ENV_H
#define SOFTMIG_ENV_H

#include "softmig.h"

/* secure_getenv: NULL in setuid/setgid programs. */
hidden const char *sm_env_get(const char *name);
/* Whether this process runs setuid/setgid (AT_SECURE). */
hidden int sm_env_secure(void);

#endif
