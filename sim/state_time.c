/*
 * Simulated time: kernels run one at a time per device, FIFO across all
 * processes; each leaves a busy interval in the device's ring, from which
 * NVML computes utilisation.
 */
#include <errno.h>
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

uint64_t sim_launch(int dev, uint64_t dur_ns)
{
	struct sim_device *d = &sim_st->dev[dev];
	struct sim_proc *self;
	uint64_t now, start, end;
	uint32_t pid, ns;

	sim_lock();
	self = sim_self_locked(1);
	pid = sim_ring_pid(self, &ns); /* the host's pid, as the driver records it */
	now = sim_now_ns();
	start = d->busy_until_ns > now ? d->busy_until_ns : now;
	end = start + dur_ns;
	d->busy_until_ns = end;
	if (dur_ns) {
		struct sim_interval *last = d->ring_next ? &d->ring[(d->ring_next - 1) % SIM_RING] : NULL;
		if (last && last->pid == pid && last->ns == ns && last->end_ns == start) {
			last->end_ns = end; /* back to back: extend */
		} else {
			struct sim_interval *iv = &d->ring[d->ring_next % SIM_RING];
			iv->start_ns = start;
			iv->end_ns = end;
			iv->pid = pid;
			iv->ns = ns;
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

int sim_busy_pids_locked(int dev, uint64_t from, uint64_t to, uint32_t *pids, int max)
{
	struct sim_device *d = &sim_st->dev[dev];
	uint64_t n = d->ring_next < SIM_RING ? d->ring_next : SIM_RING;
	int count = 0;
	for (uint64_t i = 0; i < n; i++) {
		const struct sim_interval *iv = &d->ring[i];
		int seen = 0;
		if (iv->end_ns <= from || iv->start_ns >= to || iv->end_ns == iv->start_ns)
			continue;
		for (int j = 0; j < count && !seen; j++)
			seen = pids[j] == iv->pid;
		if (!seen && count < max)
			pids[count++] = iv->pid;
	}
	return count;
}
