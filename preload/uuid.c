/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GPU UUIDs: a CUDA ordinal's (which keys the shared region, so processes
 * with different CUDA_VISIBLE_DEVICES agree), and their text as NVML and
 * the time files spell it, "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
 */
#include <stdio.h>
#include <string.h>

#include "uuid.h"

#include "real.h"
#include "region_abi.h"

static struct {
	int have;
	uint8_t uuid[16];
} known[SM_MAX_DEVICES];

hidden int sm_uuid_of(CUdevice dev, uint8_t uuid[16])
{
	CUuuid u;
	CUresult r = CUDA_ERROR_NOT_FOUND;

	if (dev < 0 || dev >= SM_MAX_DEVICES)
		return -1;
	if (!known[dev].have) {
		if (real_cuDeviceGetUuid_v2)
			r = real_cuDeviceGetUuid_v2(&u, dev);
		if (r != CUDA_SUCCESS && real_cuDeviceGetUuid)
			r = real_cuDeviceGetUuid(&u, dev);
		if (r != CUDA_SUCCESS)
			return -1;
		memcpy(known[dev].uuid, u.bytes, 16);
		known[dev].have = 1;
	}
	memcpy(uuid, known[dev].uuid, 16);
	return 0;
}

hidden void sm_uuid_format(const uint8_t u[16], char *out, size_t len)
{
	snprintf(out, len,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" -> 16 bytes. */
hidden int sm_uuid_parse(const char *s, uint8_t uuid[16])
{
	int n = 0;

	if (strncmp(s, "GPU-", 4) != 0)
		return -1;
	for (s += 4; *s && n < 32; s++) {
		int v;
		if (*s == '-')
			continue;
		if ((v = hexval(*s)) < 0)
			return -1;
		if (n % 2 == 0)
			uuid[n / 2] = (uint8_t)(v << 4);
		else
			uuid[n / 2] |= (uint8_t)v;
		n++;
	}
	return n == 32 && *s == 0 ? 0 : -1;
}
