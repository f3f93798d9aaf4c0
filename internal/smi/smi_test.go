package smi

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// TestParseSize reads the shared vectors of contract 3.
func TestParseSize(t *testing.T) {
	f, err := os.Open(testutil.Path(t, "testdata/sizes.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, want, _ := strings.Cut(line, "\t")
		if in == "<empty>" {
			in = ""
		}
		got, err := ParseSize(in)
		if want == "error" {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d; want an error", in, got)
			}
		} else if w, _ := strconv.ParseUint(want, 10, 64); err != nil || got != w {
			t.Errorf("ParseSize(%q) = %d, %v; want %s", in, got, err, want)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d vectors read from testdata/sizes.tsv", n)
	}
}

func TestParseConfig(t *testing.T) {
	good := "# job 42\n\n CUDA_DEVICE_MEMORY_LIMIT = 20g \nCUDA_DEVICE_MEMORY_LIMIT_1=4g\nCUDA_DEVICE_SM_LIMIT=25\nCUDA_DEVICE_SM_LIMIT_1=100\nACTIVE_OOM_KILLER=1\nSOFTMIG_LOG_LEVEL=2\nSOFTMIG_REGION=/var/run/softmig/42.region\nSOFTMIG_SM_SLOT=0-25\nSOFTMIG_SM_SLOT_1=25-50,75-100\nSOFTMIG_GPU_0=3\nSOFTMIG_GPU_1=0\n"
	l, err := ParseConfig(strings.NewReader(good))
	if err != nil {
		t.Fatalf("ParseConfig(good): %v", err)
	}
	if l.MemFor(0) != 20<<30 || l.MemFor(1) != 4<<30 || l.MemFor(NA) != 20<<30 {
		t.Errorf("memory limits %d/%d/%d; want 20g, 4g, 20g", l.MemFor(0), l.MemFor(1), l.MemFor(NA))
	}
	if l.SMFor(0) != 25 || l.SMFor(1) != 0 {
		t.Errorf("SM limits %d/%d; want 25 and none", l.SMFor(0), l.SMFor(1))
	}
	if l.Region != "/var/run/softmig/42.region" {
		t.Errorf("region %q", l.Region)
	}
	for _, bad := range []string{
		"CUDA_DEVICE_MEMORY_LIMIT=20g\nCUDA_DEVICE_MEMORY_LIMIT=10g\n",
		"CUDA_DEVICE_MEMORY_LIMIT=0\n",
		"CUDA_DEVICE_MEMORY_LIMIT_16=1g\n",
		"CUDA_DEVICE_MEMORY_LIMIT_01=1g\n",
		"CUDA_DEVICE_SM_LIMIT=101\n",
		"FOO=1\n",
		"just words\n",
		"SOFTMIG_REGION=relative/path\n",
		"ACTIVE_OOM_KILLER=yes\n",
		"SOFTMIG_SM_SLOT=0-25,25-50\n",
		"SOFTMIG_SM_SLOT_0=50-40\n",
		"SOFTMIG_GPU=0\n",
		"SOFTMIG_GPU_0=abc\n",
		"SOFTMIG_GPU_16=1\n",
	} {
		if _, err := ParseConfig(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseConfig(%q) accepted it; want an error", bad)
		}
	}
}

func TestTighten(t *testing.T) {
	cfg := &Limits{Mem: 20 << 30, MemDev: map[int]uint64{1: 10 << 30}, SM: 50}
	env := &Limits{Mem: 30 << 30, MemDev: map[int]uint64{0: 8 << 30, 1: 12 << 30}, SM: 25, SMDev: map[int]int{2: 75}}
	got := tighten(cfg, env)
	tests := []struct {
		ord int
		mem uint64
		sm  int
	}{
		{0, 8 << 30, 25},  // env tighter
		{1, 10 << 30, 25}, // config tighter
		{2, 20 << 30, 50}, // env 75 is looser than 50: ignored
		{NA, 20 << 30, 25},
	}
	for _, tt := range tests {
		if m, s := got.MemFor(tt.ord), got.SMFor(tt.ord); m != tt.mem || s != tt.sm {
			t.Errorf("tighten: ordinal %d = %d, %d%%; want %d, %d%%", tt.ord, m, s, tt.mem, tt.sm)
		}
	}
	none := tighten(&Limits{}, &Limits{SM: 100})
	if none.SMFor(0) != 0 || none.MemFor(0) != 0 {
		t.Errorf("tighten with SM=100 in env: %d%%, %d; want no limits", none.SMFor(0), none.MemFor(0))
	}
}

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
