// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// TestMain lets the test binary act as softmig-smi, so that the tests below
// run it in a real process against the simulated libnvidia-ml.so.1.
func TestMain(m *testing.M) { testutil.MainOr(m, "SOFTMIG_SMI_TEST_MAIN", main) }

func needSim(t *testing.T) {
	t.Helper()
	if files, _ := filepath.Glob(testutil.Path(t, "sim/nvml_*.c")); len(files) == 0 {
		t.Skip("the simulated NVML (sim/nvml_*.c) is not in this tree yet")
	}
	testutil.Build(t, "sim")
}

func simRun(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(env, "SOFTMIG_SMI_TEST_MAIN=1")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func TestSim(t *testing.T) {
	needSim(t)
	dir := t.TempDir()
	env := testutil.SimEnv(t, dir, "SOFTMIG_SIM_DEVICES=2", "SOFTMIG_SIM_MEMORY=80g",
		"SOFTMIG_SIM_NAME=NVIDIA H100 80GB HBM3")
	conf := "--softmig-dir=" + filepath.Join(dir, "none")

	out, stderr, err := simRun(t, env, "-L", conf)
	if err != nil || strings.Count(out, "NVIDIA H100 80GB HBM3 (UUID: GPU-") != 2 {
		t.Fatalf("-L on the simulator: %v %s\n%s", err, stderr, out)
	}
	out, stderr, err = simRun(t, env, conf)
	if err != nil {
		t.Fatalf("default view on the simulator: %v %s", err, stderr)
	}
	want, _ := os.ReadFile(filepath.Join("testdata", "admin-table.golden"))
	wantLines := strings.Split(string(want), "\n")
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if i > 0 && line != "" && len(line) != 91 {
			t.Errorf("line %d is %d columns; want 91:\n%s", i, len(line), line)
		}
		// the header rows are fixed text (line 2 has the versions)
		if i >= 3 && i <= 7 && line != wantLines[i] {
			t.Errorf("header line %d = %q; want %q", i, line, wantLines[i])
		}
	}
	// With a limit in the environment (outside a job), the slice shows.
	out, stderr, err = simRun(t, append(env, "CUDA_DEVICE_MEMORY_LIMIT=16g"), conf,
		"--query-gpu=memory.total,memory.used", "--format=csv,noheader,nounits")
	if err != nil || out != "16384, 0\n16384, 0\n" {
		t.Errorf("16g slice on the simulator: %q, %v %s; want 16384, 0 twice", out, err, stderr)
	}
}

// TestNoLibrary: without NVML, outside a job, softmig-smi keeps
// nvidia-smi's exit status and says what it is and that no driver answers
// (outside_test.go has the cases).
func TestNoLibrary(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "LD_LIBRARY_PATH=" + dir, "HOME=" + dir}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"); err == nil {
		t.Skip("this machine has a real libnvidia-ml.so.1")
	}
	_, stderr, err := simRun(t, env, "--softmig-dir="+dir)
	ee := new(exec.ExitError)
	ok := errors.As(err, &ee)
	if !ok || ee.ExitCode() != exitNoLibrary || !strings.HasPrefix(stderr, "softmig-smi (SoftMig's nvidia-smi): outside a Slurm job") ||
		!strings.Contains(stderr, "no NVIDIA driver answers here (libnvidia-ml.so.1 not found)") {
		t.Errorf("without libnvidia-ml.so.1: %v, %q; want exit %d and what softmig-smi is", err, stderr, exitNoLibrary)
	}
}
