/* SPDX-License-Identifier: Apache-2.0 */
/* fstat without glibc 2.33's symbol (fstat.c); st is a struct stat. */
#ifndef SOFTMIG_FSTAT_H
#define SOFTMIG_FSTAT_H

#include "softmig.h"

hidden int sm_fstat(int fd, void *st);

#endif
