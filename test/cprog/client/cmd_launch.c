/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel commands, all with the simulator's "busy" kernel (one parameter:
 * its duration in microseconds):
 *   stream                        later launches, syncs and events use it
 *   launch, launchex, coop:US[:N] N launches by each path; ms= wall time
 *   ssync, query                  cuStreamSynchronize (ms=), cuStreamQuery
 *   time:US:N                     events around N launches; ms= simulated
 *   graph:US:N[:SIZE]             a graph of N kernels (and an alloc node of
 *                                 SIZE and its free), launched, synced, kept
 *   forklaunch:US:N               a fork child launches N, synchronises and
 *                                 leaves through exit(); child= status=
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

CUresult busy_kernel(struct client *c)
{
	static const char image[] = "simulated cubin";
	CUresult r;

	if (c->busy)
		return CUDA_SUCCESS;
	r = c->a->modload(&c->mod, image);
	return r ? r : c->a->getfunc(&c->busy, c->mod, "busy");
}

static int stream(struct client *c, char **args)
{
	(void)args;
	return c->a->streamcreate(&c->stream, 0);
}

/* One launch of the busy kernel by a path, one block of 32 threads. */
typedef CUresult (*launch_fn)(struct client *c, void **params);

static CUresult by_launch(struct client *c, void **params)
{
	return c->a->launch(c->busy, 1, 1, 1, 32, 1, 1, 0, c->stream, params, NULL);
}

static CUresult by_launchex(struct client *c, void **params)
{
	CUlaunchConfig cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
	cfg.blockDimX = 32;
	cfg.blockDimY = cfg.blockDimZ = 1;
	cfg.hStream = c->stream;
	return c->a->launchex(&cfg, c->busy, params, NULL);
}

static CUresult by_coop(struct client *c, void **params)
{
	return c->a->coop(c->busy, 1, 1, 1, 32, 1, 1, 0, c->stream, params);
}

static int launches(struct client *c, char **args, launch_fn fn)
{
	unsigned long long us = (unsigned long long)arg_int(args, 0, 0);
	long long count = arg_int(args, 1, 1);
	void *params[] = {&us};
	double t0 = now_ms();
	CUresult r = busy_kernel(c);

	for (long long i = 0; i < count && !r; i++)
		r = fn(c, params);
	kv(c, "ms=%.3f", now_ms() - t0);
	return r;
}

static int launch(struct client *c, char **args) { return launches(c, args, by_launch); }
static int launchex(struct client *c, char **args) { return launches(c, args, by_launchex); }
static int coop(struct client *c, char **args) { return launches(c, args, by_coop); }

static int ssync(struct client *c, char **args)
{
	double t0 = now_ms();
	CUresult r = c->a->streamsync(c->stream);

	(void)args;
	kv(c, "ms=%.3f", now_ms() - t0);
	return r;
}

static int query(struct client *c, char **args)
{
	(void)args;
	return c->a->streamquery(c->stream);
}

static int time_events(struct client *c, char **args)
{
	const struct cuda_api *a = c->a;
	unsigned long long us = (unsigned long long)arg_int(args, 0, 0);
	long long count = arg_int(args, 1, 1);
	void *params[] = {&us};
	CUevent e0 = NULL, e1 = NULL;
	float ms = 0;
	CUresult r = busy_kernel(c);

	if (!r)
		r = a->eventcreate(&e0, 0);
	if (!r)
		r = a->eventcreate(&e1, 0);
	if (!r)
		r = a->eventrecord(e0, c->stream);
	for (long long i = 0; i < count && !r; i++)
		r = by_launch(c, params);
	if (!r)
		r = a->eventrecord(e1, c->stream);
	if (!r)
		r = a->eventsync(e1);
	if (!r)
		r = a->elapsed(&ms, e0, e1);
	if (e0)
		a->eventdestroy(e0);
	if (e1)
		a->eventdestroy(e1);
	kv(c, "ms=%.3f", ms);
	return r;
}

static int graph(struct client *c, char **args)
{
	const struct cuda_api *a = c->a;
	unsigned long long us = (unsigned long long)arg_int(args, 0, 0);
	long long nodes = arg_int(args, 1, 1);
	size_t bytes = arg_size(args, 2, 0);
	void *params[] = {&us};
	CUgraph g = NULL;
	CUgraphExec x = NULL;
	CUgraphNode node, prev = NULL;
	CUDA_MEM_ALLOC_NODE_PARAMS mp;
	struct client_obj *o;
	double t0;
	CUresult r = busy_kernel(c);

	memset(&mp, 0, sizeof mp);
	if (!r)
		r = a->graphcreate(&g, 0);
	if (!r && bytes) {
		mp.poolProps.allocType = 1;
		mp.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
		mp.poolProps.location.id = c->dev;
		mp.bytesize = bytes;
		r = a->graphalloc(&node, g, NULL, 0, &mp);
		prev = node;
	}
	for (long long i = 0; i < nodes && !r; i++) {
		CUDA_KERNEL_NODE_PARAMS_v2 kp;
		memset(&kp, 0, sizeof kp);
		kp.func = c->busy;
		kp.gridDimX = kp.gridDimY = kp.gridDimZ = 1;
		kp.blockDimX = 32;
		kp.blockDimY = kp.blockDimZ = 1;
		kp.kernelParams = params;
		r = a->graphkernel(&node, g, prev ? &prev : NULL, prev ? 1 : 0, &kp);
		prev = node;
	}
	if (!r && bytes)
		r = a->graphfree(&node, g, &prev, 1, mp.dptr);
	if (!r)
		r = a->graphinst(&x, g, 0);
	t0 = now_ms();
	if (!r)
		r = a->graphlaunch(x, c->stream);
	if (!r)
		r = a->streamsync(c->stream);
	if (!r && (o = obj_push(c, OBJ_GRAPH))) {
		o->h = g;
		o->exec = x;
	}
	kv(c, "ms=%.3f dptr=0x%llx", now_ms() - t0, (unsigned long long)mp.dptr);
	return r;
}

/* The child runs the program's exit path (atexit handlers: the library's
 * exit report) as a program's own worker process would. */
static int forklaunch(struct client *c, char **args)
{
	unsigned long long us = (unsigned long long)arg_int(args, 0, 0);
	long long count = arg_int(args, 1, 1);
	void *params[] = {&us};
	CUresult r = busy_kernel(c);
	pid_t child;
	int st = 0;

	if (r)
		return r;
	fflush(stdout);
	child = fork();
	if (child == 0) {
		for (long long i = 0; i < count && !r; i++)
			r = by_launch(c, params);
		if (!r)
			r = c->a->ctxsync();
		exit(r ? 1 : 0);
	}
	if (child < 0 || waitpid(child, &st, 0) != child)
		return -1;
	kv(c, "child=%d status=%d", (int)child, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

const struct command launch_commands[] = {
	{"stream", 0, stream, 0},
	{"launch", 2, launch, 0},
	{"launchex", 2, launchex, 0},
	{"coop", 2, coop, 0},
	{"ssync", 0, ssync, 0},
	{"query", 0, query, 0},
	{"time", 2, time_events, 0},
	{"graph", 3, graph, 0},
	{"forklaunch", 2, forklaunch, 0},
	{0},
};
