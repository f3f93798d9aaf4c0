/*
 * Internal declarations shared by the files of libsoftmig.so.
 *
 * The library is preloaded into every process of a node, so it exports
 * nothing but the hooked CUDA/NVML entry points, dlsym, softmig_version
 * and the softmig_build_info string (see exports.map), does no work until the first CUDA or
 * NVML call, and never exits, prints to stdout or changes errno.
 */
#ifndef SOFTMIG_H
#define SOFTMIG_H

#include "glibc_compat.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cuda_abi.h"
#include "region_abi.h"

#define SOFTMIG_EXPORT __attribute__((visibility("default")))
#define hidden __attribute__((visibility("hidden")))
#define SM_TLS __thread __attribute__((tls_model("initial-exec")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* The version (git describe, or a release tarball's VERSION file) comes from
 * the Makefile, the same string the Go tools print for --version. */
#ifndef SOFTMIG_VERSION
#define SOFTMIG_VERSION "unknown (built without make)"
#endif
/* The directories the library trusts come from internal/defs/defs.mk, given
 * by the Makefile (make RUNDIR=...); there is no default here on purpose. */
#if !defined(SM_RUN_DIR) || !defined(SM_LOG_DIR)
#error "SM_RUN_DIR and SM_LOG_DIR come from internal/defs/defs.mk: build with make"
#endif
#define SM_JOB_MAX 32

/* ---- mode.c, init.c: the mode, once-state and per-thread re-entry guard -- */

enum sm_mode {
	SM_PASSIVE = 0,   /* no limits: every hook passes straight through */
	SM_ACTIVE = 1,    /* limits enforced */
	SM_FAILCLOSED = 2 /* unsafe or unparsable config: no GPU at all */
};

extern hidden int sm_mode;              /* valid once sm_init() returned 1 */
extern hidden SM_TLS int sm_depth;      /* >0 while inside the library */

/* Runs the one-time initialisation; returns 1 when the config is loaded,
 * 0 when this thread is already inside the initialisation (re-entry). */
hidden int sm_init(void);
hidden pid_t sm_pid(void);

/* ---- config.c ------------------------------------------------------------ */

#define SM_SLOT_RANGES 8 /* ranges in a SOFTMIG_SM_SLOT value */

struct sm_config {
	char job[SM_JOB_MAX];          /* job id, "" outside a job */
	int job_from_cgroup;           /* job id came from /proc/self/cgroup */
	int64_t job_uid;               /* SOFTMIG_UID: the job's user, -1 unset */
	uint64_t mem_limit[SM_MAX_DEVICES];   /* 0: no memory limit */
	int sm_limit[SM_MAX_DEVICES];  /* 0: no compute limit (100 is stored as 0) */
	uint64_t sm_slot[SM_MAX_DEVICES][2]; /* percent p of the compute period is the job's
					      * time slot if bit p is set; none set: no slot */
	int gpu_index[SM_MAX_DEVICES]; /* SOFTMIG_GPU_<i> + 1: Slurm (NVML) index of the
					* GPU the limits of ordinal i are for; 0 unset */
	int oom_killer;
	int log_level;
	char region_path[512];
	char source[512];              /* config path or "environment" */
};

/* Why the mode is SM_FAILCLOSED: the line on stderr and the log record. */
struct sm_why {
	char reason[512];
	char path[512];  /* the file it is about (config, region), or "" */
	char var[64];    /* the environment variable it is about, or "" */
};

extern hidden const struct sm_config *const sm_config;

/* Loads the config and returns the mode; why says why SM_FAILCLOSED. */
hidden int sm_config_load(struct sm_why *why);

/* Verdicts on a job config, as internal/jobconf gives them (testdata/jobconf). */
enum sm_conf_verdict {
	SM_CONF_OK = 0,
	SM_CONF_ABSENT,   /* no such file or directory: no config */
	SM_CONF_UNSAFE,   /* file or directory not root's alone, a symlink, ... */
	SM_CONF_INVALID,  /* unparsable */
	SM_CONF_DISABLED  /* SOFTMIG_DISABLED: err holds the reason */
};
/* Parses a config's text into cfg; err says why when not SM_CONF_OK. */
hidden int sm_config_parse(struct sm_config *cfg, const char *text, size_t len,
			   char *err, size_t errlen);
/* Checks that dir/name is safe, reads and parses it (sets cfg->source). */
hidden int sm_config_file(struct sm_config *cfg, const char *dir, const char *name,
			  char *err, size_t errlen);
/* Owned by root (as root's files show here: sm_userns_root_uid) and writable by
 * no one else: the rule for every file the library trusts (contract 2). */
struct stat;
hidden int sm_config_root_owned(const struct stat *st);

/* ---- size.c / util.c -------------------------------------------------------- */

/* Contract 3: returns 0 and stores the bytes, or -1 on malformed input. */
hidden int sm_parse_size(const char *s, uint64_t *out);
hidden int sm_parse_uint(const char *s, uint64_t max, uint64_t *out);
hidden uint64_t sm_now_ns(void);          /* CLOCK_MONOTONIC */
hidden uint64_t sm_now_coarse_ns(void);   /* CLOCK_MONOTONIC_COARSE */
hidden ssize_t sm_read_file(const char *path, char *buf, size_t len);
hidden ssize_t sm_read_fd(int fd, char *buf, size_t len);
hidden int sm_proc_stat(pid_t pid, char *state, uint64_t *start);
hidden uint64_t sm_proc_start_time(pid_t pid);
hidden int sm_proc_alive(pid_t pid, uint64_t start_time);
hidden ssize_t sm_proc_read(const char *path, char *buf, size_t len);
/* pidns.c: this process's PID namespace tag (0: the host's), and whether an
 * entry's process runs: 1, 0, or -1 when it cannot be seen from here. */
hidden uint32_t sm_pidns_tag(void);
struct sm_proc;
hidden int sm_pidns_alive(const struct sm_proc *p);
/* Whether NVML's pid (the host's) is entry p's process; whether /proc is
 * the host's, where NVML's pids can be looked up. */
hidden int sm_pidns_matches(const struct sm_proc *p, pid_t pid);
hidden int sm_pidns_proc_is_host(void);
hidden pid_t sm_pidns_host_pid(void);
hidden int sm_fstat(int fd, void *st);
hidden size_t sm_strlcpy(char *dst, const char *src, size_t len);
hidden const char *sm_env_get(const char *name);
hidden int sm_env_secure(void);

static inline uint64_t sm_sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* ---- job.c ---------------------------------------------------------------- */

/* Job id of pid (0: self) from its cgroup; 1 found, 0 none, -1 unreadable. */
hidden int sm_job_from_cgroup(pid_t pid, char *job, size_t len);
hidden int sm_job_parse_cgroup(const char *text, char *job, size_t len);
hidden int sm_job_id_valid(const char *s);
hidden int sm_userns_initial(void);
hidden int64_t sm_userns_root_uid(int init_ns);

/* ---- log.c ------------------------------------------------------------------ */

enum sm_level { SM_ERROR, SM_EVENT, SM_WARN, SM_DEBUG, SM_INFO, SM_TRACE };
/* kv is "key=value key2=value2" already formatted; dev < 0 prints "-". */
hidden void sm_log(int level, int dev, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 4, 5)));
hidden void sm_log_reset_after_fork(void);
/* The fixed keys of a line up to msg, in buf; returns the length. */
hidden size_t sm_log_header(char *buf, size_t len, const struct timespec *ts, int level,
			    const char *job, int pid, int dev, const char *msg);
/* s as a quoted logfmt value, in buf. */
hidden const char *sm_log_quote(const char *s, char *buf, size_t len);

/* ---- region.c: the mapped region and its header; entries.c: lock, entries --- */

extern hidden struct sm_region *sm_region;
extern hidden int sm_region_entry;       /* this process's entry, -1 none */
extern hidden pid_t sm_region_entry_pid;      /* the pid it was taken for (fork) */

hidden int sm_region_attach(struct sm_why *why); /* 0 ok, -1 failed (why) */
/* The device entries this process uses, put back by a rebuild. */
hidden void sm_region_know_dev(int d, const uint8_t uuid[16]);
/* The region lock never fails; a holder that does not let go is taken
 * over (lock.c says why that is safe). */
#define SM_LOCK_SLICE_NS 5000000ULL     /* a holder this long is looked at */
#define SM_LOCK_STUCK_NS 100000000ULL   /* a holder not running: 100 ms */
#define SM_LOCK_MAX_NS 1000000000ULL    /* a holder running: 1 s */
hidden int sm_region_lock(void);
hidden void sm_region_unlock(void);
hidden void sm_region_retotal(void);    /* caller holds the lock */
hidden int sm_entries_register(void);    /* claims a process entry */
hidden int sm_entries_dev(const uint8_t uuid[16]); /* device entry, creating it */
hidden int sm_region_find_dev(const uint8_t uuid[16]);
hidden void sm_region_cleanup_dead(void);  /* caller holds the lock */
hidden void sm_region_forget(struct sm_proc *p); /* caller holds the lock */
hidden void sm_entries_reclaim(void);    /* the entries of dead processes go */
/* Without the lock held: the entries of dead processes go, looked at
 * outside it.  listed (NVML's processes of device entry d, n of them,
 * sorted by pid): only entries with bytes on d that NVML did not list, and
 * only if their pid is gone; NULL: every entry, zombies and reused pids
 * included. */
hidden void sm_entries_reap(int d, const nvmlProcessInfo_t *listed, int n);
hidden void sm_entries_exit(void);
hidden int sm_entries_has_pid(pid_t pid);
/* The pids of the entries of the host's PID namespace (NVML's), sorted
 * (read without the lock); their count; *others whether entries of other
 * namespaces are there too. */
hidden int sm_entries_pids(int32_t pids[SM_MAX_PROCS], int *others);
/* Rewrites the header of r (zeroed, overwritten, or new private memory) and
 * puts back this process's entry and the devices it knows. */
hidden void sm_region_rebuild(struct sm_region *r);
/* Under the lock: the header is intact and this process's entry its own. */
hidden void sm_region_verify(void);
/* Before touching the mapping: a file that shrank is swapped for private
 * memory (region_guard.c), so that nothing faults on it. */
hidden void sm_region_ensure(void);

/* ---- lock.c: the lock as a primitive over the region's lock bytes ----------- */

/* Returns 1 when a holder was taken over (its half-done work must be
 * recomputed), else 0. */
hidden int sm_lock_take(void *lock);
hidden void sm_lock_give(void *lock);
hidden void sm_lock_reset_after_fork(void);

/* ---- ledger.c: what the entries hold (under the lock) ------------------------ */

/* Reserve bytes on device entry d against limit; 0 ok, -1 refused.
 * *used_out gets the job's usage before the request. */
hidden int sm_ledger_reserve(int d, uint64_t bytes, uint64_t limit, uint64_t *used_out);
hidden int sm_ledger_reserve_ctx(int d, uint64_t bytes, uint64_t limit, uint64_t *used_out, int guessed);
hidden int sm_ledger_guesses_stand(void);
hidden int sm_ledger_release(int d, uint64_t bytes); /* 0 given back, -1 no entry */
hidden void sm_ledger_ctx_account(int d, int64_t bytes, int guesses);
hidden void sm_ledger_ctx_settle(int d, uint64_t reserved, int64_t measured, int created, int guesses);
hidden uint64_t sm_ledger_ctx_estimate(int d);
hidden uint64_t sm_ledger_used(int d);     /* tracked + excess */
hidden uint64_t sm_ledger_proc_used(int d);    /* this process's allocations on d */
hidden uint64_t sm_ledger_proc_ctx(int d);     /* ... and context memory */
hidden uint64_t sm_ledger_proc_peak(int d);
hidden void sm_ledger_nvml(int d, const nvmlProcessInfo_t *sorted, int n, uint64_t untracked);
hidden uint64_t sm_ledger_checked_ns(int d);
hidden void sm_ledger_mark_checked(int d, uint64_t now);

/* ---- region_guard.c: damage to the region file ------------------------------ */

enum { SM_DAMAGE_SHORT = 1, SM_DAMAGE_REPLACED = 2, SM_DAMAGE_HEADER = 4, SM_DAMAGE_ENTRY = 8, SM_DAMAGE_NOMEM = 16 };
hidden void sm_damage_watch(int fd);
/* From now on a fault in the mapping at base is survived (NULL: none). */
hidden void sm_damage_catch(void *base);
/* A file that shrank is swapped for private memory: returns what happened
 * to it when this call made the swap (region.c rebuilds), else NULL. */
hidden const char *sm_damage_check(void);
hidden void sm_damage_report(unsigned kind, const char *what, const char *action);

/* ---- check.c: NVML cross-check ------------------------------------------------- */

hidden void sm_check_maybe(int d, int ordinal);  /* at most once a second */
hidden void sm_check_now(int d, int ordinal);
hidden int sm_nvml_pid_in_job(pid_t pid);
/* This process's private view of device entry d (check.c): its own
 * allocations (+) and frees (-) since its last check; whether seen + those
 * + bytes fit the limit (*seen_out: that sum); the age of its last check. */
hidden void sm_check_note(int d, int64_t delta);
hidden int sm_check_fits(int d, uint64_t bytes, uint64_t limit, uint64_t *seen_out);
hidden uint64_t sm_check_age_ns(int d);
hidden void sm_check_reset_after_fork(void);
/* This process's contexts on device entry d, measured by its checks: one
 * is admitted (begin), then created with its reservation standing until
 * the next check that starts measures it, or not (end, reserved 0).  When
 * one went, gone measures them all again now. */
hidden void sm_check_ctx_begin(int d);
hidden void sm_check_ctx_end(int d, uint64_t reserved, int guessed);
hidden void sm_check_ctx_gone(int d, int ordinal);
/* The device's compute processes (NVML _v3, else _v2): a caller's array of
 * SM_PROC_STACK entries, or a larger one in *infos that the caller frees
 * when it is not stack.  Returns the count, -1 on failure. */
#define SM_PROC_STACK 128
hidden int sm_nvml_processes(nvmlDevice_t nd, nvmlProcessInfo_t *stack, nvmlProcessInfo_t **infos);

/* What a process list sorted by pid shows pid holding (a pid may be listed
 * more than once); *listed whether it is there at all.  A lookup costs
 * log n, so that a check of N processes costs N log N, not N * N (and the
 * part under the lock with it). */
static inline uint64_t sm_nvml_listed_bytes(const nvmlProcessInfo_t *sorted, int n, int32_t pid, int *listed)
{
	int lo = 0, hi = n;
	uint64_t sum = 0;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if ((int32_t)sorted[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*listed = lo < n && (int32_t)sorted[lo].pid == pid;
	for (; lo < n && (int32_t)sorted[lo].pid == pid; lo++)
		sum += sorted[lo].usedGpuMemory;
	return sum;
}
/* Bytes NVML reports for our own pid on the device of this ordinal. */
hidden int64_t sm_nvml_self_used(int ordinal);

/* ---- devmap.c: CUDA ordinals, UUIDs, NVML handles ----------------------- */

hidden int sm_dev_current(CUdevice *dev);      /* device of the current context */
hidden int sm_dev_entry(CUdevice dev);         /* device entry in the region, -1 */
/* Registers this process in the region; the device entry of dev, -1. */
hidden int sm_dev_enter(CUdevice dev);
/* Logs "device attach" the first time dev is used; noted: its entry, -1. */
hidden void sm_dev_note(CUdevice dev);
hidden int sm_dev_noted(CUdevice dev);
hidden int sm_uuid_of(CUdevice dev, uint8_t uuid[16]);
hidden nvmlDevice_t sm_nvml_handle(CUdevice dev); /* NULL if unavailable */
/* CUDA ordinal that the NVML device has in this process, -1 not visible. */
hidden int sm_nvml_ordinal(nvmlDevice_t nd, uint8_t uuid[16]);
hidden void sm_nvml_reset_after_fork(void);
/* Moves the per-ordinal limits to the ordinals the job's GPUs have in this
 * process (SOFTMIG_GPU_<i>), once, after cuInit. */
hidden void sm_limits_by_gpu(void);
hidden uint64_t sm_limits_nvml_mem(nvmlDevice_t nd, int ord);
hidden int sm_uuid_parse(const char *s, uint8_t uuid[16]);
hidden void sm_uuid_format(const uint8_t uuid[16], char *out, size_t len);

/* ---- limits --------------------------------------------------------------------- */

hidden uint64_t sm_limits_mem(int ordinal);
hidden int sm_limits_sm(int ordinal);
hidden const uint64_t *sm_limits_slot(int ordinal);

/* ---- ptrmap.c: what each allocation cost, for its free ----------------- */

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

/* ---- oom.c -------------------------------------------------------------------- */

hidden void sm_oom_kill(int ordinal);

#endif
