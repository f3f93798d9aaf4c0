// SPDX-License-Identifier: Apache-2.0

package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleV1 is /proc/self/cgroup of a batch step on the Debian 12 test
// cluster (reference/slurm-single-node/sample-job-cgroup.txt).
const sampleV1 = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/slurm_vm/uid_0/job_1/step_batch
5:devices:/slurm_vm/uid_0/job_1/step_batch/task_0
4:memory:/slurm_vm/uid_0/job_1/step_batch/task_0
3:cpuset:/slurm_vm/uid_0/job_1/step_batch
2:cpuacct:/
1:cpu:/
0::/
`

func TestFromCgroup(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
		ok       bool
	}{
		{"v1 sample", sampleV1, "1", true},
		{"v1 plain slurm", "4:memory:/slurm/uid_1000/job_4242/step_0/task_0\n", "4242", true},
		{"v1 job without uid parent", "4:memory:/slurm/job_7/step_0\n", "", false},
		{"v1 job outside slurm", "4:memory:/user.slice/uid_1000/job_7\n", "", false},
		{"v2 slurmstepd", "0::/system.slice/slurmstepd.scope/job_42/step_0/user/task_0\n", "42", true},
		{"v2 job leaf", "0::/job_9\n", "9", true},
		{"v2 no job", "0::/user.slice/user-1000.slice/session-3.scope\n", "", false},
		{"v2 job_ prefix not digits", "0::/system.slice/job_abc/step_0\n", "", false},
		{"v2 job_ as substring", "0::/system.slice/myjob_42/x\n", "", false},
		{"first wins", "5:devices:/slurm/uid_0/job_3/step_0\n0::/slurmstepd.scope/job_4\n", "3", true},
		{"colon in path", "0::/a:b/job_11/step_0\n", "11", true},
		{"empty", "", "", false},
		{"garbage", "not a cgroup file\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FromCgroup(strings.NewReader(tt.in))
			if got != tt.want || ok != tt.ok {
				t.Errorf("FromCgroup(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name, cgroup, envID string
		want                string
		ok                  bool
	}{
		{"cgroup wins over env", sampleV1, "99", "1", true},
		{"env without job cgroup", "0::/\n", "99", "99", true},
		{"array task form", "0::/\n", "99_3", "99_3", true},
		{"bad env ignored", "0::/\n", "99;rm", "", false},
		{"negative env ignored", "0::/\n", "-1", "", false},
		{"empty env", "0::/\n", "", "", false},
		{"trailing underscore", "0::/\n", "99_", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Resolve(strings.NewReader(tt.cgroup), env(map[string]string{"SLURM_JOB_ID": tt.envID}))
			if got != tt.want || ok != tt.ok {
				t.Errorf("Resolve(%q, SLURM_JOB_ID=%q) = %q, %v; want %q, %v", tt.cgroup, tt.envID, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func writeProc(t *testing.T, root string, pid, cgroup, environ string) {
	t.Helper()
	dir := filepath.Join(root, pid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if cgroup != "" {
		if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if environ != "" {
		if err := os.WriteFile(filepath.Join(dir, "environ"), []byte(environ), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFromProc(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, "10", sampleV1, "")
	writeProc(t, root, "11", "0::/\n", "HOME=/root\x00SLURM_JOB_ID=77\x00")
	writeProc(t, root, "12", "0::/\n", "HOME=/root\x00")
	writeProc(t, root, "13", "0::/\n", "")
	writeProc(t, root, "self", "0::/slurmstepd.scope/job_5/step_0\n", "")
	tests := []struct {
		pid     int
		want    string
		ok, err bool
	}{
		{10, "1", true, false},
		{11, "77", true, false},
		{12, "", false, false},
		{13, "", false, true}, // environ unreadable: an error, not "no job"
		{14, "", false, true}, // gone
	}
	for _, tt := range tests {
		got, ok, err := FromProc(root, tt.pid)
		if got != tt.want || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("FromProc(%d) = %q, %v, %v; want %q, %v, err %v", tt.pid, got, ok, err, tt.want, tt.ok, tt.err)
		}
	}
	id, ok, err := Self(root, env(nil))
	if id != "5" || !ok || err != nil {
		t.Errorf("Self() = %q, %v, %v; want \"5\", true, nil", id, ok, err)
	}
	if _, _, err := Self(t.TempDir(), env(nil)); err == nil {
		t.Errorf("Self() on a tree without self/cgroup: no error; want one")
	}
}

func TestFromProcReal(t *testing.T) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no /proc/self/cgroup: %v", err)
	}
	want, wantOK := FromCgroup(strings.NewReader(string(data)))
	got, ok, err := FromProc("/proc", os.Getpid())
	if err != nil && wantOK {
		t.Fatalf("FromProc(/proc, self): %v", err)
	}
	if wantOK && (got != want || !ok) {
		t.Errorf("FromProc(/proc, self) = %q, %v; want %q from the cgroup", got, ok, want)
	}
}

// A v1 process in a job_<M> of the user's making (name=systemd, delegated)
// and in its real job: both are named, in the order of the lines.
func TestAllFromCgroup(t *testing.T) {
	cg := "9:name=systemd:/user.slice/user@1000.service/slurm_x/uid_1000/job_1\n" +
		"6:freezer:/slurm/uid_1000/job_42/step_0\n4:memory:/slurm/uid_1000/job_42/step_0\n0::/user.slice\n"
	got := AllFromCgroup(strings.NewReader(cg))
	if len(got) != 2 || got[0] != "1" || got[1] != "42" {
		t.Errorf("AllFromCgroup = %q; want [1 42]", got)
	}
	if got := AllFromCgroup(strings.NewReader("0::/user.slice\n")); len(got) != 0 {
		t.Errorf("AllFromCgroup outside a job = %q; want none", got)
	}
}
