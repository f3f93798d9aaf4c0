/* SPDX-License-Identifier: Apache-2.0 */
/* The user namespace this process runs in, and who root is there. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "userns.h"

#include "fstat.h"
#include "parse.h"
#include "proc.h"

/* 1 when this process is in the initial user namespace (getuid() is the
 * uid root sees), 0 in another: there a user maps any uid, root included. */
#define NSFS_MAGIC 0x6e736673
#define PROC_USER_INIT_INO 0xEFFFFFFDU

hidden int sm_userns_initial(void)
{
	struct statfs sf;
	struct stat st;
	int fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC | O_NOCTTY), ok;

	if (fd < 0)
		return 0;
	ok = syscall(SYS_fstatfs, fd, &sf) == 0 && sf.f_type == NSFS_MAGIC && sm_fstat(fd, &st) == 0 &&
	     st.st_ino == PROC_USER_INIT_INO;
	close(fd);
	return ok;
}

/*
 * The uid that files of the real root show as in this process: 0 in the
 * initial user namespace; in another, what /proc/self/uid_map maps uid 0
 * to, else (root unmapped, as in every namespace an unprivileged user
 * makes, Apptainer's included) the overflow uid.  -1 unknown.
 */
hidden int64_t sm_userns_root_uid(int init_ns)
{
	char buf[4096], *p, *end;
	uint64_t v;

	if (init_ns)
		return 0;
	if (sm_proc_read("/proc/self/uid_map", buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; *p; p = end) {
		unsigned long long in, out, count;
		end = strchr(p, '\n');
		end = end ? end + 1 : p + strlen(p);
		if (sscanf(p, "%llu %llu %llu", &in, &out, &count) == 3 && out == 0 && count > 0)
			return (int64_t)in;
	}
	if (sm_proc_read("/proc/sys/kernel/overflowuid", buf, sizeof(buf)) < 0)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return sm_parse_uint(buf, 4294967294ULL, &v) == 0 ? (int64_t)v : -1;
}
