// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/logrec"
	"github.com/softmig/softmig/internal/testutil"
	"github.com/softmig/softmig/internal/testutil/testjob"
)

var confDir = defs.RunDir()

// jobCgroup puts processes into a real Slurm-shaped job cgroup
// (.../slurm_smtest/uid_0/job_<id>) and returns the id and a wrapper
// prefix that moves the wrapped program into it.
func jobCgroup(t *testing.T) (job string, wrap []string) {
	t.Helper()
	testutil.NeedRoot(t, "creates a job cgroup and writes the run directory")
	job = uniqueJob()
	return job, testjob.InCgroup(testjob.Cgroup(t, "slurm_smtest", 0, job))
}

func writeConf(t *testing.T, job, text string, mode os.FileMode) string {
	t.Helper()
	return testjob.WriteConf(t, job, text, mode)
}

// runIn runs a client inside the job cgroup.
func (r *rig) runIn(wrap []string, extra []string, name string, args ...string) (lines []string, stderr string) {
	r.t.Helper()
	c := r.cmd(true, extra, name, args...)
	c.Args = append(append(append([]string{}, wrap...), c.Path), args...)
	c.Path = wrap[0]
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil && !errors.As(err, new(*exec.ExitError)) {
		r.t.Fatal(err)
	}
	return splitLines(out.String()), errb.String()
}

func TestJobConfigAndItsTampering(t *testing.T) {
	job, wrap := jobCgroup(t)
	r := newRig(t)
	writeConf(t, job, "# quarter slice\nCUDA_DEVICE_MEMORY_LIMIT=1g\nSOFTMIG_REGION="+r.dir+"/job.region\n", 0o644)
	cases := []struct {
		name  string
		env   []string
		total uint64
	}{
		{"config", nil, GiB},
		{"env cannot loosen", []string{"CUDA_DEVICE_MEMORY_LIMIT=8g"}, GiB},
		{"env may tighten", []string{"CUDA_DEVICE_MEMORY_LIMIT=512m"}, 512 * MiB},
		{"SLURM_JOB_ID changed", []string{"SLURM_JOB_ID=1"}, GiB},
		{"SLURM_JOB_ID unset", []string{"SLURM_JOB_ID="}, GiB},
		{"bad env ignored", []string{"CUDA_DEVICE_MEMORY_LIMIT=lots"}, GiB},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines, stderr := r.runIn(wrap, c.env, "cuclient", "init", "dev:0", "meminfo")
			if len(lines) != 3 {
				t.Fatalf("output %q stderr %q", lines, stderr)
			}
			if total, _ := totalFree(t, lines[2]); total != c.total {
				t.Fatalf("total %d, want %d", total, c.total)
			}
		})
	}
	if _, err := os.Stat(r.dir + "/job.region"); err != nil {
		t.Fatalf("region not at the config's SOFTMIG_REGION: %v", err)
	}
}

func TestUnsafeConfigFailsClosed(t *testing.T) {
	job, wrap := jobCgroup(t)
	r := newRig(t)
	cases := []struct {
		name, text string
		setup      func(path string)
		reason     string
	}{
		{"not owned by root", "CUDA_DEVICE_MEMORY_LIMIT=1g\n", func(p string) {
			if err := os.Chown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "owned by root"},
		{"group writable", "CUDA_DEVICE_MEMORY_LIMIT=1g\n", func(p string) {
			if err := os.Chmod(p, 0o664); err != nil {
				t.Fatal(err)
			}
		}, "owned by root"},
		{"garbage", "CUDA_DEVICE_MEMORY_LIMIT=1g\nthis is not a config\n", nil, "line 2"},
		{"bad size", "CUDA_DEVICE_MEMORY_LIMIT=12X\n", nil, "CUDA_DEVICE_MEMORY_LIMIT=12X"},
		{"unknown key", "CUDA_DEVICE_MEMORY_LIMITS=1g\n", nil, "unknown key"},
		{"disabled by the prolog", "SOFTMIG_DISABLED=softmig-conf: no GPU type l40s in softmig.yaml\n", nil, "no GPU type l40s"},
		{"symlink", "", func(p string) {
			target := filepath.Join(r.dir, "elsewhere.conf")
			if err := os.WriteFile(target, []byte("CUDA_DEVICE_MEMORY_LIMIT=40g\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(p)
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeConf(t, job, c.text, 0o644)
			if c.setup != nil {
				c.setup(path)
			}
			logFile := filepath.Join(r.dir, strings.ReplaceAll(c.name, " ", "_")+".log")
			lines, stderr := r.runIn(wrap, []string{"CUDA_DEVICE_MEMORY_LIMIT=1g", "SOFTMIG_LOG_FILE=" + logFile}, "cuclient", "init")
			want(t, "client", results(lines), "init rc=800")
			// The job's log says it too, as softmig-log summary reads it.
			recs, skipped, err := logrec.ReadFile(logFile)
			if err != nil || len(skipped) != 0 || len(recs) == 0 {
				t.Fatalf("log %s: %d records, skipped %v, %v", logFile, len(recs), skipped, err)
			}
			if rec := recs[0]; rec.Msg != logrec.MsgConfigError || rec.CheckEvent() != nil {
				t.Fatalf("first record %+v (%v), want a config error", rec, rec.CheckEvent())
			} else if p, _ := rec.Get("path"); p != path {
				t.Fatalf("config error path=%q, want %s", p, path)
			}
			if !strings.HasPrefix(stderr, "softmig: GPU disabled for this process: ") ||
				!strings.Contains(stderr, c.reason) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("stderr %q: want one line naming %q", stderr, c.reason)
			}
			lines, _ = r.runIn(wrap, nil, "dl_nvclient")
			want(t, "nvml", lines, fmt.Sprintf("init=ERR %d", 4))
		})
	}
}

func TestNonJobProcessIsUntouchedBySomeoneElsesConfig(t *testing.T) {
	testutil.NeedRoot(t, "writes job configs in the run directory")
	job := uniqueJob()
	writeConf(t, job, "CUDA_DEVICE_MEMORY_LIMIT=1g\n", 0o644)
	r := newRig(t)
	// Outside any job cgroup SLURM_JOB_ID names the job: it is that job's config.
	lines, _ := r.run([]string{"SLURM_JOB_ID=" + job}, "cuclient", "init", "dev:0", "meminfo")
	if total, _ := totalFree(t, lines[2]); total != GiB {
		t.Fatalf("SLURM_JOB_ID=%s: total %d", job, total)
	}
	lines, _ = r.run(nil, "cuclient", "init", "dev:0", "meminfo")
	if total, _ := totalFree(t, lines[2]); total != 48*GiB {
		t.Fatalf("no job: total %d, want the whole GPU", total)
	}
}

// Without a config, a malformed limit in the environment fails closed, and
// the job's log names the variable (var=), as softmig-log summary reads it.
func TestBadEnvironmentIsLoggedWithItsVariable(t *testing.T) {
	r := newRig(t)
	logFile := filepath.Join(r.dir, "env.log")
	lines, stderr := r.run([]string{"CUDA_DEVICE_SM_LIMIT=lots", "SOFTMIG_LOG_FILE=" + logFile}, "cuclient", "init")
	want(t, "client", results(lines), "init rc=800")
	if !strings.Contains(stderr, "CUDA_DEVICE_SM_LIMIT") {
		t.Fatalf("stderr %q does not name the variable", stderr)
	}
	recs, skipped, err := logrec.ReadFile(logFile)
	if err != nil || len(skipped) != 0 || len(recs) == 0 {
		t.Fatalf("log: %d records, skipped %v, %v", len(recs), skipped, err)
	}
	rec := recs[0]
	if v, _ := rec.Get("var"); rec.Msg != logrec.MsgConfigError || v != "CUDA_DEVICE_SM_LIMIT" || rec.CheckEvent() != nil {
		t.Fatalf("first record %+v, want a config error with var=CUDA_DEVICE_SM_LIMIT", rec)
	}
	if _, ok := rec.Get("path"); ok {
		t.Errorf("config error %+v names a path: the failure is about the variable", rec)
	}
}
