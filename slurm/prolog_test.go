// SPDX-License-Identifier: Apache-2.0

package slurm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/testutil"
)

// fakeConf is a softmig-conf whose write fails (as when it crashes) and
// whose paths answer names runDir: the prolog's own fallback must write
// where softmig-conf says the library reads, and nowhere else.
func fakeConf(t *testing.T, runDir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "softmig-conf")
	script := "#!/bin/sh\ncase \"$*\" in\n*paths*) printf 'run_dir=%s\\nlog_dir=/nonexistent\\n' '" + runDir + "' ;;\n*) echo boom >&2; exit 2 ;;\nesac\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// Without Slurm: the prolog's fail-closed fallback and the epilog's
// cleanup use the run directory softmig-conf has built in.
func TestPrologEpilogRunDir(t *testing.T) {
	testutil.NeedRoot(t, "the prolog writes a root-owned config")
	root := testutil.Root(t)
	run := filepath.Join(t.TempDir(), "run")
	conf := fakeConf(t, run)
	env := append(os.Environ(), "SOFTMIG_CONF="+conf, "SLURM_JOB_ID=77", "SLURM_JOB_GPUS=0", "SLURMD_NODENAME=n1", "SOFTMIG_RUN_DIR=/tmp/elsewhere")
	cmd := exec.Command("sh", filepath.Join(root, "slurm/prolog.sh"))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("prolog: %v\n%s", err, out)
	}
	c, err := jobconf.Load(filepath.Join(run, "77.conf"))
	if err != nil || !strings.Contains(c.Disabled, "could not run softmig-conf (exit 2)") {
		t.Fatalf("prolog fallback config: %+v, %v\n%s", c, err, out)
	}
	if err := os.WriteFile(filepath.Join(run, "77.region"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("sh", filepath.Join(root, "slurm/epilog.sh"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("epilog: %v\n%s", err, out)
	}
	if m, _ := filepath.Glob(filepath.Join(run, "77.*")); len(m) != 0 {
		t.Fatalf("left after the epilog: %v", m)
	}
	// softmig-conf cannot even name its run directory: no config anywhere,
	// and the prolog fails (the node drains) rather than run the job unlimited.
	cmd = exec.Command("sh", filepath.Join(root, "slurm/prolog.sh"))
	cmd.Env = append(env, "SOFTMIG_CONF=/nonexistent/softmig-conf")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "cannot write any SoftMig config") {
		t.Fatalf("prolog without softmig-conf: %v\n%s", err, out)
	}
	if _, err := os.Stat("/tmp/elsewhere/77.conf"); err == nil {
		t.Fatal("the prolog wrote to SOFTMIG_RUN_DIR, which the library never reads")
	}
}
