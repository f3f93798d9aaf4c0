/* SPDX-License-Identifier: Apache-2.0 */
/* What softmig-install asks a candidate library (version.c). */
#ifndef SOFTMIG_VERSION_H
#define SOFTMIG_VERSION_H

#include "softmig.h"

SOFTMIG_EXPORT extern const char softmig_build_info[];
SOFTMIG_EXPORT const char *softmig_version(void);

#endif
