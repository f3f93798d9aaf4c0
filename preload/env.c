/* SPDX-License-Identifier: Apache-2.0 */
/* The environment, which is hostile. */
#include <stdlib.h>
#include <sys/auxv.h>

#include "env.h"

hidden int sm_env_secure(void)
{
	return getauxval(AT_SECURE) != 0;
}

/* The environment is hostile: secure_getenv returns NULL in setuid/setgid
 * programs, so they never take limits or paths from their caller. */
hidden const char *sm_env_get(const char *name)
{
	return secure_getenv(name);
}
