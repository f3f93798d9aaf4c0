/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interpreter: splits each argument into a command and its ':'
 * arguments, finds the command in the groups' tables, runs it and prints
 * its line (see client.h).
 *
 * The word "leaderexit" runs the words after it in a second thread and
 * ends the main thread alone (SYS_exit): the process lives on with a
 * leader that reads as a zombie in /proc/<pid>/stat.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static const struct command *const groups[] = {
	device_commands, memory_commands, launch_commands,
	nvml_commands,   proc_commands,   process_commands,
};

static const struct command *lookup(const char *name)
{
	for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
		for (const struct command *k = groups[g]; k->name; k++)
			if (strcmp(k->name, name) == 0)
				return k;
	return NULL;
}

void kv(struct client *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->kvlen >= sizeof c->kv)
		return;
	va_start(ap, fmt);
	c->kv[c->kvlen++] = ' ';
	n = vsnprintf(c->kv + c->kvlen, sizeof c->kv - c->kvlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->kvlen += (size_t)n;
	if (c->kvlen > sizeof c->kv - 1)
		c->kvlen = sizeof c->kv - 1;
}

void line_out(struct client *c, const char *name, int rc, int nvml)
{
	const char *err = NULL;

	if (c->printed)
		return;
	c->printed = 1;
	printf("%s rc=%d", name, rc);
	if (rc) {
		c->failed = 1;
		if (!nvml && c->a->errname && c->a->errname((CUresult)rc, &err) == CUDA_SUCCESS && err)
			printf(" err=%s", err);
	}
	printf("%.*s\n", (int)c->kvlen, c->kv);
}

unsigned long long arg_size(char **args, int i, unsigned long long def)
{
	char *end;
	unsigned long long v;

	if (!args[i])
		return def;
	v = strtoull(args[i], &end, 10);
	switch (*end) {
	case 'k': case 'K': return v << 10;
	case 'm': case 'M': return v << 20;
	case 'g': case 'G': return v << 30;
	default: return v;
	}
}

long long arg_int(char **args, int i, long long def)
{
	return args[i] ? strtoll(args[i], NULL, 10) : def;
}

double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One command word.  Returns -1 on a usage error. */
static int run_word(struct client *c, char *word)
{
	char *args[8] = {0};
	char *colon = strchr(word, ':');
	const struct command *k;
	int n = 0, rc;

	if (colon)
		*colon = 0;
	k = lookup(word);
	if (!k) {
		fprintf(stderr, "client: unknown command \"%s\"\n", word);
		return -1;
	}
	if (colon && k->maxargs == 0) {
		fprintf(stderr, "client: %s takes no arguments\n", word);
		return -1;
	}
	for (char *s = colon; s && n < k->maxargs; n++) {
		args[n] = s + 1;
		s = n + 1 < k->maxargs ? strchr(args[n], ':') : NULL;
		if (s)
			*s = 0;
	}
	c->kvlen = 0;
	c->printed = 0;
	rc = k->run(c, args);
	line_out(c, k->name, rc, k->nvml);
	return 0;
}

static struct client c;
static int nargs;
static char **words;

static void *after_leader(void *from);

/* Runs words[from...]; at "leaderexit" the rest goes on in a new thread. */
static int run_from(int from)
{
	for (int i = from; i < nargs; i++) {
		if (strcmp(words[i], "leaderexit") == 0) {
			pthread_t t;
			if (pthread_create(&t, NULL, after_leader, (void *)(intptr_t)(i + 1)) != 0)
				return CLIENT_FAILED;
			syscall(SYS_exit, 0); /* this thread only */
		}
		if (run_word(&c, words[i]) < 0)
			return CLIENT_USAGE;
	}
	return c.failed ? CLIENT_FAILED : 0;
}

/* The thread that goes on after the leader left; exit() ends the process. */
static void *after_leader(void *from)
{
	exit(run_from((int)(intptr_t)from));
}

int client_main(const struct client_driver *drv, int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	c.drv = drv;
	c.a = &drv->api;
	nargs = argc;
	words = argv;
	return run_from(1);
}
