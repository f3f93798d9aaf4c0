/*
 * The launch queue's bound on a device with an SM limit (launchq.c): the
 * gate's slow path calls it for each launch it sees on such a device.
 */
#ifndef SOFTMIG_LAUNCHQ_H
#define SOFTMIG_LAUNCHQ_H

#include "cuda_abi.h"
#include "softmig.h"

#define SM_LAUNCHQ_MAX 64 /* launches between checkpoints, at most */

/* Before a launch on ordinal o into stream, the thread's count-th: when
 * the thread's checkpoint is due, waits for its previous one and records
 * one.  Returns in how many launches it is due next. */
hidden int sm_launchq_checkpoint(int o, CUstream stream, unsigned int count);

#endif
