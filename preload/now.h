/* SPDX-License-Identifier: Apache-2.0 */
/* The monotonic clocks, in nanoseconds (now.c). */
#ifndef SOFTMIG_NOW_H
#define SOFTMIG_NOW_H

#include "softmig.h"

hidden uint64_t sm_now_ns(void);          /* CLOCK_MONOTONIC */
hidden uint64_t sm_now_coarse_ns(void);   /* CLOCK_MONOTONIC_COARSE */

#endif
