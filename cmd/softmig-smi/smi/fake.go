// SPDX-License-Identifier: Apache-2.0

package smi

import "time"

// Fake is a Source that returns a fixed System (tests and demos).
type Fake struct {
	Sys *System
	Err error
}

// Snapshot returns a deep copy of f.Sys, so that Apply cannot change it.
func (f *Fake) Snapshot(need Need) (*System, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	s := *f.Sys
	s.Devices = nil
	for _, d := range f.Sys.Devices {
		c := *d
		c.Procs = append([]Process(nil), d.Procs...)
		c.ProcUtil = append([]ProcUtil(nil), d.ProcUtil...)
		if need&NeedProcs == 0 {
			c.Procs = nil
		}
		s.Devices = append(s.Devices, &c)
	}
	return &s, nil
}

// Close implements Source.
func (f *Fake) Close() error { return nil }

// H100 returns a node with n idle H100 80GB HBM3 GPUs as NVML reports them
// with driver 580.159.04 (values from an H100 SXM5 node: the fixtures of
// testdata/h100).
func H100(n int) *System {
	sys := &System{
		Time:          time.Date(2025, 11, 25, 21, 39, 37, 0, time.UTC),
		DriverVersion: "580.159.04",
		NVMLVersion:   "13.580.159.04",
		CUDAVersion:   "13.0",
	}
	buses := []uint32{0x19, 0x3b, 0x4c, 0x5d, 0x9b, 0xbb, 0xcb, 0xdb}
	for i := 0; i < n; i++ {
		bus := buses[i%len(buses)]
		sys.Devices = append(sys.Devices, &Device{
			Index: i, Name: "NVIDIA H100 80GB HBM3",
			UUID:   "GPU-8ab1c2d3-000" + string(rune('0'+i)) + "-4e5f-a6b7-c8d9e0f1a2b3",
			Serial: "165222201473" + string(rune('0'+i)),
			BusID:  "00000000:" + hexByte(bus) + ":00.0", Domain: 0, Bus: bus, PCIDevice: 0,
			PCIDeviceID: 0x233010DE, PCISubsystemID: 0x16C110DE, Minor: i,
			Arch: "Hopper", CCMajor: 9, CCMinor: 0,
			Persistence: Enabled, DisplayMode: Enabled, DisplayActive: Disabled,
			ComputeMode: 0, MIGCurrent: Disabled, MIGPending: Disabled, ECCUncorr: 0,
			MemOK: true, MemTotal: 81559 << 20, MemReserved: 551 << 20, MemUsed: 0, MemFree: 81008 << 20,
			Bar1OK: true, Bar1Total: 131072 << 20, Bar1Used: 1 << 20, CCMemOK: true,
			UtilGPU: 0, UtilMem: 0, TempC: 31, PowerMW: 70123, PowerCapMW: 700000, FanPct: NA, PState: 0,
			ClockGraphics: 345, ClockSM: 345, ClockMem: 2619, ClockVideo: 765,
			MaxGraphics: 1980, MaxSM: 1980, MaxMem: 2619, MaxVideo: 1545,
			ProcUtilOK: true,
		})
	}
	return sys
}

func hexByte(b uint32) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4&0xf], digits[b&0xf]})
}
