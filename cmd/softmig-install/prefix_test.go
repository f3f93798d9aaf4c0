// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStagedPrefixScriptsFindTools stages the repository's real Slurm
// scripts under PREFIX=/usr (make install PREFIX=/usr DESTDIR=...) and
// checks that every program a script names lives at that path in the
// staged tree, and that no placeholder is left.
func TestStagedPrefixScriptsFindTools(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, false)
	scripts, _ := filepath.Glob("../../slurm/*.sh")
	if len(scripts) == 0 {
		t.Fatal("no slurm/*.sh in the repository")
	}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.src, "slurm", filepath.Base(s)), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stage := filepath.Join(t.TempDir(), "stage")
	mustRun(t, "install", "--root", stage, "--prefix", "/usr", "--from", f.build, "--no-preload")
	// An absolute path to a softmig tool, as a word of its own.
	tool := regexp.MustCompile(`(?m)(?:^|[\s"'=:(-])(/[A-Za-z0-9_./-]*/softmig-[a-z]+)\b`)
	for _, s := range scripts {
		p := filepath.Join(stage, "usr/share/softmig/slurm", filepath.Base(s))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`@[A-Z]+@`).Find(b); m != nil {
			t.Errorf("%s: placeholder %s left", p, m)
		}
		named := 0
		for _, sub := range tool.FindAllStringSubmatch(string(b), -1) {
			m := sub[1]
			named++
			fi, err := os.Stat(filepath.Join(stage, m))
			if err != nil || fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("%s names %s, which the staged tree lacks or cannot run (%v)", p, m, err)
			}
			if !strings.HasPrefix(m, "/usr/bin/") {
				t.Errorf("%s names %s, not under the prefix's /usr/bin", p, m)
			}
		}
		if filepath.Base(s) == "prolog.sh" && named == 0 {
			t.Errorf("%s names no tool by path:\n%s", p, b)
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", p, err, out)
		}
	}
}
