/* SPDX-License-Identifier: Apache-2.0 */
/* The thread's re-entry depth (depth.c). */
#ifndef SOFTMIG_DEPTH_H
#define SOFTMIG_DEPTH_H

#include "softmig.h"

extern hidden SM_TLS int sm_depth; /* >0 while inside the library */

#endif
