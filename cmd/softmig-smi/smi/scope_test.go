// SPDX-License-Identifier: Apache-2.0

package smi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/softmig/softmig/internal/region"
)

// Outside Slurm, softmig-smi reads the region where the library writes it
// (internal/jobpath.LocalRegion): in an absolute TMPDIR, never in one
// given as a relative path, which the library replaces with /tmp.
func TestLocalRegionAsTheLibrary(t *testing.T) {
	dir := t.TempDir()
	const uid = 4242421 // no such user: /tmp holds no region of it
	var l region.Layout
	l.Init("")
	for _, d := range []string{dir, filepath.Join(dir, "rel")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "softmig-4242421-nojob.region"), l.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	proc := filepath.Join(dir, "proc")
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "self", "cgroup"), []byte(outsideAnyJob), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chdir(wd); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range []struct {
		tmpdir string
		found  bool
	}{{dir, true}, {"rel", false}} {
		env := map[string]string{"TMPDIR": c.tmpdir, "CUDA_DEVICE_MEMORY_LIMIT": "1g"}
		s, err := ResolveScope(Env{ProcRoot: proc, ConfDir: filepath.Join(dir, "run"), UID: uid,
			LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if err != nil {
			t.Fatal(err)
		}
		if (s.Region != nil) != c.found {
			t.Errorf("TMPDIR=%s: region found %v, want %v", c.tmpdir, s.Region != nil, c.found)
		}
	}
}

const outsideAnyJob = "0::/user.slice/user-0.slice/session-1.scope\n"
