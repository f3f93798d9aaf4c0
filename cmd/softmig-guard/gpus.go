package main

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// gpuProc is one process on a GPU as the driver reports it.
type gpuProc struct {
	pid  int
	used uint64 // bytes; 0 when the driver does not say
}

// gpu is one GPU's process list, or why it could not be read this round.
type gpu struct {
	index int // NVML index
	procs []gpuProc
	err   error
}

// gpuReader is what a round needs from the driver; tests may replace it.
type gpuReader interface {
	read() ([]gpu, error)
	calls() uint64 // NVML calls made so far
	close()
}

// nvmlReader reads through go-nvml (which dlopens libnvidia-ml.so.1).
type nvmlReader struct {
	lib   nvml.Interface
	count uint64
}

func openNVML() (*nvmlReader, error) {
	r := &nvmlReader{lib: nvml.New()}
	r.count++
	if ret := r.lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("nvmlInit: %s", nvml.ErrorString(ret))
	}
	return r, nil
}

func (r *nvmlReader) calls() uint64 { return r.count }

func (r *nvmlReader) close() { r.lib.Shutdown() }

// read lists every GPU's compute and graphics processes. A device whose
// handle or lists cannot be read comes back with err set, never with a
// partial list: a process missing from a list must not lower a job's sum.
func (r *nvmlReader) read() ([]gpu, error) {
	r.count++
	n, ret := r.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("nvmlDeviceGetCount: %s", nvml.ErrorString(ret))
	}
	gpus := make([]gpu, 0, n)
	for i := 0; i < n; i++ {
		g := gpu{index: i}
		g.procs, g.err = r.device(i)
		gpus = append(gpus, g)
	}
	return gpus, nil
}

func (r *nvmlReader) device(i int) ([]gpuProc, error) {
	r.count++
	dev, ret := r.lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("GPU %d: nvmlDeviceGetHandleByIndex: %s", i, nvml.ErrorString(ret))
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
		r.count++
		infos, ret := list.get()
		if ret == nvml.ERROR_NOT_SUPPORTED && list.name != "nvmlDeviceGetComputeRunningProcesses" {
			continue
		}
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("GPU %d: %s: %s", i, list.name, nvml.ErrorString(ret))
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
