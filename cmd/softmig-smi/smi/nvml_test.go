// SPDX-License-Identifier: Apache-2.0

package smi

import (
	"fmt"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/softmig/softmig/internal/gpu"
)

// strictNVML is a two-GPU NVML whose devices answer only the calls named
// in allow; any other call panics (the mock's nil function), so a test
// proves which NVML calls a snapshot makes.
func strictNVML(t *testing.T, allow ...string) (*mock.Interface, []*mock.Device) {
	t.Helper()
	ok := map[string]bool{}
	for _, a := range allow {
		ok[a] = true
	}
	var devs []*mock.Device
	for i := 0; i < 2; i++ {
		d := &mock.Device{
			GetNameFunc: func() (string, nvml.Return) { return "NVIDIA H100 80GB HBM3", nvml.SUCCESS },
			GetUUIDFunc: func() (string, nvml.Return) { return fmt.Sprintf("GPU-%d", i), nvml.SUCCESS },
		}
		if ok["GetMemoryInfo_v2"] {
			d.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
				return nvml.Memory_v2{Total: 81559 << 20, Reserved: 480 << 20, Used: 4 << 20, Free: 81075 << 20}, nvml.SUCCESS
			}
		}
		devs = append(devs, d)
	}
	lib := &mock.Interface{
		InitFunc:           func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			return devs[i], nvml.SUCCESS
		},
		ExtensionsFunc: func() nvml.ExtendedInterface {
			return &mock.ExtendedInterface{LookupSymbolFunc: func(string) error { return nil }}
		},
	}
	return lib, devs
}

// TestLazySnapshot checks that -L and a memory query make only the NVML
// calls they print (nvidia-smi -L is two calls a GPU; softmig-smi was
// twice as slow when it read every value).
func TestLazySnapshot(t *testing.T) {
	q, _, ok := ParseQuery("memory.used,memory.total", false)
	if !ok {
		t.Fatal("memory.used,memory.total not parsed")
	}
	tests := []struct {
		name  string
		need  Need
		allow []string
	}{
		{"-L", 0, nil},
		{"--query-gpu=memory.used,memory.total", q.Needs(), []string{"GetMemoryInfo_v2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib, devs := strictNVML(t, tt.allow...)
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("an NVML call beyond %v: %v", append([]string{"GetName", "GetUUID"}, tt.allow...), r)
				}
			}()
			g, err := gpu.Wrap(lib)
			if err != nil {
				t.Fatal(err)
			}
			sys, err := newNVMLSource(g, t.TempDir()).Snapshot(tt.need)
			if err != nil || len(sys.Devices) != 2 {
				t.Fatalf("Snapshot(%#x) = %v, %v", tt.need, sys, err)
			}
			for _, d := range devs {
				if len(d.GetNameCalls()) != 1 || len(d.GetUUIDCalls()) != 1 {
					t.Errorf("GetName %d, GetUUID %d calls; want 1 each", len(d.GetNameCalls()), len(d.GetUUIDCalls()))
				}
			}
			if tt.need&NeedMem != 0 && MiB(sys.Devices[1].MemTotal) != 81559 {
				t.Errorf("memory.total = %d MiB; want 81559", MiB(sys.Devices[1].MemTotal))
			}
		})
	}
}

// TestQueryNeeds checks that a query reads only its fields' groups.
func TestQueryNeeds(t *testing.T) {
	tests := []struct {
		list string
		apps bool
		want Need
	}{
		{"index,name,uuid,count,timestamp,display_mode", false, 0},
		{"memory.used,memory.total", false, NeedMem},
		{"pci.bus_id,utilization.gpu,power.draw", false, NeedPCI | NeedUtil | NeedPower},
		{"pid,used_memory", true, NeedProcs},
		{"pid,process_name,gpu_bus_id", true, NeedProcs | NeedProcNames | NeedPCI},
	}
	for _, tt := range tests {
		q, bad, ok := ParseQuery(tt.list, tt.apps)
		if !ok {
			t.Errorf("ParseQuery(%q): %q not known", tt.list, bad)
			continue
		}
		if got := q.Needs(); got != tt.want {
			t.Errorf("%q needs %#x; want %#x", tt.list, got, tt.want)
		}
	}
	// nvidia-smi 580 has no minor_number: the real one must answer (and refuse it).
	if _, _, ok := ParseQuery("index,minor_number", false); ok {
		t.Error("minor_number accepted; nvidia-smi 580 says it is not a valid field")
	}
}
