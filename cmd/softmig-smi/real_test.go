// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// softmig-smi installed as nvidia-smi ahead of the driver's in PATH finds the
// driver's one itself, skipping itself (also through a symlink).
func TestFindRealSkipsItself(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "prefix/bin/softmig-smi")
	link := filepath.Join(dir, "local/bin/nvidia-smi")
	driver := filepath.Join(dir, "usr/bin/nvidia-smi")
	for _, p := range []string{self, driver} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	path := filepath.Dir(link) + ":" + filepath.Join(dir, "empty") + ":" + filepath.Dir(driver)
	if got := findReal(path, self); got != driver {
		t.Errorf("findReal(%q) = %q, want the driver's %q", path, got, driver)
	}
	if got := findReal(filepath.Dir(link), self); got == link {
		t.Errorf("findReal found softmig-smi itself (%q)", got)
	}
}
