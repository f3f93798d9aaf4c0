/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_idle [EXIT]: a program that never touches CUDA.  It reports what the
 * preloaded library must not have done to it, one fact a line on stdout:
 * errno and dlerror() as main() finds them, open files, threads, the
 * disposition of every signal and the blocked mask, the umask, and the
 * environment (less LD_PRELOAD, the test's way in: /etc/ld.so.preload has
 * none).  Exits with EXIT (default 0).  On stderr, "softmig=<0|1>" says
 * whether the library is in the process, so that a test knows its
 * comparison compared something.  Built dynamic (dl_idle) and, with
 * STATIC_PROBE, static (static_idle).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef STATIC_PROBE
#include <dlfcn.h>
#endif

extern char **environ;

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - (strcmp(path, "/proc/self/fd") == 0 ? 1 : 0); /* the DIR itself */
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int err0 = errno;
	const char *dlerr0 = NULL;
	struct sigaction sa;
	sigset_t blocked;
	char disp[66];
	int sig, handlers = 0, n, i;
	mode_t um = umask(022);
	char **env;

#ifndef STATIC_PROBE
	dlerr0 = dlerror();
#endif
	umask(um);
	for (sig = 1; sig < 65; sig++) {
		disp[sig - 1] = '?';
		if (sigaction(sig, NULL, &sa) != 0)
			continue;
		disp[sig - 1] = sa.sa_handler == SIG_DFL ? 'D' : sa.sa_handler == SIG_IGN ? 'I' : 'H';
		handlers += disp[sig - 1] == 'H';
	}
	disp[64] = 0;
	sigprocmask(SIG_BLOCK, NULL, &blocked);
	printf("errno=%d dlerror=%s\n", err0, dlerr0 ? dlerr0 : "NULL");
	printf("fds=%d threads=%d handlers=%d umask=%03o\n", count_dir("/proc/self/fd"), count_dir("/proc/self/task"),
	       handlers, (unsigned)um);
	printf("signals=%s blocked=", disp);
	for (sig = 1; sig < 65; sig++)
		putchar(sigismember(&blocked, sig) == 1 ? '1' : '0');
	putchar('\n');
	for (n = 0; environ[n]; n++)
		;
	env = calloc((size_t)n + 1, sizeof(*env));
	for (i = 0; i < n; i++)
		env[i] = environ[i];
	qsort(env, (size_t)n, sizeof(*env), by_string);
	for (i = 0; i < n; i++)
		if (strncmp(env[i], "LD_PRELOAD=", 11) != 0)
			printf("env %s\n", env[i]);
	fflush(stdout);
#ifndef STATIC_PROBE
	fprintf(stderr, "softmig=%d\n", dlsym(RTLD_DEFAULT, "softmig_version") != NULL);
#else
	fprintf(stderr, "softmig=0\n");
#endif
	return argc > 1 ? atoi(argv[1]) : 0;
}
