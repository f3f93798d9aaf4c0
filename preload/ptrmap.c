/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What each live allocation cost, so its free can be credited back: an
 * open-addressing hash table keyed by (kind, pointer or handle), private
 * to the process.  Frees of keys the library never saw are not found here
 * and go to the driver untouched.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ptrmap.h"

#define EMPTY 0
#define TOMB 0xff

static struct sm_alloc *tab;
static size_t cap, used_cells, live;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static size_t hash(int kind, uint64_t key)
{
	uint64_t h = key ^ ((uint64_t)kind << 56);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h;
}

static int grow(void)
{
	/* Mostly tombstones: rehash at the same size instead of doubling. */
	size_t ncap = !cap ? 1024 : live * 4 < cap ? cap : cap * 2, i;
	struct sm_alloc *n = calloc(ncap, sizeof(*n)), *old = tab;

	if (!n)
		return -1;
	for (i = 0; i < cap; i++) {
		if (old[i].kind != EMPTY && old[i].kind != TOMB) {
			size_t j = hash(old[i].kind, old[i].key) & (ncap - 1);
			while (n[j].kind != EMPTY)
				j = (j + 1) & (ncap - 1);
			n[j] = old[i];
		}
	}
	free(old);
	tab = n;
	cap = ncap;
	used_cells = live;
	return 0;
}

hidden int sm_ptrmap_put(int kind, uint64_t key, uint64_t size, int dev, int ordinal, uint64_t owner)
{
	size_t j;

	pthread_mutex_lock(&lock);
	if ((used_cells + 1) * 2 > cap && grow() != 0) {
		pthread_mutex_unlock(&lock);
		return -1;
	}
	j = hash(kind, key) & (cap - 1);
	while (tab[j].kind != EMPTY && tab[j].kind != TOMB)
		j = (j + 1) & (cap - 1);
	if (tab[j].kind == EMPTY)
		used_cells++;
	tab[j].kind = (uint8_t)kind;
	tab[j].key = key;
	tab[j].size = size;
	tab[j].dev = (int16_t)dev;
	tab[j].ordinal = (int16_t)ordinal;
	tab[j].owner = owner;
	live++;
	pthread_mutex_unlock(&lock);
	return 0;
}

hidden int sm_ptrmap_take(int kind, uint64_t key, struct sm_alloc *out)
{
	size_t j, n;

	pthread_mutex_lock(&lock);
	if (!cap) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	j = hash(kind, key) & (cap - 1);
	for (n = 0; n < cap && tab[j].kind != EMPTY; n++, j = (j + 1) & (cap - 1)) {
		if (tab[j].kind == kind && tab[j].key == key) {
			*out = tab[j];
			tab[j].kind = TOMB;
			live--;
			pthread_mutex_unlock(&lock);
			return 1;
		}
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

/* Removes one entry whose owner (context or graph) is owner. */
hidden int sm_ptrmap_take_owned(uint64_t owner, struct sm_alloc *out)
{
	size_t j;

	pthread_mutex_lock(&lock);
	for (j = 0; j < cap; j++) {
		if (tab[j].kind != EMPTY && tab[j].kind != TOMB && tab[j].owner == owner) {
			*out = tab[j];
			tab[j].kind = TOMB;
			live--;
			pthread_mutex_unlock(&lock);
			return 1;
		}
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

/* CUDA does not survive fork: the child starts with no allocations. */
hidden void sm_ptrmap_reset_after_fork(void)
{
	pthread_mutex_init(&lock, NULL);
	free(tab);
	tab = NULL;
	cap = used_cells = live = 0;
}
