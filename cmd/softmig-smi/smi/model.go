// SPDX-License-Identifier: Apache-2.0

// Package smi builds what softmig-smi prints: a snapshot of the GPUs
// (System, read from NVML or a fake), the job's view of it (Apply: the
// slice's totals, the job's usage, the job's processes), and nvidia-smi's
// own output formats (the default table, -L, -q, CSV queries) plus the
// admin's table of slices.
package smi

import "time"

// NA marks an integer value the driver did not give ("N/A").
const NA = -1

// State is an NVML enable state, or NA.
type State int8

// States as NVML reports them.
const (
	Disabled State = 0
	Enabled  State = 1
	StateNA  State = NA
)

// System is one snapshot of the node's GPUs.
type System struct {
	Time          time.Time
	DriverVersion string
	NVMLVersion   string
	CUDAVersion   string // "13.0"
	Devices       []*Device
	// Attached is the number of GPUs on the node, whatever -i selects.
	Attached int
}

// Device is what softmig-smi shows about one GPU. Memory is in bytes, power
// in milliwatts, clocks in MHz, utilisation in percent; NA where missing.
type Device struct {
	Index          int
	Name           string
	UUID           string
	Serial         string // "" : N/A
	BusID          string // "00000000:19:00.0"
	Domain         uint32
	Bus            uint32
	PCIDevice      uint32
	PCIDeviceID    uint32
	PCISubsystemID uint32
	Minor          int
	Arch           string // "Hopper", "" : N/A
	CCMajor        int
	CCMinor        int

	Persistence   State
	DisplayMode   State
	DisplayActive State
	ComputeMode   int // NVML compute mode, NA
	MIGCurrent    State
	MIGPending    State
	ECCUncorr     int64 // volatile uncorrected ECC errors, NA

	MemOK       bool
	MemTotal    uint64
	MemReserved uint64
	MemUsed     uint64
	MemFree     uint64
	Bar1OK      bool
	Bar1Total   uint64
	Bar1Used    uint64
	// confidential computing's protected memory
	CCMemOK                          bool
	CCMemTotal, CCMemUsed, CCMemFree uint64

	UtilGPU    int
	UtilMem    int
	TempC      int
	PowerMW    int64
	PowerCapMW int64
	FanPct     int
	PState     int

	ClockGraphics, ClockSM, ClockMem, ClockVideo int
	MaxGraphics, MaxSM, MaxMem, MaxVideo         int

	Procs []Process
	// ProcUtil is the per-process utilisation of the last second;
	// ProcUtilOK is false when the driver does not report it.
	ProcUtil   []ProcUtil
	ProcUtilOK bool

	// Slice is set by Apply inside a job: the device as the job sees it.
	Slice *SliceInfo
}

// Process is one process using a GPU.
type Process struct {
	PID     uint32
	Type    string // "C", "G", "C+G"
	Name    string
	UsedMem uint64
	MemOK   bool
	GI, CI  int // MIG instance ids, NA without MIG
}

// ProcUtil is one process's utilisation over the last second (the mean of
// its NVML process utilisation samples).
type ProcUtil struct {
	PID uint32
	SM  int
	Mem int
}

// SliceInfo records how Apply rewrote a device for the job.
type SliceInfo struct {
	Ordinal    int    // CUDA ordinal under CUDA_VISIBLE_DEVICES, NA if not visible
	Limit      uint64 // memory limit, 0: none
	SMLimit    int    // 0: none
	FromRegion bool
}

// Source gives snapshots of the node's GPUs.
type Source interface {
	// Snapshot reads every device; need says which groups of values the
	// caller prints, so that a fast path can skip the rest.
	Snapshot(need Need) (*System, error)
	Close() error
}

// Need selects groups of values, so that a snapshot makes only the NVML
// calls the output prints (nvidia-smi -L makes two per GPU; so must we).
// A device's index, name and UUID are always read.
type Need uint

// Groups of values.
const (
	NeedVersions   Need = 1 << iota // driver, NVML and CUDA versions
	NeedPCI                         // PCI info (bus id)
	NeedMem                         // FB memory
	NeedUtil                        // GPU and memory utilisation
	NeedTemp                        // temperature
	NeedPower                       // power draw
	NeedPowerLimit                  // enforced power limit
	NeedFan                         // fan speed
	NeedPState                      // performance state
	NeedModes                       // persistence, display active, compute mode, MIG mode
	NeedDisplay                     // display attached (nvmlDeviceGetDisplayMode)
	NeedECC                         // volatile uncorrected ECC errors
	NeedSerial                      // serial number
	NeedMinor                       // minor number
	NeedArch                        // architecture and compute capability
	NeedBAR1                        // BAR1 and protected (confidential computing) memory
	NeedClocks                      // current clocks
	NeedMaxClocks                   // maximum clocks
	NeedProcs                       // running processes
	NeedProcNames                   // their names (read from /proc)
	NeedProcUtil                    // per-process utilisation

	// NeedTable is what the default table prints.
	NeedTable = NeedVersions | NeedPCI | NeedMem | NeedUtil | NeedTemp | NeedPower | NeedPowerLimit |
		NeedFan | NeedPState | NeedModes | NeedECC | NeedProcs | NeedProcNames
	// NeedAll is every value (-q).
	NeedAll = NeedTable | NeedDisplay | NeedSerial | NeedMinor | NeedArch | NeedBAR1 | NeedClocks |
		NeedMaxClocks
)

// MiB converts bytes to MiB as nvidia-smi does (rounding down).
func MiB(b uint64) uint64 { return b >> 20 }
