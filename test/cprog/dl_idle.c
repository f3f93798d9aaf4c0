/*
 * dl_idle: a program that never touches CUDA.  It reports what the
 * preloaded library must not have done to it: open files, threads, signal
 * handlers, the umask.  Prints "fds=<n> threads=<n> handlers=<n> umask=<o>".
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

int main(void)
{
	struct sigaction sa;
	int sig, handlers = 0;
	mode_t um = umask(022);

	umask(um);
	for (sig = 1; sig < 65; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
			handlers++;
	printf("fds=%d threads=%d handlers=%d umask=%03o\n", count_dir("/proc/self/fd"), count_dir("/proc/self/task"),
	       handlers, (unsigned)um);
	return 0;
}
