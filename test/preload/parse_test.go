// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/testutil"
	"github.com/softmig/softmig/internal/testvec"
)

func unit(t *testing.T, cmd, text string) string {
	t.Helper()
	testutil.Build(t, "cprogs")
	f := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{cmd, f}
	if cmd == "conf" { // unit conf DIR NAME: the file checks and the parser
		args = []string{cmd, filepath.Dir(f), filepath.Base(f)}
	}
	out, err := exec.Command(testutil.Path(t, "build/test/unit"), args...).Output()
	if err != nil {
		t.Fatalf("unit %s: %v", cmd, err)
	}
	return strings.TrimRight(string(out), "\n")
}

// unitAnswers runs unit's cmd over the vector file and returns its answer
// to each of the n vectors, one a line.
func unitAnswers(t *testing.T, cmd, file string, n int) []string {
	t.Helper()
	data, err := os.ReadFile(testutil.Path(t, file))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(unit(t, cmd, string(data)), "\n")
	if len(got) != n {
		t.Fatalf("%s: unit %s answered %d lines for %d vectors", file, cmd, len(got), n)
	}
	return got
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

// The library's config checks and parser give every job-config vector its
// verdict and values (internal/jobconf's TestVectors reads the same lines).
func TestConfVectors(t *testing.T) {
	testutil.Build(t, "cprogs")
	unit := testutil.Path(t, "build/test/unit")
	for _, c := range testvec.ConfCases(t) {
		dir, name := c.Lay(t)
		out, err := exec.Command(unit, "conf", dir, name).Output()
		if err != nil {
			t.Fatalf("%s: unit conf: %v", c.Line, err)
		}
		if msg := c.Check(strings.TrimRight(string(out), "\n")); msg != "" {
			t.Error(msg)
		}
	}
}

// The library finds the job of every cgroup vector, and accepts exactly the
// SLURM_JOB_ID vectors marked yes (internal/job reads the same lines).
func TestCgroupVectors(t *testing.T) {
	for _, file := range []string{testvec.CgroupFile, testvec.JobIDFile} {
		cases := testvec.JobCases(t, file)
		cmd := map[string]string{testvec.CgroupFile: "cgroup", testvec.JobIDFile: "jobid"}[file]
		got := unitAnswers(t, cmd, file, len(cases))
		for i, c := range cases {
			if got[i] != c.Want {
				t.Errorf("%s: library says %s for %q, want %s", c.Line, got[i], c.In, c.Want)
			}
		}
	}
}

// The library's log encoder writes every vector's line byte for byte
// (internal/logrec's TestVectors holds the Go encoder to the same lines).
func TestLogVectors(t *testing.T) {
	cases := testvec.LogCases(t)
	got := unitAnswers(t, "log", testvec.LogFile, len(cases))
	for i, c := range cases {
		if got[i] != c.Want {
			t.Errorf("%s: the library writes\n %s\nwant\n %s", c.Line, got[i], c.Want)
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
			!strings.HasPrefix(got, "ok ") && !strings.HasPrefix(got, "disabled: ") {
			t.Errorf("C: %q once: %s", line, got)
		}
		twice := "# x\n" + once + once
		if _, err := jobconf.Parse(strings.NewReader(twice)); err == nil ||
			!strings.Contains(err.Error(), "line 3: ") || !strings.Contains(err.Error(), "given again") {
			t.Errorf("Go: %q twice: %v, want line 3 given again", line, err)
		}
		if got := unit(t, "conf", twice); !strings.HasPrefix(got, "invalid: ") || !strings.Contains(got, ": line 3: ") ||
			!strings.HasSuffix(got, ": given twice") {
			t.Errorf("C: %q twice: %s, want line 3 given twice", line, got)
		}
	}
}

// The library names a job's config, region and log, and the region
// outside Slurm, as every paths vector says (internal/jobpath's
// TestVectors holds the Go tools to the same lines).
func TestPathVectors(t *testing.T) {
	cases := testvec.PathCases(t)
	got := unitAnswers(t, "paths", testvec.PathsFile, len(cases))
	for i, c := range cases {
		if got[i] != c.Want {
			t.Errorf("%s: the library names %s%q %q, want %q", c.Line, c.What, c.Args, got[i], c.Want)
		}
	}
}
