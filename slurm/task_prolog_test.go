// SPDX-License-Identifier: Apache-2.0

package slurm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// The task prolog names SoftMig's binds only on a node where SoftMig is
// enabled and every source exists: anywhere else a container must start
// as if SoftMig were not there (a bind of a missing source fails it).
func TestTaskPrologOnlyWhereEnabled(t *testing.T) {
	script := filepath.Join(testutil.Root(t), "slurm/task_prolog.sh")
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib/libsoftmig.so")
	run, logs, list := filepath.Join(dir, "run"), filepath.Join(dir, "log"), filepath.Join(dir, "ld.so.preload")
	mkdirs := func() {
		t.Helper()
		for _, d := range []string{filepath.Dir(lib), run, logs} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	mkdirs()
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(lib, "")
	prolog := func(env ...string) string {
		t.Helper()
		c := exec.Command("sh", script, list, run, logs)
		c.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("task prolog: %v\n%s", err, out)
		}
		return string(out)
	}
	all := list + ":/etc/ld.so.preload," + lib + "," + run + "," + logs
	write(list, "/opt/other/libfoo.so "+lib+"\n")
	if got := prolog(); got != "export APPTAINER_BINDPATH="+all+"\n" {
		t.Fatalf("enabled: %q", got)
	}
	if got := prolog("APPTAINER_BINDPATH=/srv," + lib); got != "export APPTAINER_BINDPATH=/srv,"+lib+","+list+":/etc/ld.so.preload,"+run+","+logs+"\n" {
		t.Fatalf("with the user's binds, one of them SoftMig's: %q", got)
	}
	for what, undo := range map[string]func(){
		"disabled (the list does not name it)": func() { write(list, "/opt/other/libfoo.so\n") },
		"no preload list":                      func() { os.Remove(list) },
		"library removed":                      func() { os.Remove(lib) },
		"no run directory":                     func() { os.Remove(run) },
		"no log directory":                     func() { os.Remove(logs) },
	} {
		write(list, lib+"\n")
		write(lib, "")
		mkdirs()
		undo()
		if got := prolog(); got != "" {
			t.Errorf("%s: %q, want nothing", what, got)
		}
	}
}
