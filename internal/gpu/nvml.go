// SPDX-License-Identifier: Apache-2.0

package gpu

import (
	"strconv"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Open initialises NVML from libnvidia-ml.so.1 (library: "" for the
// loader's search, or a path). ErrNoLibrary when it cannot be loaded; an
// *Error for nvmlInit when the driver does not answer.
func Open(library string) (*NVML, error) {
	var opts []nvml.LibraryOption
	if library != "" {
		opts = append(opts, nvml.WithLibraryPath(library))
	}
	n, err := Wrap(nvml.New(opts...))
	if err == nil {
		n.util = newUtilReader(library)
	}
	return n, err
}

// Wrap initialises NVML through lib: go-nvml's library, or a mock of it in
// tests that count which NVML calls a tool makes.
func Wrap(lib nvml.Interface) (*NVML, error) {
	ret := lib.Init()
	if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
		return nil, ErrNoLibrary
	}
	if err := check("nvmlInit", ret); err != nil {
		return nil, err
	}
	return &NVML{lib: lib, syms: map[string]bool{}}, nil
}

// NVML is the real Library.
type NVML struct {
	lib  nvml.Interface
	mu   sync.Mutex // a node daemon asks from several goroutines
	syms map[string]bool
	util *utilReader // nil: go-nvml's two calls (a mock, or no symbols)
}

func check(call string, ret nvml.Return) error {
	if ret == nvml.SUCCESS {
		return nil
	}
	return &Error{Call: call, Code: int(ret), Msg: nvml.ErrorString(ret)}
}

// DeviceCount implements Library.
func (n *NVML) DeviceCount() (int, error) {
	c, ret := n.lib.DeviceGetCount()
	return c, check("nvmlDeviceGetCount", ret)
}

// Device implements Library.
func (n *NVML) Device(index int) (Device, error) {
	h, ret := n.lib.DeviceGetHandleByIndex(index)
	if err := check("nvmlDeviceGetHandleByIndex", ret); err != nil {
		return nil, err
	}
	return &NVMLDevice{h: h, lib: n}, nil
}

// DeviceByUUID implements Library.
func (n *NVML) DeviceByUUID(uuid string) (Device, error) {
	h, ret := n.lib.DeviceGetHandleByUUID(uuid)
	if err := check("nvmlDeviceGetHandleByUUID", ret); err != nil {
		return nil, err
	}
	return &NVMLDevice{h: h, lib: n}, nil
}

// Has implements Library (go-nvml looks versioned variants up itself;
// this guards calls that would abort the process on a missing symbol).
func (n *NVML) Has(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	ok, seen := n.syms[name]
	if !seen {
		ok = n.lib.Extensions().LookupSymbol(name) == nil
		n.syms[name] = ok
	}
	return ok
}

// Close shuts NVML down.
func (n *NVML) Close() error { return check("nvmlShutdown", n.lib.Shutdown()) }

// NVMLDevice is a real Device.
type NVMLDevice struct {
	h   nvml.Device
	lib *NVML

	uuidOnce sync.Once
	uuid     string // for the one-call samples read; "" unknown
}

// Handle is go-nvml's device, for softmig-smi's nvidia-smi fields beyond
// Device (clocks, power, ECC, ...).
func (d *NVMLDevice) Handle() nvml.Device { return d.h }

// Name implements Device.
func (d *NVMLDevice) Name() (string, error) {
	v, ret := d.h.GetName()
	return v, check("nvmlDeviceGetName", ret)
}

// UUID implements Device.
func (d *NVMLDevice) UUID() (string, error) {
	v, ret := d.h.GetUUID()
	return v, check("nvmlDeviceGetUUID", ret)
}

// Minor implements Device.
func (d *NVMLDevice) Minor() (int, error) {
	v, ret := d.h.GetMinorNumber()
	return v, check("nvmlDeviceGetMinorNumber", ret)
}

// Memory implements Device: the second version of the call (with what
// the driver reserves) where the library has it, else the first.
func (d *NVMLDevice) Memory() (Memory, error) {
	if d.lib.Has("nvmlDeviceGetMemoryInfo_v2") {
		if m, ret := d.h.GetMemoryInfo_v2(); ret == nvml.SUCCESS {
			return Memory{Total: m.Total, Reserved: m.Reserved, Used: m.Used, Free: m.Free, ReservedKnown: true}, nil
		}
	}
	m, ret := d.h.GetMemoryInfo()
	return Memory{Total: m.Total, Used: m.Used, Free: m.Free}, check("nvmlDeviceGetMemoryInfo", ret)
}

// ComputeProcesses implements Device.
func (d *NVMLDevice) ComputeProcesses() ([]Process, error) {
	list, ret := d.h.GetComputeRunningProcesses()
	return processes(list), check("nvmlDeviceGetComputeRunningProcesses", ret)
}

// GraphicsProcesses implements Device.
func (d *NVMLDevice) GraphicsProcesses() ([]Process, error) {
	list, ret := d.h.GetGraphicsRunningProcesses()
	return processes(list), check("nvmlDeviceGetGraphicsRunningProcesses", ret)
}

func processes(list []nvml.ProcessInfo) []Process {
	out := make([]Process, 0, len(list))
	for _, p := range list {
		pr := Process{PID: p.Pid, GI: p.GpuInstanceId, CI: p.ComputeInstanceId}
		if p.UsedGpuMemory != ^uint64(0) { // NVML_VALUE_NOT_AVAILABLE
			pr.Used, pr.UsedKnown = p.UsedGpuMemory, true
		}
		out = append(out, pr)
	}
	return out
}

// Utilization implements Device.
func (d *NVMLDevice) Utilization(since time.Time) ([]Sample, error) {
	const call = "nvmlDeviceGetProcessUtilization"
	if !d.lib.Has(call) {
		return nil, &Error{Call: call, Code: CodeNotSupported, Msg: "not in this driver's library"}
	}
	var samples []nvml.ProcessUtilizationSample
	ret := nvml.ERROR_UNKNOWN
	if u := d.lib.util; u != nil {
		d.uuidOnce.Do(func() {
			if v, r := d.h.GetUUID(); r == nvml.SUCCESS {
				d.uuid = v
			}
		})
		if d.uuid != "" {
			samples, ret = u.read(d.uuid, uint64(since.UnixMicro()))
		}
	}
	if ret != nvml.SUCCESS && ret != nvml.ERROR_NOT_FOUND {
		samples, ret = d.processUtilization(since)
		// New samples between go-nvml's sizing call and its second make
		// the second too small: ask again.
		for try := 0; try < 2 && ret == nvml.ERROR_INSUFFICIENT_SIZE; try++ {
			samples, ret = d.processUtilization(since)
		}
	}
	if ret == nvml.ERROR_NOT_FOUND {
		return nil, nil // no sample in the window
	}
	out := make([]Sample, 0, len(samples))
	for _, s := range samples {
		out = append(out, Sample{PID: s.Pid, Time: s.TimeStamp, SM: s.SmUtil, Mem: s.MemUtil})
	}
	return out, check(call, ret)
}

// processUtilization is go-nvml's call, but a sample that arrives between
// its sizing call and the second makes it slice past its buffer (go-nvml
// v0.13: utilization[:count] with the driver's larger count), a panic in
// a root daemon over an ordinary race: told as too small a buffer.
func (d *NVMLDevice) processUtilization(since time.Time) (samples []nvml.ProcessUtilizationSample, ret nvml.Return) {
	defer func() {
		if recover() != nil {
			samples, ret = nil, nvml.ERROR_INSUFFICIENT_SIZE
		}
	}()
	return d.h.GetProcessUtilization(uint64(since.UnixMicro()))
}

// Versions are the driver's, NVML's and CUDA's ("13.0"); "" where the
// library does not say.
type Versions struct{ Driver, NVML, CUDA string }

// Versions asks the library for them.
func (n *NVML) Versions() Versions {
	var v Versions
	if s, ret := n.lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		v.Driver = s
	}
	if n.Has("nvmlSystemGetNVMLVersion") {
		if s, ret := n.lib.SystemGetNVMLVersion(); ret == nvml.SUCCESS {
			v.NVML = s
		}
	}
	if c, ret := n.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		v.CUDA = strconv.Itoa(c/1000) + "." + strconv.Itoa(c%1000/10)
	}
	return v
}
