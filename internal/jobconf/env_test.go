// SPDX-License-Identifier: Apache-2.0

package jobconf

import (
	"strings"
	"testing"
)

// The environment may only tighten: the one Go implementation of the rule.
func TestTighten(t *testing.T) {
	cfg := &Config{MemoryLimit: 20 << 30, DeviceMemoryLimit: map[int]uint64{1: 10 << 30}, SMLimit: intp(50)}
	env := &Config{MemoryLimit: 30 << 30, DeviceMemoryLimit: map[int]uint64{0: 8 << 30, 1: 12 << 30}, SMLimit: intp(25), DeviceSMLimit: map[int]int{2: 75}}
	got := Tighten(cfg, env)
	for _, tt := range []struct {
		ord int
		mem uint64
		sm  int
	}{
		{0, 8 << 30, 25},  // env tighter
		{1, 10 << 30, 25}, // config tighter
		{2, 20 << 30, 50}, // env 75 for device 2 is looser than 50: ignored
		{AllDevices, 20 << 30, 25},
	} {
		if m, s := got.MemoryFor(tt.ord), got.SMFor(tt.ord); m != tt.mem || s != tt.sm {
			t.Errorf("Tighten: device %d = %d, %d%%; want %d, %d%%", tt.ord, m, s, tt.mem, tt.sm)
		}
	}
	if cfg.MemoryFor(0) != 20<<30 || cfg.SMFor(0) != 50 {
		t.Errorf("Tighten changed its argument: %+v", cfg)
	}
	// No limit in the config: the environment sets one. 100 is no limit.
	none := Tighten(&Config{}, &Config{SMLimit: intp(100)})
	if none.SMFor(0) != 0 || none.MemoryFor(0) != 0 {
		t.Errorf("Tighten with SM=100 in env: %d%%, %d; want no limits", none.SMFor(0), none.MemoryFor(0))
	}
	// The environment cannot remove a limit with 0 or 100.
	kept := Tighten(&Config{SMLimit: intp(30), DeviceSMLimit: map[int]int{1: 40}}, &Config{SMLimit: intp(0), DeviceSMLimit: map[int]int{1: 100}})
	if kept.SMFor(0) != 30 || kept.SMFor(1) != 40 {
		t.Errorf("env 0/100 loosened the SM limits: %d%%, %d%%; want 30%%, 40%%", kept.SMFor(0), kept.SMFor(1))
	}
}

func TestFromEnv(t *testing.T) {
	vars := map[string]string{"CUDA_DEVICE_MEMORY_LIMIT": "8g", "CUDA_DEVICE_SM_LIMIT_3": "20", "SOFTMIG_REGION": "/tmp/x"}
	c, set, err := FromEnv(func(k string) string { return vars[k] })
	if err != nil || !set || c.MemoryFor(0) != 8<<30 || c.SMFor(3) != 20 || c.SMFor(0) != 0 || c.Region != "" {
		t.Fatalf("FromEnv = %+v, %v, %v", c, set, err)
	}
	if _, set, err := FromEnv(func(string) string { return "" }); set || err != nil {
		t.Fatalf("empty environment: set %v, %v", set, err)
	}
	vars = map[string]string{"CUDA_DEVICE_MEMORY_LIMIT_0": "16q"}
	if _, _, err := FromEnv(func(k string) string { return vars[k] }); err == nil || !strings.Contains(err.Error(), `environment variable CUDA_DEVICE_MEMORY_LIMIT_0="16q"`) {
		t.Fatalf("bad value: %v", err)
	}
}
