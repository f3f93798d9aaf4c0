/* SPDX-License-Identifier: Apache-2.0 */
/* strlcpy (strlcpy.c): copies at most len-1 bytes and a NUL; strlen(src). */
#ifndef SOFTMIG_STRLCPY_H
#define SOFTMIG_STRLCPY_H

#include "softmig.h"

hidden size_t sm_strlcpy(char *dst, const char *src, size_t len);

#endif
