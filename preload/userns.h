/* SPDX-License-Identifier: Apache-2.0 */
/* The user namespace this process runs in (userns.c). */
#ifndef SOFTMIG_USERNS_H
#define SOFTMIG_USERNS_H

#include "softmig.h"

/* 1 in the initial user namespace, else 0. */
hidden int sm_userns_initial(void);
/* The uid root's files show as here (initial: sm_userns_initial()); -1
 * unknown. */
hidden int64_t sm_userns_root_uid(int initial);

#endif
