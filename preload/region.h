/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's shared region (region.c): the mapping and its header, this
 * process's entry, and the lock, which puts back what a holder that was
 * taken over left half-done.
 */
#ifndef SOFTMIG_REGION_H
#define SOFTMIG_REGION_H

#include "region_abi.h"
#include "softmig.h"

extern hidden struct sm_region *sm_region;   /* NULL until attached */
extern hidden int sm_region_entry;           /* this process's entry, -1 none */
extern hidden pid_t sm_region_entry_pid;     /* the pid it was taken for (fork) */

/* Maps the region of the config (mode.h: why says why not); 0 ok, -1. */
struct sm_why;
hidden int sm_region_attach(struct sm_why *why);
/* The device entries this process uses, put back by a rebuild. */
hidden void sm_region_know_dev(int d, const uint8_t uuid[16]);
hidden int sm_region_find_dev(const uint8_t uuid[16]);
/* Rewrites the header of r (zeroed, overwritten, or new private memory) and
 * puts back this process's entry and the devices it knows. */
hidden void sm_region_rebuild(struct sm_region *r);
/* Under the lock: the header is intact and this process's entry its own. */
hidden void sm_region_verify(void);
/* Before touching the mapping: a file that shrank is swapped for private
 * memory (damage.c), so that nothing faults on it. */
hidden void sm_region_ensure(void);

/* The region lock never fails; a holder that does not let go is taken
 * over (lock.c says why that is safe). */
hidden int sm_region_lock(void);
hidden void sm_region_unlock(void);
/* Under the lock: the devices' sums again from the process entries; the
 * entry of a dead process cleared; every dead process's entry cleared. */
hidden void sm_region_retotal(void);
hidden void sm_region_forget(struct sm_proc *p);
hidden void sm_region_cleanup_dead(void);

#endif
