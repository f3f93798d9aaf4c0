/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's shared region (contract 4, layout in region_abi.h): the
 * mapping and its init protocol, the header and its repair after damage,
 * and the lock, which puts back what a holder that was taken over left
 * half-done.  Taking and giving back entries is entries.c's, what the
 * entries hold (bytes reserved, context memory, NVML's numbers) ledger.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "region.h"

#include "config.h"
#include "damage.h"
#include "fstat.h"
#include "lock.h"
#include "mode.h"
#include "pidns.h"
#include "proc.h"
#include "strlcpy.h"

hidden struct sm_region *sm_region;
hidden int sm_region_entry = -1;
hidden pid_t sm_region_entry_pid;     /* the pid sm_region_entry was taken for */

#define LOCK(r) ((pthread_mutex_t *)(void *)(r)->lock)
_Static_assert(sizeof(pthread_mutex_t) <= 64, "pthread_mutex_t fits the region's lock field");

static void fail(struct sm_why *why, const char *what)
{
	snprintf(why->reason, sizeof(why->reason), "shared region %s: %s", sm_config->region_path, what);
	sm_strlcpy(why->path, sm_config->region_path, sizeof(why->path));
}

static int init_lock(struct sm_region *r)
{
	pthread_mutexattr_t a;
	int e;

	if ((e = pthread_mutexattr_init(&a)) != 0)
		return e;
	if ((e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
	    (e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0)
		e = pthread_mutex_init(LOCK(r), &a);
	pthread_mutexattr_destroy(&a);
	return e;
}

static void write_header(struct sm_region *r)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	r->created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	sm_strlcpy(r->job, sm_config->job, sizeof(r->job));
	r->size = SM_REGION_SIZE;
	r->version = SM_REGION_VERSION;
	r->magic = SM_REGION_MAGIC;
	__atomic_store_n(&r->init_state, SM_INIT_DONE, __ATOMIC_RELEASE);
}

/* Brings the mapped file to SM_INIT_DONE; see region_abi.h. */
static int init_protocol(struct sm_region *r, struct sm_why *why)
{
	struct timespec ts;
	int i;

	for (i = 0; i < 5000; i++) {
		uint32_t s = __atomic_load_n(&r->init_state, __ATOMIC_ACQUIRE);
		uint32_t none = SM_INIT_NONE, running = SM_INIT_RUNNING;

		if (s == SM_INIT_DONE) {
			if (r->magic != SM_REGION_MAGIC || r->version != SM_REGION_VERSION ||
			    r->size != SM_REGION_SIZE) {
				fail(why, "unknown layout (another SoftMig version, or damaged); "
					  "ask your administrators");
				return -1;
			}
			return 0;
		}
		if (s == SM_INIT_NONE &&
		    __atomic_compare_exchange_n(&r->init_state, &none, SM_INIT_RUNNING, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			r->init_pid = (int32_t)getpid();
			if (init_lock(r) != 0) {
				__atomic_store_n(&r->init_state, SM_INIT_NONE, __ATOMIC_RELEASE);
				fail(why, "cannot initialise its lock");
				return -1;
			}
			write_header(r);
			return 0;
		}
		if (s == SM_INIT_RUNNING && r->init_pid > 0 && !sm_proc_alive(r->init_pid, 0))
			__atomic_compare_exchange_n(&r->init_state, &running, SM_INIT_NONE, 0, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE);
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000;
		nanosleep(&ts, NULL);
	}
	fail(why, "stuck in initialisation");
	return -1;
}

hidden int sm_region_attach(struct sm_why *why)
{
	struct stat st;
	void *p;
	int fd, tries;

	if (sm_region)
		return 0;
	for (tries = 0; tries < 3; tries++) {
		fd = open(sm_config->region_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0 || errno != ENOENT)
			break;
		fd = open(sm_config->region_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		fail(why, errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (sm_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		fail(why, "not a regular file");
		return -1;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022)) {
		close(fd);
		fail(why, "owned by another user or writable by others");
		return -1;
	}
	if ((uint64_t)st.st_size < SM_REGION_SIZE && ftruncate(fd, (off_t)SM_REGION_SIZE) != 0) {
		close(fd);
		fail(why, strerror(errno));
		return -1;
	}
	/* Empty is new (the prolog creates it so); anything else short was cut. */
	if (st.st_size > 0 && (uint64_t)st.st_size < SM_REGION_SIZE)
		sm_damage_report(SM_DAMAGE_SHORT, "truncated", "grown back, checked against NVML");
	p = mmap(NULL, SM_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		fail(why, strerror(errno));
		return -1;
	}
	sm_damage_catch(p);
	if (init_protocol(p, why) != 0) {
		sm_damage_catch(NULL);
		close(fd);
		munmap(p, SM_REGION_SIZE);
		return -1;
	}
	sm_region = p;
	sm_damage_watch(fd); /* its size is checked before each use */
	return 0;
}

/* The devices this process uses, by device entry: put back into a region
 * that was zeroed or replaced by private memory. */
static uint8_t known_dev[SM_MAX_DEVICES][16];

hidden void sm_region_know_dev(int d, const uint8_t uuid[16])
{
	memcpy(known_dev[d], uuid, 16);
}

hidden void sm_region_rebuild(struct sm_region *r)
{
	static const uint8_t zero[16];
	int d;

	write_header(r);
	for (d = 0; d < SM_MAX_DEVICES; d++) {
		if (memcmp(known_dev[d], zero, 16) == 0 || memcmp(r->devs[d].uuid, known_dev[d], 16) == 0)
			continue;
		memcpy(r->devs[d].uuid, known_dev[d], 16);
		r->ndevs++;
		r->devs[d].last_check_ns = 0; /* NVML's numbers at the next allocation */
	}
	if (sm_region_entry >= 0 && sm_region_entry_pid == getpid() && r->procs[sm_region_entry].pid == 0) {
		r->procs[sm_region_entry].pid = (int32_t)sm_region_entry_pid;
		r->procs[sm_region_entry].start_time = sm_proc_start_time(sm_region_entry_pid);
		r->procs[sm_region_entry].pidns = sm_pidns_tag();
		if ((uint32_t)sm_region_entry >= r->nprocs)
			r->nprocs = (uint32_t)sm_region_entry + 1;
	}
}

hidden void sm_region_verify(void)
{
	struct sm_region *r = sm_region;
	uint32_t i;

	if (r->magic != SM_REGION_MAGIC || r->version != SM_REGION_VERSION || r->size != SM_REGION_SIZE ||
	    __atomic_load_n(&r->init_state, __ATOMIC_ACQUIRE) != SM_INIT_DONE) {
		sm_region_rebuild(r);
		sm_damage_report(SM_DAMAGE_HEADER, "zeroed or overwritten", "rebuilt, checked against NVML");
	}
	/* sm_region_entry is reset in a fork child: an entry here is this process's. */
	if (sm_region_entry < 0 || r->procs[sm_region_entry].pid == (int32_t)sm_region_entry_pid)
		return;
	/* This process's entry was wiped or given away: take it again, or
	 * another one.  What it had counted comes back from NVML. */
	if (r->procs[sm_region_entry].pid == 0) {
		sm_region_rebuild(r);
	} else {
		for (i = 0; i < SM_MAX_PROCS && r->procs[i].pid; i++)
			;
		if (i == SM_MAX_PROCS) {
			sm_region_entry = -1;
			return;
		}
		sm_region_entry = (int)i;
		sm_region_rebuild(r);
	}
	sm_damage_report(SM_DAMAGE_ENTRY, "a process entry overwritten", "entry taken again, checked against NVML");
}

/* Before any touch of the mapping: a file that shrank is swapped for
 * private memory (damage.c), whose header is rebuilt here. */
hidden void sm_region_ensure(void)
{
	const char *went = sm_damage_check();

	if (unlikely(went != NULL)) {
		int saved = errno;
		sm_region_rebuild(sm_region);
		sm_damage_report(SM_DAMAGE_SHORT, went, "private copy checked against NVML");
		errno = saved;
	}
}

hidden int sm_region_find_dev(const uint8_t uuid[16])
{
	int d;

	for (d = 0; d < SM_MAX_DEVICES; d++)
		if (memcmp(sm_region->devs[d].uuid, uuid, 16) == 0)
			return d;
	return -1;
}

/* Recomputes every device's tracked sum from the process entries: after
 * a holder died inside the lock, or after dead entries were freed. */
hidden void sm_region_retotal(void)
{
	uint32_t i, d, n = sm_region->nprocs;

	for (d = 0; d < SM_MAX_DEVICES; d++) {
		uint64_t t = 0;
		for (i = 0; i < n && i < SM_MAX_PROCS; i++)
			if (sm_region->procs[i].pid)
				t += sm_region->procs[i].used[d] + sm_region->procs[i].ctx[d];
		sm_region->devs[d].tracked = t;
	}
}

/* Clears the entry of a dead process; the caller holds the lock and
 * recomputes the totals. */
hidden void sm_region_forget(struct sm_proc *p)
{
	int d;

	/* What NVML last saw of it beyond its bookkeeping is in the device's
	 * excess: that goes too, and NVML is asked again at the next
	 * allocation. */
	for (d = 0; d < SM_MAX_DEVICES; d++) {
		uint64_t t = p->used[d] + p->ctx[d];
		struct sm_dev *dv = &sm_region->devs[d];
		if (p->nvml[d] > t)
			dv->excess = sm_sat_sub(dv->excess, p->nvml[d] - t);
		if (p->nvml[d] || t)
			dv->last_check_ns = 0;
	}
	memset(p, 0, sizeof(*p));
}

/* Under the lock, where it cannot wait: after a take-over, or with every
 * entry taken. */
hidden void sm_region_cleanup_dead(void)
{
	uint32_t i, n = sm_region->nprocs;
	int freed = 0;

	for (i = 0; i < n && i < SM_MAX_PROCS; i++) {
		struct sm_proc *p = &sm_region->procs[i];
		if (p->pid && sm_pidns_alive(p) == 0) {
			sm_region_forget(p);
			freed = 1;
		}
	}
	if (freed)
		sm_region_retotal();
}

/* The lock (lock.c) never fails.  Whatever a holder that was taken over
 * had half-done is recomputed from the entries; a damaged header or entry
 * of this process is put back. */
hidden int sm_region_lock(void)
{
	int saved = errno;

	sm_region_ensure();
	if (sm_lock_take(sm_region->lock)) {
		sm_region_cleanup_dead();
		sm_region_retotal();
	}
	sm_region_verify();
	errno = saved;
	return 0;
}

hidden void sm_region_unlock(void)
{
	sm_lock_give(sm_region->lock);
}
