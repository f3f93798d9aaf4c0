/* SPDX-License-Identifier: Apache-2.0 */
/* fstat through the system call: glibc 2.33 turned fstat into a new
 * versioned symbol, which would raise the library's glibc requirement. */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fstat.h"

hidden int sm_fstat(int fd, void *st)
{
	return (int)syscall(SYS_fstat, fd, (struct stat *)st);
}
