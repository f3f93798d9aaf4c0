/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal API of the simulated NVIDIA GPU (sim/): the state shared by every
 * process that uses the same SOFTMIG_SIM_STATE file, and the helpers both
 * fake libraries (libcuda.so.1 from cuda_*.c, libnvidia-ml.so.1 from
 * nvml_*.c) build on.  Every symbol declared here is hidden: the libraries
 * export only the CUDA / NVML entry points.
 *
 * Adding NVML functions (sim/nvml_extra*.c): include "sim.h" and
 * "nvml_sim.h", check nvml_ready() first (NVML_ERROR_UNINITIALIZED), turn a
 * handle into a device index with nvml_dev_index(), then either read the
 * immutable device fields (sim_st->dev[i].uuid, .total, .sms, .name, ...)
 * without the lock, or take sim_lock()/sim_unlock() around anything that
 * reads processes or the busy ring (sim_reap_locked() first drops dead
 * processes; the sim_*_locked helpers below do the arithmetic).
 *
 * Lock protocol: one robust process-shared mutex (sim_st->lock) guards the
 * whole mapped state except the fields written once by the creator before
 * init_state becomes SIM_INIT_DONE.  A holder that dies leaves the mutex
 * EOWNERDEAD; the next sim_lock() marks it consistent and goes on (every
 * update is a few word stores, so the state stays usable).
 *
 * Time is CLOCK_REALTIME in nanoseconds (NVML timestamps are microseconds
 * since the epoch and must compare across processes).
 */
#ifndef SOFTMIG_SIM_H
#define SOFTMIG_SIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_abi.h"

#pragma GCC visibility push(hidden)

#define SIM_MAGIC 0x4d495347494d5353ULL /* "SSMIGSIM" */
#define SIM_VERSION 3
#define SIM_MAX_DEVICES 8
#define SIM_MAX_PROCS 256
#define SIM_RING 8192

enum { SIM_INIT_NONE = 0, SIM_INIT_BUSY = 1, SIM_INIT_DONE = 2 };

/* One busy interval of a device: a kernel (or a run of back-to-back kernels
 * of one process, merged) executing from start_ns to end_ns. */
struct sim_interval {
	uint64_t start_ns;
	uint64_t end_ns;
	uint32_t pid; /* host pid; or, while ns != 0, the pid in its namespace */
	uint32_t ns;  /* 0, or the tag of that namespace (state_pidns.c) */
	uint32_t unsampled; /* launched with SOFTMIG_SIM_UNSAMPLED=1: in no sample */
	uint32_t pad;
};

struct sim_device {
	uint8_t uuid[16];      /* cuDeviceGetUuid bytes; NVML prints them */
	uint64_t total;        /* bytes of memory */
	uint32_t sms;          /* multiprocessors */
	uint32_t pci_bus;      /* PCI bus number (domain 0, device 0, fn 0) */
	char name[96];
	char serial[32];
	uint64_t busy_until_ns; /* end of the last kernel queued on the device */
	uint64_t ring_next;     /* number of intervals ever written */
	struct sim_interval ring[SIM_RING]; /* ring[(ring_next-1) % SIM_RING] is newest */
};

/* A process that uses the simulated GPU.  ns_pid 0 marks a free entry.
 * Its identity is its PID namespace, its pid there and its start time; pid
 * is what NVML reports, as the driver does: the pid in the initial (the
 * host's) PID namespace, 0 until known (state_pidns.c). */
struct sim_proc {
	uint32_t pid;
	uint32_t ns_pid;                     /* getpid() */
	uint64_t ns_ino;                     /* inode of /proc/self/ns/pid */
	uint64_t starttime;                  /* /proc/<pid>/stat field 22 */
	uint64_t alloc[SIM_MAX_DEVICES];     /* bytes of live allocations */
	uint64_t ctx_bytes[SIM_MAX_DEVICES]; /* bytes charged for contexts */
	uint32_t ctx_count[SIM_MAX_DEVICES]; /* contexts held on the device */
	uint64_t busy_ns[SIM_MAX_DEVICES];   /* kernel time launched, total */
	uint64_t orphan_ns; /* not 0: the process is gone, but one that inherited its
			     * driver files keeps its memory (state_orphan.c); when
			     * that was last checked */
};

struct sim_state {
	uint64_t magic;
	uint32_t version;
	uint32_t init_state; /* SIM_INIT_*; written last by the creator */
	uint64_t size;       /* sizeof(struct sim_state) */
	uint32_t ndev;
	int32_t cuda_driver_version; /* cuDriverGetVersion */
	uint64_t ctx_memory;         /* bytes one context costs */
	char driver_string[32];      /* nvmlSystemGetDriverVersion */
	uint32_t sample_ms;          /* per-process utilisation: bin length */
	uint32_t sample_whole;       /* 1: one sample per bin, whole to one pid */
	union {
		pthread_mutex_t lock;
		char lock_pad[64];
	};
	struct sim_device dev[SIM_MAX_DEVICES];
	struct sim_proc proc[SIM_MAX_PROCS];
};

/* A process's view of one device, for process lists. */
struct sim_proc_info {
	uint32_t pid; /* host pid; 0 for a process in another PID namespace
		       * that nobody who sees the host's /proc looked at yet */
	uint64_t used; /* context + allocations, bytes */
	uint64_t busy_ns;
};

extern struct sim_state *sim_st;

/* state_shm.c */
int sim_attach(void); /* map the state (once per library); 0 or -errno */
void sim_lock(void);
void sim_unlock(void);
void sim_reap_locked(void); /* drop dead processes, find host pids (state_pidns.c) */
struct sim_proc *sim_self_locked(int create); /* this process's entry */
uint64_t sim_dev_used_locked(int dev);
/* Charge bytes of memory (ctx != 0: a context) to this process on dev;
 * -ENOMEM when the device's free memory is smaller. */
int sim_charge(int dev, uint64_t bytes, int ctx);
void sim_uncharge(int dev, uint64_t bytes, int ctx);
int sim_list_procs_locked(int dev, struct sim_proc_info *out, int max);
void sim_uuid_string(int dev, char *buf, size_t len); /* "GPU-xxxxxxxx-..." */

/* state_orphan.c: a process's driver files, which a child it forks keeps
 * open (and with them its memory, after it is gone, as the real driver
 * does).  sim_hold_files opens this process's; sim_orphan_keep_locked says
 * whether a gone process's memory stays (a live process holds its files). */
void sim_hold_files(const struct sim_proc *self);
int sim_orphan_keep_locked(struct sim_proc *p);
int sim_orphan_listed(void); /* SOFTMIG_SIM_ORPHAN: listed (default) or unlisted */
const char *sim_state_file(void);

/* state_pidns.c: who a process is (its namespace, its pid there, its host
 * pid when it can see it), and host pids for the entries of others. */
struct sim_who {
	uint32_t host_pid; /* 0: not visible from this process */
	uint32_t ns_pid;
	uint64_t ns_ino;
	uint64_t start;
	int proc_host; /* /proc is the initial PID namespace's */
	int proc_own;  /* /proc is this process's own namespace's */
};
const struct sim_who *sim_whoami(void); /* this process, cached per pid */
int sim_is_self(const struct sim_proc *p);
/* The pid and namespace tag a busy interval of this process records. */
uint32_t sim_ring_pid(const struct sim_proc *self, uint32_t *ns);
void sim_ring_resolve_locked(const struct sim_proc *p);

/* preload/size.c: the library's own size parser (contract 3), so
 * SOFTMIG_SIM_MEMORY and friends read sizes as a job config does. */
int sm_parse_size(const char *s, uint64_t *out);

/* state_time.c */
uint64_t sim_now_ns(void);
void sim_sleep_until(uint64_t t_ns);
/* Queue a kernel of dur_ns on dev for this process; returns its end time. */
uint64_t sim_launch(int dev, uint64_t dur_ns);
/* Busy nanoseconds of dev within [from, to), of one pid (0: all). */
uint64_t sim_busy_ns_locked(int dev, uint64_t from, uint64_t to, uint32_t pid);
/* One per-process utilisation sample: busy time of pid in the bin that
 * ends at end_ns. */
struct sim_sample {
	uint64_t end_ns;
	uint64_t busy_ns;
	uint32_t pid;
	uint32_t pad;
};
/* The samples of dev for the complete bins (sim_st->sample_ms, aligned to
 * multiples of it) that end in (from, to], oldest first: one per pid with
 * busy time in a bin, or with sample_whole one per busy bin, the device's
 * busy time given to the pid running at the bin's end (else the busiest).
 * *out is malloc'ed (the caller frees it); returns the count, -1 without
 * memory. */
int sim_samples_locked(int dev, uint64_t from, uint64_t to, struct sim_sample **out);

#pragma GCC visibility pop

#endif
