package main

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
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
	close()
}

// nvmlReader reads through go-nvml (which dlopens libnvidia-ml.so.1).
type nvmlReader struct {
	lib    nvml.Interface
	count_ atomic.Uint64
	errs   atomic.Uint64
	mu     sync.Mutex
	devs   map[int]nvml.Device
}

func openNVML() (*nvmlReader, error) {
	r := &nvmlReader{lib: nvml.New(), devs: map[int]nvml.Device{}}
	r.count_.Add(1)
	if ret := r.lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("nvmlInit: %s", nvml.ErrorString(ret))
	}
	return r, nil
}

func (r *nvmlReader) calls() uint64  { return r.count_.Load() }
func (r *nvmlReader) errors() uint64 { return r.errs.Load() }
func (r *nvmlReader) close()         { r.lib.Shutdown() }

func (r *nvmlReader) fail(format string, args ...any) error {
	r.errs.Add(1)
	return fmt.Errorf(format, args...)
}

func (r *nvmlReader) count() (int, error) {
	r.count_.Add(1)
	n, ret := r.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return 0, r.fail("nvmlDeviceGetCount: %s", nvml.ErrorString(ret))
	}
	return n, nil
}

func (r *nvmlReader) dev(i int) (nvml.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.devs[i]; ok {
		return d, nil
	}
	r.count_.Add(1)
	d, ret := r.lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return nil, r.fail("GPU %d: nvmlDeviceGetHandleByIndex: %s", i, nvml.ErrorString(ret))
	}
	r.devs[i] = d
	return d, nil
}

func (r *nvmlReader) uuid(i int) (string, error) {
	d, err := r.dev(i)
	if err != nil {
		return "", err
	}
	r.count_.Add(1)
	u, ret := d.GetUUID()
	if ret != nvml.SUCCESS {
		return "", r.fail("GPU %d: nvmlDeviceGetUUID: %s", i, nvml.ErrorString(ret))
	}
	return u, nil
}

func (r *nvmlReader) memUsed(i int) (uint64, error) {
	d, err := r.dev(i)
	if err != nil {
		return 0, err
	}
	r.count_.Add(1)
	if m, ret := d.GetMemoryInfo_v2(); ret == nvml.SUCCESS {
		return m.Used, nil
	}
	r.count_.Add(1)
	m, ret := d.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return 0, r.fail("GPU %d: nvmlDeviceGetMemoryInfo: %s", i, nvml.ErrorString(ret))
	}
	return m.Used, nil
}

func (r *nvmlReader) procs(i int) ([]gpuProc, error) {
	dev, err := r.dev(i)
	if err != nil {
		return nil, err
	}
	var procs []gpuProc
	seen := map[int]int{}
	for _, list := range []struct {
		name string
		get  func() ([]nvml.ProcessInfo, nvml.Return)
	}{
		{"nvmlDeviceGetComputeRunningProcesses", dev.GetComputeRunningProcesses},
		{"nvmlDeviceGetGraphicsRunningProcesses", dev.GetGraphicsRunningProcesses},
	} {
		r.count_.Add(1)
		infos, ret := list.get()
		if ret == nvml.ERROR_NOT_SUPPORTED && list.name != "nvmlDeviceGetComputeRunningProcesses" {
			continue
		}
		if ret != nvml.SUCCESS {
			return nil, r.fail("GPU %d: %s: %s", i, list.name, nvml.ErrorString(ret))
		}
		for _, p := range infos {
			used := p.UsedGpuMemory
			if used == ^uint64(0) { // NVML_VALUE_NOT_AVAILABLE
				used = 0
			}
			// A process in both lists holds one set of memory.
			if j, ok := seen[int(p.Pid)]; ok {
				if used > procs[j].used {
					procs[j].used = used
				}
				continue
			}
			seen[int(p.Pid)] = len(procs)
			procs = append(procs, gpuProc{pid: int(p.Pid), used: used})
		}
	}
	return procs, nil
}

func (r *nvmlReader) samples(i int, since uint64) ([]sample, error) {
	dev, err := r.dev(i)
	if err != nil {
		return nil, err
	}
	var got []nvml.ProcessUtilizationSample
	ret := nvml.ERROR_INSUFFICIENT_SIZE
	// New samples between go-nvml's two calls make the second too small:
	// ask again.
	for try := 0; try < 3 && ret == nvml.ERROR_INSUFFICIENT_SIZE; try++ {
		r.count_.Add(2)
		got, ret = dev.GetProcessUtilization(since)
	}
	if ret == nvml.ERROR_NOT_FOUND {
		return nil, nil
	}
	if ret != nvml.SUCCESS {
		return nil, r.fail("GPU %d: nvmlDeviceGetProcessUtilization: %s", i, nvml.ErrorString(ret))
	}
	out := make([]sample, 0, len(got))
	for _, s := range got {
		if s.TimeStamp <= since {
			continue
		}
		out = append(out, sample{pid: int(s.Pid), ts: s.TimeStamp, util: s.SmUtil})
	}
	return out, nil
}
