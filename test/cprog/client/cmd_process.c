/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Commands on the process itself, for tests that run several clients:
 *   sleep:MS   pid (pid=)   fork (a child that exits at once)
 *   forkhold:S a child that keeps what it inherited (the driver's files)
 *              without using CUDA, for S seconds (child=)
 *   forkholdleft:S  the same, whose main thread then leaves (SYS_exit) while
 *              a second thread keeps the files: its /proc/<pid> is the
 *              leader's corpse, with no open files
 *   gate:PATH  waits until PATH exists (processes that start together)
 *   ready      prints the bare line "ready" (tests wait for it)
 *   hold       prints "hold rc=0 pid=<pid>", then waits for EOF on stdin
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static int sleep_ms(struct client *c, char **args)
{
	long long ms = arg_int(args, 0, 0);
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	(void)c;
	nanosleep(&ts, NULL);
	return 0;
}

static int pid(struct client *c, char **args)
{
	(void)args;
	kv(c, "pid=%d", (int)getpid());
	return 0;
}

/* The child leaves through exit(), running atexit handlers: it must not
 * give back what the parent holds. */
static int fork_child(struct client *c, char **args)
{
	pid_t child = fork();
	int st = 0;

	(void)c, (void)args;
	if (child == 0)
		exit(0);
	if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st))
		return -1;
	return 0;
}

/* The child calls nothing of CUDA: it only keeps the parent's files open,
 * as a program that forked after CUDA started and went on does. */
static void *hold_then_exit(void *secs)
{
	sleep((unsigned)(uintptr_t)secs);
	_exit(0);
}

static int fork_hold_as(struct client *c, char **args, int leader_leaves)
{
	long long secs = arg_int(args, 0, 0);
	pid_t child;

	fflush(stdout);
	child = fork();
	if (child == 0) {
		/* Neither the parent's input nor its output: whoever reads them
		 * sees the parent end. */
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (leader_leaves) {
			pthread_t t;
			if (pthread_create(&t, NULL, hold_then_exit, (void *)(uintptr_t)secs) == 0)
				syscall(SYS_exit, 0); /* this thread only */
		}
		sleep((unsigned)secs);
		_exit(0);
	}
	if (child < 0)
		return -1;
	kv(c, "child=%d", (int)child);
	return 0;
}

static int fork_hold(struct client *c, char **args)
{
	return fork_hold_as(c, args, 0);
}

static int fork_hold_left(struct client *c, char **args)
{
	return fork_hold_as(c, args, 1);
}

static int gate(struct client *c, char **args)
{
	struct timespec ts = {0, 200000};

	(void)c;
	while (args[0] && access(args[0], F_OK) != 0)
		nanosleep(&ts, NULL);
	return 0;
}

static int ready(struct client *c, char **args)
{
	(void)args;
	printf("ready\n");
	c->printed = 1;
	return 0;
}

static int hold(struct client *c, char **args)
{
	char buf[256];

	(void)args;
	kv(c, "pid=%d", (int)getpid());
	line_out(c, "hold", 0, 0);
	while (fgets(buf, sizeof buf, stdin))
		;
	return 0;
}

const struct command process_commands[] = {
	{"sleep", 1, sleep_ms, 0},
	{"pid", 0, pid, 0},
	{"fork", 0, fork_child, 0},
	{"forkhold", 1, fork_hold, 0},
	{"forkholdleft", 1, fork_hold_left, 0},
	{"gate", 1, gate, 0},
	{"ready", 0, ready, 0},
	{"hold", 0, hold, 0},
	{0},
};
