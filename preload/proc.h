/* SPDX-License-Identifier: Apache-2.0 */
/* A process as /proc shows it (proc.c). */
#ifndef SOFTMIG_PROC_H
#define SOFTMIG_PROC_H

#include "softmig.h"

/* State and start time (clock ticks since boot) of pid; -1 unreadable. */
hidden int sm_proc_stat(pid_t pid, char *state, uint64_t *start);
hidden uint64_t sm_proc_start_time(pid_t pid); /* 0 unknown */
/* 1 when pid runs (not a zombie) and, if start_time, is that process. */
hidden int sm_proc_alive(pid_t pid, uint64_t start_time);
/* Reads a small procfs file (not one bound over it); -1 on failure. */
hidden ssize_t sm_proc_read(const char *path, char *buf, size_t len);

#endif
