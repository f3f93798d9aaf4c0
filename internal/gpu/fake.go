// SPDX-License-Identifier: Apache-2.0

package gpu

import (
	"fmt"
	"time"
)

// Fake is a Library for tests: a node whose GPUs are Devices.
type Fake struct {
	Devices []*FakeDevice
	// Missing names the NVML functions the fake library lacks (Has).
	Missing map[string]bool
	// Err, when set, is what DeviceCount returns.
	Err    error
	Closed bool
}

// FakeDevice is one GPU of a Fake; Err, when set, is what every call returns.
type FakeDevice struct {
	DevName, DevUUID  string
	DevMinor          int
	Mem               Memory
	Compute, Graphics []Process
	Samples           []Sample
	Err               error
}

// DeviceCount implements Library.
func (f *Fake) DeviceCount() (int, error) { return len(f.Devices), f.Err }

// Device implements Library.
func (f *Fake) Device(index int) (Device, error) {
	if index < 0 || index >= len(f.Devices) {
		return nil, &Error{Call: "nvmlDeviceGetHandleByIndex", Code: 2, Msg: fmt.Sprintf("no device %d", index)}
	}
	return f.Devices[index], nil
}

// DeviceByUUID implements Library.
func (f *Fake) DeviceByUUID(uuid string) (Device, error) {
	for _, d := range f.Devices {
		if d.DevUUID == uuid {
			return d, nil
		}
	}
	return nil, &Error{Call: "nvmlDeviceGetHandleByUUID", Code: CodeNotFound, Msg: "Not Found"}
}

// Has implements Library.
func (f *Fake) Has(name string) bool { return !f.Missing[name] }

// Close implements Library.
func (f *Fake) Close() error { f.Closed = true; return nil }

// Name implements Device.
func (d *FakeDevice) Name() (string, error) { return d.DevName, d.Err }

// UUID implements Device.
func (d *FakeDevice) UUID() (string, error) { return d.DevUUID, d.Err }

// Minor implements Device.
func (d *FakeDevice) Minor() (int, error) { return d.DevMinor, d.Err }

// Memory implements Device.
func (d *FakeDevice) Memory() (Memory, error) { return d.Mem, d.Err }

// ComputeProcesses implements Device.
func (d *FakeDevice) ComputeProcesses() ([]Process, error) { return d.Compute, d.Err }

// GraphicsProcesses implements Device.
func (d *FakeDevice) GraphicsProcesses() ([]Process, error) { return d.Graphics, d.Err }

// Utilization implements Device: the samples taken since then.
func (d *FakeDevice) Utilization(since time.Time) ([]Sample, error) {
	var out []Sample
	for _, s := range d.Samples {
		if s.Time >= uint64(since.UnixMicro()) {
			out = append(out, s)
		}
	}
	return out, d.Err
}

var (
	_ Library = (*Fake)(nil)
	_ Library = (*NVML)(nil)
	_ Device  = (*NVMLDevice)(nil)
)
