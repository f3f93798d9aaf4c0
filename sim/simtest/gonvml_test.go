// SPDX-License-Identifier: Apache-2.0

package simtest

import (
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/softmig/softmig/internal/testutil"
)

// TestGoNVML reads the simulator through NVIDIA's own Go bindings (what the
// Go tools use), which pins the struct layouts to go-nvml's.
func TestGoNVML(t *testing.T) {
	s := newSim(t, "SOFTMIG_SIM_DEVICES=2", "SOFTMIG_SIM_MEMORY=8g", "SOFTMIG_SIM_CTX_MEMORY=100m")
	h := s.start(nil, "init", "dev:1", "retain", "alloc:1g")
	t.Setenv("SOFTMIG_SIM_STATE", s.dir+"/sim.state")
	lib := nvml.New(nvml.WithLibraryPath(testutil.Path(t, "build/sim/libnvidia-ml.so.1")))
	if ret := lib.Init(); ret != nvml.SUCCESS {
		t.Fatalf("Init: %v", ret)
	}
	defer func() {
		if ret := lib.Shutdown(); ret != nvml.SUCCESS {
			t.Errorf("Shutdown: %v", ret)
		}
	}()
	if n, ret := lib.DeviceGetCount(); ret != nvml.SUCCESS || n != 2 {
		t.Fatalf("DeviceGetCount: %d, %v", n, ret)
	}
	dev, ret := lib.DeviceGetHandleByIndex(1)
	if ret != nvml.SUCCESS {
		t.Fatalf("DeviceGetHandleByIndex: %v", ret)
	}
	uuid, _ := dev.GetUUID()
	byUUID, ret := lib.DeviceGetHandleByUUID(uuid)
	if idx, _ := byUUID.GetIndex(); ret != nvml.SUCCESS || idx != 1 || !strings.HasPrefix(uuid, "GPU-") {
		t.Fatalf("DeviceGetHandleByUUID(%q): index %d, %v", uuid, idx, ret)
	}
	mem, ret := dev.GetMemoryInfo()
	if ret != nvml.SUCCESS || mem.Total != 8<<30 || mem.Used != 100<<20+1<<30 || mem.Free != mem.Total-mem.Used {
		t.Fatalf("GetMemoryInfo: %+v, %v", mem, ret)
	}
	mem2, ret := dev.GetMemoryInfo_v2()
	if ret != nvml.SUCCESS || mem2.Used != mem.Used || mem2.Total != mem.Total {
		t.Fatalf("GetMemoryInfo_v2: %+v, %v", mem2, ret)
	}
	procs, ret := dev.GetComputeRunningProcesses()
	if ret != nvml.SUCCESS || len(procs) != 1 || int(procs[0].Pid) != h.pid || procs[0].UsedGpuMemory != mem.Used {
		t.Fatalf("GetComputeRunningProcesses: %+v, %v (holder %d)", procs, ret, h.pid)
	}
	pci, ret := dev.GetPciInfo()
	busID := make([]byte, 0, 32)
	for _, c := range pci.BusId {
		if c == 0 {
			break
		}
		busID = append(busID, byte(c))
	}
	if ret != nvml.SUCCESS || string(busID) != "00000000:28:00.0" {
		t.Fatalf("GetPciInfo: %q, %v", busID, ret)
	}
	if _, ret := dev.GetFanSpeed(); ret != nvml.ERROR_NOT_SUPPORTED {
		t.Fatalf("GetFanSpeed: %v, want NOT_SUPPORTED", ret)
	}
	if v, ret := lib.SystemGetCudaDriverVersion(); ret != nvml.SUCCESS || v != 13000 {
		t.Fatalf("SystemGetCudaDriverVersion: %d, %v", v, ret)
	}
	h.release(t)
}
