// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/softmig/softmig/internal/gpu"
)

// gpuProc is one process on a GPU as the driver reports it.
type gpuProc struct {
	pid  int
	used uint64 // bytes; 0 when the driver does not say
}

// sample is one per-process utilisation sample: the process's share of
// the GPU's time up to the sample's instant.
type sample struct {
	pid  int
	ts   uint64 // CLOCK_REALTIME, microseconds
	util uint32 // percent
}

// gpuReader is what the guard needs from the driver; tests may replace it.
// Every method is safe for concurrent use.
type gpuReader interface {
	count() (int, error)
	uuid(i int) (string, error)
	// memUsed is the device's memory in use by processes (what NVML's
	// memory info calls used, less what it reports as reserved).
	memUsed(i int) (uint64, error)
	// procs lists the GPU's compute and graphics processes; an error,
	// never a partial list: a process missing from a list must not lower
	// a job's sum.
	procs(i int) ([]gpuProc, error)
	// samples returns the per-process utilisation samples newer than
	// since (microseconds), none (and no error) when there are none.
	samples(i int, since uint64) ([]sample, error)
	calls() uint64 // NVML calls made so far
	errors() uint64
	// driverCPU is the CPU the guard's threads spent inside those calls,
	// estimated from a random eighth of them (timed): the driver's share
	// of the guard's cost (on the simulator, the simulator's).
	driverCPU() time.Duration
	close() error
}

// nvmlReader reads the driver through internal/gpu, counting its calls.
type nvmlReader struct {
	lib  gpu.Library
	n    atomic.Uint64
	errs atomic.Uint64
	cpu  atomic.Int64 // ns of thread CPU inside the driver
	mu   sync.Mutex
	devs map[int]gpu.Device
	// The device count, read again after countFresh: every look asks
	// for it, and a node's GPUs do not come and go between two looks.
	nGPU   int
	nGPUAt time.Time
}

// countFresh is how long a device count is used before NVML is asked
// again (a look every 4-40 ms would otherwise ask at each).
const countFresh = time.Second

func openNVML() (*nvmlReader, error) {
	lib, err := gpu.Open("")
	if err != nil {
		return nil, err
	}
	return &nvmlReader{lib: lib, devs: map[int]gpu.Device{}}, nil
}

func (r *nvmlReader) calls() uint64  { return r.n.Load() }
func (r *nvmlReader) errors() uint64 { return r.errs.Load() }
func (r *nvmlReader) close() error   { return r.lib.Close() }

func (r *nvmlReader) driverCPU() time.Duration { return time.Duration(r.cpu.Load()) }

// timedOneIn: timed measures one call into the driver in so many, at
// random, and counts it so many times. A thread's CPU clock is a system
// call (no vDSO): reading it around every call cost a twentieth of the
// guard's CPU on the simulated 8-GPU node. Chosen at random, not every
// n-th: a look makes one call per GPU, and every n-th would time one GPU.
const timedOneIn = 8

// timed runs f, a call into the driver; one time in timedOneIn it runs it
// on one thread and adds timedOneIn times the CPU that thread used to r.cpu.
func (r *nvmlReader) timed(f func()) {
	if rand.IntN(timedOneIn) != 0 {
		f()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	f()
	if d := threadCPU() - t0; d > 0 {
		r.cpu.Add(timedOneIn * int64(d))
	}
}

// call counts one NVML call and its failure.
func (r *nvmlReader) call(err error) error {
	r.n.Add(1)
	if err != nil {
		r.errs.Add(1)
	}
	return err
}

func (r *nvmlReader) count() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); r.nGPUAt.IsZero() || now.Sub(r.nGPUAt) >= countFresh {
		var n int
		var err error
		r.timed(func() { n, err = r.lib.DeviceCount() })
		if err := r.call(err); err != nil {
			r.nGPUAt = time.Time{}
			return 0, err
		}
		r.nGPU, r.nGPUAt = n, now
	}
	return r.nGPU, nil
}

func (r *nvmlReader) dev(i int) (gpu.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.devs[i]; ok {
		return d, nil
	}
	d, err := r.lib.Device(i)
	if err := r.call(err); err != nil {
		return nil, fmt.Errorf("GPU %d: %w", i, err)
	}
	r.devs[i] = d
	return d, nil
}

func (r *nvmlReader) uuid(i int) (string, error) {
	d, err := r.dev(i)
	if err != nil {
		return "", err
	}
	u, err := d.UUID()
	if err := r.call(err); err != nil {
		return "", fmt.Errorf("GPU %d: %w", i, err)
	}
	return u, nil
}

func (r *nvmlReader) memUsed(i int) (uint64, error) {
	d, err := r.dev(i)
	if err != nil {
		return 0, err
	}
	var m gpu.Memory
	r.timed(func() { m, err = d.Memory() })
	if err := r.call(err); err != nil {
		return 0, fmt.Errorf("GPU %d: %w", i, err)
	}
	return m.Used, nil
}

func (r *nvmlReader) procs(i int) ([]gpuProc, error) {
	d, err := r.dev(i)
	if err != nil {
		return nil, err
	}
	var procs []gpuProc
	seen := map[int]int{}
	for k, get := range []func() ([]gpu.Process, error){d.ComputeProcesses, d.GraphicsProcesses} {
		var list []gpu.Process
		r.timed(func() { list, err = get() })
		if k == 1 && gpu.IsCode(err, gpu.CodeNotSupported) {
			r.n.Add(1)
			continue
		}
		if err := r.call(err); err != nil {
			return nil, fmt.Errorf("GPU %d: %w", i, err)
		}
		for _, p := range list {
			pid := int(p.PID)
			// A process in both lists holds one set of memory.
			if j, ok := seen[pid]; ok {
				if p.Used > procs[j].used {
					procs[j].used = p.Used
				}
				continue
			}
			seen[pid] = len(procs)
			procs = append(procs, gpuProc{pid: pid, used: p.Used})
		}
	}
	return procs, nil
}

func (r *nvmlReader) samples(i int, since uint64) ([]sample, error) {
	d, err := r.dev(i)
	if err != nil {
		return nil, err
	}
	var got []gpu.Sample
	r.timed(func() { got, err = d.Utilization(time.UnixMicro(int64(since))) })
	if err := r.call(err); err != nil {
		return nil, fmt.Errorf("GPU %d: %w", i, err)
	}
	out := make([]sample, 0, len(got))
	for _, s := range got {
		if s.Time > since {
			out = append(out, sample{pid: int(s.PID), ts: s.Time, util: s.SM})
		}
	}
	return out, nil
}
