/* SPDX-License-Identifier: Apache-2.0 */
/* What each allocation cost, for its free (ptrmap.c). */
#ifndef SOFTMIG_PTRMAP_H
#define SOFTMIG_PTRMAP_H

#include "softmig.h"

enum sm_kind { SM_K_MEM = 1, SM_K_HANDLE, SM_K_ARRAY, SM_K_MIPMAP, SM_K_GRAPHNODE };

struct sm_alloc {
	uint64_t key;
	uint64_t size;
	uint64_t owner;   /* graph of a graph memory node */
	int16_t dev;      /* device entry */
	int16_t ordinal;
	uint8_t kind;
};

hidden int sm_ptrmap_put(int kind, uint64_t key, uint64_t size, int dev, int ordinal, uint64_t owner);
hidden int sm_ptrmap_take(int kind, uint64_t key, struct sm_alloc *out);
hidden int sm_ptrmap_take_owned(uint64_t owner, struct sm_alloc *out);
hidden void sm_ptrmap_reset_after_fork(void);

#endif
