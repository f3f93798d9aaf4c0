// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// The package's removal step refuses while the node's slurm.conf runs
// SoftMig's scripts (directly, through a link, through a glob, in the file
// SLURM_CONF names), changing nothing, and goes on where a site script
// calls them only while they exist.
func TestRemovalRefusedWhileSlurmRunsSoftMig(t *testing.T) {
	needRootNS(t)
	slurmConf := "etc/slurm/slurm.conf"
	tests := []struct {
		name   string
		mutate func(t *testing.T, f *fixture)
		want   string // the slurm.conf line named; "" when removal goes on
	}{
		{"site scripts", func(*testing.T, *fixture) {}, ""},
		{"prolog", func(t *testing.T, f *fixture) {
			editFile(t, filepath.Join(f.root, slurmConf), "Prolog=/etc/slurm/prolog.sh", "Prolog=/usr/local/share/softmig/slurm/prolog.sh")
		}, "slurm.conf:2: Prolog=/usr/local/share/softmig/slurm/prolog.sh"},
		{"epilog through a link", func(t *testing.T, f *fixture) {
			p := filepath.Join(f.root, "etc/slurm/epilog.sh")
			os.Remove(p)
			testutil.Must(t, os.Symlink("../../usr/local/share/softmig/slurm/epilog.sh", p))
		}, "slurm.conf:3: Epilog=/etc/slurm/epilog.sh"},
		{"a glob", func(t *testing.T, f *fixture) {
			editFile(t, filepath.Join(f.root, slurmConf), "Epilog=/etc/slurm/epilog.sh", "Epilog=/usr/local/share/softmig/slurm/epi*")
		}, "slurm.conf:3: Epilog=/usr/local/share/softmig/slurm/epi*"},
		{"task prolog in SLURM_CONF's file", func(t *testing.T, f *fixture) {
			testutil.Must(t, os.MkdirAll(filepath.Join(f.root, "srv"), 0o755))
			testutil.Must(t, os.WriteFile(filepath.Join(f.root, "srv/slurm.conf"), []byte("TaskProlog=/usr/local/bin/softmig-conf\n"), 0o644))
			t.Setenv("SLURM_CONF", "/srv/slurm.conf")
		}, "srv/slurm.conf:1: TaskProlog=/usr/local/bin/softmig-conf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, true)
			f.install(t)
			tc.mutate(t, f)
			before, _ := os.ReadFile(filepath.Join(f.root, "etc/ld.so.preload"))
			out, err := runTool(t, "disable", "--root", f.root, "--for-removal", "--prefix", "/usr/local")
			after, _ := os.ReadFile(filepath.Join(f.root, "etc/ld.so.preload"))
			if tc.want == "" {
				if err != nil || strings.Contains(string(after), "libsoftmig") {
					t.Errorf("disable --for-removal = %v, ld.so.preload %q; want it disabled\n%s", err, after, out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "refusing to remove SoftMig") || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "Nothing was changed") {
				t.Errorf("disable --for-removal = %v; want a refusal naming %q", err, tc.want)
			}
			if string(after) != string(before) {
				t.Errorf("a refused removal changed ld.so.preload: %q, was %q", after, before)
			}
		})
	}
}

// disable leaves the node as enable found it: a preload list enable
// created goes when it lists nothing else.
func TestDisableRemovesTheListEnableCreated(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, true)
	os.Remove(filepath.Join(f.root, "etc/ld.so.preload"))
	f.install(t)
	if _, err := os.Stat(filepath.Join(f.root, "etc/ld.so.preload")); err != nil {
		t.Fatalf("install made no preload list: %v", err)
	}
	out := mustRun(t, "disable", "--root", f.root)
	if _, err := os.Stat(filepath.Join(f.root, "etc/ld.so.preload")); !os.IsNotExist(err) {
		t.Errorf("after disable the list enable created is still there (%v)\n%s", err, out)
	}
}
