/* SPDX-License-Identifier: Apache-2.0 */
/* Numbers and sizes from text (parse.c, size.c). */
#ifndef SOFTMIG_PARSE_H
#define SOFTMIG_PARSE_H

#include "softmig.h"

/* Decimal digits only, value <= max: 0, or -1 on anything else. */
hidden int sm_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* Contract 3: returns 0 and stores the bytes, or -1 on malformed input. */
hidden int sm_parse_size(const char *s, uint64_t *out);

#endif
