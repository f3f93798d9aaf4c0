/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared state file: creation (race-free), mapping, the robust lock,
 * the process table with lazy reaping of dead processes, and memory charging.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

struct sim_state *sim_st;

static pthread_mutex_t attach_mu = PTHREAD_MUTEX_INITIALIZER;
static int attach_err;
static uint32_t self_pid; /* the process self_entry was found for */
static int self_entry = -1;

static void warn(const char *path, const char *what)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "softmig-sim: state file \"%s\": %s\n", path, what);
	if (n > 0)
		(void)!write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static uint64_t env_size(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	uint64_t v;
	if (!s || !*s || sm_parse_size(s, &v) < 0)
		return def;
	return v;
}

static uint64_t env_num(const char *name, uint64_t def, uint64_t lo, uint64_t hi)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;
	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo)
		return def;
	return v > hi ? hi : v;
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Every state file gets GPUs of their own UUIDs, as every node has: files
 * named by UUID (the time files in the run directory) must not collide
 * between simulated nodes on one machine. */
static uint64_t uuid_base(void)
{
	uint64_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, &v, sizeof v) != (ssize_t)sizeof v) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 40;
	}
	if (fd >= 0)
		close(fd);
	return v;
}

static void fill_state(struct sim_state *st)
{
	pthread_mutexattr_t ma;
	const char *name = getenv("SOFTMIG_SIM_NAME");
	uint32_t n = (uint32_t)env_num("SOFTMIG_SIM_DEVICES", 1, 1, SIM_MAX_DEVICES);
	uint64_t mem = env_size("SOFTMIG_SIM_MEMORY", 48ULL << 30);
	uint32_t sms = (uint32_t)env_num("SOFTMIG_SIM_SMS", 132, 1, 100000);

	st->magic = SIM_MAGIC;
	st->version = SIM_VERSION;
	st->size = sizeof *st;
	st->ndev = n;
	st->cuda_driver_version = (int32_t)env_num("SOFTMIG_SIM_DRIVER_VERSION", 13000, 1000, 1000000);
	st->ctx_memory = env_size("SOFTMIG_SIM_CTX_MEMORY", 300ULL << 20);
	snprintf(st->driver_string, sizeof st->driver_string, "580.159.04");
	st->sample_ms = (uint32_t)env_num("SOFTMIG_SIM_SAMPLE_MS", 20, 1, 1000);
	st->sample_whole = (uint32_t)env_num("SOFTMIG_SIM_SAMPLE_WHOLE", 0, 0, 1);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&st->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	uint64_t base = uuid_base();
	for (uint32_t i = 0; i < n; i++) {
		struct sim_device *d = &st->dev[i];
		uint64_t seed = base + i, a = splitmix(&seed), b = splitmix(&seed);
		memcpy(d->uuid, &a, 8);
		memcpy(d->uuid + 8, &b, 8);
		d->uuid[6] = (uint8_t)((d->uuid[6] & 0x0f) | 0x40); /* looks like a v4 UUID */
		d->uuid[8] = (uint8_t)((d->uuid[8] & 0x3f) | 0x80);
		d->total = mem;
		d->sms = sms;
		d->pci_bus = 0x18 + i * 0x10;
		snprintf(d->name, sizeof d->name, "%s", name && *name ? name : "NVIDIA H100 80GB HBM3");
		snprintf(d->serial, sizeof d->serial, "16549220%05u", 1234 + i);
	}
}

static char attached_path[4096];

const char *sim_state_file(void)
{
	return attached_path;
}

static const char *state_path(char *buf, size_t len)
{
	const char *p = getenv("SOFTMIG_SIM_STATE");
	const char *tmp = getenv("TMPDIR");
	if (p && *p)
		return p;
	snprintf(buf, len, "%s/softmig-sim.state", tmp && *tmp ? tmp : "/tmp");
	return buf;
}

static int do_attach(void)
{
	char pbuf[4096];
	const char *path = state_path(pbuf, sizeof pbuf);
	size_t size = sizeof(struct sim_state);
	snprintf(attached_path, sizeof attached_path, "%s", path);
	struct sim_state *st;
	struct stat sb;
	int creator = 1, fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST) {
		creator = 0;
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0) {
		int e = errno;
		warn(path, strerror(e));
		return -e;
	}
	if (creator) {
		(void)fchmod(fd, 0666);
		if (ftruncate(fd, (off_t)size) < 0) {
			int e = errno;
			warn(path, strerror(e));
			close(fd);
			return -e;
		}
	} else {
		/* The creator truncates right after creating; wait for it. */
		for (int i = 0;; i++) {
			if (fstat(fd, &sb) < 0 || (size_t)sb.st_size >= size)
				break;
			if (i > 5000) {
				warn(path, "too small (not a simulator state, or its creator died)");
				close(fd);
				return -EINVAL;
			}
			usleep(1000);
		}
		if ((size_t)sb.st_size != size) {
			warn(path, "wrong size (another simulator version?); remove it");
			close(fd);
			return -EINVAL;
		}
	}
	st = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (st == MAP_FAILED) {
		int e = errno;
		warn(path, strerror(e));
		return -e;
	}
	if (creator) {
		fill_state(st);
		__atomic_store_n(&st->init_state, SIM_INIT_DONE, __ATOMIC_RELEASE);
	} else {
		for (int i = 0; __atomic_load_n(&st->init_state, __ATOMIC_ACQUIRE) != SIM_INIT_DONE; i++) {
			if (i > 5000) {
				warn(path, "never initialised (its creator died?); remove it");
				munmap(st, size);
				return -EINVAL;
			}
			usleep(1000);
		}
		if (st->magic != SIM_MAGIC || st->version != SIM_VERSION || st->size != size) {
			warn(path, "not a state file of this simulator version; remove it");
			munmap(st, size);
			return -EINVAL;
		}
	}
	__atomic_store_n(&sim_st, st, __ATOMIC_RELEASE);
	return 0;
}

int sim_attach(void)
{
	int err;
	if (__atomic_load_n(&sim_st, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&attach_mu);
	if (!sim_st && !attach_err)
		attach_err = do_attach();
	err = sim_st ? 0 : attach_err;
	pthread_mutex_unlock(&attach_mu);
	return err;
}

/*
 * A waiter never sleeps more than LOCK_RECHECK_NS at a time.  glibc's
 * unlock wakes one sleeper; if that one's process exits before it takes
 * the lock (a test client ending while another of its threads waits), the
 * wake is lost, the lock is free and every other process of the test
 * sleeps on it for good.  The library's own region lock bounds its waits
 * the same way (preload/lock.c); the real driver has no such shared lock.
 */
#define LOCK_RECHECK_NS 20000000L

void sim_lock(void)
{
	struct timespec until;
	int r;

	for (;;) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LOCK_RECHECK_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		r = pthread_mutex_timedlock(&sim_st->lock, &until);
		if (r != ETIMEDOUT)
			break;
	}
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&sim_st->lock);
}

void sim_unlock(void)
{
	pthread_mutex_unlock(&sim_st->lock);
}

struct sim_proc *sim_self_locked(int create)
{
	const struct sim_who *me = sim_whoami();
	struct sim_proc *free_entry = NULL;
	if (self_entry >= 0 && self_pid == me->ns_pid && sim_is_self(&sim_st->proc[self_entry]) &&
	    sim_st->proc[self_entry].starttime == me->start)
		return &sim_st->proc[self_entry];
	self_pid = me->ns_pid;
	self_entry = -1;
	for (int i = 0; i < SIM_MAX_PROCS; i++) {
		struct sim_proc *p = &sim_st->proc[i];
		if (p->ns_pid && sim_is_self(p)) {
			if (p->starttime == me->start) {
				self_entry = i;
				return p;
			}
			memset(p, 0, sizeof *p); /* a dead process with our pid */
		}
		if (!p->ns_pid && !free_entry)
			free_entry = p;
	}
	if (!create)
		return NULL;
	if (!free_entry) {
		sim_reap_locked();
		for (int i = 0; i < SIM_MAX_PROCS && !free_entry; i++)
			if (!sim_st->proc[i].ns_pid)
				free_entry = &sim_st->proc[i];
		if (!free_entry)
			return NULL;
	}
	memset(free_entry, 0, sizeof *free_entry);
	free_entry->pid = me->host_pid;
	free_entry->ns_pid = me->ns_pid;
	free_entry->ns_ino = me->ns_ino;
	free_entry->starttime = me->start;
	self_entry = (int)(free_entry - sim_st->proc);
	sim_hold_files(free_entry);
	return free_entry;
}

uint64_t sim_dev_used_locked(int dev)
{
	uint64_t used = 0;
	for (int i = 0; i < SIM_MAX_PROCS; i++) {
		struct sim_proc *p = &sim_st->proc[i];
		if (p->ns_pid)
			used += p->alloc[dev] + p->ctx_bytes[dev];
	}
	return used;
}

int sim_charge(int dev, uint64_t bytes, int ctx)
{
	struct sim_proc *self;
	uint64_t used, total = sim_st->dev[dev].total;
	int err = 0;

	sim_lock();
	sim_reap_locked();
	used = sim_dev_used_locked(dev);
	self = sim_self_locked(1);
	if (!self)
		err = -EAGAIN;
	else if (used > total || bytes > total - used)
		err = -ENOMEM;
	else if (ctx) {
		self->ctx_bytes[dev] += bytes;
		self->ctx_count[dev]++;
	} else {
		self->alloc[dev] += bytes;
	}
	sim_unlock();
	return err;
}

void sim_uncharge(int dev, uint64_t bytes, int ctx)
{
	struct sim_proc *self;
	sim_lock();
	self = sim_self_locked(0);
	if (self && ctx) {
		self->ctx_bytes[dev] -= bytes < self->ctx_bytes[dev] ? bytes : self->ctx_bytes[dev];
		if (self->ctx_count[dev])
			self->ctx_count[dev]--;
	} else if (self) {
		self->alloc[dev] -= bytes < self->alloc[dev] ? bytes : self->alloc[dev];
	}
	sim_unlock();
}

int sim_list_procs_locked(int dev, struct sim_proc_info *out, int max)
{
	int n = 0;
	for (int i = 0; i < SIM_MAX_PROCS; i++) {
		struct sim_proc *p = &sim_st->proc[i];
		if (!p->ns_pid || (!p->ctx_count[dev] && !p->alloc[dev]))
			continue;
		if (p->orphan_ns && !sim_orphan_listed())
			continue;
		if (n < max) {
			out[n].pid = p->pid;
			out[n].used = p->ctx_bytes[dev] + p->alloc[dev];
			out[n].busy_ns = p->busy_ns[dev];
		}
		n++;
	}
	return n;
}

void sim_uuid_string(int dev, char *buf, size_t len)
{
	const uint8_t *u = sim_st->dev[dev].uuid;
	snprintf(buf, len,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}
