// SPDX-License-Identifier: Apache-2.0

package gpu

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// The real Library reads the simulated GPU (build/sim/libnvidia-ml.so.1)
// through go-nvml: devices by index and UUID, memory, empty process lists.
func TestSimulator(t *testing.T) {
	testutil.Build(t, "sim")
	t.Setenv("SOFTMIG_SIM_STATE", filepath.Join(t.TempDir(), "sim.state"))
	t.Setenv("SOFTMIG_SIM_DEVICES", "2")
	t.Setenv("SOFTMIG_SIM_MEMORY", "46068m")
	t.Setenv("SOFTMIG_SIM_NAME", "NVIDIA L40S")
	lib, err := Open(testutil.Path(t, "build/sim/libnvidia-ml.so.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lib.Close(); err != nil {
			t.Error(err)
		}
	}()
	if n, err := lib.DeviceCount(); n != 2 || err != nil {
		t.Fatalf("DeviceCount = %d, %v; want 2", n, err)
	}
	d, err := lib.Device(1)
	if err != nil {
		t.Fatal(err)
	}
	name, err := d.Name()
	if err != nil || name != "NVIDIA L40S" {
		t.Errorf("Name = %q, %v", name, err)
	}
	if m, err := d.Memory(); err != nil || m.Total != 46068<<20 {
		t.Errorf("Memory = %+v, %v; want a total of 46068 MiB", m, err)
	}
	uuid, err := d.UUID()
	if err != nil || !strings.HasPrefix(uuid, "GPU-") {
		t.Fatalf("UUID = %q, %v", uuid, err)
	}
	same, err := lib.DeviceByUUID(uuid)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := same.UUID(); u != uuid {
		t.Errorf("DeviceByUUID(%s) is %s", uuid, u)
	}
	if p, err := d.ComputeProcesses(); err != nil || len(p) != 0 {
		t.Errorf("ComputeProcesses of an idle GPU = %v, %v", p, err)
	}
	if _, err := lib.DeviceByUUID("GPU-none"); err == nil {
		t.Error("DeviceByUUID of an unknown UUID: no error")
	}
	if _, err := lib.Device(2); err == nil {
		t.Error("Device(2) of 2 devices: no error")
	}
}

// Without the library, Open says so in the way callers test for.
func TestNoLibrary(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "libnvidia-ml.so.1"))
	if !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("Open of a missing library = %v, want ErrNoLibrary", err)
	}
}

// The Fake answers as a Library does, so tools can be tested on it.
func TestFake(t *testing.T) {
	now := time.Now()
	f := &Fake{Devices: []*FakeDevice{{DevUUID: "GPU-a", Samples: []Sample{
		{PID: 1, Time: uint64(now.Add(-2 * time.Second).UnixMicro())},
		{PID: 2, Time: uint64(now.UnixMicro())},
	}}}, Missing: map[string]bool{"nvmlDeviceGetMemoryInfo_v2": true}}
	d, err := f.DeviceByUUID("GPU-a")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := d.Utilization(now.Add(-time.Second)); err != nil || len(s) != 1 || s[0].PID != 2 {
		t.Errorf("Utilization of the last second = %+v, %v; want pid 2's sample", s, err)
	}
	if _, err := f.DeviceByUUID("GPU-b"); !IsCode(err, CodeNotFound) {
		t.Errorf("DeviceByUUID(GPU-b) = %v, want not found", err)
	}
	if f.Has("nvmlDeviceGetMemoryInfo_v2") || !f.Has("nvmlDeviceGetCount") {
		t.Error("Has does not follow Missing")
	}
}
