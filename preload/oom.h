/* SPDX-License-Identifier: Apache-2.0 */
/* ACTIVE_OOM_KILLER=1 (oom.c). */
#ifndef SOFTMIG_OOM_H
#define SOFTMIG_OOM_H

#include "softmig.h"

/* Kills the job's own processes on that GPU (and this one). */
hidden void sm_oom_kill(int ordinal);

#endif
