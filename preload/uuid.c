/* GPU UUIDs as NVML and the time files spell them: "GPU-xxxxxxxx-...". */
#include <stdio.h>
#include <string.h>

#include "softmig.h"

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
