// SPDX-License-Identifier: Apache-2.0

package smi

import (
	"bytes"
	"strings"
	"testing"
)

// TestTableWidths checks every line of the default view has nvidia-smi's
// 91 columns (the date line aside), whatever the values.
func TestTableWidths(t *testing.T) {
	sys := H100(2)
	d := sys.Devices[1]
	d.Name = "NVIDIA RTX 6000 Ada Generation With A Long Name"
	d.FanPct, d.TempC, d.PowerMW, d.PowerCapMW, d.PState, d.UtilGPU = 100, 105, NA, NA, NA, 100
	d.MemTotal, d.MemUsed = 192<<30, 191<<30 // B200-sized
	d.Procs = []Process{{PID: 4194303, Type: "C+G", Name: strings.Repeat("x", 80), UsedMem: 123 << 30, MemOK: true, GI: 1, CI: 0}}
	var b bytes.Buffer
	Table(&b, sys)
	SlicesTable(&b, []SliceRow{{GPU: 0, Job: "123456789_1000", User: "averyveryverylongname", Limit: 40 << 30, Used: 1 << 30, SMLimit: 50, SMUsed: 100}})
	for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if i == 0 || line == "" {
			continue
		}
		if len(line) != 91 {
			t.Errorf("line %d is %d columns; want 91:\n%s", i, len(line), line)
		}
	}
}

func TestOrdinal(t *testing.T) {
	sys := H100(3)
	tests := []struct {
		visible string
		set     bool
		want    [3]int
	}{
		{"", false, [3]int{0, 1, 2}},
		{"", true, [3]int{NA, NA, NA}},
		{"2,0", true, [3]int{1, NA, 0}},
		{"1,7,0", true, [3]int{NA, 0, NA}}, // CUDA stops at the invalid 7
		{sys.Devices[2].UUID + ",GPU-8ab1c2d3-0000", true, [3]int{1, NA, 0}},
		{"GPU-8ab1c2d3", true, [3]int{NA, NA, NA}}, // ambiguous prefix
	}
	for _, tt := range tests {
		s := &Scope{}
		if tt.set {
			s.Visible = strings.Split(tt.visible, ",")
			if tt.visible == "" {
				s.Visible = []string{}
			}
		}
		for i, d := range sys.Devices {
			if got := s.Ordinal(d, sys.Devices); got != tt.want[i] {
				t.Errorf("CUDA_VISIBLE_DEVICES=%q: device %d has ordinal %d; want %d", tt.visible, i, got, tt.want[i])
			}
		}
	}
}
