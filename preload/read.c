/* SPDX-License-Identifier: Apache-2.0 */
/* Small files read whole. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "read.h"

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
