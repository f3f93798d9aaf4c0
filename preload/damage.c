/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the job's user may do to the region file (contract 4: it is theirs)
 * must never kill a process.  A mapped file that shrinks turns every access
 * past its new end into SIGBUS, so the library keeps the file open and
 * checks its size before it touches the mapping (the lock, and each read
 * outside it that can come first), at most every SIZE_CHECK_NS.  A short
 * (or no longer checkable) file is replaced in this process by private
 * memory at the same address: nothing in the process can fault on it
 * afterwards, and the job's usage is rebuilt from NVML at the next check
 * (which counts the job's processes that are not in the region).  A file
 * replaced by another (a rename over it) keeps working as the old one for
 * the processes that have it; one that is zeroed or overwritten is rebuilt
 * in place under the lock (region.c, which also rebuilds a private
 * copy).  Each kind of damage is logged once per process.
 *
 * The check cannot cover a truncation between it and the access (a thread
 * waiting for the lock, inside it, or within SIZE_CHECK_NS of the last
 * check).  For that window, a process that maps a region (and only such a
 * process: an idle one has no handler of ours) handles SIGBUS: a fault
 * inside the region swaps in the private copy and the access is retried;
 * any other SIGBUS goes to the handler the program had, or kills the
 * process as it would have without the library.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "damage.h"

#include "config.h"
#include "fstat.h"
#include "log.h"
#include "now.h"
#include "region_abi.h"

/* The SIGBUS handler is the net; the size check, at most every
 * SIZE_CHECK_NS, turns damage into an orderly switch (and covers a program
 * that replaced the handler) without a system call per allocation. */
#define SIZE_CHECK_NS 10000000ULL
#define PATH_CHECK_NS 1000000000ULL

static int region_fd = -1;
static dev_t region_dev;
static ino_t region_ino;
static int is_private;
static unsigned logged;    /* one bit per kind of damage */
static uint64_t path_checked_ns, size_checked_ns;
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER; /* this process's threads */
static char *mapped; /* the region's mapping, from the moment it exists */
static struct sigaction prev_bus;
static volatile sig_atomic_t bus_faulted;
static int installed;

hidden void sm_damage_watch(int fd)
{
	struct stat st;

	if (sm_fstat(fd, &st) != 0) {
		close(fd);
		return;
	}
	region_fd = fd;
	region_dev = st.st_dev;
	region_ino = st.st_ino;
}

hidden void sm_damage_report(unsigned kind, const char *what, const char *action)
{
	char q[600], qw[128], qa[128];

	if (__atomic_fetch_or(&logged, kind, __ATOMIC_RELAXED) & kind)
		return;
	sm_log(SM_ERROR, -1, "shared region damaged", "what=%s action=%s path=%s", sm_log_quote(what, qw, sizeof(qw)),
	       sm_log_quote(action, qa, sizeof(qa)), sm_log_quote(sm_config->region_path, q, sizeof(q)));
}

static int ours(int fd, struct stat *st)
{
	return fd >= 0 && sm_fstat(fd, st) == 0 && st->st_dev == region_dev && st->st_ino == region_ino;
}

/* Size of the mapped inode; -1 when it cannot be told. */
static int64_t mapped_size(void)
{
	struct stat st;
	int fd;

	if (ours(region_fd, &st))
		return (int64_t)st.st_size;
	/* The program closed the descriptor (or reused its number): find the
	 * inode again by its path, if it is still there. */
	region_fd = -1;
	fd = open(sm_config->region_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (!ours(fd, &st)) {
		close(fd);
		return -1;
	}
	region_fd = fd;
	return (int64_t)st.st_size;
}

/* Swaps the mapping for private zeros; region.c rebuilds the header. */
static int go_private(const char *what)
{
	struct stat st;
	void *p;

	p = mmap(mapped, SM_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		sm_damage_report(SM_DAMAGE_NOMEM, what, "none (no memory for a private copy)");
		return 0;
	}
	__atomic_store_n(&is_private, 1, __ATOMIC_RELEASE);
	if (ours(region_fd, &st))
		close(region_fd);
	region_fd = -1;
	return 1;
}

/* (stat(2) itself would need glibc 2.33's symbol.) */
static int same_file_at_path(const struct stat *st)
{
	struct stat pst;
	int fd = open(sm_config->region_path, O_PATH | O_NOFOLLOW | O_CLOEXEC), same;

	if (fd < 0)
		return 0;
	same = sm_fstat(fd, &pst) == 0 && pst.st_dev == st->st_dev && pst.st_ino == st->st_ino;
	close(fd);
	return same;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	char *a = (char *)si->si_addr, *base = __atomic_load_n(&mapped, __ATOMIC_ACQUIRE);
	int saved = errno;

	if (si->si_code > 0 && base && a >= base && a < base + SM_REGION_SIZE &&
	    mmap(base, SM_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
		    MAP_FAILED) {
		/* Zeros: the lock (region.c) has the header and entry rebuilt. */
		__atomic_store_n(&is_private, 1, __ATOMIC_RELEASE);
		bus_faulted = 1;
		errno = saved;
		return;
	}
	if (prev_bus.sa_flags & SA_SIGINFO) {
		prev_bus.sa_sigaction(sig, si, uc);
	} else if (prev_bus.sa_handler == SIG_DFL || prev_bus.sa_handler == SIG_IGN) {
		/* A fault recurs on return and takes the default action; a
		 * SIGBUS that was sent is sent again. */
		sigaction(SIGBUS, &prev_bus, NULL);
		if (si->si_code <= 0 && prev_bus.sa_handler == SIG_DFL)
			raise(SIGBUS);
	} else {
		prev_bus.sa_handler(sig);
	}
	errno = saved;
}

hidden void sm_damage_catch(void *base)
{
	struct sigaction sa;

	__atomic_store_n(&mapped, (char *)base, __ATOMIC_RELEASE);
	if (!base || installed)
		return;
	installed = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &prev_bus);
}

hidden const char *sm_damage_check(void)
{
	const char *went = NULL;
	int saved;
	int64_t size;
	uint64_t now;
	struct stat st;

	if (!__atomic_load_n(&mapped, __ATOMIC_ACQUIRE))
		return NULL;
	if (__atomic_load_n(&is_private, __ATOMIC_ACQUIRE)) {
		if (bus_faulted)
			sm_damage_report(SM_DAMAGE_SHORT, "truncated", "private copy checked against NVML");
		return NULL;
	}
	now = sm_now_coarse_ns();
	if (now - __atomic_load_n(&size_checked_ns, __ATOMIC_RELAXED) < SIZE_CHECK_NS)
		return NULL;
	__atomic_store_n(&size_checked_ns, now, __ATOMIC_RELAXED);
	saved = errno;
	size = ours(region_fd, &st) ? (int64_t)st.st_size : -1;
	if (size < (int64_t)SM_REGION_SIZE) {
		/* Rare: the slow path, one thread at a time. */
		pthread_mutex_lock(&guard_lock);
		if (!__atomic_load_n(&is_private, __ATOMIC_ACQUIRE)) {
			size = mapped_size();
			if (size < (int64_t)SM_REGION_SIZE) {
				const char *what = size < 0 ? "gone and its descriptor closed" : "truncated";
				if (go_private(what))
					went = what;
			}
		}
		pthread_mutex_unlock(&guard_lock);
	} else if (now - path_checked_ns > PATH_CHECK_NS) {
		path_checked_ns = now;
		if (ours(region_fd, &st) && !same_file_at_path(&st))
			sm_damage_report(SM_DAMAGE_REPLACED, "replaced or removed",
					 "this process keeps the old file, checked against NVML");
	}
	errno = saved;
	return went;
}
