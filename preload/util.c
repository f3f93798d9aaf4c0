/* Small helpers: clocks, /proc, files, environment. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "softmig.h"

hidden uint64_t sm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

hidden uint64_t sm_now_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* fstat through the system call: glibc 2.33 turned fstat into a new
 * versioned symbol, which would raise the library's glibc requirement. */
hidden int sm_fstat(int fd, void *st)
{
	return (int)syscall(SYS_fstat, fd, (struct stat *)st);
}

hidden size_t sm_strlcpy(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	if (len) {
		size_t c = n < len - 1 ? n : len - 1;
		memcpy(dst, src, c);
		dst[c] = 0;
	}
	return n;
}

/* Reads fd to its end, up to len-1 bytes, and NUL-terminates; -1 on error. */
hidden ssize_t sm_read_fd(int fd, char *buf, size_t len)
{
	size_t off = 0;

	while (off + 1 < len) {
		ssize_t r = read(fd, buf + off, len - 1 - off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	buf[off] = 0;
	return (ssize_t)off;
}

hidden ssize_t sm_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), saved;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = sm_read_fd(fd, buf, len);
	saved = errno;
	close(fd);
	errno = saved;
	return n;
}

/* State (field 3) and start time (field 22, clock ticks since boot: guards
 * pid reuse) of /proc/<pid>/stat.  The command name (field 2) may hold
 * spaces and ')', so parse after the last ')'.  -1 when unreadable. */
hidden int sm_proc_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024], *p;
	int field;

	/* Its own through "self": /proc may be another namespace's. */
	if (pid == getpid())
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sm_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	*state = p[2];
	/* after ')' comes " S ..." = field 3 */
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	*start = strtoull(p, NULL, 10);
	return 0;
}

hidden uint64_t sm_proc_start_time(pid_t pid)
{
	uint64_t start;
	char state;

	return sm_proc_stat(pid, &state, &start) == 0 ? start : 0;
}

/* 1 when pid runs and (if start_time is known) is the same process.  A
 * zombie is dead: the driver freed its memory when it exited, and a
 * killed process's parent may take its time to reap it. */
hidden int sm_pid_alive(pid_t pid, uint64_t start_time)
{
	int saved = errno, alive;
	uint64_t st;
	char state;

	if (pid <= 0)
		return 0;
	alive = kill(pid, 0) == 0 || errno == EPERM;
	if (alive && sm_proc_stat(pid, &state, &st) == 0) {
		if (state == 'Z' || state == 'X' || (start_time && st != start_time))
			alive = 0;
	}
	errno = saved;
	return alive;
}

hidden int sm_is_secure(void)
{
	return getauxval(AT_SECURE) != 0;
}

/* The environment is hostile: secure_getenv returns NULL in setuid/setgid
 * programs, so they never take limits or paths from their caller. */
hidden const char *sm_getenv(const char *name)
{
	return secure_getenv(name);
}

/* Decimal digits only, value <= max. */
hidden int sm_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		unsigned d;
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}
