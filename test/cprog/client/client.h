/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scriptable CUDA/NVML client the tests drive.  One interpreter, three
 * ways to reach the driver (the programs differ only in that):
 *   cuclient    linked with -lcuda: calls go through exported symbols, the
 *               path an LD_PRELOAD hook of an exported symbol sees;
 *   dl_client   dlopen libcuda.so.1, then every function through
 *               cuGetProcAddress_v2, as cudart 12/13 does;
 *   dl_dlmopen  the same from a private copy of the driver in a new link-map
 *               namespace, where no preloaded library is (an escape).
 *
 * Each argument is one command, its arguments after ':' (alloc:1g,
 * launch:1000:10).  Each command prints one line
 *     <command> rc=<code>[ err=<CUDA_ERROR_NAME>][ key=value...]
 * (err= on a failed CUDA call; NVML commands print NVML codes) except
 * `ready`, which prints the bare marker "ready".  A failed command does not
 * stop the run (not even init).  Exit status: 0 when every command
 * succeeded, 1 when one failed, 2 on a usage error (the run stops there),
 * 3 when the driver cannot be loaded.  The commands, with what they print,
 * are listed in sim/README.md; each lives in the cmd_*.c of its concern,
 * in that file's table.
 */
#ifndef SOFTMIG_TEST_CLIENT_H
#define SOFTMIG_TEST_CLIENT_H

#include <stdio.h>

#include "cuda_abi.h"

enum { CLIENT_FAILED = 1, CLIENT_USAGE = 2, CLIENT_NO_DRIVER = 3 };

typedef CUresult (*cuda_getproc_fn)(const char *, void **, int, cuuint64_t,
				    CUdriverProcAddressQueryResult *);

/* The driver functions the commands call, in the order of cuda_syms. */
struct cuda_api {
	CUresult (*init)(unsigned int);
	CUresult (*drvver)(int *);
	CUresult (*devcount)(int *);
	CUresult (*devget)(CUdevice *, int);
	CUresult (*devname)(char *, int, CUdevice);
	CUresult (*devuuid)(CUuuid *, CUdevice);
	CUresult (*devtotal)(size_t *, CUdevice);
	CUresult (*devattr)(int *, int, CUdevice);
	CUresult (*devpci)(char *, int, CUdevice);
	CUresult (*pretain)(CUcontext *, CUdevice);
	CUresult (*prelease)(CUdevice);
	CUresult (*preset)(CUdevice);
	CUresult (*pstate)(CUdevice, unsigned int *, int *);
	CUresult (*ctxcreate)(CUcontext *, unsigned int, CUdevice);
	CUresult (*ctxdestroy)(CUcontext);
	CUresult (*ctxset)(CUcontext);
	CUresult (*ctxsync)(void);
	CUresult (*meminfo)(size_t *, size_t *);
	CUresult (*alloc)(CUdeviceptr *, size_t);
	CUresult (*free)(CUdeviceptr);
	CUresult (*alloc_v1)(CUdeviceptr_v1 *, unsigned int);
	CUresult (*free_v1)(CUdeviceptr_v1);
	CUresult (*pitch)(CUdeviceptr *, size_t *, size_t, size_t, unsigned int);
	CUresult (*managed)(CUdeviceptr *, size_t, unsigned int);
	CUresult (*allocasync)(CUdeviceptr *, size_t, CUstream);
	CUresult (*allocpool)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
	CUresult (*freeasync)(CUdeviceptr, CUstream);
	CUresult (*defaultpool)(CUmemoryPool *, CUdevice);
	CUresult (*poolcreate)(CUmemoryPool *, const CUmemPoolProps *);
	CUresult (*memcreate)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *,
			      unsigned long long);
	CUresult (*memrelease)(CUmemGenericAllocationHandle);
	CUresult (*reserve)(CUdeviceptr *, size_t, size_t, CUdeviceptr, unsigned long long);
	CUresult (*addrfree)(CUdeviceptr, size_t);
	CUresult (*map)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle,
			unsigned long long);
	CUresult (*unmap)(CUdeviceptr, size_t);
	CUresult (*setaccess)(CUdeviceptr, size_t, const CUmemAccessDesc *, size_t);
	CUresult (*array)(CUarray *, const CUDA_ARRAY_DESCRIPTOR *);
	CUresult (*array3d)(CUarray *, const CUDA_ARRAY3D_DESCRIPTOR *);
	CUresult (*arraydestroy)(CUarray);
	CUresult (*mipmap)(CUmipmappedArray *, const CUDA_ARRAY3D_DESCRIPTOR *, unsigned int);
	CUresult (*mipmapdestroy)(CUmipmappedArray);
	CUresult (*modload)(CUmodule *, const void *);
	CUresult (*getfunc)(CUfunction *, CUmodule, const char *);
	CUresult (*launch)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			   unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
	CUresult (*launchex)(const CUlaunchConfig *, CUfunction, void **, void **);
	CUresult (*coop)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			 unsigned int, unsigned int, unsigned int, CUstream, void **);
	CUresult (*streamcreate)(CUstream *, unsigned int);
	CUresult (*streamsync)(CUstream);
	CUresult (*streamquery)(CUstream);
	CUresult (*eventcreate)(CUevent *, unsigned int);
	CUresult (*eventrecord)(CUevent, CUstream);
	CUresult (*eventsync)(CUevent);
	CUresult (*elapsed)(float *, CUevent, CUevent);
	CUresult (*eventdestroy)(CUevent);
	CUresult (*graphcreate)(CUgraph *, unsigned int);
	CUresult (*graphkernel)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
				const CUDA_KERNEL_NODE_PARAMS_v2 *);
	CUresult (*graphalloc)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
			       CUDA_MEM_ALLOC_NODE_PARAMS *);
	CUresult (*graphfree)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, CUdeviceptr);
	CUresult (*graphinst)(CUgraphExec *, CUgraph, unsigned long long);
	CUresult (*graphlaunch)(CUgraphExec, CUstream);
	CUresult (*graphexecdestroy)(CUgraphExec);
	CUresult (*graphdestroy)(CUgraph);
	CUresult (*errname)(CUresult, const char **);
};

/* Where each cuda_api entry comes from: the exported symbol (cuclient
 * links it) and the cuGetProcAddress base name with the CUDA version to ask
 * for (0: the client's version) for the other two. */
struct cuda_sym {
	const char *exported;
	const char *base;
	int version;
};
extern const struct cuda_sym cuda_syms[];

/* What the programs hand the interpreter: the driver's functions, and for
 * `proc` its cuGetProcAddress_v2 and the handle that dlsym compares with
 * (NULL: the libcuda.so.1 already loaded). */
struct client_driver {
	struct cuda_api api;
	cuda_getproc_fn getproc;
	void *lib;
};

/* Runs argv[1..] as commands; returns the exit status. */
int client_main(const struct client_driver *drv, int argc, char **argv);
/* dl_client and dl_dlmopen: binds every function of lib (a dlopen'd or
 * dlmopen'd libcuda.so.1) through its cuGetProcAddress_v2, then runs. */
int client_procaddr_main(const char *prog, void *lib, int argc, char **argv);

/* ---- for the command files ---- */

/* An object a command created, released by free/freeall, newest first. */
enum obj_kind { OBJ_PTR = 1, OBJ_PTR_V1, OBJ_ASYNC, OBJ_VMM, OBJ_ARRAY, OBJ_MIPMAP, OBJ_GRAPH };
struct client_obj {
	enum obj_kind kind;
	CUdeviceptr ptr;
	size_t size;
	CUmemGenericAllocationHandle handle;
	void *h; /* array, mipmap, graph */
	CUgraphExec exec;
};

struct client {
	const struct client_driver *drv;
	const struct cuda_api *a;
	CUdevice dev;
	CUcontext created;
	CUstream stream;
	CUmodule mod;
	CUfunction busy;
	CUmemoryPool pool;
	struct client_obj obj[4096];
	int nobj;
	char kv[4096]; /* the key=value text of the current line */
	size_t kvlen;
	int printed; /* the current line is out already (hold, ready) */
	int failed;
};

/* A command: name, how many ':' arguments it takes at most (the last one
 * keeps any further ':'), and what runs it.  run returns the rc printed. */
struct command {
	const char *name;
	int maxargs;
	int (*run)(struct client *c, char **args);
	int nvml; /* rc is an nvmlReturn_t: no CUDA error name */
};

/* The command groups, each a table ended by an entry without a name. */
extern const struct command device_commands[], memory_commands[], launch_commands[],
	nvml_commands[], proc_commands[], process_commands[];

/* Appends " key=value..." to the current line. */
void kv(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the current line now (hold: before it blocks); the interpreter
 * then prints nothing more for the command. */
void line_out(struct client *c, const char *name, int rc, int nvml);

/* Argument i (args[i] is NULL when absent: def) as a size with k/m/g
 * suffixes (binary), or as an integer. */
unsigned long long arg_size(char **args, int i, unsigned long long def);
long long arg_int(char **args, int i, long long def);
double now_ms(void);

struct client_obj *obj_push(struct client *c, enum obj_kind kind);
/* The "busy" kernel of the simulator's module, loaded once. */
CUresult busy_kernel(struct client *c);

#endif
