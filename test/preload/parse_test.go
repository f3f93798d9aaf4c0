package preloadtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/testutil"
)

func unit(t *testing.T, cmd, text string) string {
	t.Helper()
	testutil.Build(t, "cprogs")
	f := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testutil.Path(t, "build/test/unit"), cmd, f).Output()
	if err != nil {
		t.Fatalf("unit %s: %v", cmd, err)
	}
	return strings.TrimRight(string(out), "\n")
}

// The C parser agrees with every shared vector (the Go one reads the same file).
func TestSizeVectors(t *testing.T) {
	data, err := os.ReadFile(testutil.Path(t, "testdata/sizes.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(unit(t, "sizes", string(data)), "\n")
	var n int
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if n >= len(got) || got[n] != line {
			t.Fatalf("vector %q: C parser says %q", line, got[min(n, len(got)-1)])
		}
		n++
	}
	if n < 40 {
		t.Fatalf("only %d vectors", n)
	}
}

func TestConfigParser(t *testing.T) {
	cases := []struct{ in, want string }{
		{"CUDA_DEVICE_MEMORY_LIMIT=12g\nCUDA_DEVICE_SM_LIMIT=25\n",
			"ok mem0=12884901888 mem1=12884901888 sm0=25 sm1=25 oom=0 log=0 region="},
		{"# c\n\n  CUDA_DEVICE_MEMORY_LIMIT = 12288M \nCUDA_DEVICE_MEMORY_LIMIT_1=1g\nCUDA_DEVICE_SM_LIMIT_1=100\nACTIVE_OOM_KILLER=1\nSOFTMIG_LOG_LEVEL=2\nSOFTMIG_REGION=/var/run/softmig/7.region",
			"ok mem0=12884901888 mem1=1073741824 sm0=0 sm1=0 oom=1 log=2 region=/var/run/softmig/7.region"},
		{"CUDA_DEVICE_MEMORY_LIMIT=12g\nCUDA_DEVICE_MEMORY_LIMIT=12g\n", "error: line 2: CUDA_DEVICE_MEMORY_LIMIT=12g: given twice"},
		{"CUDA_DEVICE_MEMORY_LIMIT=0\n", "error: line 1: CUDA_DEVICE_MEMORY_LIMIT=0: not a size above zero (examples: 12g, 12288M, 512k)"},
		{"CUDA_DEVICE_SM_LIMIT=101\n", "error: line 1: CUDA_DEVICE_SM_LIMIT=101: not a percentage 0-100"},
		{"CUDA_DEVICE_MEMORY_LIMIT_16=1g\n", `error: line 1: unknown key "CUDA_DEVICE_MEMORY_LIMIT_16"`},
		{"CUDA_DEVICE_MEMORY_LIMIT_01=1g\n", `error: line 1: unknown key "CUDA_DEVICE_MEMORY_LIMIT_01"`},
		{"ACTIVE_OOM_KILLER=yes\n", "error: line 1: ACTIVE_OOM_KILLER=yes: must be 0 or 1"},
		{"SOFTMIG_REGION=relative/path\n", "error: line 1: SOFTMIG_REGION=relative/path: must be an absolute path without /../"},
		{"just words\n", "error: line 1: expected KEY=VALUE"},
		{"SOFTMIG_DISABLED=no slice for you\n", "error: no slice for you"},
		{"CUDA_DEVICE_MEMORY_LIMIT=1g\x00\n", "error: line 1: contains a NUL byte"},
	}
	for _, c := range cases {
		if got := unit(t, "conf", c.in); got != c.want {
			t.Errorf("parse %q:\n got  %s\n want %s", c.in, got, c.want)
		}
	}
}

func TestJobFromCgroup(t *testing.T) {
	// /proc/self/cgroup of a batch job under Slurm 22.05, cgroup v1.
	sample := "9:name=systemd:/\n8:pids:/\n6:freezer:/slurm_vm/uid_0/job_1/step_batch\n" +
		"5:devices:/slurm_vm/uid_0/job_1/step_batch/task_0\n4:memory:/slurm_vm/uid_0/job_1/step_batch/task_0\n0::/\n"
	cases := []struct{ in, want string }{
		{sample, "job=1"},
		{"0::/system.slice/slurmstepd.scope/job_42/step_0/user/task_0\n", "job=42"},
		{"4:memory:/process_api/a2661a3dcc30f5a8\n0::/\n", "job="},
		{"0::/user.slice/job_abc/x\n", "job="},
		{"0::/job_123456789012345678901234567890123/\n", "job="},
	}
	for _, c := range cases {
		if got := unit(t, "cgroup", c.in); got != c.want {
			t.Errorf("cgroup %q: got %s, want %s", c.in, got, c.want)
		}
	}
}

// Contract 2: a config with any key given twice is unparsable, in the
// library and in the Go tools alike, SOFTMIG_GPU_<i> and SOFTMIG_DISABLED
// included, even with the same value.
func TestEveryKeyTwiceIsUnparsable(t *testing.T) {
	for _, line := range []string{
		"CUDA_DEVICE_MEMORY_LIMIT=1g", "CUDA_DEVICE_MEMORY_LIMIT_0=1g", "CUDA_DEVICE_SM_LIMIT=50",
		"CUDA_DEVICE_SM_LIMIT_3=50", "ACTIVE_OOM_KILLER=0", "SOFTMIG_LOG_LEVEL=1",
		"SOFTMIG_REGION=/var/run/softmig/7.region", "SOFTMIG_SM_SLOT=0-50", "SOFTMIG_SM_SLOT_1=0-50",
		"SOFTMIG_GPU_0=1", "SOFTMIG_GPU_15=3", "SOFTMIG_DISABLED=maintenance",
	} {
		once := line + "\n"
		if _, err := jobconf.Parse(strings.NewReader(once)); err != nil {
			t.Errorf("Go: %q once: %v", line, err)
		}
		if got := unit(t, "conf", once); strings.Contains(got, "twice") ||
			!strings.HasPrefix(got, "ok ") && got != "error: maintenance" {
			t.Errorf("C: %q once: %s", line, got)
		}
		twice := "# x\n" + once + once
		if _, err := jobconf.Parse(strings.NewReader(twice)); err == nil ||
			!strings.Contains(err.Error(), "line 3: ") || !strings.Contains(err.Error(), "given again") {
			t.Errorf("Go: %q twice: %v, want line 3 given again", line, err)
		}
		if got := unit(t, "conf", twice); !strings.HasPrefix(got, "error: line 3: ") ||
			!strings.HasSuffix(got, ": given twice") {
			t.Errorf("C: %q twice: %s, want line 3 given twice", line, got)
		}
	}
}
