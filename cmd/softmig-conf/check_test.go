// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/jobconf"
)

// A mistake in a key the prolog does not need is a warning: write gives
// the job its slice (and says so on stderr), check exits 1.
func TestWarningsKeepSlices(t *testing.T) {
	requireRoot(t)
	y := site4 + "paths:\n  nvidia_smi_real: nvidia-smi.real\n  nvidia_smi: /usr/bin/nvidia-smi.real\nmonitoring: {}\n"
	f := newFixture(t, y, line("42", "shard:l40s:1(IDX:0)"))
	e := env("SLURM_JOB_ID=42", "SLURM_JOB_UID=1001", "SLURM_JOB_GPUS=0", "SLURMD_NODENAME=vm")
	_, stderr, err := f.runConf(t, e, "write", "--job-info", f.info)
	if err != nil {
		t.Fatalf("write: %v\n%s", err, stderr)
	}
	c, err := jobconf.Load(filepath.Join(f.run, "42.conf"))
	if err != nil || c.Disabled != "" || c.MemoryLimit != 12<<30 {
		t.Fatalf("config %+v, %v; want the slice", c, err)
	}
	for _, w := range []string{
		"softmig-conf: warning: " + f.site + `:6: paths.nvidia_smi_real: "nvidia-smi.real" is not a clean absolute path`,
		"softmig-conf: warning: " + f.site + `:7: unknown key "nvidia_smi", ignored`,
		"softmig-conf: warning: " + f.site + `:8: unknown key "monitoring", ignored`,
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("write stderr lacks %q:\n%s", w, stderr)
		}
	}
	_, stderr, err = f.runConf(t, env(), "check")
	if !errors.Is(err, errProblems) || !strings.Contains(err.Error(), "3 problems") || !strings.Contains(stderr, "(jobs keep their slices)") {
		t.Fatalf("check: %v\n%s", err, stderr)
	}
}

func TestCheckGresConf(t *testing.T) {
	f := newFixture(t, "gpus:\n  l40s:\n    shards: 4\n  h100:\n    shards: 8\n", "")
	gres := `# comment
AutoDetect=off
NodeName=gpu[01-02] Name=gpu Type=l40s File=/dev/nvidia[0-1]
NodeName=gpu[01-02] Name=shard Type=l40s Count=4 File=/dev/nvidia0
NodeName=gpu[01-02] Name=shard Type=l40s Count=8 File=/dev/nvidia1
nodename=gpu03 name=shard type=a100 count=4 file=/dev/nvidia0
NodeName=gpu[4-12] Name=shard Type=l40s Count=6 File=/dev/nvidia[0,2-3]
Name=shard Type=h100 Count=8 File=/dev/nvidia7
`
	if err := os.WriteFile(f.gres, []byte(gres), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		node      string
		want, not []string
	}{
		{"gpu02", []string{
			":5: Name=shard Type=l40s Count=8 on 1 GPU(s) is 8 shards per GPU, but " + f.site + ":3 says gpus.l40s.shards: 4; make them equal (expected Count=4)",
		}, []string{":4:", ":6:", ":7:", ":8:", "no Name=shard line"}},
		{"gpu03", []string{
			`:6: shards of GPU type "a100", which ` + f.site + " does not list",
			": no Name=shard line of Type=l40s",
		}, []string{":5:", ":7:"}},
		{"gpu10", []string{":7: Name=shard Type=l40s Count=6 on 3 GPU(s) is 2 shards per GPU"}, []string{":5:", ":6:"}},
	} {
		_, stderr, err := f.runConf(t, env("SLURMD_NODENAME="+tc.node), "check")
		if !errors.Is(err, errProblems) {
			t.Fatalf("check on %s: %v", tc.node, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, f.gres+w) {
				t.Errorf("check on %s: stderr lacks %q:\n%s", tc.node, f.gres+w, stderr)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(stderr, f.gres+w) {
				t.Errorf("check on %s: stderr has %q, which does not apply to it:\n%s", tc.node, f.gres+w, stderr)
			}
		}
	}
	if err := os.WriteFile(f.site, []byte("gpus:\n  l40s:\n    shards: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.gres, []byte("Name=gpu Type=l40s File=/dev/nvidia[0-1]\nName=shard Type=l40s Count=8 File=/dev/nvidia[0-1]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := f.runConf(t, env(), "check"); err != nil {
		t.Fatalf("check of agreeing files: %v\n%s%s", err, out, stderr)
	}
}

func TestInHostList(t *testing.T) {
	for _, tc := range []struct {
		list, host string
		want       bool
	}{
		{"gpu[01-04]", "gpu03", true}, {"gpu[01-04]", "gpu05", false}, {"gpu[01-04]", "gpu3", false},
		{"gpu[8-12]", "gpu10", true}, {"gpu[8-12]", "gpu7", false}, {"gpu[1,3-4]", "gpu3", true},
		{"a1,gpu[1-2],b", "b", true}, {"a1,gpu[1-2],b", "c", false}, {"n[1-2]x", "n2x", true},
		{"odd[[", "x", true}, // unreadable: kept
	} {
		if got := inHostList(tc.list, tc.host); got != tc.want {
			t.Errorf("inHostList(%q, %q) = %v, want %v", tc.list, tc.host, got, tc.want)
		}
	}
}

// A configured memory larger than the card's (as NVML reports it) would
// promise more than the card has: refused.
func TestCheckMemory(t *testing.T) {
	const l40s = 46068 << 20
	f := newFixture(t, "gpus:\n  l40s:\n    shards: 4\n    memory: 48g\n", "")
	f.gpus = func() ([]gpuInfo, error) {
		return []gpuInfo{{Index: 0, Minor: 0, Total: l40s, Reserved: 519 << 20}}, nil
	}
	_, stderr, err := f.runConf(t, env(), "check")
	want := "softmig-conf: error: " + f.site + ":4: gpus.l40s.memory: 49152M is more than GPU 0 has (NVML: 46068M)"
	if !errors.Is(err, errProblems) || !strings.Contains(stderr, want) || !strings.Contains(stderr, "set at most 45549M") {
		t.Fatalf("check: %v; want %q in:\n%s", err, want, stderr)
	}
	if err := os.WriteFile(f.site, []byte("gpus:\n  l40s:\n    shards: 4\n    memory: 46068M\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err = f.runConf(t, env(), "check"); !errors.Is(err, errProblems) || !strings.Contains(stderr, "warning: "+f.site+":4: gpus.l40s.memory: 46068M is more than GPU 0 leaves to programs") {
		t.Fatalf("check: %v\n%s", err, stderr)
	}
	if err := os.WriteFile(f.site, []byte("gpus:\n  l40s:\n    shards: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := f.runConf(t, env(), "check")
	if err != nil || !strings.Contains(out, "GPU 0 (/dev/nvidia0): NVML reports 46068M, the driver keeps 519M; a l40s") {
		t.Fatalf("check: %v\n%s%s", err, out, stderr)
	}
}

// The built-in directories, for the prolog and epilog.
func TestPaths(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"--config", "/nonexistent", "paths"}, env(), nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if want := "run_dir=" + defs.RunDir() + "\nlog_dir=" + defs.LogDir() + "\n"; out.String() != want {
		t.Fatalf("paths printed %q, want %q", out.String(), want)
	}
}

// softmig_gres.lua, run by a real Lua interpreter, takes its GPU types from
// the table gres-lua generates from the site config.
func TestGresLua(t *testing.T) {
	lua := ""
	for _, name := range []string{"lua5.3", "lua5.4", "lua5.1", "lua"} {
		if p, err := exec.LookPath(name); err == nil {
			lua = p
			break
		}
	}
	if lua == "" {
		t.Skip("no Lua interpreter (apt-get install lua5.3)")
	}
	f := newFixture(t, "gpus:\n  l40s:\n    shards: 8\n    denominators: [2, 8]\n  h-100:\n    shards: 4\n", "")
	out, _, err := f.runConf(t, env(), "gres-lua")
	if err != nil {
		t.Fatal(err)
	}
	slurmDir := t.TempDir()
	src, err := os.ReadFile("../../slurm/softmig_gres.lua")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(slurmDir, "softmig_gres.lua"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `local M = dofile(arg[1] .. "/softmig_gres.lua")
for _, spec in ipairs({"gres:gpu:l40s.2:1", "gres/gpu:l40s.8", "gres:gpu:l40s.4:1", "gres:gpu:h-100.4:1", "gres:gpu:a100.2:1"}) do
	local out, msg = M.translate(spec, true)
	print(spec .. " -> " .. tostring(out) .. " | " .. tostring(msg))
end
`
	scriptPath := filepath.Join(t.TempDir(), "translate.lua")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	runLua := func() string {
		cmd := exec.Command(lua, scriptPath, slurmDir)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", lua, err, b)
		}
		return string(b)
	}
	// Without the generated table, a slice request is refused with the fix.
	got := runLua()
	if !strings.Contains(got, "gres:gpu:l40s.2:1 -> nil | SoftMig: --gres=gpu:l40s.2:1: GPU slices are not set up on this cluster") {
		t.Errorf("without softmig_types.lua:\n%s", got)
	}
	if err := os.WriteFile(filepath.Join(slurmDir, "softmig_types.lua"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got = runLua()
	for _, w := range []string{
		"gres:gpu:l40s.2:1 -> gres:shard:l40s:4 | nil",
		"gres/gpu:l40s.8 -> gres/shard:l40s:1 | nil",
		"gres:gpu:l40s.4:1 -> nil | SoftMig: --gres=gpu:l40s.4:1: l40s.4 is not an allowed slice; l40s GPUs are split into 8 shards",
		"gres:gpu:h-100.4:1 -> gres:shard:h-100:1 | nil",
		"gres:gpu:a100.2:1 -> nil | SoftMig: --gres=gpu:a100.2:1: GPU type 'a100' cannot be sliced here; sliced GPU types: h-100, l40s",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("lua output lacks %q:\n%s", w, got)
		}
	}
}

// remove (the epilog) needs no site config: a broken one is not its
// business and leaves nothing behind.
func TestRemoveIgnoresSiteConfig(t *testing.T) {
	f := newFixture(t, "gpus: [\n", "")
	if err := os.Mkdir(f.run, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"5.conf", "5.region"} {
		if err := os.WriteFile(filepath.Join(f.run, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, err := f.runConf(t, env(), "remove", "5")
	if err != nil || stderr != "" {
		t.Fatalf("remove: %v, stderr %q", err, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(f.run, "5.*")); len(m) != 0 {
		t.Fatalf("left after remove: %v", m)
	}
}
