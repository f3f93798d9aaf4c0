/* SPDX-License-Identifier: Apache-2.0 */
/* strlcpy: glibc has it only from 2.38, which the library must not need. */
#include <string.h>

#include "strlcpy.h"

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
