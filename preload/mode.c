/*
 * The two words every hook reads first: the library's mode (set once by
 * init.c) and the thread's re-entry depth.  Apart from init.c so that the
 * files init.c calls do not depend on it.
 */
#include "softmig.h"

hidden int sm_mode = SM_PASSIVE;
hidden SM_TLS int sm_depth;
