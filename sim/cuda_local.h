/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process-local state of the simulated libcuda.so.1: visible devices,
 * contexts, streams and the allocation map.  Hidden, like sim.h.
 */
#ifndef SOFTMIG_SIM_CUDA_LOCAL_H
#define SOFTMIG_SIM_CUDA_LOCAL_H

#include "cuda_api.h"
#include "sim.h"

#pragma GCC visibility push(hidden)

#define CU_MAGIC_CTX 0x43545831u
#define CU_MAGIC_STREAM 0x53545231u
#define CU_MAGIC_EVENT 0x45564e31u
#define CU_MAGIC_MOD 0x4d4f4431u
#define CU_MAGIC_FUNC 0x46554e31u
#define CU_MAGIC_POOL 0x504f4f31u
#define CU_MAGIC_GRAPH 0x47525031u
#define CU_MAGIC_EXEC 0x45584531u

struct CUctx_st {
	uint32_t magic;
	int ordinal;  /* CUdevice as the program sees it */
	int phys;     /* index in the shared state */
	int primary;  /* the device's primary context object */
	int alive;    /* created and not destroyed / released */
	unsigned int flags;
};

struct CUstream_st {
	uint32_t magic;
	struct CUctx_st *ctx;
	uint64_t last_end; /* simulated end of its last kernel */
};

/* Process-wide recursive lock for everything in this header (not the
 * shared state; order: cu_mu before sim_lock). */
extern pthread_mutex_t cu_mu;
extern int cu_nvis;                   /* visible devices */
extern int cu_vis[SIM_MAX_DEVICES];   /* ordinal -> physical index */
extern uint64_t cu_dev_last_end[SIM_MAX_DEVICES]; /* per physical device */

/* cuda_init.c */
int cu_ready(void);
CUresult cu_check_init(void);           /* NOT_INITIALIZED before cuInit */
CUresult cu_check_dev(CUdevice dev);    /* also checks init */

/* cuda_ctx.c */
struct CUctx_st *cu_current(void);
CUresult cu_current_ctx(struct CUctx_st **out); /* INVALID_CONTEXT if none */
int cu_ctx_valid(CUcontext c);

/* cuda_mem.c */
enum { CU_MEM_DEVICE = 1, CU_MEM_ARRAY, CU_MEM_MIPMAP, CU_MEM_HANDLE };
/* Charge size bytes on physical device phys and remember the object under a
 * fresh key of its kind (a fake device address for CU_MEM_DEVICE; low32:
 * below 4 GiB, for the v1 entry points).  ctx (may be NULL) frees it when
 * the context dies. */
CUresult cu_mem_alloc(struct CUctx_st *ctx, int phys, uint64_t size, int kind, int low32,
		      uint64_t *key);
CUresult cu_mem_free(uint64_t key, int kind); /* INVALID_VALUE if unknown */
int cu_mem_lookup(uint64_t key, int kind, int *phys, uint64_t *size);
void cu_mem_free_ctx(struct CUctx_st *ctx);
uint64_t cu_dev_address(int phys, uint64_t size); /* a fresh fake device address */

/* cuda_exec.c */
/* Resolve a stream argument: the context and the stream object (NULL for
 * the legacy / per-thread default streams). */
CUresult cu_stream_resolve(CUstream s, struct CUctx_st **ctx, struct CUstream_st **obj);
/* Queue one kernel; updates the stream and the process's per-device end. */
uint64_t cu_launch_one(int phys, struct CUstream_st *obj, uint64_t dur_ns);
/* Simulated duration of a kernel launch of f with these parameters. */
CUresult cu_kernel_duration(CUfunction f, void **params, uint64_t *dur_ns);

#pragma GCC visibility pop

#endif
