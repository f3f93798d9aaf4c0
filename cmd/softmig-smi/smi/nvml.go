// SPDX-License-Identifier: Apache-2.0

package smi

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/softmig/softmig/internal/gpu"
)

// NVMLSource reads the GPUs through internal/gpu (NVML). Functions the
// loaded library lacks (older drivers, the simulator) are skipped and
// their values shown as N/A.
type NVMLSource struct {
	lib      *gpu.NVML
	procRoot string
}

// OpenNVML initialises NVML. procRoot ("/proc") is where process names
// are read. Its errors are internal/gpu's: gpu.ErrNoLibrary, *gpu.Error.
func OpenNVML(procRoot string) (*NVMLSource, error) {
	lib, err := gpu.Open("")
	if err != nil {
		return nil, err
	}
	return newNVMLSource(lib, procRoot), nil
}

func newNVMLSource(lib *gpu.NVML, procRoot string) *NVMLSource {
	return &NVMLSource{lib: lib, procRoot: procRoot}
}

// Close shuts NVML down.
func (s *NVMLSource) Close() error { return s.lib.Close() }

func (s *NVMLSource) has(name string) bool { return s.lib.Has(name) }

// Snapshot implements Source.
func (s *NVMLSource) Snapshot(need Need) (*System, error) {
	sys := &System{Time: time.Now()}
	if need&NeedVersions != 0 {
		v := s.lib.Versions()
		sys.DriverVersion, sys.NVMLVersion, sys.CUDAVersion = v.Driver, v.NVML, v.CUDA
	}
	n, err := s.lib.DeviceCount()
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		dev, err := s.lib.Device(i)
		if err != nil {
			return nil, err
		}
		d, err := s.device(i, dev.(*gpu.NVMLDevice), need)
		if err != nil {
			return nil, err
		}
		sys.Devices = append(sys.Devices, d)
	}
	return sys, nil
}

func state(v nvml.EnableState, ret nvml.Return) State {
	if ret != nvml.SUCCESS {
		return StateNA
	}
	if v == nvml.FEATURE_ENABLED {
		return Enabled
	}
	return Disabled
}

func cstr(b []int8) string {
	u := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		u = append(u, byte(c))
	}
	return string(u)
}

var archNames = map[nvml.DeviceArchitecture]string{
	nvml.DEVICE_ARCH_KEPLER: "Kepler", nvml.DEVICE_ARCH_MAXWELL: "Maxwell",
	nvml.DEVICE_ARCH_PASCAL: "Pascal", nvml.DEVICE_ARCH_VOLTA: "Volta",
	nvml.DEVICE_ARCH_TURING: "Turing", nvml.DEVICE_ARCH_AMPERE: "Ampere",
	nvml.DEVICE_ARCH_ADA: "Ada Lovelace", nvml.DEVICE_ARCH_HOPPER: "Hopper",
	nvml.DEVICE_ARCH_BLACKWELL: "Blackwell",
}

// device reads one GPU: its name and UUID, and the groups need selects;
// the values beyond internal/gpu's Device come from its go-nvml handle.
func (s *NVMLSource) device(i int, dev *gpu.NVMLDevice, need Need) (*Device, error) {
	d := &Device{Index: i, Minor: NA, ComputeMode: NA, ECCUncorr: NA,
		UtilGPU: NA, UtilMem: NA, TempC: NA, PowerMW: NA, PowerCapMW: NA, FanPct: NA, PState: NA,
		ClockGraphics: NA, ClockSM: NA, ClockMem: NA, ClockVideo: NA, MaxGraphics: NA, MaxSM: NA, MaxMem: NA, MaxVideo: NA,
		Persistence: StateNA, DisplayMode: StateNA, DisplayActive: StateNA, MIGCurrent: StateNA, MIGPending: StateNA,
		CCMajor: NA, CCMinor: NA}
	var err error
	if d.Name, err = dev.Name(); err != nil {
		return nil, err
	}
	if d.UUID, err = dev.UUID(); err != nil {
		return nil, err
	}
	h := dev.Handle()
	if need&NeedPCI != 0 {
		if pci, ret := h.GetPciInfo(); ret == nvml.SUCCESS {
			d.BusID = cstr(pci.BusId[:])
			d.Domain, d.Bus, d.PCIDevice = pci.Domain, pci.Bus, pci.Device
			d.PCIDeviceID, d.PCISubsystemID = pci.PciDeviceId, pci.PciSubSystemId
		}
	}
	if need&NeedMem != 0 {
		if m, err := dev.Memory(); err == nil {
			d.MemOK, d.MemTotal, d.MemReserved, d.MemUsed, d.MemFree = true, m.Total, m.Reserved, m.Used, m.Free
		}
	}
	s.tableValues(h, d, need)
	s.detailValues(dev, d, need)
	if need&(NeedProcs|NeedProcUtil) != 0 {
		s.procs(dev, d, need&NeedProcNames != 0)
	}
	if need&NeedProcUtil != 0 {
		// Samples of the last second, as nvidia-smi's own pmon reads them.
		if samples, err := dev.Utilization(time.Now().Add(-time.Second)); err == nil {
			d.ProcUtilOK = true
			d.ProcUtil = perProcess(samples)
		}
	}
	return d, nil
}

func (s *NVMLSource) tableValues(h nvml.Device, d *Device, need Need) {
	if need&NeedModes != 0 {
		d.Persistence = state(h.GetPersistenceMode())
		d.DisplayActive = state(h.GetDisplayActive())
		if m, ret := h.GetComputeMode(); ret == nvml.SUCCESS {
			d.ComputeMode = int(m)
		}
		if s.has("nvmlDeviceGetMigMode") {
			if cur, pend, ret := h.GetMigMode(); ret == nvml.SUCCESS {
				d.MIGCurrent, d.MIGPending = State(cur), State(pend)
			}
		}
	}
	if need&NeedUtil != 0 {
		if u, ret := h.GetUtilizationRates(); ret == nvml.SUCCESS {
			d.UtilGPU, d.UtilMem = int(u.Gpu), int(u.Memory)
		}
	}
	if need&NeedTemp != 0 {
		if t, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
			d.TempC = int(t)
		}
	}
	if need&NeedPower != 0 {
		if p, ret := h.GetPowerUsage(); ret == nvml.SUCCESS {
			d.PowerMW = int64(p)
		}
	}
	if need&NeedPowerLimit != 0 {
		if s.has("nvmlDeviceGetEnforcedPowerLimit") {
			if p, ret := h.GetEnforcedPowerLimit(); ret == nvml.SUCCESS {
				d.PowerCapMW = int64(p)
			}
		}
		if d.PowerCapMW == NA && s.has("nvmlDeviceGetPowerManagementLimit") {
			if p, ret := h.GetPowerManagementLimit(); ret == nvml.SUCCESS {
				d.PowerCapMW = int64(p)
			}
		}
	}
	if need&NeedFan != 0 {
		if f, ret := h.GetFanSpeed(); ret == nvml.SUCCESS {
			d.FanPct = int(f)
		}
	}
	if need&NeedPState != 0 {
		if p, ret := h.GetPerformanceState(); ret == nvml.SUCCESS && p != nvml.PSTATE_UNKNOWN {
			d.PState = int(p)
		}
	}
	if need&NeedECC != 0 && s.has("nvmlDeviceGetEccMode") && s.has("nvmlDeviceGetTotalEccErrors") {
		if cur, _, ret := h.GetEccMode(); ret == nvml.SUCCESS && cur == nvml.FEATURE_ENABLED {
			if n, ret := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC); ret == nvml.SUCCESS {
				d.ECCUncorr = int64(n)
			}
		}
	}
}

func (s *NVMLSource) detailValues(dev *gpu.NVMLDevice, d *Device, need Need) {
	h := dev.Handle()
	if need&NeedSerial != 0 {
		if v, ret := h.GetSerial(); ret == nvml.SUCCESS {
			d.Serial = v
		}
	}
	if need&NeedMinor != 0 {
		if v, err := dev.Minor(); err == nil {
			d.Minor = v
		}
	}
	if need&NeedArch != 0 {
		if s.has("nvmlDeviceGetArchitecture") {
			if a, ret := h.GetArchitecture(); ret == nvml.SUCCESS {
				d.Arch = archNames[a]
			}
		}
		if s.has("nvmlDeviceGetCudaComputeCapability") {
			if ma, mi, ret := h.GetCudaComputeCapability(); ret == nvml.SUCCESS {
				d.CCMajor, d.CCMinor = ma, mi
			}
		}
	}
	if need&NeedDisplay != 0 {
		d.DisplayMode = state(h.GetDisplayMode())
	}
	if need&NeedBAR1 != 0 && s.has("nvmlDeviceGetBAR1MemoryInfo") {
		if b, ret := h.GetBAR1MemoryInfo(); ret == nvml.SUCCESS {
			d.Bar1OK, d.Bar1Total, d.Bar1Used = true, b.Bar1Total, b.Bar1Used
		}
	}
	if need&NeedBAR1 != 0 && s.has("nvmlDeviceGetConfComputeProtectedMemoryUsage") {
		if m, ret := h.GetConfComputeProtectedMemoryUsage(); ret == nvml.SUCCESS {
			d.CCMemOK, d.CCMemTotal, d.CCMemUsed, d.CCMemFree = true, m.Total, m.Used, m.Free
		}
	}
	clock := func(get func(nvml.ClockType) (uint32, nvml.Return), t nvml.ClockType) int {
		if v, ret := get(t); ret == nvml.SUCCESS {
			return int(v)
		}
		return NA
	}
	if need&NeedClocks != 0 && s.has("nvmlDeviceGetClockInfo") {
		d.ClockGraphics = clock(h.GetClockInfo, nvml.CLOCK_GRAPHICS)
		d.ClockSM = clock(h.GetClockInfo, nvml.CLOCK_SM)
		d.ClockMem = clock(h.GetClockInfo, nvml.CLOCK_MEM)
		d.ClockVideo = clock(h.GetClockInfo, nvml.CLOCK_VIDEO)
	}
	if need&NeedMaxClocks != 0 && s.has("nvmlDeviceGetMaxClockInfo") {
		d.MaxGraphics = clock(h.GetMaxClockInfo, nvml.CLOCK_GRAPHICS)
		d.MaxSM = clock(h.GetMaxClockInfo, nvml.CLOCK_SM)
		d.MaxMem = clock(h.GetMaxClockInfo, nvml.CLOCK_MEM)
		d.MaxVideo = clock(h.GetMaxClockInfo, nvml.CLOCK_VIDEO)
	}
}

// procs merges compute and graphics processes ("C", "G", "C+G").
func (s *NVMLSource) procs(dev gpu.Device, d *Device, names bool) {
	byPID := map[uint32]int{}
	add := func(list []gpu.Process, typ string) {
		for _, p := range list {
			if i, ok := byPID[p.PID]; ok {
				d.Procs[i].Type = "C+G"
				continue
			}
			pr := Process{PID: p.PID, Type: typ, GI: NA, CI: NA, UsedMem: p.Used, MemOK: p.UsedKnown}
			if p.GI != gpu.NoInstance && d.MIGCurrent == Enabled {
				pr.GI, pr.CI = int(p.GI), int(p.CI)
			}
			if names {
				pr.Name = ProcessName(s.procRoot, p.PID)
			}
			byPID[p.PID] = len(d.Procs)
			d.Procs = append(d.Procs, pr)
		}
	}
	if list, err := dev.ComputeProcesses(); err == nil {
		add(list, "C")
	}
	if list, err := dev.GraphicsProcesses(); err == nil {
		add(list, "G")
	}
}

// ProcessName is what nvidia-smi shows for a pid: argv[0] of its command
// line, else its comm, else "N/A" (another PID namespace, or gone).
func ProcessName(procRoot string, pid uint32) string {
	dir := filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10))
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		if len(b) > 0 {
			return string(b)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil && len(b) > 0 {
		return string(bytes.TrimRight(b, "\n"))
	}
	return "N/A"
}

// perProcess turns NVML's samples into one utilisation per process: the
// driver samples each process once per sampling period, so a second holds
// several samples of a busy process, and its utilisation over the second is
// their mean, not their sum.
func perProcess(samples []gpu.Sample) []ProcUtil {
	type acc struct{ sm, mem, n int }
	sums := map[uint32]*acc{}
	var order []uint32
	for _, p := range samples {
		a := sums[p.PID]
		if a == nil {
			a = &acc{}
			sums[p.PID] = a
			order = append(order, p.PID)
		}
		a.sm += int(p.SM)
		a.mem += int(p.Mem)
		a.n++
	}
	out := make([]ProcUtil, 0, len(order))
	for _, pid := range order {
		a := sums[pid]
		out = append(out, ProcUtil{PID: pid, SM: (a.sm + a.n/2) / a.n, Mem: (a.mem + a.n/2) / a.n})
	}
	return out
}
