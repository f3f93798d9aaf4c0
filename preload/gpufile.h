/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The files softmig-guard keeps per GPU in the run directory, named by the
 * GPU's UUID (<run dir>/GPU-....<suffix>: the time file, the used file),
 * and the rule a process opens them by (gpufile.c).
 */
#ifndef SOFTMIG_GPUFILE_H
#define SOFTMIG_GPUFILE_H

#include <sys/stat.h>

#include "softmig.h"

/* <run dir>/<GPU-uuid><suffix>; 0, or -1 when it does not fit. */
hidden int sm_gpufile_path(const uint8_t uuid[16], const char *suffix, char *buf, size_t len);

/* path opened read-only if it is the guard's: a regular root-owned file
 * writable only by root (the rule of job configs), not a symbolic link,
 * of exactly size bytes: another size is another format, which the guard
 * may cut to size under a reader's mapping.  The open file
 * (*st its status), or -1 and why.  errno may change. */
hidden int sm_gpufile_open(const char *path, size_t size, struct stat *st, const char **why);

#endif
