/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simulated time: kernels run one at a time per device, FIFO across all
 * processes; each leaves a busy interval in the device's ring (in time
 * order), from which NVML computes utilisation: the device's over the last
 * second, and per process in bins like the driver's samples.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

uint64_t sim_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void sim_sleep_until(uint64_t t_ns)
{
	struct timespec ts = {(time_t)(t_ns / 1000000000ULL), (long)(t_ns % 1000000000ULL)};
	while (sim_now_ns() < t_ns)
		if (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) != 0 && errno != EINTR)
			break;
}

/* Whether this process's environment sets name to 1. */
static int env_one(const char *name)
{
	const char *v = getenv(name);
	return v && strcmp(v, "1") == 0;
}

/* Whether this process's work is hidden from the samples (the observer
 * still sees it): the worst case of the driver's whole samples, which can
 * miss a process sharing its slot for periods in a row. */
static int unsampled(void)
{
	static int v = -1;
	if (v < 0)
		v = env_one("SOFTMIG_SIM_UNSAMPLED");
	return v;
}

uint64_t sim_launch(int dev, uint64_t dur_ns)
{
	struct sim_device *d = &sim_st->dev[dev];
	struct sim_proc *self;
	uint64_t now, start, end;
	uint32_t pid, ns, hide = (uint32_t)unsampled();

	sim_lock();
	self = sim_self_locked(1);
	pid = sim_ring_pid(self, &ns); /* the host's pid, as the driver records it */
	now = sim_now_ns();
	start = d->busy_until_ns > now ? d->busy_until_ns : now;
	end = start + dur_ns;
	d->busy_until_ns = end;
	if (dur_ns) {
		struct sim_interval *last = d->ring_next ? &d->ring[(d->ring_next - 1) % SIM_RING] : NULL;
		if (last && last->pid == pid && last->ns == ns && last->unsampled == hide && last->end_ns == start) {
			last->end_ns = end; /* back to back: extend */
		} else {
			struct sim_interval *iv = &d->ring[d->ring_next % SIM_RING];
			iv->start_ns = start;
			iv->end_ns = end;
			iv->pid = pid;
			iv->ns = ns;
			iv->unsampled = hide;
			d->ring_next++;
		}
	}
	if (self)
		self->busy_ns[dev] += dur_ns;
	sim_unlock();
	return end;
}

uint64_t sim_busy_ns_locked(int dev, uint64_t from, uint64_t to, uint32_t pid)
{
	struct sim_device *d = &sim_st->dev[dev];
	uint64_t n = d->ring_next < SIM_RING ? d->ring_next : SIM_RING, busy = 0;
	for (uint64_t i = 0; i < n; i++) {
		const struct sim_interval *iv = &d->ring[i];
		uint64_t s = iv->start_ns > from ? iv->start_ns : from;
		uint64_t e = iv->end_ns < to ? iv->end_ns : to;
		if ((!pid || iv->pid == pid) && e > s)
			busy += e - s;
	}
	return busy;
}

/* A bin's busy time of one pid while it is being summed. */
struct acc {
	uint64_t end_ns;
	uint64_t busy_ns;
	uint32_t pid;
	uint32_t at_end; /* the pid was running at the bin's last instant */
};

static int grow(struct acc **a, int *cap, int n)
{
	struct acc *p;
	if (n < *cap)
		return 0;
	p = realloc(*a, (size_t)(*cap ? *cap * 2 : 64) * sizeof **a);
	if (!p)
		return -1;
	*a = p;
	*cap = *cap ? *cap * 2 : 64;
	return 0;
}

/* Adds [x, y) of pid, within the bin that ends at end, to the sums; the
 * sums of a bin are contiguous because the ring is in time order. */
static int add(struct acc **a, int *cap, int *n, int bin0, uint64_t end, uint32_t pid, uint64_t x, uint64_t y)
{
	int k;
	for (k = bin0; k < *n && !((*a)[k].end_ns == end && (*a)[k].pid == pid); k++)
		;
	if (k == *n) {
		if (grow(a, cap, *n) < 0)
			return -1;
		(*a)[k] = (struct acc){ .end_ns = end, .pid = pid };
		(*n)++;
	}
	(*a)[k].busy_ns += y - x;
	(*a)[k].at_end |= y == end;
	return 0;
}

/* Whole mode: one sample per bin, the sums of its pids given to one. */
static int whole(struct acc *a, int n)
{
	int out = 0, k = 0;
	while (k < n) {
		int best = k, j;
		uint64_t busy = 0;
		for (j = k; j < n && a[j].end_ns == a[k].end_ns; j++) {
			busy += a[j].busy_ns;
			if (a[j].at_end || (!a[best].at_end && a[j].busy_ns > a[best].busy_ns))
				best = j;
		}
		a[out] = a[best];
		a[out++].busy_ns = busy;
		k = j;
	}
	return out;
}

/* A reader with SOFTMIG_SIM_SAMPLE_TRUTH=1 (a test's observer) gets each
 * process's busy time in every bin, also where the driver-like samples
 * give the bin whole to one: what ran, not what a sampler saw. */
static int truth_reader(void)
{
	return env_one("SOFTMIG_SIM_SAMPLE_TRUTH");
}

int sim_samples_locked(int dev, uint64_t from, uint64_t to, struct sim_sample **out)
{
	const struct sim_device *d = &sim_st->dev[dev];
	uint64_t bin = (uint64_t)sim_st->sample_ms * 1000000ULL;
	uint64_t lo = (from / bin) * bin, hi = (to / bin) * bin; /* bins end in (lo, hi] */
	uint64_t n = d->ring_next < SIM_RING ? d->ring_next : SIM_RING;
	struct acc *a = NULL;
	int cap = 0, na = 0, bin0 = 0;

	int truth = truth_reader();

	for (uint64_t i = d->ring_next - n; i < d->ring_next && lo < hi; i++) {
		const struct sim_interval *iv = &d->ring[i % SIM_RING];
		uint64_t x = iv->start_ns > lo ? iv->start_ns : lo;
		uint64_t e = iv->end_ns < hi ? iv->end_ns : hi;
		if (iv->unsampled && !truth)
			continue;
		while (x < e) {
			uint64_t end = (x / bin + 1) * bin, y = e < end ? e : end;
			while (bin0 < na && a[bin0].end_ns < end)
				bin0++;
			if (add(&a, &cap, &na, bin0, end, iv->pid, x, y) < 0) {
				free(a);
				return -1;
			}
			x = y;
		}
	}
	if (sim_st->sample_whole && !truth)
		na = whole(a, na);
	*out = na ? malloc((size_t)na * sizeof **out) : NULL;
	if (na && !*out) {
		free(a);
		return -1;
	}
	for (int k = 0; k < na; k++)
		(*out)[k] = (struct sim_sample){ .end_ns = a[k].end_ns, .busy_ns = a[k].busy_ns, .pid = a[k].pid };
	free(a);
	return na;
}
