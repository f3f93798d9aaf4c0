// SPDX-License-Identifier: Apache-2.0

package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

// A directory is judged by what it is, not by how it is spelled.
func TestSamePath(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"run/softmig", "srv", "mnt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "var"), 0o755); err != nil {
		t.Fatal(err)
	}
	// var/run -> ../run, as /var/run -> /run on every current distribution
	if err := os.Symlink("../run", filepath.Join(dir, "var", "run")); err != nil {
		t.Fatal(err)
	}
	p := func(s string) string { return filepath.Join(dir, s) }
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{p("run/softmig"), p("run/softmig"), true},
		{p("run/softmig") + "/", p("run//softmig"), true},
		{p("var/run/softmig"), p("run/softmig"), true},
		{p("var/run/nothing/yet"), p("run/nothing/yet"), true}, // not created yet
		{p("var/../run/softmig"), p("run/softmig"), true},
		{p("srv"), p("run/softmig"), false},
		{p("var/run/other"), p("run/softmig"), false},
		{"run/softmig", p("run/softmig"), false},
		{"run/softmig", "run/softmig", true},
	} {
		if got := SamePath(c.a, c.b); got != c.same {
			t.Errorf("SamePath(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
		if got := SamePath(c.b, c.a); got != c.same {
			t.Errorf("SamePath(%q, %q) = %v, want %v", c.b, c.a, got, c.same)
		}
	}
}
