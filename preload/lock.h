/* SPDX-License-Identifier: Apache-2.0 */
/* The region's lock as a primitive over its bytes (lock.c). */
#ifndef SOFTMIG_LOCK_H
#define SOFTMIG_LOCK_H

#include "softmig.h"

/* A holder that does not let go is taken over (lock.c says why that is safe). */
#define SM_LOCK_SLICE_NS 5000000ULL     /* a holder this long is looked at */
#define SM_LOCK_STUCK_NS 100000000ULL   /* a holder not running: 100 ms */
#define SM_LOCK_MAX_NS 1000000000ULL    /* a holder running: 1 s */

/* Returns 1 when a holder was taken over (its half-done work must be
 * recomputed), else 0. */
hidden int sm_lock_take(void *lock);
hidden void sm_lock_give(void *lock);
hidden void sm_lock_reset_after_fork(void);

#endif
