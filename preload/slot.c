/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compute time slots: mask to ranges, and where a time falls (slot.h).
 */
#include "slot.h"

static int bit(const uint64_t mask[2], int p)
{
	return (int)(mask[p / 64] >> (p % 64) & 1);
}

hidden int sm_slot_from_mask(const uint64_t mask[2], struct sm_slots *s)
{
	const uint64_t unit = SM_SLOT_PERIOD_NS / 100;
	int p = 0;

	s->n = 0;
	while (p < 100 && s->n < SM_SLOT_RANGES) {
		int q;
		if (!bit(mask, p)) {
			p++;
			continue;
		}
		for (q = p; q < 100 && bit(mask, q); q++)
			;
		s->a[s->n] = (uint64_t)p * unit;
		s->b[s->n] = (uint64_t)q * unit;
		s->n++;
		p = q;
	}
	/* A slot through the end of the period goes on at its start: one range. */
	if (s->n > 1 && s->a[0] == 0 && s->b[s->n - 1] == SM_SLOT_PERIOD_NS) {
		s->a[0] = s->a[s->n - 1];
		s->b[0] += SM_SLOT_PERIOD_NS;
		s->n--;
	}
	return s->n;
}

hidden int sm_slot_find(const struct sm_slots *s, uint64_t t, uint64_t *start, uint64_t *end)
{
	uint64_t base = t - t % SM_SLOT_PERIOD_NS, best = UINT64_MAX;
	int k, i;

	/* Period k = -1 for a wrapped range that began in the last period. */
	for (k = -1; k <= 1; k++) {
		uint64_t pb = base + (uint64_t)((int64_t)k * (int64_t)SM_SLOT_PERIOD_NS);
		for (i = 0; i < s->n; i++) {
			uint64_t a = pb + s->a[i], b = pb + s->b[i];
			if (a <= t && t < b) {
				*start = a;
				*end = b;
				return 1;
			}
			if (a > t && a < best) {
				best = a;
				*start = a;
				*end = b;
			}
		}
	}
	return 0;
}
