// SPDX-License-Identifier: Apache-2.0

// Package gpu is the Go tools' one way to the driver's NVML: it opens
// libnvidia-ml.so.1 through go-nvml and gives devices by index or UUID,
// their memory, their process lists and per-process utilisation samples.
// Library and Device are interfaces, so that a test can give a tool a
// Fake node instead; Open gives the real one.
package gpu

import (
	"errors"
	"time"
)

// ErrNoLibrary means libnvidia-ml.so.1 could not be loaded.
var ErrNoLibrary = errors.New("libnvidia-ml.so.1 not found")

// Library is an initialised NVML.
type Library interface {
	DeviceCount() (int, error)
	Device(index int) (Device, error)
	DeviceByUUID(uuid string) (Device, error)
	// Has reports whether the loaded library exports the NVML function
	// name: older drivers and the simulator lack some.
	Has(name string) bool
	Close() error
}

// Device is one GPU.
type Device interface {
	Name() (string, error)
	UUID() (string, error)
	// Minor is N of /dev/nvidiaN, as gres.conf's File= names the GPU.
	Minor() (int, error)
	// Memory is the framebuffer's; Reserved (what the driver keeps) is
	// known only where the library has nvmlDeviceGetMemoryInfo_v2.
	Memory() (Memory, error)
	ComputeProcesses() ([]Process, error)
	GraphicsProcesses() ([]Process, error)
	// Utilization gives the per-process samples taken since the time
	// given (none is no error).
	Utilization(since time.Time) ([]Sample, error)
}

// Memory of a device, in bytes.
type Memory struct {
	Total, Reserved, Used, Free uint64
	// ReservedKnown is false where the library only has the first
	// version of the call (no Reserved).
	ReservedKnown bool
}

// Process is one process on a device as the driver lists it.
type Process struct {
	PID uint32
	// Used is its device memory; UsedKnown is false when the driver does
	// not say (NVML_VALUE_NOT_AVAILABLE).
	Used      uint64
	UsedKnown bool
	// GPU and compute instance (MIG); NoInstance outside MIG.
	GI, CI uint32
}

// NoInstance is the GI and CI of a process outside MIG.
const NoInstance = 0xFFFFFFFF

// Sample is one of the driver's per-process utilisation samples.
type Sample struct {
	PID     uint32
	Time    uint64 // microseconds since the epoch
	SM, Mem uint32 // percent
}

// Error is a failing NVML call.
type Error struct {
	Call string // the NVML function, e.g. "nvmlDeviceGetCount"
	Code int    // its nvmlReturn_t
	Msg  string // the driver's words for Code
}

func (e *Error) Error() string { return e.Call + ": " + e.Msg }

// NVML return codes callers decide on.
const (
	CodeNotSupported = 3
	CodeNotFound     = 6
)

// IsCode reports whether err is an NVML error with code.
func IsCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
