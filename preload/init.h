/* SPDX-License-Identifier: Apache-2.0 */
/* The one-time initialisation (init.c). */
#ifndef SOFTMIG_INIT_H
#define SOFTMIG_INIT_H

#include "softmig.h"

/* Runs the one-time initialisation; returns 1 when the config is loaded,
 * 0 when this thread is already inside the initialisation (re-entry). */
hidden int sm_init(void);

#endif
