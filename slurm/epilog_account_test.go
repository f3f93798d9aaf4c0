// SPDX-License-Identifier: Apache-2.0

package slurm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// The epilog runs softmig-log account for a job with a log, and only then;
// its failure is logged and never fails the epilog (that would drain the node).
func TestEpilogAccountStep(t *testing.T) {
	root := testutil.Root(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softmig-conf")
	calls := filepath.Join(dir, "calls")
	tool := filepath.Join(dir, "softmig-log")
	scripts := map[string]string{
		conf: "#!/bin/sh\ncase \"$*\" in *paths*) printf 'run_dir=" + dir + "/run\\nlog_dir=" + logs + "\\n' ;; esac\nexit 0\n",
		tool: "#!/bin/sh\necho \"$*\" >> " + calls + "\n[ -e " + dir + "/fail ] && { echo 'no Slurm accounting here' >&2; exit 1; }\nexit 0\n",
	}
	for p, s := range scripts {
		if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	epilog := func() string {
		t.Helper()
		cmd := exec.Command("sh", filepath.Join(root, "slurm/epilog.sh"))
		cmd.Env = append(os.Environ(), "SOFTMIG_CONF="+conf, "SOFTMIG_LOG="+tool, "SOFTMIG_SITE_CONFIG=/site.yaml", "SLURM_JOB_ID=77")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("epilog: %v\n%s", err, out)
		}
		return string(out)
	}
	called := func() string {
		b, _ := os.ReadFile(calls)
		return strings.TrimSpace(string(b))
	}

	epilog()
	if got := called(); got != "" {
		t.Errorf("a job without a log: softmig-log ran with %q; want not at all", got)
	}
	if err := os.WriteFile(filepath.Join(logs, "77.log"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	epilog()
	if got := called(); got != "--config /site.yaml account 77" {
		t.Errorf("a GPU job: softmig-log ran with %q; want --config /site.yaml account 77", got)
	}
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "fail"), nil, 0o644))
	if out := epilog(); !strings.Contains(out, "job 77: summary not stored in Slurm's accounting: no Slurm accounting here") {
		t.Errorf("a failed account step: epilog said %q; want the reason logged", out)
	}
}
