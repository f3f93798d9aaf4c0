/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The word every hook reads first (with depth.c's): the library's mode,
 * set once by init.c.  Apart from init.c so that the files init.c calls
 * do not depend on it.
 */
#include "mode.h"

hidden int sm_mode = SM_PASSIVE;
