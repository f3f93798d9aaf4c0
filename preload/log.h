/* SPDX-License-Identifier: Apache-2.0 */
/* Logging (contract 5, log.c). */
#ifndef SOFTMIG_LOG_H
#define SOFTMIG_LOG_H

#include "softmig.h"

struct timespec;

enum sm_level { SM_ERROR, SM_EVENT, SM_WARN, SM_DEBUG, SM_INFO, SM_TRACE };
/* kv is "key=value key2=value2" already formatted; dev < 0 prints "-". */
hidden void sm_log(int level, int dev, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 4, 5)));
hidden void sm_log_reset_after_fork(void);
/* The fixed keys of a line up to msg, in buf; returns the length. */
hidden size_t sm_log_header(char *buf, size_t len, const struct timespec *ts, int level,
			    const char *job, int pid, int dev, const char *msg);
/* s as a quoted logfmt value, in buf. */
hidden const char *sm_log_quote(const char *s, char *buf, size_t len);

#endif
