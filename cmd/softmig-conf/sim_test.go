// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// TestMain lets the test binary act as softmig-conf, so that the test
// below runs it in a real process against the simulated libnvidia-ml.so.1.
func TestMain(m *testing.M) { testutil.MainOr(m, "SOFTMIG_CONF_TEST_MAIN", main) }

// On a GPU that reports 46068 MiB (an L40S), slices are cut from what NVML
// says, and a configured 48 GiB is refused by check.
func TestSimNVMLMemory(t *testing.T) {
	if files, _ := filepath.Glob(testutil.Path(t, "sim/nvml_*.c")); len(files) == 0 {
		t.Skip("the simulated NVML (sim/nvml_*.c) is not in this tree")
	}
	testutil.Build(t, "sim")
	dir := t.TempDir()
	env := append(testutil.SimEnv(t, dir, "SOFTMIG_SIM_DEVICES=1", "SOFTMIG_SIM_MEMORY=46068m", "SOFTMIG_SIM_NAME=NVIDIA L40S"),
		"SOFTMIG_CONF_TEST_MAIN=1", "SLURM_JOB_ID=7", "SLURM_JOB_UID=1001", "SLURM_JOB_GPUS=0")
	site := filepath.Join(dir, "softmig.yaml")
	info := filepath.Join(dir, "scontrol.txt")
	if err := os.WriteFile(info, []byte(line("7", "shard:l40s:1(IDX:0)")), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(os.Args[0], append([]string{"--config", site}, args...)...)
		cmd.Env = env
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	if err := os.WriteFile(site, []byte("gpus:\n  l40s:\n    shards: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := run("write", "--dry-run", "--job-info", info)
	if err != nil || !strings.Contains(out, "CUDA_DEVICE_MEMORY_LIMIT_0=11517M") || !strings.Contains(out, "1 of 4 shards = 11517M of 46068M") {
		t.Fatalf("write --dry-run: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err = run("check", "--gres-conf", filepath.Join(dir, "none"))
	if err != nil || !strings.Contains(out, "GPU 0 (/dev/nvidia0): NVML reports 46068M") {
		t.Fatalf("check: %v\n%s%s", err, out, stderr)
	}
	if err := os.WriteFile(site, []byte("gpus:\n  l40s:\n    shards: 4\n    memory: 48g\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = run("check", "--gres-conf", filepath.Join(dir, "none"))
	if err == nil || !strings.Contains(stderr, site+":4: gpus.l40s.memory: 49152M is more than GPU 0 has (NVML: 46068M)") {
		t.Fatalf("check of 48g on a 46068 MiB GPU: %v\n%s", err, stderr)
	}
}
