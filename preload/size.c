/* SPDX-License-Identifier: Apache-2.0 */
/* Sizes (contract 3): digits, then an optional binary unit k/m/g/t
 * (any case) optionally followed by "B"/"b" or "iB"/"ib", or a bare "B".
 * The vectors in testdata/sizes.tsv pin this behaviour for C and Go. */
#include "parse.h"

hidden int sm_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (!s)
		return -1;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	case 'b': case 'B':
		if (p[1] != 0)
			return -1;
		*out = v;
		return 0;
	case 0:
		*out = v;
		return 0;
	default:
		return -1;
	}
	if ((p[0] == 'i' || p[0] == 'I') && (p[1] == 'b' || p[1] == 'B'))
		p += 2;
	else if (p[0] == 'b' || p[0] == 'B')
		p++;
	if (*p)
		return -1;
	if (v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}
