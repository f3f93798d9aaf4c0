/* SPDX-License-Identifier: Apache-2.0 */
/* The guard's per-GPU files in the run directory (gpufile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "gpufile.h"

#include "config.h"
#include "fstat.h"
#include "uuid.h"

hidden int sm_gpufile_path(const uint8_t uuid[16], const char *suffix, char *buf, size_t len)
{
	char us[64];
	int n;

	sm_uuid_format(uuid, us, sizeof(us));
	n = snprintf(buf, len, "%s/%s%s", SM_RUN_DIR, us, suffix);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

hidden int sm_gpufile_open(const char *path, size_t size, struct stat *st, const char **why)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		*why = errno == ENOENT ? "missing" : errno == ELOOP ? "unsafe: a symbolic link" : "cannot open";
		return -1;
	}
	if (sm_fstat(fd, st) != 0 || !S_ISREG(st->st_mode))
		*why = "unsafe: not a regular file";
	else if (!sm_config_root_owned(st))
		*why = "unsafe: not owned by root or writable by others";
	else if (st->st_size != (off_t)size)
		*why = "unsafe: not of its format's size";
	else
		return fd;
	close(fd);
	return -1;
}
