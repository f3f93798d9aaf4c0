/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging (contract 5): one logfmt line per event, formatted on the stack
 * and written with a single write(2) to an O_APPEND descriptor, so lines of
 * concurrent processes never interleave.  Never from setuid/setgid
 * (AT_SECURE) processes, never through a symlink, never to a file another
 * user could have planted (open_log), never to stderr below level 3, and
 * the caller's errno is preserved.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#include "config.h"
#include "env.h"
#include "fstat.h"
#include "paths.h"
#include "strlcpy.h"

static const char *const level_names[] = { "error", "event", "warn", "debug", "info", "trace" };
/* The lowest SOFTMIG_LOG_LEVEL at which each level is written. */
static const int level_min[] = { 0, 0, 1, 2, 3, 4 };

static int log_fd = -1;      /* -2: no log file can be had */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Opens a log file the library may append to: not a symlink, a regular
 * file with one link, owned by this process's user or root and writable by
 * no one else, so no other user can have planted it or read the job's
 * records through it.  With check_dir, its directory must be one other
 * users cannot write (unless sticky: then they cannot replace the file).
 */
static int open_log(const char *path, int check_dir)
{
	char dir[600];
	const char *slash = strrchr(path, '/'), *name = path;
	struct stat st;
	int fd, dfd = AT_FDCWD;
	const int flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

	if (check_dir && slash) {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return -1;
		memcpy(dir, path, n);
		dir[n] = 0;
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -1;
		if (sm_fstat(dfd, &st) != 0 || ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))) {
			close(dfd);
			return -1;
		}
		name = slash + 1;
	}
	fd = openat(dfd, name, flags, 0640);
	if (dfd >= 0)
		close(dfd);
	if (fd < 0)
		return -1;
	if (sm_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int log_open(void)
{
	char path[600];
	const char *p;
	int fd = -1;

	p = sm_env_get("SOFTMIG_LOG_FILE");
	if (p && p[0] == '/') {
		/* The user's own choice for their own processes: the file
		 * must still be theirs (or root's). */
		fd = open_log(p, 0);
		if (fd >= 0)
			return fd;
	}
	if (sm_config->job[0]) {
		sm_paths_job(path, sizeof(path), SM_FILE_LOG, sm_config->job);
		fd = open_log(path, 1);
		if (fd < 0) {
			p = sm_env_get("SLURM_TMPDIR");
			if (p && p[0] == '/') {
				sm_paths_tmp_log(path, sizeof(path), p, sm_config->job);
				fd = open_log(path, 1);
			}
		}
	} else {
		sm_paths_pid_log(path, sizeof(path), (int)getpid());
		fd = open_log(path, 1);
	}
	return fd;
}

/* Appends s as a logfmt quoted value: \" and \\ escaped, control bytes
 * as \n, \r, \t or \xHH (a path holding a newline cannot forge a line).
 * Returns the new offset; stops short of len. */
static size_t put_quoted(char *buf, size_t off, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (off + 1 < len)
		buf[off++] = '"';
	for (; *s && off + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			buf[off++] = '\\';
			buf[off++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			buf[off++] = '\\';
			buf[off++] = 'x';
			buf[off++] = hex[c >> 4];
			buf[off++] = hex[c & 15];
		} else {
			buf[off++] = (char)c;
		}
	}
	if (off + 1 < len)
		buf[off++] = '"';
	return off;
}

/* As internal/logrec: bare unless empty or holding a space, '=', '"' or a
 * control byte. */
static int needs_quote(const char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++)
		if (*s == ' ' || *s == '=' || *s == '"' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

hidden const char *sm_log_quote(const char *s, char *buf, size_t len)
{
	size_t off;

	if (!needs_quote(s)) {
		sm_strlcpy(buf, s, len);
		return buf;
	}
	off = put_quoted(buf, 0, len, s);
	buf[off < len ? off : len - 1] = 0;
	return buf;
}

/* "ts=... level=... job=... pid=... dev=... msg=\"...\"" in buf; returns its
 * length (< len).  Split from sm_log so that the vectors in
 * testdata/logrec.tsv can hold it to internal/logrec byte for byte. */
hidden size_t sm_log_header(char *buf, size_t len, const struct timespec *ts, int level,
			    const char *job, int pid, int dev, const char *msg)
{
	struct tm tm;
	size_t off;
	int n;

	gmtime_r(&ts->tv_sec, &tm);
	n = snprintf(buf, len, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ level=%s job=%s pid=%d dev=",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts->tv_nsec / 1000, level >= 0 && level <= SM_TRACE ? level_names[level] : "-",
		     job[0] ? job : "-", pid);
	off = n > 0 ? (size_t)n : 0;
	if (dev >= 0)
		n = snprintf(buf + off, len - off, "%d msg=", dev);
	else
		n = snprintf(buf + off, len - off, "- msg=");
	off += n > 0 ? (size_t)n : 0;
	off = put_quoted(buf, off, len - 1, msg);
	buf[off] = 0;
	return off;
}

hidden void sm_log(int level, int dev, const char *msg, const char *kvfmt, ...)
{
	char buf[1536];
	struct timespec ts;
	size_t off;
	int saved = errno, n;
	va_list ap;

	if (level < 0 || level > SM_TRACE || sm_config->log_level < level_min[level])
		return;
	if (sm_env_secure())
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	off = sm_log_header(buf, sizeof(buf) - 1, &ts, level, sm_config->job, (int)getpid(), dev, msg);
	if (kvfmt && *kvfmt) {
		buf[off++] = ' ';
		va_start(ap, kvfmt);
		n = vsnprintf(buf + off, sizeof(buf) - off - 1, kvfmt, ap);
		va_end(ap);
		if (n > 0)
			off += (size_t)n < sizeof(buf) - off - 1 ? (size_t)n : sizeof(buf) - off - 2;
	}
	buf[off++] = '\n';

	pthread_mutex_lock(&log_lock);
	if (log_fd == -1) {
		log_fd = log_open();
		if (log_fd < 0)
			log_fd = -2;
	}
	if (log_fd >= 0 && write(log_fd, buf, off) < 0) {
		/* a full disk loses the line, never the process */
	}
	pthread_mutex_unlock(&log_lock);
	if (sm_config->log_level >= 3 && write(STDERR_FILENO, buf, off) < 0) {
		/* nothing to do */
	}
	errno = saved;
}

/* The child of a fork keeps the parent's descriptor (same file, O_APPEND),
 * but the lock may have been held by another thread of the parent. */
hidden void sm_log_reset_after_fork(void)
{
	pthread_mutex_init(&log_lock, NULL);
}
