/* SPDX-License-Identifier: Apache-2.0 */
/* The thread's re-entry depth: above 0 while the library itself calls the
 * driver or NVML, whose hooks then pass straight through. */
#include "depth.h"

hidden SM_TLS int sm_depth;
