/* SPDX-License-Identifier: Apache-2.0 */
/* Small files read whole (read.c). */
#ifndef SOFTMIG_READ_H
#define SOFTMIG_READ_H

#include "softmig.h"

/* Up to len-1 bytes, NUL-terminated: the count, or -1 (errno). */
hidden ssize_t sm_read_fd(int fd, char *buf, size_t len);
hidden ssize_t sm_read_file(const char *path, char *buf, size_t len);

#endif
