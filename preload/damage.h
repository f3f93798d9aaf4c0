/* SPDX-License-Identifier: Apache-2.0 */
/* Damage to the region file, survived and reported (damage.c). */
#ifndef SOFTMIG_DAMAGE_H
#define SOFTMIG_DAMAGE_H

#include "softmig.h"

enum { SM_DAMAGE_SHORT = 1, SM_DAMAGE_REPLACED = 2, SM_DAMAGE_HEADER = 4, SM_DAMAGE_ENTRY = 8, SM_DAMAGE_NOMEM = 16 };
/* Keeps the region file's descriptor to check its size before each use. */
hidden void sm_damage_watch(int fd);
/* From now on a fault in the mapping at base is survived (NULL: none). */
hidden void sm_damage_catch(void *base);
/* A file that shrank is swapped for private memory: returns what happened
 * to it when this call made the swap (region.c rebuilds), else NULL. */
hidden const char *sm_damage_check(void);
/* Logs a kind of damage, once per process. */
hidden void sm_damage_report(unsigned kind, const char *what, const char *action);

#endif
