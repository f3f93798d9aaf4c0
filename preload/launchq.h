/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launch queue's bound on a device with an SM limit (launchq.c): the
 * gate's slow path calls it for each launch it sees on such a device.
 */
#ifndef SOFTMIG_LAUNCHQ_H
#define SOFTMIG_LAUNCHQ_H

#include <stdint.h>

#include "cuda_abi.h"
#include "softmig.h"

#define SM_LAUNCHQ_MAX 64 /* launches between checkpoints, at most */

/* Before a launch on ordinal o into stream, the thread's count-th: when
 * the thread's checkpoint is due, waits for its previous one and records
 * one.  Returns in how many launches it is due next. */
hidden int sm_launchq_checkpoint(int o, CUstream stream, unsigned int count);

/* When (CLOCK_REALTIME ns, at the earliest now) the work the thread's
 * launches on ordinal o may hold queued is done at the latest, the launch
 * at hand (its count-th) included, at the pace of its last ones (at most
 * 45 ms from now); *per is one launch's.  Both 0 while unknown.  Where the
 * bound is past by, it asks the driver whether the newest checkpoint is
 * done (one event query) for a nearer one.  The gate lets no launch go
 * whose work would run past the job's window. */
hidden uint64_t sm_launchq_done_by(int o, unsigned int count, uint64_t now, uint64_t by, uint64_t *per);

/* The thread stops launching on ordinal o before a window's end, its
 * count-th launch held: a checkpoint is recorded there when the newest is
 * done, so that the gate sees when all it queued is done, not only what
 * came before the newest. */
hidden void sm_launchq_mark(int o, CUstream stream, unsigned int count);

/* The thread waited at the gate of ordinal o after its newest checkpoint:
 * the time to the next is no measure of its launches. */
hidden void sm_launchq_waited(int o);

#endif
